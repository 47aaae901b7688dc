//! Cart rows and their queries, and the priced view of a cart's lines (current prices, stock and
//! visibility read from the catalog every time: a cart never keeps a price).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Int4, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::{cart_lines, carts};

/// A cart.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = carts, check_for_backend(diesel::pg::Pg))]
pub struct Cart {
    pub id: i64,
    pub token: String,
    pub region_id: i64,
    pub customer_id: Option<i64>,
    pub email: Option<String>,
    pub shipping_address: Option<serde_json::Value>,
    pub billing_address: Option<serde_json::Value>,
    pub shipping_option_id: Option<i64>,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A line with what the catalog says about it now.
#[derive(Debug, Clone, QueryableByName)]
pub struct PricedLine {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = BigInt)]
    pub variant_id: i64,
    #[diesel(sql_type = Int4)]
    pub quantity: i32,
    #[diesel(sql_type = BigInt)]
    pub product_id: i64,
    #[diesel(sql_type = Text)]
    pub product_title: String,
    #[diesel(sql_type = Text)]
    pub product_handle: String,
    #[diesel(sql_type = Text)]
    pub variant_title: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub sku: Option<String>,
    /// In the cart's currency; `None` when the variant has no price there.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub unit_price: Option<i64>,
    #[diesel(sql_type = Int4)]
    pub inventory_quantity: i32,
    #[diesel(sql_type = Bool)]
    pub manage_inventory: bool,
    #[diesel(sql_type = Bool)]
    pub allow_backorder: bool,
    /// Published and neither it nor its product deleted.
    #[diesel(sql_type = Bool)]
    pub available: bool,
}

impl PricedLine {
    /// Whether `quantity` can be had now.
    pub fn in_stock(&self) -> bool {
        !self.manage_inventory || self.allow_backorder || self.inventory_quantity >= self.quantity
    }
}

/// What the catalog says about one variant (for adding it).
#[derive(Debug, Clone, QueryableByName)]
pub struct VariantOffer {
    #[diesel(sql_type = Nullable<BigInt>)]
    pub unit_price: Option<i64>,
    #[diesel(sql_type = Int4)]
    pub inventory_quantity: i32,
    #[diesel(sql_type = Bool)]
    pub manage_inventory: bool,
    #[diesel(sql_type = Bool)]
    pub allow_backorder: bool,
    #[diesel(sql_type = Bool)]
    pub available: bool,
}

const AVAILABLE_SQL: &str =
    "(p.status = 'published' AND p.deleted_at IS NULL AND v.deleted_at IS NULL)";

/// A variant's price in `currency`, stock and visibility; `None` when it does not exist.
pub async fn offer(
    conn: &mut AsyncPgConnection,
    variant_id: i64,
    currency: &str,
) -> QueryResult<Option<VariantOffer>> {
    diesel::sql_query(format!(
        "SELECT (SELECT amount FROM prices WHERE variant_id = v.id AND currency_code = $2) AS unit_price, \
                v.inventory_quantity, v.manage_inventory, v.allow_backorder, {AVAILABLE_SQL} AS available \
         FROM product_variants v JOIN products p ON p.id = v.product_id WHERE v.id = $1"
    ))
    .bind::<BigInt, _>(variant_id)
    .bind::<Text, _>(currency)
    .get_result(conn)
    .await
    .optional()
}

/// A cart's lines, oldest first, priced in `currency` from the catalog as it is now.
pub async fn priced_lines(
    conn: &mut AsyncPgConnection,
    cart_id: i64,
    currency: &str,
) -> QueryResult<Vec<PricedLine>> {
    diesel::sql_query(format!(
        "SELECT l.id, l.variant_id, l.quantity, p.id AS product_id, p.title AS product_title, \
                p.handle AS product_handle, v.title AS variant_title, v.sku, \
                (SELECT amount FROM prices WHERE variant_id = v.id AND currency_code = $2) AS unit_price, \
                v.inventory_quantity, v.manage_inventory, v.allow_backorder, {AVAILABLE_SQL} AS available \
         FROM cart_lines l JOIN product_variants v ON v.id = l.variant_id \
              JOIN products p ON p.id = v.product_id \
         WHERE l.cart_id = $1 ORDER BY l.id"
    ))
    .bind::<BigInt, _>(cart_id)
    .bind::<Text, _>(currency)
    .load(conn)
    .await
}

/// Largest quantity of one line.
pub const MAX_QUANTITY: i32 = 100;
/// Most lines in one cart.
pub const MAX_LINES: i64 = 50;

impl Cart {
    /// A new cart.
    pub async fn create(
        conn: &mut AsyncPgConnection,
        token: &str,
        region_id: i64,
        customer_id: Option<i64>,
        email: Option<&str>,
    ) -> QueryResult<Cart> {
        diesel::insert_into(carts::table)
            .values((
                carts::token.eq(token),
                carts::region_id.eq(region_id),
                carts::customer_id.eq(customer_id),
                carts::email.eq(email),
            ))
            .returning(Cart::as_returning())
            .get_result(conn)
            .await
    }

