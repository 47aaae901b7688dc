//! Refunds of captured payments: staff refund all or part (`refundOrder`), a cancel refunds what
//! is left, and Razorpay confirms with `refund.processed`. What was refunded (pending refunds
//! included) never exceeds what was captured: checked under the order's row lock.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::model::Payment;
use crate::db::schema::{orders, payments, refunds};
use crate::error::{AppError, AppResult};
use crate::orders::model::{self as order_model, OrderRow};
use crate::state::{App, AppState};

/// A refund.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = refunds, check_for_backend(diesel::pg::Pg))]
pub struct Refund {
    pub id: i64,
    pub payment_id: i64,
    pub order_id: i64,
    pub provider_refund_id: Option<String>,
    pub amount: i64,
    pub status: String,
    pub actor: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Refunds of several orders, oldest first.
pub async fn of_orders(conn: &mut AsyncPgConnection, ids: &[i64]) -> QueryResult<Vec<Refund>> {
    refunds::table
        .filter(refunds::order_id.eq_any(ids))
        .select(Refund::as_select())
        .order((refunds::order_id, refunds::id))
        .load(conn)
        .await
}

/// What has been refunded or is being refunded of a payment.
pub async fn committed(conn: &mut AsyncPgConnection, payment_id: i64) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Sum {
        #[diesel(sql_type = BigInt)]
        total: i64,
    }
    let sum: Sum = diesel::sql_query(
        "SELECT COALESCE(sum(amount), 0)::int8 AS total FROM refunds \
         WHERE payment_id = $1 AND status <> 'failed'",
    )
    .bind::<BigInt, _>(payment_id)
    .get_result(conn)
    .await?;
    Ok(sum.total)
}

