//! The `mail` job: every message the shop sends is delivered by a worker through this handler.

use futures_util::future::BoxFuture;

use super::{MailRequest, SendError};
use crate::jobs::{Handler, Job, JobError};
use crate::state::AppState;

/// The handler of `mail` jobs. At least once: a worker that dies between the server's acceptance
/// and recording the job done sends it again, with the same `Message-ID`.
pub struct MailJob;

impl Handler for MailJob {
    fn run<'a>(&'a self, app: &'a AppState, job: &'a Job) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            let request: MailRequest = serde_json::from_value(job.payload.clone())
                .map_err(|e| JobError::Permanent(anyhow::anyhow!("bad mail payload: {e}")))?;
            // Letters, digits and `.-` only (RFC 5322 dot-atom): the key's `:` would not do.
            let key: String = job
                .key
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '.'
                    }
                })
                .collect();
            let message_id = format!("<job-{}.{key}@{}>", job.id, app.mailer.domain());
            app.mailer
                .send(&request, &message_id)
                .await
                .map_err(|e| match e {
                    SendError::Permanent(e) => JobError::Permanent(e),
                    SendError::Transient(e) => JobError::Retry(e),
                })
        })
    }

    fn scrub_when_done(&self) -> bool {
        true
    }
}
