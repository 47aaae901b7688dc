//! Per-request GraphQL context: who is asking, and access to the shared application state.
//! Domain loaders are attached beside it by the request handler (see `graphql::schema`).

use async_graphql::Context;

use crate::app::AppState;
pub use crate::auth::Viewer;
use crate::db::DbConn;
use crate::error::{AppError, AppResult};

/// Request-scoped data every resolver may read.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// The authenticated viewer.
    pub viewer: Viewer,
    /// The client address (first `X-Forwarded-For` hop behind a proxy), for throttling.
    pub client: String,
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
