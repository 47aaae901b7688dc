//! Per-request GraphQL context: who is asking, and access to the shared application state.
//! Domain loaders are attached beside it by the request handler (see `graphql::schema`).

use async_graphql::Context;

pub use crate::auth::Viewer;
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Request-scoped data every resolver may read.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// The authenticated viewer.
    pub viewer: Viewer,
    /// The client address: the socket's peer, or behind a trusted proxy the right-most
    /// untrusted `X-Forwarded-For` hop. For throttles.
    pub client: String,
    /// Sign-ins attempted in this request (at most one may run).
    pub sign_ins: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// The request context attached by the handler.
pub fn request_context<'a>(ctx: &Context<'a>) -> AppResult<&'a RequestContext> {
    request_data::<RequestContext>(ctx)
}

/// The application state stored in the schema at start-up.
pub fn app<'a>(ctx: &Context<'a>) -> AppResult<&'a AppState> {
    ctx.data::<AppState>()
        .map_err(|_| AppError::Internal(anyhow::anyhow!("AppState missing from schema data")))
}

/// Request data of type `T` attached by the handler (loaders, the request context).
pub fn request_data<'a, T: Send + Sync + 'static>(ctx: &Context<'a>) -> AppResult<&'a T> {
    ctx.data::<T>().map_err(|_| {
        AppError::Internal(anyhow::anyhow!(
            "request data {} missing",
            std::any::type_name::<T>()
        ))
    })
}

/// A pooled database connection for a resolver.
pub async fn db(ctx: &Context<'_>) -> AppResult<DbConn> {
    Ok(app(ctx)?.db.get_owned().await?)
}

/// The longest a response may be cached, lowered by resolvers whose data changes at a known
/// time (a banner window opening or closing); attached per request by the HTTP handler.
#[derive(Debug, Clone)]
pub struct MaxAgeCap(std::sync::Arc<std::sync::atomic::AtomicU32>);

impl Default for MaxAgeCap {
    fn default() -> Self {
        Self(std::sync::Arc::new(std::sync::atomic::AtomicU32::new(
            u32::MAX,
        )))
    }
}

impl MaxAgeCap {
    /// The cap in seconds (`u32::MAX` when nothing lowered it).
    pub fn get(&self) -> u32 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Caps the response's `max-age` at `seconds` (no-op where no cap is attached).
pub fn cap_max_age(ctx: &Context<'_>, seconds: u32) {
    if let Some(cap) = ctx.data_opt::<MaxAgeCap>() {
        cap.0
            .fetch_min(seconds, std::sync::atomic::Ordering::Relaxed);
    }
}
