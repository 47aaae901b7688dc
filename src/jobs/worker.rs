//! Workers: claim due jobs, run their handlers with the lease renewed, record the outcome.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::Semaphore;
use tracing::Instrument;

use super::metrics::JobMetrics;
use super::model::{self, Job, JobState};
use crate::state::AppState;

/// Longest wait between two attempts of one job.
const MAX_BACKOFF: Duration = Duration::from_secs(60 * 60);
/// How long finished jobs are kept (for support questions) before workers delete them.
const KEEP_DONE: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// How often a worker deletes old finished jobs.
const PRUNE_EVERY: Duration = Duration::from_secs(10 * 60);
/// Characters of an error kept on the job.
const MAX_ERROR_CHARS: usize = 2_000;

/// Why a handler did not finish.
#[derive(Debug)]
pub enum JobError {
    /// Worth retrying (a server down, a timeout).
    Retry(anyhow::Error),
    /// Retrying cannot help (an invalid payload): the job is dead at once.
    Permanent(anyhow::Error),
}

impl From<anyhow::Error> for JobError {
    fn from(error: anyhow::Error) -> Self {
        Self::Retry(error)
    }
}

/// Runs the jobs of one kind. A job may run more than once (a worker can die after the effect and
/// before recording it), so a handler must be idempotent: use `job.key` to recognise a repeat.
pub trait Handler: Send + Sync + 'static {
    /// Does the job's work.
    fn run<'a>(&'a self, app: &'a AppState, job: &'a Job) -> BoxFuture<'a, Result<(), JobError>>;

    /// Whether the payload is emptied once the job is done (it carries secrets such as links).
    fn scrub_when_done(&self) -> bool {
        false
    }
}

/// The handler of each job kind.
#[derive(Clone, Default)]
pub struct Handlers(HashMap<String, Arc<dyn Handler>>);

impl Handlers {
    /// Adds (or replaces) the handler of `kind`.
    pub fn with(mut self, kind: &str, handler: impl Handler) -> Self {
        self.0.insert(kind.to_owned(), Arc::new(handler));
        self
    }
}

/// A worker: one process's view of the queue. Cheap to clone; every clone shares the concurrency
/// bound.
#[derive(Clone)]
pub struct Worker {
    app: AppState,
    handlers: Arc<Handlers>,
    /// Identifies this worker in claim tokens (and so in `jobs.locked_by`).
    name: Arc<str>,
    slots: Arc<Semaphore>,
    concurrency: usize,
}

impl Worker {
    /// A worker running at most `concurrency` jobs at once (at least one).
    pub fn new(app: AppState, handlers: Handlers, concurrency: usize) -> Self {
        let concurrency = concurrency.max(1);
        let name = format!(
            "{}:{}:{:08x}",
            hostname(),
            std::process::id(),
            crate::random::u64() as u32
        );
        Self {
            app,
            handlers: Arc::new(handlers),
            name: name.into(),
            slots: Arc::new(Semaphore::new(concurrency)),
            concurrency,
        }
    }

