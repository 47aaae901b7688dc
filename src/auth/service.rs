//! Staff account use cases.

use super::model::{AdminUser, NewAdminUser, StaffChanges};
use super::password;
use super::viewer::Role;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Creates a staff account (or resets password and role of an existing email).
pub async fn create_admin(
    app: &AppState,
    email: &str,
    password: String,
    role: &str,
) -> AppResult<AdminUser> {
    let email = email.trim().to_lowercase();
    if !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
        return Err(AppError::bad_input("`email` is not an email address"));
    }
    let role: Role = role.parse().map_err(AppError::BadUserInput)?;
    if password.chars().count() < password::MIN_LENGTH {
        return Err(AppError::bad_input(format!(
            "the password must have at least {} characters",
            password::MIN_LENGTH
        )));
    }
    let hash = password::hash(password::slot(&app.password_slots).await?, password).await?;
    let new = NewAdminUser {
        email: &email,
        password_hash: &hash,
        role: role.as_str(),
    };
    let user = AdminUser::upsert(&mut *app.db.get().await?, new).await?;
    announce_change(app, user.id).await;
    Ok(user)
}

/// What an owner may change on a staff account.
#[derive(Debug, Default)]
pub struct StaffUpdate {
    /// New role.
    pub role: Option<Role>,
    /// Activate or deactivate.
    pub is_active: Option<bool>,
    /// New password.
    pub password: Option<String>,
}

/// Changes a staff account; every token issued to it before stops working at once, on every
/// instance and on open WebSockets.
pub async fn update_staff(app: &AppState, id: i64, update: StaffUpdate) -> AppResult<AdminUser> {
    let hash = match update.password {
        Some(password) => {
            if password.chars().count() < password::MIN_LENGTH {
                return Err(AppError::bad_input(format!(
                    "the password must have at least {} characters",
                    password::MIN_LENGTH
                )));
            }
            Some(password::hash(password::slot(&app.password_slots).await?, password).await?)
        }
        None => None,
    };
    let changes = StaffChanges {
        role: update.role.map(Role::as_str),
        is_active: update.is_active,
        password_hash: hash.as_deref(),
    };
    let user = AdminUser::change(&mut *app.db.get().await?, id, changes)
        .await?
        .ok_or_else(|| AppError::not_found("staff member"))?;
    announce_change(app, id).await;
    Ok(user)
}

/// Forgets the account here at once, then tells every instance (and open sockets).
async fn announce_change(app: &AppState, id: i64) {
    app.sessions
        .forget(crate::auth::sessions::Principal::Staff(id));
    app.events
        .publish(crate::events::DomainEvent::StaffChanged { id })
        .await;
}
