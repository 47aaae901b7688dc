//! Checkout and the order desk. `complete_cart` turns a cart into an order in one transaction
//! (stock reserved by conditional statements, prices frozen, payment captured where the provider
//! does so at checkout, the cart closed, the confirmation mail enqueued); it is idempotent under
//! retries and races because the cart row is locked first and an order is unique per cart.
//! Staff transitions are conditional updates: a status change that is not allowed is `CONFLICT`.

use std::collections::BTreeMap;

use diesel_async::AsyncConnection;

use super::model::{self, NewOrder, OrderLineRow, OrderRow};
use crate::auth::Viewer;
use crate::carts::model::Cart;
use crate::carts::service::{self as carts, CartView};
use crate::catalog::money::Money;
use crate::catalog::products::service::stock_changed;
use crate::error::{AppError, AppResult};
use crate::jobs;
use crate::mail::{MailRequest, Template};
use crate::payments::{self, model::Payment};
use crate::state::AppState;

/// Completes a cart into an order, or returns the order it already became.
pub async fn complete_cart(app: &AppState, viewer: &Viewer, token: &str) -> AppResult<OrderRow> {
    let cart = carts::reach(app, viewer, token).await?;
    complete(app, cart, &actor(viewer)).await
}

/// Completes a cart the caller has already been allowed to reach (or a payment provider's event
/// names), or returns the order it became. `actor` goes on the order's timeline.
pub async fn complete(app: &AppState, cart: Cart, actor: &str) -> AppResult<OrderRow> {
    let mut conn = app.db.get().await?;
    if cart.completed_at.is_some() {
        return OrderRow::of_cart(&mut conn, cart.id).await?.ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!("completed cart {} has no order", cart.id))
        });
    }
    let outcome = conn
        .transaction::<_, AppError, _>(async |conn| {
            // Serialises completions of this cart: a second caller waits here, then finds the
            // order the first one made.
            let cart = Cart::lock(conn, cart.id).await?;
            if cart.completed_at.is_some() {
                let order = OrderRow::of_cart(conn, cart.id).await?.ok_or_else(|| {
                    AppError::Internal(anyhow::anyhow!("completed cart {} has no order", cart.id))
                })?;
                return Ok((order, Vec::new(), false));
            }
            let view = carts::view(conn, cart).await?;
            let ready = check_ready(&view)?;
            let payment = Payment::latest_for_cart(conn, view.cart.id)
                .await?
                .filter(|p| p.status == "authorized" || p.status == "captured")
                .ok_or_else(|| {
                    AppError::bad_input(
                        "the cart has no authorized payment: create a payment session",
                    )
                })?;
            if payment.amount != view.totals.total
                || payment.currency_code != view.region.currency_code
            {
                return Err(AppError::Conflict(
                    "the cart changed since its payment session: create a new one".into(),
                ));
            }
            // Reserve in variant order, so concurrent checkouts lock rows in one order.
            let mut by_variant: BTreeMap<i64, i32> = BTreeMap::new();
            for line in &view.lines {
                *by_variant.entry(line.variant_id).or_default() += line.quantity;
            }
            let mut flipped = Vec::new();
            let mut managed = BTreeMap::new();
            for (variant, quantity) in &by_variant {
                let line = view.lines.iter().find(|l| l.variant_id == *variant);
                let title = line.map_or("an item", |l| l.product_title.as_str());
                let change = model::reserve(conn, *variant, *quantity)
                    .await?
                    .ok_or_else(|| {
                        AppError::Conflict(format!("not enough stock of {title} for this order"))
                    })?;
                managed.insert(*variant, change.managed);
                let sold_out = change.tracked && change.inventory_quantity <= 0;
                flipped.push((change.product_id, change.handle, sold_out));
            }
            let new = NewOrder {
                cart_id: view.cart.id,
                customer_id: view.cart.customer_id,
                email: ready.email.clone(),
                region_id: view.region.id,
                currency_code: view.region.currency_code.clone(),
                status: "pending",
                payment_status: "authorized",
                fulfillment_status: "not_fulfilled",
                payment_id: Some(payment.id),
                shipping_address: ready.shipping_address.clone(),
                billing_address: view.cart.billing_address.clone(),
                shipping_method: ready.shipping_method.clone(),
                subtotal: view.totals.subtotal,
                shipping_total: view.totals.shipping,
                tax_total: view.totals.tax,
                total: view.totals.total,
                tax_rate_bps: view.region.tax_rate_bps,
            };
            let mut order = OrderRow::insert(conn, &new).await?;
            let lines: Vec<OrderLineRow> = view
                .lines
                .iter()
                .map(|l| {
                    let unit = l.unit_price.unwrap_or_default();
                    OrderLineRow {
                        id: 0,
                        order_id: order.id,
                        variant_id: l.variant_id,
                        product_id: l.product_id,
                        product_title: l.product_title.clone(),
                        variant_title: l.variant_title.clone(),
                        sku: l.sku.clone(),
                        quantity: l.quantity,
                        unit_price: unit,
                        subtotal: unit.saturating_mul(i64::from(l.quantity)),
                        stock_taken: if managed.get(&l.variant_id) == Some(&true) {
                            l.quantity
                        } else {
                            0
                        },
                    }
                })
                .collect();
            model::insert_lines(conn, &lines).await?;
            model::add_event(
                conn,
                order.id,
                "placed",
                actor,
                serde_json::json!({ "total": order.total }),
            )
            .await?;
            if payment.status == "captured" {
                // Paid at the provider before checkout (Razorpay): the order is paid already.
                order = OrderRow::set_payment(conn, order.id, "captured", Some("paid")).await?;
                model::add_event(
                    conn,
                    order.id,
                    "payment_captured",
                    "system",
                    serde_json::json!({ "provider": payment.provider, "providerPaymentId": payment.provider_payment_id }),
                )
                .await?;
            } else if let Some(provider) =
                payments::provider_named(&payment.provider).filter(|p| p.captures_at_checkout())
            {
                let outcome = provider.capture(&payment).await?;
                if outcome.status != "captured" {
                    // Nothing is kept: no order, the stock stays, the cart stays open.
                    return Err(AppError::Conflict(format!(
                        "the payment could not be captured ({}); try another payment session",
                        outcome.status
                    )));
                }
                Payment::set_status(
                    conn,
                    payment.id,
                    outcome.status,
                    outcome.provider_id.as_deref(),
                )
                .await?;
                order = OrderRow::set_payment(conn, order.id, "captured", Some("paid")).await?;
                model::add_event(
                    conn,
                    order.id,
                    "payment_captured",
                    "system",
                    serde_json::json!({ "provider": provider.name() }),
                )
                .await?;
            }
            Cart::complete(conn, view.cart.id).await?;
            let mail = MailRequest {
                template: Template::OrderConfirmation,
                to: order.email.clone(),
                vars: [
                    (
                        "order_number".to_owned(),
                        format!("#{}", order.display_number),
                    ),
                    (
                        "total".to_owned(),
                        format!(
                            "{} {}",
                            Money::new(order.total, &order.currency_code).decimal,
                            order.currency_code
                        ),
                    ),
                    (
                        "link".to_owned(),
                        format!(
                            "{}/account/orders/{}",
                            app.config.mail.storefront_url, order.display_number
                        ),
                    ),
                ]
                .into(),
            };
            jobs::enqueue(
                conn,
                &mail.job(
                    format!("order-confirmation:{}", order.id),
                    app.config.jobs.max_attempts,
                ),
            )
            .await?;
            Ok((order, flipped, true))
        })
        .await?;
    drop(conn);
    let (order, flipped, created) = outcome;
    if created {
        app.jobs_wake.notify_one();
        stock_flipped(app, &flipped).await;
        super::events::order_changed(app, &order).await;
    }
    Ok(order)
}

