//! The `Order` type (store and staff), the customer's own orders, and `orderUpdated` for staff.

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject, Subscription};
use chrono::{DateTime, Utc};

use super::model::{self, OrderFilter, OrderRow};
use crate::auth::{Permission, RequireCustomer, RequirePermission, Viewer};
use crate::carts::types::{PostalAddress, Totals};
use crate::catalog::money::Money;
use crate::db::pagination::PageRequest;
use crate::error::{AppError, AppResult};
use crate::events::DomainEvent;
use crate::graphql::context::{app, request_context};
use crate::graphql::ids::{event_id, expect_global, to_global};
use crate::graphql::response_cache::{Reads, RootReads};
use crate::state::App;

/// What the root fields below read, for the response cache (see `Reads`).
pub const READS: RootReads = &[("order", Reads::Private)];

/// Where an order is.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum OrderStatus {
    /// Placed; payment not yet captured.
    Pending,
    /// Paid.
    Paid,
    /// Packed.
    Fulfilled,
    /// With the carrier.
    Shipped,
    /// Arrived.
    Delivered,
    /// Canceled (stock returned, payment refunded or released).
    Canceled,
}

impl OrderStatus {
    /// From the stored form.
    pub fn parse(s: &str) -> Self {
        match s {
            "paid" => Self::Paid,
            "fulfilled" => Self::Fulfilled,
            "shipped" => Self::Shipped,
            "delivered" => Self::Delivered,
            "canceled" => Self::Canceled,
            _ => Self::Pending,
        }
    }

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Fulfilled => "fulfilled",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Canceled => "canceled",
        }
    }
}

/// An order line, frozen at checkout.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(cache_control(private))]
pub struct OrderLine {
    pub id: ID,
    /// The variant (`ProductVariant` global ID).
    pub variant_id: ID,
    pub product_title: String,
    pub variant_title: String,
    pub sku: Option<String>,
    pub quantity: i32,
    /// Price per unit before tax, as paid.
    pub unit_price: Money,
    pub subtotal: Money,
}

/// A timeline entry.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(cache_control(private))]
pub struct OrderEvent {
    /// `placed`, `payment_captured`, `fulfilled`, `shipped`, `delivered`, `canceled`.
    pub kind: String,
    /// `customer`, `guest`, `system` or `staff:<id>`.
    pub actor: String,
    /// Details (tracking number, payment outcome, …).
    pub data: async_graphql::Json<serde_json::Value>,
    pub at: DateTime<Utc>,
}

/// A payment as recorded, with the provider's ids.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(cache_control(private))]
pub struct PaymentRecord {
    /// `manual` or `razorpay`.
    pub provider: String,
    /// `PENDING`, `AUTHORIZED`, `CAPTURED`, `CANCELED`, `REFUNDED`, `FAILED` or `REVIEW`.
    pub status: String,
    pub amount: Money,
    /// The provider's session id (Razorpay `order_…`).
    pub provider_id: Option<String>,
    /// The provider's payment id (Razorpay `pay_…`).
    pub provider_payment_id: Option<String>,
    /// Every status with its time.
    pub history: async_graphql::Json<serde_json::Value>,
}

/// A refund.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(cache_control(private))]
pub struct RefundRecord {
    pub amount: Money,
    /// `PENDING`, `PROCESSED` or `FAILED`.
    pub status: String,
    /// The provider's refund id (Razorpay `rfnd_…`).
    pub provider_refund_id: Option<String>,
    /// `staff:<id>`, or `provider` for one made in the provider's dashboard.
    pub actor: String,
    pub at: DateTime<Utc>,
}

