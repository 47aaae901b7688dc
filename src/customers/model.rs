//! Customer rows and their queries: accounts, addresses and single-use tokens.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Int4, Jsonb, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::{customer_addresses, customer_tokens, customers};

/// A customer account.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = customers, check_for_backend(diesel::pg::Pg))]
pub struct Customer {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub first_name: String,
    pub last_name: String,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub is_active: bool,
    pub token_version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A saved address.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = customer_addresses, check_for_backend(diesel::pg::Pg))]
pub struct Address {
    pub id: i64,
    pub customer_id: i64,
    #[diesel(embed)]
    pub fields: AddressFields,
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Address fields, as a client sends them and, once `service::check_address` has trimmed and
/// validated them, as they are stored (insert and full update).
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Queryable,
    Selectable,
    Insertable,
    AsChangeset,
    serde::Serialize,
    serde::Deserialize,
)]
#[diesel(table_name = customer_addresses, treat_none_as_null = true, check_for_backend(diesel::pg::Pg))]
pub struct AddressFields {
    pub first_name: String,
    pub last_name: String,
    pub company: Option<String>,
    pub address1: String,
    pub address2: Option<String>,
    pub city: String,
    pub province: Option<String>,
    pub postal_code: String,
    pub country_code: String,
    pub phone: Option<String>,
}

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// Confirms the email address.
    VerifyEmail,
    /// Allows one password change.
    ResetPassword,
}

impl TokenPurpose {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
        }
    }
}

/// Everything `register` writes, in one statement (so both outcomes cost the same round trips).
pub struct Registration<'a> {
    pub email: &'a str,
    pub password_hash: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    /// SHA-256 of the verification token.
    pub token_hash: &'a str,
    pub token_ttl_secs: f64,
    /// The verification mail job (payload holds the link).
    pub verify_job_key: &'a str,
    pub verify_job_payload: serde_json::Value,
    /// The "you already have an account" mail job, if the address is taken: its key dedupes
    /// such mails per address and hour, and its payload is built from the existing account.
    pub exists_job_key: &'a str,
    pub exists_link: &'a str,
    pub max_attempts: i32,
}

/// Creates the account, its verification token and the verification mail job — or, when the
/// email already has an account, only an "account exists" mail job (at most one per key). One
/// statement: no outcome is visible between them, and both take the same round trips.
pub async fn register(conn: &mut AsyncPgConnection, r: &Registration<'_>) -> QueryResult<()> {
    diesel::sql_query(
        "WITH new AS ( \
             INSERT INTO customers (email, password_hash, first_name, last_name) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (email) DO NOTHING RETURNING id), \
         token AS ( \
             INSERT INTO customer_tokens (customer_id, purpose, token_hash, expires_at) \
             SELECT id, 'verify_email', $5, now() + make_interval(secs => $6) FROM new \
             RETURNING id) \
         INSERT INTO jobs (kind, key, payload, max_attempts) \
         SELECT 'mail', \
                CASE WHEN EXISTS (SELECT 1 FROM token) THEN $7 ELSE $9 END, \
                CASE WHEN EXISTS (SELECT 1 FROM token) THEN $8 ELSE jsonb_build_object( \
                    'template', 'account_exists', 'to', $1::text, \
                    'vars', jsonb_build_object( \
                        'first_name', COALESCE( \
                            (SELECT first_name FROM customers WHERE email = $1), 'there'), \
                        'link', $10::text)) END, \
                $11 \
         ON CONFLICT (kind, key) DO NOTHING",
    )
    .bind::<Text, _>(r.email)
    .bind::<Text, _>(r.password_hash)
    .bind::<Text, _>(r.first_name)
    .bind::<Text, _>(r.last_name)
    .bind::<Text, _>(r.token_hash)
    .bind::<Double, _>(r.token_ttl_secs)
    .bind::<Text, _>(r.verify_job_key)
    .bind::<Jsonb, _>(&r.verify_job_payload)
    .bind::<Text, _>(r.exists_job_key)
    .bind::<Text, _>(r.exists_link)
    .bind::<Int4, _>(r.max_attempts)
    .execute(conn)
    .await
    .map(drop)
}

