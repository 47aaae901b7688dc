//! The one authorization mechanism of the admin API: an async-graphql guard per field.

use async_graphql::{Context, Guard, Result};

use super::viewer::{Permission, Viewer};
use crate::error::AppError;
use crate::graphql::context::RequestContext;

/// Requires any valid admin token (for fields every staff member may use).
pub struct RequireAdmin;

impl Guard for RequireAdmin {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        match viewer(ctx) {
            Viewer::Admin { .. } => Ok(()),
            other => deny(other),
        }
    }
}

/// Requires a signed-in storefront customer: anonymous or invalid credentials are
/// `UNAUTHENTICATED`, a staff token `FORBIDDEN`.
pub struct RequireCustomer;

impl Guard for RequireCustomer {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        Err(match viewer(ctx) {
            Viewer::Customer { .. } => return Ok(()),
            Viewer::Admin { .. } => AppError::Forbidden("customers only".into()),
            Viewer::Invalid(reason) => AppError::Unauthenticated(reason.clone()),
            Viewer::Anonymous => AppError::Unauthenticated(
                "sign in as a customer: Authorization: Bearer <token>".into(),
            ),
        }
        .into())
    }
}

/// The request's viewer; anonymous when no context was attached.
fn viewer<'a>(ctx: &Context<'a>) -> &'a Viewer {
    ctx.data_opt::<RequestContext>()
        .map_or(&Viewer::Anonymous, |c| &c.viewer)
}

fn deny(viewer: &Viewer) -> Result<()> {
    Err(match viewer {
        Viewer::Admin { .. } => AppError::Forbidden("your role does not allow this".into()),
        Viewer::Customer { .. } => AppError::Forbidden("staff only".into()),
        Viewer::Invalid(reason) => AppError::Unauthenticated(reason.clone()),
        Viewer::Anonymous => {
            AppError::Unauthenticated("sign in as staff: Authorization: Bearer <token>".into())
        }
    }
    .into())
}

/// Requires an admin token whose role grants the permission: no or bad credentials are
/// `UNAUTHENTICATED`, valid credentials without the permission (or a customer's) `FORBIDDEN`.
pub struct RequirePermission(pub Permission);

impl Guard for RequirePermission {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        match viewer(ctx) {
            Viewer::Admin { role, .. } if role.grants(self.0) => Ok(()),
            other => deny(other),
        }
    }
}