/// What a cart has that checkout needs.
pub struct Ready {
    email: String,
    shipping_address: serde_json::Value,
    shipping_method: String,
}

/// What a cart needs before checkout; `BAD_USER_INPUT` naming what is missing, `CONFLICT` when a
/// line can no longer be bought.
pub fn check_ready(view: &CartView) -> AppResult<Ready> {
    if view.lines.is_empty() {
        return Err(AppError::bad_input("the cart is empty"));
    }
    let email = view
        .cart
        .email
        .clone()
        .ok_or_else(|| AppError::bad_input("the cart has no email: set it with updateCart"))?;
    let shipping_address = view.cart.shipping_address.clone().ok_or_else(|| {
        AppError::bad_input("the cart has no shipping address: set it with updateCart")
    })?;
    let shipping_method = view
        .shipping
        .as_ref()
        .map(|s| s.name.clone())
        .ok_or_else(|| {
            AppError::bad_input(
                "the cart has no shipping method: choose one with setCartShippingMethod",
            )
        })?;
    if let Some(line) = view
        .lines
        .iter()
        .find(|l| !l.available || l.unit_price.is_none())
    {
        return Err(AppError::Conflict(format!(
            "{} is no longer for sale: remove it from the cart",
            line.product_title
        )));
    }
    Ok(Ready {
        email,
        shipping_address,
        shipping_method,
    })
}

/// Who placed an order, for its timeline.
fn actor(viewer: &Viewer) -> String {
    match viewer {
        Viewer::Customer { .. } => "customer".into(),
        Viewer::Admin { id, .. } => format!("staff:{id}"),
        _ => "guest".into(),
    }
}