impl Customer {
    /// By id.
    pub async fn find(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<Customer>> {
        customers::table
            .find(id)
            .select(Customer::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// By (normalised) email.
    pub async fn find_by_email(
        conn: &mut AsyncPgConnection,
        email: &str,
    ) -> QueryResult<Option<Customer>> {
        customers::table
            .filter(customers::email.eq(email))
            .select(Customer::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Sets names; `None` when the account does not exist.
    pub async fn rename(
        conn: &mut AsyncPgConnection,
        id: i64,
        first_name: &str,
        last_name: &str,
    ) -> QueryResult<Option<Customer>> {
        diesel::update(customers::table.find(id))
            .set((
                customers::first_name.eq(first_name),
                customers::last_name.eq(last_name),
                customers::updated_at.eq(diesel::dsl::now),
            ))
            .returning(Customer::as_returning())
            .get_result(conn)
            .await
            .optional()
    }

    /// Replaces the password and ends every token issued before (a reset also proves the
    /// mailbox, so it verifies the email).
    pub async fn set_password(
        conn: &mut AsyncPgConnection,
        id: i64,
        password_hash: &str,
        verifies_email: bool,
    ) -> QueryResult<Customer> {
        let verified_at = customers::email_verified_at.eq(diesel::dsl::sql::<
            diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
        >(if verifies_email {
            "COALESCE(email_verified_at, now())"
        } else {
            "email_verified_at"
        }));
        diesel::update(customers::table.find(id))
            .set((
                customers::password_hash.eq(password_hash),
                customers::token_version.eq(customers::token_version + 1),
                verified_at,
                customers::updated_at.eq(diesel::dsl::now),
            ))
            .returning(Customer::as_returning())
            .get_result(conn)
            .await
    }

    /// Enables or disables the account; either way its tokens end.
    pub async fn set_active(
        conn: &mut AsyncPgConnection,
        id: i64,
        active: bool,
    ) -> QueryResult<Option<Customer>> {
        diesel::update(customers::table.find(id))
            .set((
                customers::is_active.eq(active),
                customers::token_version.eq(customers::token_version + 1),
                customers::updated_at.eq(diesel::dsl::now),
            ))
            .returning(Customer::as_returning())
            .get_result(conn)
            .await
            .optional()
    }

    /// Marks the email verified (idempotent).
    pub async fn mark_verified(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<()> {
        diesel::update(customers::table.find(id))
            .set((
                customers::email_verified_at.eq(diesel::dsl::sql::<
                    diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
                >(
                    "COALESCE(email_verified_at, now())"
                )),
                customers::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await
            .map(drop)
    }

    /// Staff listing: newest first after the keyset `(created_at, id)`, optionally filtered by
    /// a substring of the email or name, and by verification.
    pub async fn search(
        conn: &mut AsyncPgConnection,
        search: Option<&str>,
        verified: Option<bool>,
        after: Option<(DateTime<Utc>, i64)>,
        limit: i64,
    ) -> QueryResult<Vec<Customer>> {
        let mut query = customers::table
            .select(Customer::as_select())
            .order((customers::created_at.desc(), customers::id.desc()))
            .limit(limit)
            .into_boxed();
        if let Some(text) = search {
            let pattern = crate::db::contains_pattern(text);
            query = query.filter(
                customers::email
                    .ilike(pattern.clone())
                    .or(customers::first_name.ilike(pattern.clone()))
                    .or(customers::last_name.ilike(pattern)),
            );
        }
        match verified {
            Some(true) => query = query.filter(customers::email_verified_at.is_not_null()),
            Some(false) => query = query.filter(customers::email_verified_at.is_null()),
            None => {}
        }
        if let Some((at, id)) = after {
            query = query.filter(
                customers::created_at
                    .lt(at)
                    .or(customers::created_at.eq(at).and(customers::id.lt(id))),
            );
        }
        query.load(conn).await
    }
}

/// Stores a token's hash for `customer_id`.
pub async fn insert_token(
    conn: &mut AsyncPgConnection,
    customer_id: i64,
    purpose: TokenPurpose,
    token_hash: &str,
    ttl: chrono::Duration,
) -> QueryResult<()> {
    diesel::insert_into(customer_tokens::table)
        .values((
            customer_tokens::customer_id.eq(customer_id),
            customer_tokens::purpose.eq(purpose.as_str()),
            customer_tokens::token_hash.eq(token_hash),
            customer_tokens::expires_at.eq(Utc::now() + ttl),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// The customer a live (unused, unexpired) token belongs to, without spending it.
pub async fn token_owner(
    conn: &mut AsyncPgConnection,
    purpose: TokenPurpose,
    token_hash: &str,
) -> QueryResult<Option<i64>> {
    customer_tokens::table
        .filter(customer_tokens::token_hash.eq(token_hash))
        .filter(customer_tokens::purpose.eq(purpose.as_str()))
        .filter(customer_tokens::used_at.is_null())
        .filter(customer_tokens::expires_at.gt(diesel::dsl::now))
        .select(customer_tokens::customer_id)
        .first(conn)
        .await
        .optional()
}

/// Spends a live token; returns its customer, `None` when it is unknown, spent or expired.
pub async fn spend_token(
    conn: &mut AsyncPgConnection,
    purpose: TokenPurpose,
    token_hash: &str,
) -> QueryResult<Option<i64>> {
    diesel::update(
        customer_tokens::table
            .filter(customer_tokens::token_hash.eq(token_hash))
            .filter(customer_tokens::purpose.eq(purpose.as_str()))
            .filter(customer_tokens::used_at.is_null())
            .filter(customer_tokens::expires_at.gt(diesel::dsl::now)),
    )
    .set(customer_tokens::used_at.eq(diesel::dsl::now))
    .returning(customer_tokens::customer_id)
    .get_result(conn)
    .await
    .optional()
}

/// Spends every live token of a customer for `purpose` (a reset ends the other reset links).
pub async fn spend_all_tokens(
    conn: &mut AsyncPgConnection,
    customer_id: i64,
    purpose: TokenPurpose,
) -> QueryResult<usize> {
    diesel::update(
        customer_tokens::table
            .filter(customer_tokens::customer_id.eq(customer_id))
            .filter(customer_tokens::purpose.eq(purpose.as_str()))
            .filter(customer_tokens::used_at.is_null()),
    )
    .set(customer_tokens::used_at.eq(diesel::dsl::now))
    .execute(conn)
    .await
}

/// Addresses a customer may keep.
pub const MAX_ADDRESSES: i64 = 20;

impl Address {
    /// A customer's addresses, default first, then oldest first.
    pub async fn of_customer(
        conn: &mut AsyncPgConnection,
        customer_id: i64,
    ) -> QueryResult<Vec<Address>> {
        customer_addresses::table
            .filter(customer_addresses::customer_id.eq(customer_id))
            .select(Address::as_select())
            .order((
                customer_addresses::is_default.desc(),
                customer_addresses::id,
            ))
            .load(conn)
            .await
    }

    /// Adds an address (the first one becomes the default); `None` when the customer already
    /// has [`MAX_ADDRESSES`]. Run inside a transaction with the customer row locked.
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        customer_id: i64,
        fields: &AddressFields,
    ) -> QueryResult<Option<Address>> {
        let count: i64 = customer_addresses::table
            .filter(customer_addresses::customer_id.eq(customer_id))
            .count()
            .get_result(conn)
            .await?;
        if count >= MAX_ADDRESSES {
            return Ok(None);
        }
        diesel::insert_into(customer_addresses::table)
            .values((
                fields,
                customer_addresses::customer_id.eq(customer_id),
                customer_addresses::is_default.eq(count == 0),
            ))
            .returning(Address::as_returning())
            .get_result(conn)
            .await
            .map(Some)
    }

    /// Replaces an address's fields if it belongs to the customer.
    pub async fn update(
        conn: &mut AsyncPgConnection,
        customer_id: i64,
        id: i64,
        fields: &AddressFields,
    ) -> QueryResult<Option<Address>> {
        diesel::update(
            customer_addresses::table
                .find(id)
                .filter(customer_addresses::customer_id.eq(customer_id)),
        )
        .set((fields, customer_addresses::updated_at.eq(diesel::dsl::now)))
        .returning(Address::as_returning())
        .get_result(conn)
        .await
        .optional()
    }

    /// Deletes an address of the customer; when it was the default, the oldest remaining one
    /// becomes the default. `false` when no such address is the customer's.
    pub async fn delete(
        conn: &mut AsyncPgConnection,
        customer_id: i64,
        id: i64,
    ) -> QueryResult<bool> {
        let deleted: Option<bool> = diesel::delete(
            customer_addresses::table
                .find(id)
                .filter(customer_addresses::customer_id.eq(customer_id)),
        )
        .returning(customer_addresses::is_default)
        .get_result(conn)
        .await
        .optional()?;
        if deleted == Some(true) {
            diesel::sql_query(
                "UPDATE customer_addresses SET is_default = TRUE, updated_at = now() \
                 WHERE id = (SELECT id FROM customer_addresses WHERE customer_id = $1 \
                             ORDER BY id LIMIT 1)",
            )
            .bind::<BigInt, _>(customer_id)
            .execute(conn)
            .await?;
        }
        Ok(deleted.is_some())
    }

    /// Makes an address of the customer the default; `false` when it is not the customer's.
    pub async fn make_default(
        conn: &mut AsyncPgConnection,
        customer_id: i64,
        id: i64,
    ) -> QueryResult<bool> {
        let exists: i64 = customer_addresses::table
            .find(id)
            .filter(customer_addresses::customer_id.eq(customer_id))
            .count()
            .get_result(conn)
            .await?;
        if exists == 0 {
            return Ok(false);
        }
        // Two statements: the partial unique index allows one default at a time.
        diesel::update(
            customer_addresses::table
                .filter(customer_addresses::customer_id.eq(customer_id))
                .filter(customer_addresses::is_default),
        )
        .set(customer_addresses::is_default.eq(false))
        .execute(conn)
        .await?;
        diesel::update(customer_addresses::table.find(id))
            .set((
                customer_addresses::is_default.eq(true),
                customer_addresses::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await?;
        Ok(true)
    }
}

/// Locks the customer row for the rest of the transaction (serialises address changes).
pub async fn lock_customer(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<bool> {
    customers::table
        .find(id)
        .select(customers::id)
        .for_update()
        .first::<i64>(conn)
        .await
        .optional()
        .map(|row| row.is_some())
}
