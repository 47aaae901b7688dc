//! Staff account use cases.

use super::model::{AdminUser, NewAdminUser};
use super::password;
use super::viewer::Role;
use crate::app::AppState;
use crate::error::{AppError, AppResult};

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
    let hash = password::hash(password).await?;
    let new = NewAdminUser {
        email: &email,
        password_hash: &hash,
        role: role.as_str(),
    };
    Ok(AdminUser::upsert(&mut *app.db.get().await?, new).await?)
}