/// Products whose stock changed, and whether their availability flipped: the storefront's
/// `inStock` and `inventoryQuantity` change at once (see `stock_changed`).
async fn stock_flipped(app: &AppState, products: &[(i64, String, bool)]) {
    let mut by_product: BTreeMap<i64, (&str, bool)> = BTreeMap::new();
    for (id, handle, flipped) in products {
        let entry = by_product.entry(*id).or_insert((handle, false));
        entry.1 |= flipped;
    }
    let products: Vec<(i64, &str, bool)> = by_product
        .into_iter()
        .map(|(id, (handle, flipped))| (id, handle, flipped))
        .collect();
    stock_changed(app, &products).await;
}

/// A staff transition of an order's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Packed: `PAID` → `FULFILLED`.
    Fulfill,
    /// Handed to a carrier: `FULFILLED` → `SHIPPED` (with tracking).
    Ship,
    /// Arrived: `SHIPPED` → `DELIVERED`.
    Deliver,
    /// Canceled before shipping: stock back, payment refunded or released.
    Cancel,
}

impl Transition {
    fn rule(
        self,
    ) -> (
        &'static [&'static str],
        &'static str,
        &'static str,
        &'static str,
    ) {
        match self {
            Self::Fulfill => (&["paid"], "fulfilled", "fulfilled", "fulfilled"),
            Self::Ship => (&["fulfilled"], "shipped", "shipped", "shipped"),
            Self::Deliver => (&["shipped"], "delivered", "delivered", "delivered"),
            Self::Cancel => (
                &["pending", "paid", "fulfilled"],
                "canceled",
                "canceled",
                "canceled",
            ),
        }
    }
}

/// Applies a staff transition; `CONFLICT` naming the order's status when it is not allowed.
pub async fn transition(
    app: &AppState,
    staff_id: i64,
    order_id: i64,
    change: Transition,
    tracking: Option<(&str, &str)>,
) -> AppResult<OrderRow> {
    let (from, status, fulfillment, event) = change.rule();
    let mut conn = app.db.get().await?;
    let actor = format!("staff:{staff_id}");
    let (order, flipped) = conn
        .transaction::<_, AppError, _>(async |conn| {
            let Some(mut order) =
                OrderRow::transition(conn, order_id, from, status, fulfillment, tracking).await?
            else {
                let current = OrderRow::find(conn, order_id)
                    .await?
                    .ok_or_else(|| AppError::not_found("order"))?;
                return Err(AppError::Conflict(format!(
                    "the order is {}; it cannot be {event}",
                    current.status.to_uppercase()
                )));
            };
            let mut flipped = Vec::new();
            let mut data = serde_json::json!({});
            if let Some((number, carrier)) = tracking {
                data = serde_json::json!({ "trackingNumber": number, "carrier": carrier });
            }
            if change == Transition::Cancel {
                for (stock, returned) in model::restock(conn, order.id).await? {
                    let back_in_stock = stock.tracked
                        && stock.inventory_quantity > 0
                        && stock.inventory_quantity - returned <= 0;
                    flipped.push((stock.product_id, stock.handle, back_in_stock));
                }
                if let Some(payment_id) = order.payment_id
                    && let Some(payment) = Payment::find(conn, payment_id).await?
                {
                    let remaining =
                        payment.amount - payments::refunds::committed(conn, payment.id).await?;
                    let outcome = payments::refund_in_full(app, &payment, remaining).await?;
                    if !matches!(outcome.status, "refunded" | "canceled") {
                        // The order stays as it was, stock included.
                        return Err(AppError::Conflict(format!(
                            "the payment could not be refunded ({}); the order was not canceled",
                            outcome.status
                        )));
                    }
                    Payment::set_status(conn, payment.id, outcome.status, None).await?;
                    if outcome.status == "refunded" && remaining > 0 && payment.status == "captured"
                    {
                        payments::refunds::record(
                            conn,
                            &payment,
                            order.id,
                            remaining,
                            outcome.provider_id.as_deref(),
                            &actor,
                        )
                        .await?;
                    }
                    let payment_status = if outcome.status == "refunded" {
                        "refunded"
                    } else {
                        "canceled"
                    };
                    order = OrderRow::set_payment(conn, order.id, payment_status, None).await?;
                    data = serde_json::json!({ "payment": outcome.status });
                }
            }
            model::add_event(conn, order.id, event, &actor, data).await?;
            Ok((order, flipped))
        })
        .await?;
    drop(conn);
    stock_flipped(app, &flipped).await;
    super::events::order_changed(app, &order).await;
    Ok(order)
}
