//! Staff sign-in: `adminLogin` (uniform failures, throttled per email and client) and `adminMe`.

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::guard::RequireAdmin;
use super::model::AdminUser;
use super::password;
use super::viewer::{Role, Viewer};
use crate::error::AppError;
use crate::graphql::context::{app, db, request_context};
use crate::graphql::ids::to_global;

/// Failed sign-ins allowed per email and client within [`THROTTLE_WINDOW`].
pub const MAX_FAILED_LOGINS: u64 = 5;
/// Window of the sign-in throttle.
pub const THROTTLE_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// A staff member.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(cache_control(private))]
pub struct Admin {
    /// Global ID.
    pub id: ID,
    /// Email (lower case).
    pub email: String,
    /// Role.
    pub role: Role,
}

/// The result of a successful sign-in.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(cache_control(private))]
pub struct AdminLoginPayload {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    /// When the token stops working.
    pub expires_at: DateTime<Utc>,
    /// Who signed in.
    pub admin: Admin,
}

/// Staff queries.
#[derive(Default)]
pub struct AuthQuery;

#[Object]
impl AuthQuery {
    /// The signed-in staff member.
    #[graphql(guard = "RequireAdmin", cache_control(private))]
    async fn admin_me(&self, ctx: &Context<'_>) -> Result<Admin> {
        let Viewer::Admin { id, role } = request_context(ctx)?.viewer else {
            return Err(AppError::Unauthenticated("sign in as staff".into()).into());
        };
        let conn = &mut *db(ctx).await?;
        let user = AdminUser::find(conn, id).await.map_err(AppError::from)?;
        let user =
            user.ok_or_else(|| AppError::Unauthenticated("account no longer exists".into()))?;
        Ok(Admin {
            id: to_global("Admin", id),
            email: user.email,
            role,
        })
    }
}

/// Staff sign-in.
#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    /// Exchanges staff credentials for a token. Every failure reads the same, whether the email
    /// exists or not; repeated failures for one email from one client are throttled.
    async fn admin_login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> Result<AdminLoginPayload> {
        let app = app(ctx)?;
        let email = email.trim().to_lowercase();
        let client = request_context(ctx)?.client.clone();
        let throttle_key = crate::cache::keys::login_throttle(&email, &client);
        if app.cache.counter(&throttle_key).await >= MAX_FAILED_LOGINS {
            return Err(
                AppError::RateLimited("too many failed sign-ins; try again later".into()).into(),
            );
        }
        let user = AdminUser::find_by_email(&mut *db(ctx).await?, &email)
            .await
            .map_err(AppError::from)?;
        let stored = user.as_ref().map_or_else(
            || password::dummy_hash().to_owned(),
            |u| u.password_hash.clone(),
        );
        let valid = password::verify(password, stored).await;
        let user = match user {
            Some(u) if valid && u.is_active => u,
            _ => {
                app.cache.increment(&throttle_key, THROTTLE_WINDOW).await;
                return Err(AppError::Unauthenticated("invalid email or password".into()).into());
            }
        };
        let role: Role = user
            .role
            .parse()
            .map_err(|e: String| AppError::Internal(anyhow::anyhow!(e)))?;
        let (token, claims) = app
            .jwt
            .issue_admin(user.id, role)
            .map_err(AppError::Internal)?;
        let expires_at = DateTime::from_timestamp(claims.exp, 0).unwrap_or_default();
        Ok(AdminLoginPayload {
            token,
            expires_at,
            admin: Admin {
                id: to_global("Admin", user.id),
                email: user.email,
                role,
            },
        })
    }
}
