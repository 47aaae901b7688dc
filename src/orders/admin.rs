//! The staff order desk (orders permission): list, look up, and move orders along.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};

use super::graphql::{Order, OrderStatus, page};
use super::model::OrderFilter;
use super::service::{self, Transition};
use crate::auth::{Permission, RequirePermission, Viewer};
use crate::error::AppError;
use crate::graphql::context::{app, request_context};
use crate::graphql::ids::expect_global;
use crate::graphql::response_cache::{Reads, RootReads};

/// What the root fields below read, for the response cache (see `Reads`).
pub const READS: RootReads = &[
    ("adminOrders", Reads::Private),
    ("adminOrder", Reads::Private),
];

/// Longest search or carrier text.
const MAX_TEXT: usize = 100;

/// Filters of `adminOrders`.
#[derive(InputObject, Debug, Default)]
pub struct AdminOrderFilter {
    pub status: Option<OrderStatus>,
    /// Placed at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Placed before.
    pub created_to: Option<DateTime<Utc>>,
    /// The order's email, exactly.
    pub email: Option<String>,
    /// A display number (`1001` or `#1001`) or part of the email.
    pub search: Option<String>,
}

fn text(field: &str, v: Option<String>) -> Result<Option<String>, AppError> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) if t.chars().count() > MAX_TEXT => Err(AppError::bad_input(format!(
            "`{field}` must have at most {MAX_TEXT} characters"
        ))),
        Some(t) => Ok(Some(t.to_owned())),
    }
}

fn staff_id(ctx: &Context<'_>) -> Result<i64> {
    match request_context(ctx)?.viewer {
        Viewer::Admin { id, .. } => Ok(id),
        _ => Err(AppError::Unauthenticated("sign in as staff".into()).into()),
    }
}

/// Staff order queries.
#[derive(Default)]
pub struct OrdersAdminQuery;

#[Object]
impl OrdersAdminQuery {
    /// Orders, newest first.
    #[graphql(
        guard = "RequirePermission(Permission::Orders)",
        cache_control(private)
    )]
    async fn admin_orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<AdminOrderFilter>,
    ) -> Result<Connection<String, Order>> {
        let f = filter.unwrap_or_default();
        if let (Some(from), Some(to)) = (f.created_from, f.created_to)
            && to < from
        {
            return Err(AppError::bad_input("`createdTo` is before `createdFrom`").into());
        }
        let filter = OrderFilter {
            status: f.status.map(|s| s.as_str().to_owned()),
            created_from: f.created_from,
            created_to: f.created_to,
            email: text("email", f.email)?.map(|e| e.to_lowercase()),
            search: text("search", f.search)?,
            customer_id: None,
        };
        page(app(ctx)?, &filter, first, after).await
    }

    /// One order.
    #[graphql(
        guard = "RequirePermission(Permission::Orders)",
        cache_control(private)
    )]
    async fn admin_order(&self, ctx: &Context<'_>, id: ID) -> Result<Order> {
        let id = expect_global(&id, "Order")?;
        let app = app(ctx)?;
        let row = super::graphql::find(app, id)
            .await?
            .ok_or_else(|| AppError::not_found("order"))?;
        Order::load_one(app, row).await
    }
}

/// Staff order mutations; each publishes `orderUpdated` after commit.
#[derive(Default)]
pub struct OrdersMutation;

async fn apply(
    ctx: &Context<'_>,
    id: &ID,
    change: Transition,
    tracking: Option<(&str, &str)>,
) -> Result<Order> {
    let id = expect_global(id, "Order")?;
    let app = app(ctx)?;
    let row = service::transition(app, staff_id(ctx)?, id, change, tracking).await?;
    Order::load_one(app, row).await
}

#[Object]
impl OrdersMutation {
    /// Packed: `PAID` → `FULFILLED` (an unpaid or canceled order is `CONFLICT`).
    #[graphql(guard = "RequirePermission(Permission::Orders)")]
    async fn fulfill_order(&self, ctx: &Context<'_>, id: ID) -> Result<Order> {
        apply(ctx, &id, Transition::Fulfill, None).await
    }

    /// Handed to a carrier: `FULFILLED` → `SHIPPED`, with its tracking number.
    #[graphql(guard = "RequirePermission(Permission::Orders)")]
    async fn mark_order_shipped(
        &self,
        ctx: &Context<'_>,
        id: ID,
        tracking_number: String,
        carrier: String,
    ) -> Result<Order> {
        let number = text("trackingNumber", Some(tracking_number))?
            .ok_or_else(|| AppError::bad_input("`trackingNumber` is required"))?;
        let carrier = text("carrier", Some(carrier))?
            .ok_or_else(|| AppError::bad_input("`carrier` is required"))?;
        apply(ctx, &id, Transition::Ship, Some((&number, &carrier))).await
    }

    /// Arrived: `SHIPPED` → `DELIVERED`.
    #[graphql(guard = "RequirePermission(Permission::Orders)")]
    async fn mark_order_delivered(&self, ctx: &Context<'_>, id: ID) -> Result<Order> {
        apply(ctx, &id, Transition::Deliver, None).await
    }

    /// Refunds `amount` (minor units) of the order's captured payment — all of it or part, several
    /// times, never more than was captured in total. Razorpay refunds are confirmed by its
    /// `refund.processed` webhook; the order's `paymentStatus` becomes `PARTIALLY_REFUNDED` or
    /// `REFUNDED`. Publishes `orderUpdated`.
    #[graphql(guard = "RequirePermission(Permission::Orders)")]
    async fn refund_order(
        &self,
        ctx: &Context<'_>,
        id: ID,
        amount: crate::graphql::scalars::MinorUnits,
    ) -> Result<Order> {
        let id = expect_global(&id, "Order")?;
        let app = app(ctx)?;
        let row = crate::payments::refunds::refund_order(app, staff_id(ctx)?, id, amount.0).await?;
        Order::load_one(app, row).await
    }

    /// Cancels an order that has not shipped: its stock comes back (the storefront sees it at
    /// once) and its payment is refunded (captured) or released (authorized).
    #[graphql(guard = "RequirePermission(Permission::Orders)")]
    async fn cancel_order(&self, ctx: &Context<'_>, id: ID) -> Result<Order> {
        apply(ctx, &id, Transition::Cancel, None).await
    }
}
