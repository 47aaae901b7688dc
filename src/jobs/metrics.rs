//! In-process counters of the workers of this process, exported by `/metrics` beside the queue
//! depth read from the table.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters since start-up.
#[derive(Debug, Default)]
pub struct JobMetrics {
    /// Jobs finished successfully.
    pub completed: AtomicU64,
    /// Attempts that failed (each retry counts).
    pub failed: AtomicU64,
    /// Jobs moved to `dead`.
    pub dead: AtomicU64,
}

impl JobMetrics {
    /// Adds one to `counter`.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// `(completed, failed, dead)`.
    pub fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.completed.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.dead.load(Ordering::Relaxed),
        )
    }
}
