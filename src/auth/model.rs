//! The `admin_users` row and its queries.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::admin_users;

/// A staff account.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = admin_users, check_for_backend(diesel::pg::Pg))]
pub struct AdminUser {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Tokens name this; bumping it ends every token issued before.
    pub token_version: i64,
}

/// A new staff account.
#[derive(Debug, Insertable)]
#[diesel(table_name = admin_users)]
pub struct NewAdminUser<'a> {
    pub email: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
}

impl AdminUser {
    /// By id.
    pub async fn find(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<AdminUser>> {
        admin_users::table
            .find(id)
            .select(AdminUser::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// By (lower-cased) email.
    pub async fn find_by_email(
        conn: &mut AsyncPgConnection,
        email: &str,
    ) -> QueryResult<Option<AdminUser>> {
        admin_users::table
            .filter(admin_users::email.eq(email.to_lowercase()))
            .select(AdminUser::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Inserts an account, or replaces the password and role of an existing one.
    pub async fn upsert(
        conn: &mut AsyncPgConnection,
        new: NewAdminUser<'_>,
    ) -> QueryResult<AdminUser> {
        diesel::insert_into(admin_users::table)
            .values(&new)
            .on_conflict(admin_users::email)
            .do_update()
            .set((
                admin_users::password_hash.eq(new.password_hash),
                admin_users::role.eq(new.role),
                admin_users::is_active.eq(true),
                admin_users::updated_at.eq(diesel::dsl::now),
                admin_users::token_version.eq(admin_users::token_version + 1),
            ))
            .returning(AdminUser::as_returning())
            .get_result(conn)
            .await
    }
}

/// Changes to a staff account; any change ends the account's tokens.
#[derive(Debug, Default)]
pub struct StaffChanges<'a> {
    /// New role.
    pub role: Option<&'a str>,
    /// Activate or deactivate.
    pub is_active: Option<bool>,
    /// New password hash.
    pub password_hash: Option<&'a str>,
}

impl AdminUser {
    /// Applies `changes` and bumps the token version; `None` when the account does not exist.
    pub async fn change(
        conn: &mut AsyncPgConnection,
        id: i64,
        changes: StaffChanges<'_>,
    ) -> QueryResult<Option<AdminUser>> {
        diesel::update(admin_users::table.find(id))
            .set((
                changes.role.map(|r| admin_users::role.eq(r)),
                changes.is_active.map(|a| admin_users::is_active.eq(a)),
                changes
                    .password_hash
                    .map(|h| admin_users::password_hash.eq(h)),
                admin_users::token_version.eq(admin_users::token_version + 1),
                admin_users::updated_at.eq(diesel::dsl::now),
            ))
            .returning(AdminUser::as_returning())
            .get_result(conn)
            .await
            .optional()
    }
}
