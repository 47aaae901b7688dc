//! Razorpay checkout: `initiate` makes a Razorpay order for the cart's total (outside any database
//! transaction, then records the session under the cart lock); `verify` checks Checkout's signed
//! answer; `settle` — from the browser or from a webhook, whichever comes first — marks the
//! payment captured and completes the cart, exactly once.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::model::Payment;
use super::razorpay::Razorpay;
use crate::auth::Viewer;
use crate::carts::model::Cart;
use crate::carts::service as carts;
use crate::db::schema::payments;
use crate::error::{AppError, AppResult};
use crate::orders::model::OrderRow;
use crate::orders::service as orders;
use crate::state::{App, AppState};

/// The provider name in `payments.provider`.
pub const RAZORPAY: &str = "razorpay";

fn razorpay(app: &App) -> AppResult<&Razorpay> {
    app.razorpay
        .as_ref()
        .ok_or_else(|| AppError::bad_input("Razorpay is not configured on this shop"))
}

/// A Razorpay session: what the storefront's Razorpay Checkout needs.
pub struct Initiated {
    pub payment: Payment,
    pub key_id: String,
}

/// Starts (or reuses) a Razorpay payment for a cart that is ready for checkout: an unchanged cart
/// gets its open session back; a changed total gets a new Razorpay order.
pub async fn initiate(app: &AppState, viewer: &Viewer, token: &str) -> AppResult<Initiated> {
    let razorpay = razorpay(app)?;
    let cart = carts::reach(app, viewer, token).await?;
    if cart.completed_at.is_some() {
        return Err(AppError::Conflict("this cart is completed".into()));
    }
    let mut conn = app.db.get().await?;
    let view = carts::view(&mut conn, cart).await?;
    orders::check_ready(&view)?;
    let total = view.totals.total;
    let currency = view.region.currency_code.clone();
    if let Some(open) = Payment::latest_for_cart(&mut conn, view.cart.id).await?
        && open.provider == RAZORPAY
        && open.status == "pending"
        && open.amount == total
        && open.currency_code == currency
        && open.provider_id.is_some()
    {
        return Ok(Initiated {
            payment: open,
            key_id: razorpay.key_id().to_owned(),
        });
    }
    // The API call holds no lock and no transaction: if it fails, nothing was recorded.
    let receipt = format!("cart-{}", view.cart.id);
    let order = razorpay
        .create_order(
            total,
            &currency,
            &receipt,
            serde_json::json!({ "cart": view.cart.id }),
        )
        .await?;
    if order.amount != total || order.currency != currency {
        return Err(AppError::Internal(anyhow::anyhow!(
            "Razorpay order {} is for {} {}, not {total} {currency}",
            order.id,
            order.amount,
            order.currency
        )));
    }
    let cart_id = view.cart.id;
    let payment = conn
        .transaction::<_, AppError, _>(async |conn| {
            let cart = Cart::lock(conn, cart_id).await?;
            if cart.completed_at.is_some() {
                return Err(AppError::Conflict("this cart is completed".into()));
            }
            let payment = Payment::open(conn, cart_id, RAZORPAY, total, &currency).await?;
            Ok(Payment::set_status(conn, payment.id, "pending", Some(&order.id)).await?)
        })
        .await?;
    Ok(Initiated {
        payment,
        key_id: razorpay.key_id().to_owned(),
    })
}