/// Records a refund made by a cancel (inside the cancel's transaction).
pub async fn record(
    conn: &mut AsyncPgConnection,
    payment: &Payment,
    order_id: i64,
    amount: i64,
    provider_refund_id: Option<&str>,
    actor: &str,
) -> QueryResult<()> {
    // Razorpay confirms with `refund.processed`; manual refunds are done at once.
    let status = if payment.provider == "razorpay" {
        "pending"
    } else {
        "processed"
    };
    diesel::insert_into(refunds::table)
        .values((
            refunds::payment_id.eq(payment.id),
            refunds::order_id.eq(order_id),
            refunds::provider_refund_id.eq(provider_refund_id),
            refunds::amount.eq(amount),
            refunds::status.eq(status),
            refunds::actor.eq(actor),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Sets the order's payment status from its processed refunds.
async fn recompute(conn: &mut AsyncPgConnection, order_id: i64) -> AppResult<OrderRow> {
    diesel::sql_query(
        "UPDATE orders o SET payment_status = CASE \
             WHEN r.done >= p.amount THEN 'refunded' \
             WHEN r.done > 0 THEN 'partially_refunded' ELSE 'captured' END, updated_at = now() \
         FROM payments p, (SELECT COALESCE(sum(amount), 0) AS done FROM refunds \
                           WHERE order_id = $1 AND status = 'processed') r \
         WHERE o.id = $1 AND p.id = o.payment_id \
           AND o.payment_status IN ('captured', 'partially_refunded', 'refunded')",
    )
    .bind::<BigInt, _>(order_id)
    .execute(conn)
    .await?;
    OrderRow::find(conn, order_id)
        .await?
        .ok_or_else(|| AppError::not_found("order"))
}

/// Refunds `amount` of an order's captured payment (staff). The provider is asked after the
/// refund is recorded as pending under the order lock; if it refuses, the refund is marked
/// failed and nothing else changes.
pub async fn refund_order(
    app: &AppState,
    staff_id: i64,
    order_id: i64,
    amount: i64,
) -> AppResult<OrderRow> {
    if amount <= 0 {
        return Err(AppError::bad_input("`amount` must be positive"));
    }
    let actor = format!("staff:{staff_id}");
    let mut conn = app.db.get().await?;
    let (refund_id, payment) = conn
        .transaction::<_, AppError, _>(async |conn| {
            let order: OrderRow = orders::table
                .find(order_id)
                .select(OrderRow::as_select())
                .for_update()
                .first(conn)
                .await
                .optional()?
                .ok_or_else(|| AppError::not_found("order"))?;
            let payment = match order.payment_id {
                Some(id) => Payment::find(conn, id).await?,
                None => None,
            }
            .filter(|p| p.status == "captured")
            .ok_or_else(|| {
                AppError::Conflict("the order has no captured payment to refund".into())
            })?;
            let left = payment.amount - committed(conn, payment.id).await?;
            if amount > left {
                return Err(AppError::bad_input(format!(
                    "at most {left} can still be refunded on this order"
                )));
            }
            let id: i64 = diesel::insert_into(refunds::table)
                .values((
                    refunds::payment_id.eq(payment.id),
                    refunds::order_id.eq(order.id),
                    refunds::amount.eq(amount),
                    refunds::status.eq("pending"),
                    refunds::actor.eq(&actor),
                ))
                .returning(refunds::id)
                .get_result(conn)
                .await?;
            Ok((id, payment))
        })
        .await?;
    let asked = ask_provider(app, &payment, amount, refund_id).await;
    let (provider_id, status) = match asked {
        Ok(answer) => answer,
        // Refused: nothing was refunded.
        Err(e @ AppError::Conflict(_)) => {
            diesel::update(refunds::table.find(refund_id))
                .set((
                    refunds::status.eq("failed"),
                    refunds::updated_at.eq(diesel::dsl::now),
                ))
                .execute(&mut conn)
                .await?;
            return Err(e);
        }
        // Unknown (a timeout, a lost answer): the refund may have been made. It stays pending —
        // counted against what can still be refunded — until `refund.processed` finds it by its
        // reference, or staff resolve it.
        Err(e) => return Err(e),
    };
    let order = conn
        .transaction::<_, AppError, _>(async |conn| {
            diesel::update(refunds::table.find(refund_id))
                .set((
                    refunds::provider_refund_id.eq(&provider_id),
                    // Never back from processed (the webhook may have come first).
                    refunds::status.eq(diesel::dsl::sql::<diesel::sql_types::Text>(&format!(
                        "CASE WHEN status = 'processed' THEN status ELSE '{status}' END"
                    ))),
                    refunds::updated_at.eq(diesel::dsl::now),
                ))
                .execute(conn)
                .await?;
            order_model::add_event(
                conn,
                order_id,
                "refund",
                &actor,
                serde_json::json!({ "amount": amount, "status": status, "providerRefundId": provider_id }),
            )
            .await?;
            recompute(conn, order_id).await
        })
        .await?;
    crate::orders::events::order_changed(app, &order).await;
    Ok(order)
}

/// The provider's refund of `amount`: its id and `processed` or `pending`.
async fn ask_provider(
    app: &App,
    payment: &Payment,
    amount: i64,
    reference: i64,
) -> AppResult<(Option<String>, &'static str)> {
    match payment.provider.as_str() {
        "razorpay" => {
            let razorpay = app
                .razorpay
                .as_ref()
                .ok_or_else(|| AppError::Conflict("Razorpay is not configured".into()))?;
            let id = payment.provider_payment_id.as_deref().ok_or_else(|| {
                AppError::Conflict("the payment has no Razorpay payment id".into())
            })?;
            let refund = razorpay.refund(id, amount, Some(reference)).await?;
            let status = if refund.status == "processed" {
                "processed"
            } else {
                "pending"
            };
            Ok((Some(refund.id), status))
        }
        // Manual payments moved no money: their refunds are done at once.
        _ => Ok((None, "processed")),
    }
}

/// `refund.processed` from the provider: our pending refund is done (or one made in the
/// provider's dashboard is recorded). Returns what happened, for the webhook's record.
pub async fn provider_refund_processed(
    app: &AppState,
    provider_refund_id: &str,
    provider_payment_id: &str,
    amount: i64,
    reference: Option<i64>,
) -> AppResult<String> {
    let mut conn = app.db.get().await?;
    let order = conn
        .transaction::<_, AppError, _>(async |conn| {
            let mut known: Option<Refund> = refunds::table
                .filter(refunds::provider_refund_id.eq(provider_refund_id))
                .select(Refund::as_select())
                .first(conn)
                .await
                .optional()?;
            if known.is_none()
                && let Some(ours) = reference
            {
                // Ours, whose answer we never got: it gets its provider id now.
                known = refunds::table
                    .find(ours)
                    .filter(refunds::provider_refund_id.is_null())
                    .select(Refund::as_select())
                    .first(conn)
                    .await
                    .optional()?;
                if let Some(refund) = &known {
                    diesel::update(refunds::table.find(refund.id))
                        .set(refunds::provider_refund_id.eq(provider_refund_id))
                        .execute(conn)
                        .await?;
                }
            }
            let order_id = match known {
                Some(refund) if refund.status == "processed" => return Ok(None),
                Some(refund) => {
                    diesel::update(refunds::table.find(refund.id))
                        .set((
                            refunds::status.eq("processed"),
                            refunds::updated_at.eq(diesel::dsl::now),
                        ))
                        .execute(conn)
                        .await?;
                    refund.order_id
                }
                None => {
                    let Some(payment) = payments::table
                        .filter(payments::provider_payment_id.eq(provider_payment_id))
                        .select(Payment::as_select())
                        .first(conn)
                        .await
                        .optional()?
                    else {
                        return Ok(None);
                    };
                    // Only a refund of the payment an order was placed with belongs to it (a
                    // payment under review has no order to file it under).
                    let Some(order) = OrderRow::of_cart(conn, payment.cart_id)
                        .await?
                        .filter(|o| o.payment_id == Some(payment.id))
                    else {
                        return Ok(None);
                    };
                    diesel::insert_into(refunds::table)
                        .values((
                            refunds::payment_id.eq(payment.id),
                            refunds::order_id.eq(order.id),
                            refunds::provider_refund_id.eq(provider_refund_id),
                            refunds::amount.eq(amount.max(1)),
                            refunds::status.eq("processed"),
                            refunds::actor.eq("provider"),
                        ))
                        .execute(conn)
                        .await?;
                    order.id
                }
            };
            order_model::add_event(
                conn,
                order_id,
                "refund_processed",
                "system",
                serde_json::json!({ "providerRefundId": provider_refund_id, "amount": amount }),
            )
            .await?;
            Ok(Some(recompute(conn, order_id).await?))
        })
        .await?;
    match order {
        Some(order) => {
            crate::orders::events::order_changed(app, &order).await;
            Ok(format!(
                "refund {provider_refund_id} processed on order {}",
                order.display_number
            ))
        }
        None => Ok(format!("refund {provider_refund_id}: nothing to do")),
    }
}
