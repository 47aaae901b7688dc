//! Password hashing (argon2id, PHC strings), off the async threads and under a small concurrency
//! bound: each hash takes 19 MiB and a core for tens of milliseconds, so a flood of sign-ins must
//! queue briefly and then be refused, never fan out into unbounded blocking threads.

use std::time::Duration;

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{AppError, AppResult};

/// Shortest acceptable staff password.
pub const MIN_LENGTH: usize = 12;

/// How long a sign-in waits for a hashing slot before it is refused.
const SLOT_WAIT: Duration = Duration::from_secs(2);

/// A hashing slot, or `TOO_MANY_REQUESTS` after a short wait.
pub async fn slot(slots: &std::sync::Arc<Semaphore>) -> AppResult<OwnedSemaphorePermit> {
    match tokio::time::timeout(SLOT_WAIT, slots.clone().acquire_owned()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(AppError::RateLimited(
            "too many sign-ins at once; retry in a few seconds".into(),
        )),
    }
}

/// Hashes a password on a blocking thread, holding `slot` until done.
pub async fn hash(slot: OwnedSemaphorePermit, password: String) -> AppResult<String> {
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(anyhow::anyhow!("hashing password: {e}")))
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))?
}

/// Verifies a password against a stored hash on a blocking thread (constant time in argon2).
pub async fn verify(slot: OwnedSemaphorePermit, password: String, stored: String) -> bool {
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        PasswordHash::new(&stored).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

/// A real hash of a random password, verified against when the email is unknown so that a
/// sign-in takes as long whether or not the account exists.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let random = format!(
            "{:?}{:?}",
            std::time::SystemTime::now(),
            std::thread::current().id()
        );
        Argon2::default()
            .hash_password(random.as_bytes())
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}
