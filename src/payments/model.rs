//! The `payments` row: one session per attempt to pay for a cart, with its status history.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::payments;

/// A payment session.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = payments, check_for_backend(diesel::pg::Pg))]
pub struct Payment {
    pub id: i64,
    pub cart_id: i64,
    pub provider: String,
    pub provider_id: Option<String>,
    pub amount: i64,
    pub currency_code: String,
    pub status: String,
    pub history: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The provider's payment id (Razorpay `pay_…`), once paid.
    pub provider_payment_id: Option<String>,
}

impl Payment {
    /// A new `pending` session; earlier open sessions of the cart are canceled.
    pub async fn open(
        conn: &mut AsyncPgConnection,
        cart_id: i64,
        provider: &str,
        amount: i64,
        currency: &str,
    ) -> QueryResult<Payment> {
        diesel::sql_query(
            "UPDATE payments SET status = 'canceled', updated_at = now(), \
                 history = history || jsonb_build_array(jsonb_build_object('status', 'canceled', 'at', now())) \
             WHERE cart_id = $1 AND status IN ('pending', 'authorized')",
        )
        .bind::<BigInt, _>(cart_id)
        .execute(conn)
        .await?;
        diesel::insert_into(payments::table)
            .values((
                payments::cart_id.eq(cart_id),
                payments::provider.eq(provider),
                payments::amount.eq(amount),
                payments::currency_code.eq(currency),
                payments::status.eq("pending"),
                payments::history
                    .eq(serde_json::json!([{ "status": "pending", "at": Utc::now() }])),
            ))
            .returning(Payment::as_returning())
            .get_result(conn)
            .await
    }

    /// Records a new status (and the provider's id, when given).
    pub async fn set_status(
        conn: &mut AsyncPgConnection,
        id: i64,
        status: &str,
        provider_id: Option<&str>,
    ) -> QueryResult<Payment> {
        diesel::sql_query(
            "UPDATE payments SET status = $2, provider_id = COALESCE($3, provider_id), updated_at = now(), \
                 history = history || jsonb_build_array(jsonb_build_object('status', $2::text, 'at', now())) \
             WHERE id = $1 RETURNING *",
        )
        .bind::<BigInt, _>(id)
        .bind::<Text, _>(status)
        .bind::<Nullable<Text>, _>(provider_id)
        .get_result(conn)
        .await
    }

    /// The cart's most recent session.
    pub async fn latest_for_cart(
        conn: &mut AsyncPgConnection,
        cart_id: i64,
    ) -> QueryResult<Option<Payment>> {
        payments::table
            .filter(payments::cart_id.eq(cart_id))
            .order(payments::id.desc())
            .select(Payment::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Every session of several carts, newest first.
    pub async fn of_carts(
        conn: &mut AsyncPgConnection,
        carts: &[i64],
    ) -> QueryResult<Vec<Payment>> {
        payments::table
            .filter(payments::cart_id.eq_any(carts))
            .select(Payment::as_select())
            .order(payments::id.desc())
            .load(conn)
            .await
    }

    /// By id.
    pub async fn find(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<Payment>> {
        payments::table
            .find(id)
            .select(Payment::as_select())
            .first(conn)
            .await
            .optional()
    }
}