/// The session a Razorpay order id names.
pub async fn by_provider_order(
    conn: &mut diesel_async::AsyncPgConnection,
    order_id: &str,
) -> AppResult<Option<Payment>> {
    Ok(payments::table
        .filter(payments::provider.eq(RAZORPAY))
        .filter(payments::provider_id.eq(order_id))
        .select(Payment::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Checks Razorpay Checkout's answer and completes the cart. A wrong signature is
/// `BAD_USER_INPUT` and records nothing.
pub async fn verify(
    app: &AppState,
    viewer: &Viewer,
    token: &str,
    order_id: &str,
    payment_id: &str,
    signature: &str,
) -> AppResult<OrderRow> {
    if !razorpay(app)?.verify_payment(order_id, payment_id, signature) {
        return Err(AppError::bad_input("the payment signature does not match"));
    }
    let cart = carts::reach(app, viewer, token).await?;
    let payment = by_provider_order(&mut *app.db.get().await?, order_id)
        .await?
        .filter(|p| p.cart_id == cart.id)
        .ok_or_else(|| AppError::not_found("payment session"))?;
    capture_if_needed(app, &payment, payment_id).await?;
    match settle(app, payment.id, payment_id, None, "customer").await? {
        Settled::Order(order) => Ok(*order),
        Settled::Review(reason) => Err(AppError::Conflict(format!(
            "the payment was received but the order could not be placed ({reason}); our staff \
             will refund or complete it"
        ))),
    }
}

/// What became of a payment the provider says was made.
pub enum Settled {
    /// The cart's order (made now, or earlier by the other path).
    Order(Box<OrderRow>),
    /// Money was taken but no order can be made: the payment is flagged `review` for staff.
    Review(String),
}

/// Records that the provider captured `provider_payment_id` for our session `payment_id` and
/// completes its cart — idempotent, and safe against the browser and a webhook racing (both
/// lock the cart). `reported` is the provider's amount and currency, when it told us (webhooks):
/// a mismatch flags the payment for review and makes no order.
pub async fn settle(
    app: &AppState,
    payment_id: i64,
    provider_payment_id: &str,
    reported: Option<(i64, &str)>,
    actor: &str,
) -> AppResult<Settled> {
    let mut conn = app.db.get().await?;
    let review: Option<String> = conn
        .transaction::<_, AppError, _>(async |conn| {
            let payment = Payment::find(conn, payment_id)
                .await?
                .ok_or_else(|| AppError::not_found("payment session"))?;
            let cart = Cart::lock(conn, payment.cart_id).await?;
            let payment = Payment::find(conn, payment_id)
                .await?
                .ok_or_else(|| AppError::not_found("payment session"))?;
            if cart.completed_at.is_some() {
                // Completed: fine if with this very payment (a retry, or the other path won);
                // money on any other session of the cart needs a person.
                let order = OrderRow::of_cart(conn, cart.id).await?;
                if order.as_ref().and_then(|o| o.payment_id) == Some(payment.id) {
                    return Ok(None);
                }
                if payment.status != "review" {
                    flag(conn, &payment, provider_payment_id).await?;
                }
                return Ok(Some(format!(
                    "the cart was completed with another payment (this session was {})",
                    payment.status
                )));
            }
            if let Some((amount, currency)) = reported
                && (amount != payment.amount || currency != payment.currency_code)
            {
                flag(conn, &payment, provider_payment_id).await?;
                return Ok(Some(format!(
                    "paid {amount} {currency}, session was {} {}",
                    payment.amount, payment.currency_code
                )));
            }
            match payment.status.as_str() {
                "captured" => Ok(None),
                "pending" | "authorized" | "failed" => {
                    capture(conn, &payment, provider_payment_id).await?;
                    Ok(None)
                }
                // A session replaced by a newer one, or already flagged.
                other => {
                    let other = other.to_owned();
                    if other != "review" {
                        flag(conn, &payment, provider_payment_id).await?;
                    }
                    Ok(Some(format!("the session was {other}")))
                }
            }
        })
        .await?;
    if let Some(reason) = review {
        tracing::error!(payment_id, %reason, "payment needs review");
        return Ok(Settled::Review(reason));
    }
    let cart_id = payment_cart(&mut conn, payment_id).await?;
    let cart = Cart::find(&mut conn, cart_id)
        .await?
        .ok_or_else(|| AppError::not_found("cart"))?;
    match orders::complete(app, cart, actor).await {
        Ok(order) => Ok(Settled::Order(Box::new(order))),
        // Paid, but the order cannot be made (stock gone, the total changed): staff must act.
        Err(e @ (AppError::Conflict(_) | AppError::BadUserInput(_))) => {
            let reason = e.to_string();
            let payment = Payment::find(&mut conn, payment_id)
                .await?
                .ok_or_else(|| AppError::not_found("payment session"))?;
            flag(&mut conn, &payment, provider_payment_id).await?;
            tracing::error!(payment_id, %reason, "paid but no order: needs review");
            Ok(Settled::Review(reason))
        }
        Err(e) => Err(e),
    }
}

async fn payment_cart(conn: &mut diesel_async::AsyncPgConnection, id: i64) -> AppResult<i64> {
    Ok(payments::table
        .find(id)
        .select(payments::cart_id)
        .first(conn)
        .await?)
}

async fn capture(
    conn: &mut diesel_async::AsyncPgConnection,
    payment: &Payment,
    provider_payment_id: &str,
) -> AppResult<()> {
    set_provider_payment(conn, payment.id, provider_payment_id).await?;
    Payment::set_status(conn, payment.id, "captured", None).await?;
    Ok(())
}

async fn flag(
    conn: &mut diesel_async::AsyncPgConnection,
    payment: &Payment,
    provider_payment_id: &str,
) -> AppResult<()> {
    set_provider_payment(conn, payment.id, provider_payment_id).await?;
    Payment::set_status(conn, payment.id, "review", None).await?;
    Ok(())
}

async fn set_provider_payment(
    conn: &mut diesel_async::AsyncPgConnection,
    id: i64,
    provider_payment_id: &str,
) -> AppResult<()> {
    diesel::update(payments::table.find(id))
        .set(payments::provider_payment_id.eq(provider_payment_id))
        .execute(conn)
        .await?;
    Ok(())
}

/// Captures an authorized payment when the account does not do it by itself (an API error fails
/// the caller, which may retry: nothing was recorded).
pub async fn capture_if_needed(
    app: &AppState,
    payment: &Payment,
    provider_payment_id: &str,
) -> AppResult<()> {
    let razorpay = razorpay(app)?;
    if razorpay.auto_capture() || payment.status == "captured" {
        return Ok(());
    }
    match razorpay
        .capture(provider_payment_id, payment.amount, &payment.currency_code)
        .await
    {
        // Refused: perhaps the other path (browser or webhook) captured it a moment ago. Only
        // Razorpay's own word that it is captured lets the order go ahead.
        Err(AppError::Conflict(refused)) => {
            if razorpay.payment_status(provider_payment_id).await? == "captured" {
                Ok(())
            } else {
                Err(AppError::Conflict(refused))
            }
        }
        other => other,
    }
}

/// Records a failed attempt (`payment.failed`): the cart stays usable, a new attempt may follow.
pub async fn mark_failed(app: &AppState, payment_id: i64) -> AppResult<()> {
    diesel::sql_query(
        "UPDATE payments SET status = 'failed', updated_at = now(), \
             history = history || jsonb_build_array(jsonb_build_object('status', 'failed', 'at', now())) \
         WHERE id = $1 AND status IN ('pending', 'authorized')",
    )
    .bind::<diesel::sql_types::BigInt, _>(payment_id)
    .execute(&mut *app.db.get().await?)
    .await?;
    Ok(())
}
