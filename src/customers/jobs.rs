//! The customers' job handlers: emailed requests (a new verification link, a password reset) are
//! looked up and answered here, after the request has returned, so the request does the same
//! work whether or not the address has an account.

use futures_util::future::BoxFuture;

use super::service::{self, EmailRequest};
use crate::jobs::{Handler, Job, JobError};
use crate::state::AppState;

#[derive(serde::Deserialize)]
struct Payload {
    purpose: EmailRequest,
    email: String,
}

/// Runs emailed-request jobs (`service::EMAIL_REQUEST_KIND`).
pub struct EmailRequestJob;

impl Handler for EmailRequestJob {
    fn run<'a>(&'a self, app: &'a AppState, job: &'a Job) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            let payload: Payload = serde_json::from_value(job.payload.clone())
                .map_err(|e| JobError::Permanent(anyhow::anyhow!("bad payload: {e}")))?;
            service::fulfil_request(app, job.id, payload.purpose, &payload.email)
                .await
                .map_err(|e| JobError::Retry(anyhow::anyhow!(crate::error::error_chain(&e))))
        })
    }

    fn scrub_when_done(&self) -> bool {
        // The address is personal data; the job's key keeps only its hash.
        true
    }
}
