//! Order rows, lines, events and their queries.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::{order_events, order_lines, orders};

/// An order.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = orders, check_for_backend(diesel::pg::Pg))]
pub struct OrderRow {
    pub id: i64,
    pub display_number: i64,
    pub cart_id: i64,
    pub customer_id: Option<i64>,
    pub email: String,
    pub region_id: i64,
    pub currency_code: String,
    pub status: String,
    pub payment_status: String,
    pub fulfillment_status: String,
    pub payment_id: Option<i64>,
    pub shipping_address: serde_json::Value,
    pub billing_address: Option<serde_json::Value>,
    pub shipping_method: String,
    pub subtotal: i64,
    pub shipping_total: i64,
    pub tax_total: i64,
    pub total: i64,
    pub tax_rate_bps: i32,
    pub tracking_number: Option<String>,
    pub carrier: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A new order (see `orders::service::complete_cart`).
#[derive(Debug, Insertable)]
#[diesel(table_name = orders)]
pub struct NewOrder {
    pub cart_id: i64,
    pub customer_id: Option<i64>,
    pub email: String,
    pub region_id: i64,
    pub currency_code: String,
    pub status: &'static str,
    pub payment_status: &'static str,
    pub fulfillment_status: &'static str,
    pub payment_id: Option<i64>,
    pub shipping_address: serde_json::Value,
    pub billing_address: Option<serde_json::Value>,
    pub shipping_method: String,
    pub subtotal: i64,
    pub shipping_total: i64,
    pub tax_total: i64,
    pub total: i64,
    pub tax_rate_bps: i32,
}

/// A line, frozen at checkout.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_lines, check_for_backend(diesel::pg::Pg))]
pub struct OrderLineRow {
    #[diesel(skip_insertion)]
    pub id: i64,
    pub order_id: i64,
    pub variant_id: i64,
    pub product_id: i64,
    pub product_title: String,
    pub variant_title: String,
    pub sku: Option<String>,
    pub quantity: i32,
    pub unit_price: i64,
    pub subtotal: i64,
    /// Units taken from stock at checkout (what a cancel gives back).
    pub stock_taken: i32,
}

/// A timeline entry.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = order_events, check_for_backend(diesel::pg::Pg))]
pub struct OrderEventRow {
    pub id: i64,
    pub order_id: i64,
    pub kind: String,
    pub actor: String,
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// Filters of the staff order list.
#[derive(Debug, Default, Clone)]
pub struct OrderFilter {
    pub status: Option<String>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub email: Option<String>,
    /// A display number, or a substring of the email.
    pub search: Option<String>,
    pub customer_id: Option<i64>,
}

impl OrderRow {
    /// Inserts an order.
    pub async fn insert(conn: &mut AsyncPgConnection, new: &NewOrder) -> QueryResult<OrderRow> {
        diesel::insert_into(orders::table)
            .values(new)
            .returning(OrderRow::as_returning())
            .get_result(conn)
            .await
    }

