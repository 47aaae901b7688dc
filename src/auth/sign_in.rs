//! The throttle every password sign-in goes through, staff and customers alike (and the other
//! flows keyed by an email: registration, reset requests). Attempts are counted before the
//! password is checked, atomically, so concurrent guesses cannot slip past the limits:
//! per email and client, per client, and — for an account under attack — only clients that
//! have not failed on it may still try.

use std::time::Duration;

use crate::cache::keys;
use crate::error::{AppError, AppResult};
use crate::graphql::context::RequestContext;
use crate::state::App;

/// Attempts allowed per email and client within [`WINDOW`]; a success resets it.
pub const MAX_ATTEMPTS_PER_PAIR: u64 = 5;
/// Attempts allowed per client (any email) within [`WINDOW`].
pub const MAX_ATTEMPTS_PER_CLIENT: u64 = 30;
/// Failures of one account (any client) after which only clients that have not failed on it may
/// still try.
pub const MAX_FAILURES_PER_ACCOUNT: u64 = 20;
/// Window of the throttles.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// An attempt that passed the throttle; report its outcome.
pub struct Attempt {
    scope: &'static str,
    email: String,
    pair_key: String,
}

/// Counts an attempt of `scope` for `email` (normalised by the caller) and refuses it with
/// `TOO_MANY_REQUESTS` when a limit is reached. At most one sign-in runs per request.
pub async fn attempt(
    app: &App,
    request: &RequestContext,
    scope: &'static str,
    email: &str,
) -> AppResult<Attempt> {
    if request
        .sign_ins
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        > 0
    {
        return Err(AppError::bad_input("one sign-in per request"));
    }
    let client = &request.client;
    let pair_key = keys::login_attempts(scope, email, client);
    let pair = app.cache.increment(&pair_key, WINDOW).await;
    let from_client = app
        .cache
        .increment(&keys::login_client_attempts(scope, client), WINDOW)
        .await;
    let account_failures = app
        .cache
        .counter(&keys::login_account_failures(scope, email))
        .await;
    let locked_out = account_failures >= MAX_FAILURES_PER_ACCOUNT && pair > 1;
    if pair > MAX_ATTEMPTS_PER_PAIR || from_client > MAX_ATTEMPTS_PER_CLIENT || locked_out {
        return Err(AppError::RateLimited(
            "too many attempts; try again later".into(),
        ));
    }
    Ok(Attempt {
        scope,
        email: email.to_owned(),
        pair_key,
    })
}

impl Attempt {
    /// The credentials were wrong: counts against the account.
    pub async fn failed(&self, app: &App) {
        app.cache
            .increment(
                &keys::login_account_failures(self.scope, &self.email),
                WINDOW,
            )
            .await;
    }

    /// The credentials were right: this client's count for the email starts again.
    pub async fn succeeded(&self, app: &App) {
        app.cache.forget(&self.pair_key).await;
    }
}