/// An order.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(cache_control(private))]
pub struct Order {
    /// Global ID.
    pub id: ID,
    /// Human number, e.g. 1001 (shown as #1001).
    pub display_number: i64,
    pub status: OrderStatus,
    /// `AUTHORIZED`, `CAPTURED`, `PARTIALLY_REFUNDED`, `REFUNDED` or `CANCELED`.
    pub payment_status: String,
    /// `NOT_FULFILLED`, `FULFILLED`, `SHIPPED`, `DELIVERED` or `CANCELED`.
    pub fulfillment_status: String,
    pub email: String,
    pub currency_code: String,
    pub lines: Vec<OrderLine>,
    pub shipping_address: Option<PostalAddress>,
    pub billing_address: Option<PostalAddress>,
    /// The shipping option's name at checkout.
    pub shipping_method: String,
    pub totals: Totals,
    pub tracking_number: Option<String>,
    pub carrier: Option<String>,
    /// Oldest first.
    pub events: Vec<OrderEvent>,
    /// The payment the order was placed with (its status history and provider ids).
    pub payment: Option<PaymentRecord>,
    /// Every payment session of the order's cart, newest first (failed and replaced attempts
    /// included).
    pub payment_attempts: Vec<PaymentRecord>,
    /// Refunds, oldest first.
    pub refunds: Vec<RefundRecord>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Order {
    /// Orders with their lines, timelines, payments and refunds: five statements whatever the page
    /// size.
    pub async fn load_many(app: &App, rows: Vec<OrderRow>) -> AppResult<Vec<Order>> {
        let ids: Vec<i64> = rows.iter().map(|o| o.id).collect();
        let cart_ids: Vec<i64> = rows.iter().map(|o| o.cart_id).collect();
        let (lines, events, refunds, payments) = app
            .read(move |conn| {
                let (ids, cart_ids) = (ids.clone(), cart_ids.clone());
                Box::pin(async move {
                    let lines = model::lines_of(conn, &ids).await?;
                    let events = model::events_of(conn, &ids).await?;
                    let refunds = crate::payments::refunds::of_orders(conn, &ids).await?;
                    let payments =
                        crate::payments::model::Payment::of_carts(conn, &cart_ids).await?;
                    Ok((lines, events, refunds, payments))
                })
            })
            .await?;
        let record = |p: &crate::payments::model::Payment| PaymentRecord {
            provider: p.provider.clone(),
            status: p.status.to_uppercase(),
            amount: Money::new(p.amount, &p.currency_code),
            provider_id: p.provider_id.clone(),
            provider_payment_id: p.provider_payment_id.clone(),
            history: async_graphql::Json(p.history.clone()),
        };
        Ok(rows
            .into_iter()
            .map(|o| {
                let cur = o.currency_code.clone();
                Order {
                    id: to_global("Order", o.id),
                    display_number: o.display_number,
                    status: OrderStatus::parse(&o.status),
                    payment_status: o.payment_status.to_uppercase(),
                    fulfillment_status: o.fulfillment_status.to_uppercase(),
                    email: o.email.clone(),
                    lines: lines
                        .iter()
                        .filter(|l| l.order_id == o.id)
                        .map(|l| OrderLine {
                            id: to_global("OrderLine", l.id),
                            variant_id: to_global("ProductVariant", l.variant_id),
                            product_title: l.product_title.clone(),
                            variant_title: l.variant_title.clone(),
                            sku: l.sku.clone(),
                            quantity: l.quantity,
                            unit_price: Money::new(l.unit_price, &cur),
                            subtotal: Money::new(l.subtotal, &cur),
                        })
                        .collect(),
                    shipping_address: PostalAddress::from_json(Some(&o.shipping_address)),
                    billing_address: PostalAddress::from_json(o.billing_address.as_ref()),
                    shipping_method: o.shipping_method.clone(),
                    totals: Totals::new(
                        crate::carts::totals::Totals {
                            subtotal: o.subtotal,
                            shipping: o.shipping_total,
                            tax: o.tax_total,
                            total: o.total,
                        },
                        &cur,
                        o.tax_rate_bps,
                    ),
                    tracking_number: o.tracking_number.clone(),
                    carrier: o.carrier.clone(),
                    events: events
                        .iter()
                        .filter(|e| e.order_id == o.id)
                        .map(|e| OrderEvent {
                            kind: e.kind.clone(),
                            actor: e.actor.clone(),
                            data: async_graphql::Json(e.data.clone()),
                            at: e.created_at,
                        })
                        .collect(),
                    payment: payments
                        .iter()
                        .find(|p| Some(p.id) == o.payment_id)
                        .map(record),
                    payment_attempts: payments
                        .iter()
                        .filter(|p| p.cart_id == o.cart_id)
                        .map(record)
                        .collect(),
                    refunds: refunds
                        .iter()
                        .filter(|r| r.order_id == o.id)
                        .map(|r| RefundRecord {
                            amount: Money::new(r.amount, &cur),
                            status: r.status.to_uppercase(),
                            provider_refund_id: r.provider_refund_id.clone(),
                            actor: r.actor.clone(),
                            at: r.created_at,
                        })
                        .collect(),
                    currency_code: cur,
                    created_at: o.created_at,
                    updated_at: o.updated_at,
                }
            })
            .collect())
    }

    /// One order with its lines and timeline.
    pub async fn load_one(app: &App, row: OrderRow) -> Result<Order> {
        Ok(Self::load_many(app, vec![row])
            .await?
            .pop()
            .ok_or_else(|| AppError::not_found("order"))?)
    }
}

/// One order by id (any customer's: the caller checks who may see it).
pub async fn find(app: &App, id: i64) -> AppResult<Option<OrderRow>> {
    app.read(move |conn| Box::pin(async move { Ok(OrderRow::find(conn, id).await?) }))
        .await
}

/// A page of orders newest first, loaded with their lines and timelines.
pub async fn page(
    app: &App,
    filter: &OrderFilter,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Connection<String, Order>> {
    let page = PageRequest::new(first, after, None, None)?;
    let after: Option<(DateTime<Utc>, i64)> = page.after_key()?;
    let limit = page.limit as i64 + 1;
    let rows = app
        .read(move |conn| {
            let filter = filter.clone();
            Box::pin(async move { Ok(OrderRow::list(conn, &filter, after, limit).await?) })
        })
        .await?;
    let keys: Vec<(DateTime<Utc>, i64)> = rows.iter().map(|o| (o.created_at, o.id)).collect();
    let orders = Order::load_many(app, rows).await?;
    let pairs: Vec<((DateTime<Utc>, i64), Order)> = keys.into_iter().zip(orders).collect();
    Ok(page.connection(pairs, |(k, _)| *k, |(_, o)| o))
}

/// The customer's order queries.
#[derive(Default)]
pub struct OrdersQuery;

#[Object]
impl OrdersQuery {
    /// One of the signed-in customer's orders (another's is `NOT_FOUND`).
    #[graphql(guard = "RequireCustomer", cache_control(private))]
    async fn order(&self, ctx: &Context<'_>, id: ID) -> Result<Order> {
        let Viewer::Customer { id: customer } = request_context(ctx)?.viewer else {
            return Err(AppError::Unauthenticated("sign in as a customer".into()).into());
        };
        let id = expect_global(&id, "Order")?;
        let app = app(ctx)?;
        let row = find(app, id)
            .await?
            .filter(|o| o.customer_id == Some(customer))
            .ok_or_else(|| AppError::not_found("order"))?;
        Order::load_one(app, row).await
    }
}

/// Checkout.
#[derive(Default)]
pub struct CheckoutMutation;

#[Object]
impl CheckoutMutation {
    /// Turns the cart into an order: needs lines, an email, a shipping address and method, and an
    /// authorized payment session covering the total. Stock is reserved (never oversold: a line
    /// that cannot be had is `CONFLICT` and nothing changes); completing a cart again, or twice at
    /// once, returns the same order. The confirmation mail goes out as a job.
    async fn complete_cart(&self, ctx: &Context<'_>, cart_id: ID) -> Result<Order> {
        let app = app(ctx)?;
        let viewer = &request_context(ctx)?.viewer;
        let order = super::service::complete_cart(app, viewer, &cart_id).await?;
        Order::load_one(app, order).await
    }
}

/// An order change, as admin subscribers receive it.
#[derive(SimpleObject, Clone)]
pub struct OrderUpdatedEvent {
    /// This event's own ID.
    pub id: ID,
    /// The order (refetch it with `adminOrder(id)`).
    pub order_id: ID,
    /// Its new status.
    pub status: String,
}

/// Live order changes for staff (orders permission).
#[derive(Default)]
pub struct OrdersSubscription;

#[Subscription]
impl OrdersSubscription {
    /// Every order status change on any instance (refetch it with `adminOrder(id)`).
    #[graphql(guard = "RequirePermission(Permission::Orders)")]
    async fn order_updated(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl futures_util::Stream<Item = Result<OrderUpdatedEvent>> + use<>> {
        let rx = app(ctx)?.events.subscribe();
        Ok(crate::events::stream(rx, |event| match event {
            DomainEvent::Order { id, status } => Some(OrderUpdatedEvent {
                id: event_id("OrderUpdatedEvent"),
                order_id: to_global("Order", *id),
                status: status.clone(),
            }),
            _ => None,
        }))
    }
}