    /// By id.
    pub async fn find(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<OrderRow>> {
        orders::table
            .find(id)
            .select(OrderRow::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// The order a cart became.
    pub async fn of_cart(
        conn: &mut AsyncPgConnection,
        cart_id: i64,
    ) -> QueryResult<Option<OrderRow>> {
        orders::table
            .filter(orders::cart_id.eq(cart_id))
            .select(OrderRow::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Newest first after the keyset `(created_at, id)`.
    pub async fn list(
        conn: &mut AsyncPgConnection,
        filter: &OrderFilter,
        after: Option<(DateTime<Utc>, i64)>,
        limit: i64,
    ) -> QueryResult<Vec<OrderRow>> {
        let mut query = orders::table
            .select(OrderRow::as_select())
            .order((orders::created_at.desc(), orders::id.desc()))
            .limit(limit)
            .into_boxed();
        if let Some(status) = &filter.status {
            query = query.filter(orders::status.eq(status.clone()));
        }
        if let Some(from) = filter.created_from {
            query = query.filter(orders::created_at.ge(from));
        }
        if let Some(to) = filter.created_to {
            query = query.filter(orders::created_at.lt(to));
        }
        if let Some(email) = &filter.email {
            query = query.filter(orders::email.eq(email.clone()));
        }
        if let Some(customer) = filter.customer_id {
            query = query.filter(orders::customer_id.eq(customer));
        }
        if let Some(search) = &filter.search {
            let number = search.trim_start_matches('#').parse::<i64>().ok();
            let pattern = crate::db::contains_pattern(search);
            query = match number {
                Some(n) => query.filter(
                    orders::display_number
                        .eq(n)
                        .or(orders::email.ilike(pattern)),
                ),
                None => query.filter(orders::email.ilike(pattern)),
            };
        }
        if let Some((at, id)) = after {
            query = query.filter(
                orders::created_at
                    .lt(at)
                    .or(orders::created_at.eq(at).and(orders::id.lt(id))),
            );
        }
        query.load(conn).await
    }

    /// Moves an order to `status` (with its fulfilment status and tracking, when given) if it is
    /// in one of `from`; `None` otherwise.
    pub async fn transition(
        conn: &mut AsyncPgConnection,
        id: i64,
        from: &[&str],
        status: &str,
        fulfillment: &str,
        tracking: Option<(&str, &str)>,
    ) -> QueryResult<Option<OrderRow>> {
        diesel::sql_query(
            "UPDATE orders SET status = $3, fulfillment_status = $4, \
                 tracking_number = COALESCE($5, tracking_number), carrier = COALESCE($6, carrier), \
                 updated_at = now() \
             WHERE id = $1 AND status = ANY($2) RETURNING *",
        )
        .bind::<BigInt, _>(id)
        .bind::<Array<Text>, _>(from)
        .bind::<Text, _>(status)
        .bind::<Text, _>(fulfillment)
        .bind::<diesel::sql_types::Nullable<Text>, _>(tracking.map(|t| t.0))
        .bind::<diesel::sql_types::Nullable<Text>, _>(tracking.map(|t| t.1))
        .get_result(conn)
        .await
        .optional()
    }

    /// Records the payment's new state on the order.
    pub async fn set_payment(
        conn: &mut AsyncPgConnection,
        id: i64,
        payment_status: &str,
        status: Option<&str>,
    ) -> QueryResult<OrderRow> {
        diesel::update(orders::table.find(id))
            .set((
                orders::payment_status.eq(payment_status),
                status.map(|s| orders::status.eq(s)),
                orders::updated_at.eq(diesel::dsl::now),
            ))
            .returning(OrderRow::as_returning())
            .get_result(conn)
            .await
    }
}

/// The lines of several orders (one statement), by order then id.
pub async fn lines_of(
    conn: &mut AsyncPgConnection,
    order_ids: &[i64],
) -> QueryResult<Vec<OrderLineRow>> {
    order_lines::table
        .filter(order_lines::order_id.eq_any(order_ids))
        .select(OrderLineRow::as_select())
        .order((order_lines::order_id, order_lines::id))
        .load(conn)
        .await
}

/// The timelines of several orders (one statement), oldest first.
pub async fn events_of(
    conn: &mut AsyncPgConnection,
    order_ids: &[i64],
) -> QueryResult<Vec<OrderEventRow>> {
    order_events::table
        .filter(order_events::order_id.eq_any(order_ids))
        .select(OrderEventRow::as_select())
        .order((order_events::order_id, order_events::id))
        .load(conn)
        .await
}

/// Adds a timeline entry.
pub async fn add_event(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    kind: &str,
    actor: &str,
    data: serde_json::Value,
) -> QueryResult<()> {
    diesel::insert_into(order_events::table)
        .values((
            order_events::order_id.eq(order_id),
            order_events::kind.eq(kind),
            order_events::actor.eq(actor),
            order_events::data.eq(data),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Inserts lines.
pub async fn insert_lines(conn: &mut AsyncPgConnection, lines: &[OrderLineRow]) -> QueryResult<()> {
    diesel::insert_into(order_lines::table)
        .values(lines)
        .execute(conn)
        .await
        .map(drop)
}

/// A variant's stock after a reservation or a restock.
#[derive(Debug, Clone, QueryableByName)]
pub struct StockChange {
    #[diesel(sql_type = BigInt)]
    pub product_id: i64,
    #[diesel(sql_type = Text)]
    pub handle: String,
    #[diesel(sql_type = diesel::sql_types::Int4)]
    pub inventory_quantity: i32,
    /// Stock is tracked and backorders are not allowed (it can run out).
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub tracked: bool,
    /// Stock is tracked (the reservation took units).
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub managed: bool,
}

/// Takes `quantity` of a variant if there is that much (or stock is not tracked, or backorders
/// are allowed): one conditional statement, so concurrent checkouts never take more than there
/// is. `None` when there is not enough.
pub async fn reserve(
    conn: &mut AsyncPgConnection,
    variant_id: i64,
    quantity: i32,
) -> QueryResult<Option<StockChange>> {
    diesel::sql_query(
        "UPDATE product_variants SET \
             inventory_quantity = CASE WHEN manage_inventory THEN inventory_quantity - $2 ELSE inventory_quantity END, \
             updated_at = now() \
         WHERE id = $1 AND deleted_at IS NULL \
           AND (NOT manage_inventory OR allow_backorder OR inventory_quantity >= $2) \
         RETURNING product_id, (SELECT handle FROM products WHERE id = product_id) AS handle, \
                   inventory_quantity, (manage_inventory AND NOT allow_backorder) AS tracked, \
                   manage_inventory AS managed",
    )
    .bind::<BigInt, _>(variant_id)
    .bind::<diesel::sql_types::Int4, _>(quantity)
    .get_result(conn)
    .await
    .optional()
}

/// Gives a canceled order's stock back (exactly what its lines took); returns each variant's new
/// stock with the quantity returned. Rows are locked in id order, as checkout locks them.
pub async fn restock(
    conn: &mut AsyncPgConnection,
    order_id: i64,
) -> QueryResult<Vec<(StockChange, i32)>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        product_id: i64,
        #[diesel(sql_type = Text)]
        handle: String,
        #[diesel(sql_type = diesel::sql_types::Int4)]
        inventory_quantity: i32,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        tracked: bool,
        #[diesel(sql_type = diesel::sql_types::Int4)]
        returned: i32,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "WITH l AS (SELECT variant_id, sum(stock_taken)::int4 AS quantity FROM order_lines \
                    WHERE order_id = $1 AND stock_taken > 0 GROUP BY variant_id), \
              locked AS (SELECT id FROM product_variants WHERE id IN (SELECT variant_id FROM l) \
                         ORDER BY id FOR UPDATE) \
         UPDATE product_variants v SET inventory_quantity = v.inventory_quantity + l.quantity, \
             updated_at = now() \
         FROM l, products p \
         WHERE v.id = l.variant_id AND p.id = v.product_id AND v.id IN (SELECT id FROM locked) \
         RETURNING v.product_id, p.handle, v.inventory_quantity, \
                   (v.manage_inventory AND NOT v.allow_backorder) AS tracked, l.quantity AS returned",
    )
    .bind::<BigInt, _>(order_id)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                StockChange {
                    product_id: r.product_id,
                    handle: r.handle,
                    inventory_quantity: r.inventory_quantity,
                    tracked: r.tracked,
                    managed: true,
                },
                r.returned,
            )
        })
        .collect())
}