    /// By id.
    pub async fn find(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<Cart>> {
        carts::table
            .find(id)
            .select(Cart::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// By the token clients hold.
    pub async fn by_token(conn: &mut AsyncPgConnection, token: &str) -> QueryResult<Option<Cart>> {
        carts::table
            .filter(carts::token.eq(token))
            .select(Cart::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Locks the cart row for the rest of the transaction and reads it again.
    pub async fn lock(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Cart> {
        carts::table
            .find(id)
            .select(Cart::as_select())
            .for_update()
            .first(conn)
            .await
    }

    /// Adds `quantity` of a variant, merging with an existing line; `false` when the merged
    /// quantity would pass [`MAX_QUANTITY`] or the cart already has [`MAX_LINES`] other lines.
    pub async fn add_line(
        conn: &mut AsyncPgConnection,
        cart_id: i64,
        variant_id: i64,
        quantity: i32,
    ) -> QueryResult<bool> {
        let added = diesel::sql_query(
            "INSERT INTO cart_lines (cart_id, variant_id, quantity) \
             SELECT $1, $2, $3 WHERE (SELECT count(*) FROM cart_lines WHERE cart_id = $1 AND variant_id <> $2) < $5 \
             ON CONFLICT (cart_id, variant_id) DO UPDATE \
                 SET quantity = cart_lines.quantity + EXCLUDED.quantity, updated_at = now() \
                 WHERE cart_lines.quantity + EXCLUDED.quantity <= $4",
        )
        .bind::<BigInt, _>(cart_id)
        .bind::<BigInt, _>(variant_id)
        .bind::<Int4, _>(quantity)
        .bind::<Int4, _>(MAX_QUANTITY)
        .bind::<BigInt, _>(MAX_LINES)
        .execute(conn)
        .await?;
        Ok(added == 1)
    }

    /// How many of `variant_id` the cart holds (0 without a line).
    pub async fn line_quantity(
        conn: &mut AsyncPgConnection,
        cart_id: i64,
        variant_id: i64,
    ) -> QueryResult<i32> {
        cart_lines::table
            .filter(cart_lines::cart_id.eq(cart_id))
            .filter(cart_lines::variant_id.eq(variant_id))
            .select(cart_lines::quantity)
            .first(conn)
            .await
            .optional()
            .map(Option::unwrap_or_default)
    }

    /// The variant of a line of this cart.
    pub async fn line_variant(
        conn: &mut AsyncPgConnection,
        cart_id: i64,
        line_id: i64,
    ) -> QueryResult<Option<i64>> {
        cart_lines::table
            .find(line_id)
            .filter(cart_lines::cart_id.eq(cart_id))
            .select(cart_lines::variant_id)
            .first(conn)
            .await
            .optional()
    }

    /// Sets a line's quantity; `false` when the line is not this cart's.
    pub async fn set_line_quantity(
        conn: &mut AsyncPgConnection,
        cart_id: i64,
        line_id: i64,
        quantity: i32,
    ) -> QueryResult<bool> {
        diesel::update(
            cart_lines::table
                .find(line_id)
                .filter(cart_lines::cart_id.eq(cart_id)),
        )
        .set((
            cart_lines::quantity.eq(quantity),
            cart_lines::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
        .map(|n| n == 1)
    }

    /// Removes a line; `false` when the line is not this cart's.
    pub async fn remove_line(
        conn: &mut AsyncPgConnection,
        cart_id: i64,
        line_id: i64,
    ) -> QueryResult<bool> {
        diesel::delete(
            cart_lines::table
                .find(line_id)
                .filter(cart_lines::cart_id.eq(cart_id)),
        )
        .execute(conn)
        .await
        .map(|n| n == 1)
    }

    /// Sets contact and addresses (each `Some` replaces the stored value).
    pub async fn set_details(
        conn: &mut AsyncPgConnection,
        id: i64,
        email: Option<&str>,
        shipping: Option<serde_json::Value>,
        billing: Option<serde_json::Value>,
    ) -> QueryResult<()> {
        diesel::sql_query(
            "UPDATE carts SET email = COALESCE($2, email), \
                 shipping_address = COALESCE($3, shipping_address), \
                 billing_address = COALESCE($4, billing_address), updated_at = now() \
             WHERE id = $1",
        )
        .bind::<BigInt, _>(id)
        .bind::<Nullable<Text>, _>(email)
        .bind::<Nullable<diesel::sql_types::Jsonb>, _>(shipping)
        .bind::<Nullable<diesel::sql_types::Jsonb>, _>(billing)
        .execute(conn)
        .await
        .map(drop)
    }

    /// Chooses a shipping option.
    pub async fn set_shipping_option(
        conn: &mut AsyncPgConnection,
        id: i64,
        option_id: i64,
    ) -> QueryResult<()> {
        diesel::update(carts::table.find(id))
            .set((
                carts::shipping_option_id.eq(option_id),
                carts::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await
            .map(drop)
    }

    /// Gives an anonymous cart to a customer; `false` when it already belongs to someone.
    pub async fn claim(
        conn: &mut AsyncPgConnection,
        id: i64,
        customer_id: i64,
    ) -> QueryResult<bool> {
        diesel::update(carts::table.find(id).filter(carts::customer_id.is_null()))
            .set((
                carts::customer_id.eq(customer_id),
                carts::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await
            .map(|n| n == 1)
    }

    /// Marks the cart completed.
    pub async fn complete(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<()> {
        diesel::update(carts::table.find(id))
            .set(carts::completed_at.eq(diesel::dsl::now))
            .execute(conn)
            .await
            .map(drop)
    }
}