    /// Runs until `stop` resolves, then waits for the jobs in hand to finish.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        tracing::info!(worker = %self.name, concurrency = self.concurrency, "job worker started");
        tokio::pin!(stop);
        let mut last_prune: Option<tokio::time::Instant> = None;
        loop {
            if last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                last_prune = Some(tokio::time::Instant::now());
                self.prune().await;
            }
            // A free slot first, or the stop: a worker whose slots are all busy when the stop
            // comes claims nothing more.
            let first = tokio::select! {
                biased;
                () = &mut stop => break,
                permit = self.slots.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
            };
            let claimed = self.claim_and_spawn(first).await;
            // A full batch: more may be due; otherwise wait for a nudge, the poll or the stop.
            if claimed == 0 {
                let wake = self.app.jobs_wake.notified();
                tokio::select! {
                    biased;
                    () = &mut stop => break,
                    () = wake => {}
                    () = tokio::time::sleep(self.app.config.jobs.poll_interval) => {}
                }
            } else if futures_util::FutureExt::now_or_never(&mut stop).is_some() {
                break;
            }
        }
        let _all = self
            .slots
            .acquire_many(u32::try_from(self.concurrency).unwrap_or(u32::MAX))
            .await;
        tracing::info!(worker = %self.name, "job worker stopped");
    }

    /// Runs due jobs until none is left (jobs retried later are not waited for); returns how many
    /// attempts ran. For the CLI's `--until-idle`, tests and benchmarks. Old finished jobs are
    /// pruned first.
    pub async fn run_until_idle(&self) -> usize {
        self.prune().await;
        let mut ran = 0;
        loop {
            let Ok(first) = self.slots.clone().acquire_owned().await else {
                return ran;
            };
            let claimed = self.claim_and_spawn(first).await;
            ran += claimed;
            // Wait for the jobs in hand before looking again.
            let all = self
                .slots
                .acquire_many(u32::try_from(self.concurrency).unwrap_or(u32::MAX))
                .await;
            drop(all);
            if claimed == 0 {
                return ran;
            }
        }
    }

    /// Claims as many due jobs as there are free slots (`first` and every other free one) and runs
    /// each on its own task; returns how many were claimed (0 when none was due or the database
    /// is unreachable).
    async fn claim_and_spawn(&self, first: tokio::sync::OwnedSemaphorePermit) -> usize {
        let mut permits = vec![first];
        while let Ok(p) = self.slots.clone().try_acquire_owned() {
            permits.push(p);
        }
        let claim = format!("{}:{:016x}", self.name, crate::random::u64());
        let lease = self.app.config.jobs.lease;
        let jobs = match self.app.db.get().await {
            Ok(mut conn) => model::claim(&mut conn, &claim, lease, permits.len() as i64).await,
            Err(e) => {
                tracing::warn!(error = %e, "job worker cannot reach the database");
                return 0;
            }
        };
        let jobs = match jobs {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(error = %e, "claiming jobs failed");
                return 0;
            }
        };
        let claimed = jobs.len();
        for (job, permit) in jobs.into_iter().zip(permits) {
            let worker = self.clone();
            let claim = claim.clone();
            let span =
                tracing::info_span!("job", id = job.id, kind = %job.kind, attempt = job.attempts);
            tokio::spawn(
                async move {
                    let _permit = permit;
                    worker.execute(job, &claim).await;
                }
                .instrument(span),
            );
        }
        claimed
    }

    /// Runs one claimed job under its lease and records the outcome.
    async fn execute(&self, job: Job, claim: &str) {
        let metrics: &JobMetrics = &self.app.job_metrics;
        let Some(handler) = self.handlers.0.get(&job.kind).cloned() else {
            let error = format!("no handler for job kind `{}`", job.kind);
            self.record_failure(&job, claim, &error, true).await;
            return;
        };
        if job.attempts > job.max_attempts {
            // Its workers kept dying mid-job (the lease ran out each time).
            let error = format!("lease lost {} times", job.attempts - 1);
            self.record_failure(&job, claim, &error, true).await;
            return;
        }
        let started = std::time::Instant::now();
        let outcome = {
            let run = handler.run(&self.app, &job);
            let keep = self.keep_lease(job.id, claim);
            tokio::select! {
                outcome = run => Some(outcome),
                () = keep => None,
            }
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match outcome {
            None => {
                tracing::warn!(elapsed_ms, "job abandoned: its lease was taken over");
            }
            Some(Ok(())) => {
                let done = match self.app.db.get().await {
                    Ok(mut conn) => {
                        model::complete(&mut conn, job.id, claim, handler.scrub_when_done())
                            .await
                            .map_err(|e| e.to_string())
                    }
                    Err(e) => Err(e.to_string()),
                };
                match done {
                    Ok(true) => {
                        JobMetrics::bump(&metrics.completed);
                        tracing::info!(elapsed_ms, "job done");
                    }
                    Ok(false) => tracing::warn!("job finished after its lease was taken over"),
                    // The lease runs out and the job runs again (handlers are idempotent).
                    Err(e) => tracing::error!(error = %e, "could not record a finished job"),
                }
            }
            Some(Err(JobError::Retry(e))) => {
                self.record_failure(&job, claim, &format!("{e:#}"), false)
                    .await;
            }
            Some(Err(JobError::Permanent(e))) => {
                self.record_failure(&job, claim, &format!("{e:#}"), true)
                    .await;
            }
        }
    }

    async fn record_failure(&self, job: &Job, claim: &str, error: &str, permanent: bool) {
        let metrics = &self.app.job_metrics;
        JobMetrics::bump(&metrics.failed);
        let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
        let delay = backoff(self.app.config.jobs.retry_base, job.attempts);
        let result = match self.app.db.get().await {
            Ok(mut conn) => model::fail(&mut conn, job.id, claim, &error, delay, permanent)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(Some(JobState::Dead)) => {
                JobMetrics::bump(&metrics.dead);
                tracing::error!(error = %error, attempts = job.attempts, "job is dead");
            }
            Ok(Some(_)) => tracing::warn!(
                error = %error,
                retry_in_ms = delay.as_millis() as u64,
                "job failed; will retry"
            ),
            Ok(None) => tracing::warn!(error = %error, "job failed after its lease was taken over"),
            // The lease runs out and another attempt follows: nothing is lost.
            Err(e) => {
                tracing::error!(error = %error, db_error = %e, "could not record a job failure")
            }
        }
    }

    /// Renews the lease every third of its length; returns when the claim is lost — taken over,
    /// or not renewed in time because the database did not answer (then another worker may take
    /// the job once the lease runs out, so this one stops before it does).
    async fn keep_lease(&self, id: i64, claim: &str) {
        let lease = self.app.config.jobs.lease;
        let mut held_until = tokio::time::Instant::now() + lease;
        let mut every = tokio::time::interval(lease / 3);
        every.tick().await;
        loop {
            every.tick().await;
            let renew = async {
                let mut conn = self.app.db.get().await.ok()?;
                model::renew(&mut conn, id, claim, lease).await.ok()
            };
            let asked = tokio::time::Instant::now();
            match tokio::time::timeout(lease / 3, renew).await {
                Ok(Some(true)) => held_until = asked + lease,
                Ok(Some(false)) => return,
                // Unknown: keep going only while the last renewal certainly still holds.
                Ok(None) | Err(_) => {
                    if tokio::time::Instant::now() + lease / 3 >= held_until {
                        tracing::warn!("job abandoned: its lease could not be renewed");
                        return;
                    }
                }
            }
        }
    }

    /// Deletes jobs finished more than [`KEEP_DONE`] ago, in batches of 1,000 (at most 100
    /// batches a round).
    async fn prune(&self) {
        let Ok(mut conn) = self.app.db.get().await else {
            return;
        };
        let mut deleted = 0;
        for _ in 0..100 {
            match model::prune_done(&mut conn, KEEP_DONE).await {
                Ok(n) => {
                    deleted += n;
                    if n < 1_000 {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        if deleted > 0 {
            tracing::info!(deleted, "pruned finished jobs");
        }
    }
}

/// The delay before retry number `attempt` (1-based): `base · 2^(attempt-1)`, ±50 % jitter,
/// at most an hour.
pub fn backoff(base: Duration, attempt: i32) -> Duration {
    let exponent = u32::try_from(attempt.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    let nominal = base.saturating_mul(1 << exponent).min(MAX_BACKOFF);
    // A factor in [0.5, 1.5).
    let jitter = 0.5 + (crate::random::u64() % 1_000) as f64 / 1_000.0;
    nominal.mul_f64(jitter).min(MAX_BACKOFF)
}

fn hostname() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let base = Duration::from_secs(2);
        for _ in 0..100 {
            let first = backoff(base, 1);
            assert!(first >= Duration::from_secs(1) && first < Duration::from_secs(3));
            let fourth = backoff(base, 4);
            assert!(fourth >= Duration::from_secs(8) && fourth < Duration::from_secs(24));
            assert!(backoff(base, 40) <= MAX_BACKOFF);
        }
    }
}
