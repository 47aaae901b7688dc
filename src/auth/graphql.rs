//! Staff sign-in: `adminLogin` (uniform failures, throttled per email and client) and `adminMe`.

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::guard::{RequireAdmin, RequirePermission};
use super::model::AdminUser;
use super::service::{StaffUpdate, update_staff};
use super::viewer::Permission;
use super::viewer::{Role, Viewer};
use super::{password, sign_in};
use crate::error::AppError;
use crate::graphql::context::{app, db, request_context};
use crate::graphql::ids::to_global;
use crate::graphql::response_cache::{Reads, RootReads};

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

/// Changes to a staff account (owners only).
#[derive(async_graphql::InputObject, Debug, Default)]
pub struct UpdateStaffMemberInput {
    /// New role.
    pub role: Option<Role>,
    /// `false` deactivates the account.
    pub is_active: Option<bool>,
    /// New password (at least 12 characters).
    pub password: Option<String>,
}

/// What the root fields below read, for the response cache (see `Reads`).
pub const READS: RootReads = &[("adminMe", Reads::Private)];

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
        let user = app(ctx)?
            .read(move |conn| Box::pin(async move { Ok(AdminUser::find(conn, id).await?) }))
            .await?;
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
        let attempt = sign_in::attempt(app, request_context(ctx)?, "login", &email).await?;
        let slot = password::slot(&app.password_slots).await?;
        let user = AdminUser::find_by_email(&mut *db(ctx).await?, &email)
            .await
            .map_err(AppError::from)?;
        let stored = user.as_ref().map_or_else(
            || password::dummy_hash().to_owned(),
            |u| u.password_hash.clone(),
        );
        let valid = password::verify(slot, password, stored).await;
        let user = match user {
            Some(u) if valid && u.is_active => u,
            _ => {
                attempt.failed(app).await;
                return Err(AppError::Unauthenticated("invalid email or password".into()).into());
            }
        };
        attempt.succeeded(app).await;
        let role: Role = user
            .role
            .parse()
            .map_err(|e: String| AppError::Internal(anyhow::anyhow!(e)))?;
        let (token, claims) = app
            .jwt
            .issue_admin(user.id, role, user.token_version)
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

    /// Changes a staff member's role, active flag or password. Every token the account held
    /// stops working at once, on every instance, and its open WebSockets are closed.
    #[graphql(guard = "RequirePermission(Permission::Staff)")]
    async fn update_staff_member(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateStaffMemberInput,
    ) -> Result<Admin> {
        let id = crate::graphql::ids::expect_global(&id, "Admin")?;
        let user = update_staff(
            app(ctx)?,
            id,
            StaffUpdate {
                role: input.role,
                is_active: input.is_active,
                password: input.password,
            },
        )
        .await?;
        let role = user
            .role
            .parse()
            .map_err(|e: String| AppError::Internal(anyhow::anyhow!(e)))?;
        Ok(Admin {
            id: to_global("Admin", user.id),
            email: user.email,
            role,
        })
    }
}
