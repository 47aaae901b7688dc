//! What happens at the CDN after a write: the purge is recorded on the durable queue, then tried
//! at once, so the mutation answers with the edge already fresh. A purge that fails or takes
//! longer than `CDN_PURGE_WAIT_MS` is left to the workers (retried with backoff, coalesced with
//! the others), and for 30 s after such a failure writes skip the attempt and queue directly, so a
//! hung CDN slows no more than one write at a time.

use std::time::Duration;

use super::queue;
use super::{PurgeMetrics, Purger};
use crate::config::CdnConfig;
use crate::db::DbPool;

/// How long writes queue their purges without trying them after an attempt failed.
const BACK_OFF: Duration = Duration::from_secs(30);

/// Records and (within the wait) sends the purge of `keys` after a committed write.
pub async fn after_write(
    db: &DbPool,
    purger: &Purger,
    metrics: &PurgeMetrics,
    config: &CdnConfig,
    wake: &tokio::sync::Notify,
    keys: Vec<String>,
) {
    let wait = config.wait.filter(|_| purger.may_try_now());
    let job = queue::job(
        keys.clone(),
        false,
        format!("{:016x}", crate::random::u64()),
    );
    // While the write tries the purge itself, workers leave the job alone.
    let hold = wait.map_or(Duration::ZERO, |w| w + Duration::from_secs(1));
    let enqueued = match db.get().await {
        Ok(mut conn) => crate::jobs::model::enqueue_after(&mut conn, &job, hold)
            .await
            .map_err(anyhow::Error::from),
        Err(e) => Err(e.into()),
    };
    let id = match enqueued {
        Ok(Some(id)) => id,
        Ok(None) => return,
        // The write stands; the CDN keeps the old copy until its edge TTL.
        Err(e) => {
            tracing::error!(error = %e, payload = %job.payload, "could not queue the CDN purge");
            return;
        }
    };
    let Some(wait) = wait else {
        wake.notify_one();
        return;
    };
    let outcome = match tokio::time::timeout(wait, purger.purge(&keys)).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {} ms", wait.as_millis())),
    };
    let finished = match outcome {
        Ok(calls) => {
            metrics.purged(keys.len(), calls);
            tracing::info!(
                purger = purger.name(),
                keys = keys.len(),
                calls,
                "CDN purged"
            );
            let repeat = config.repeat_after;
            async {
                let mut conn = db.get().await?;
                queue::finish_sent(&mut conn, id).await?;
                if let Some(delay) = repeat {
                    queue::enqueue_repeat(&mut conn, id, keys, delay).await?;
                }
                anyhow::Ok(())
            }
            .await
        }
        Err(e) => {
            purger.back_off(BACK_OFF);
            tracing::warn!(purger = purger.name(), error = %e, "CDN purge failed; the queue retries it");
            async {
                let mut conn = db.get().await?;
                queue::due_now(&mut conn, id).await?;
                wake.notify_one();
                anyhow::Ok(())
            }
            .await
        }
    };
    if let Err(e) = finished {
        // The job is still queued: a worker sends it (again) once it is due.
        tracing::warn!(error = %e, "could not record the CDN purge");
    }
}
