//! The worker's side of a purge: take over the waiting purges, call the CDN, schedule the repeat.

use futures_util::future::BoxFuture;

use super::queue::{self, Purge};
use super::tags;
use crate::jobs::{Handler, Job, JobError};
use crate::state::AppState;

/// Keys one purge sends; past this it purges [`tags::ALL`] instead.
const MAX_KEYS: usize = 2_000;

/// Runs `cdn.purge` jobs.
pub struct PurgeJob;

impl Handler for PurgeJob {
    fn run<'a>(&'a self, app: &'a AppState, job: &'a Job) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            let Some(purger) = app.purger.as_ref() else {
                // A worker started without the CDN settings of the servers that queue purges:
                // leave the job to one that has them (and say so in `last_error`).
                return Err(JobError::Retry(anyhow::anyhow!(
                    "CDN_PURGER is not set in this worker; start it with the servers' CDN settings"
                )));
            };
            let mine: Purge = serde_json::from_value(job.payload.clone())
                .map_err(|e| JobError::Permanent(anyhow::anyhow!("unreadable purge: {e}")))?;
            let mut conn = app.db.get().await.map_err(|e| JobError::Retry(e.into()))?;
            let Some(purge) = queue::take_over(&mut conn, job, mine.repeat)
                .await
                .map_err(|e| JobError::Retry(e.into()))?
            else {
                return Err(JobError::Retry(anyhow::anyhow!("the claim was lost")));
            };
            drop(conn);
            if purge.keys.is_empty() {
                // Another purge took these keys over.
                return Ok(());
            }
            let keys = if purge.keys.len() > MAX_KEYS {
                vec![tags::ALL.to_owned()]
            } else {
                purge.keys.clone()
            };
            let calls = purger.purge(&keys).await.map_err(|e| {
                JobError::Retry(anyhow::anyhow!("{} purge failed: {e}", purger.name()))
            })?;
            app.cdn_metrics.purged(keys.len(), calls);
            tracing::info!(
                purger = purger.name(),
                keys = keys.len(),
                calls,
                repeat = purge.repeat,
                "CDN purged"
            );
            if let (false, Some(delay)) = (purge.repeat, app.config.cdn.repeat_after) {
                let mut conn = app.db.get().await.map_err(|e| JobError::Retry(e.into()))?;
                if let Err(e) = queue::enqueue_repeat(&mut conn, job.id, purge.keys, delay).await {
                    // The first purge happened; only the race guard is missing.
                    tracing::warn!(error = %e, "could not schedule the repeated CDN purge");
                }
            }
            Ok(())
        })
    }
}
