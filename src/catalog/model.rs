//! Catalog rows (regions, collections, categories, products, options, variants, prices, images)
//! and their query functions. Every function takes the connection first, so the caller decides
//! whether it runs inside a transaction. Store visibility rules live here, next to the SQL.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};

use crate::db::schema::{
    categories, collections, prices, product_categories, product_images, product_option_values,
    product_options, product_variants, products, regions, variant_option_values,
};

/// A sales region with its currency.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize, Deserialize)]
#[diesel(table_name = regions, check_for_backend(diesel::pg::Pg))]
pub struct Region {
    pub id: i64,
    pub name: String,
    pub currency_code: String,
    pub countries: Vec<String>,
    pub tax_rate_bps: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Region {
    /// Every region, by name.
    pub async fn list(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Region>> {
        regions::table
            .select(Region::as_select())
            .order((regions::name, regions::id))
            .load(conn)
            .await
    }

    /// Regions by id, for loader batches.
    pub async fn by_ids(conn: &mut AsyncPgConnection, ids: &[i64]) -> QueryResult<Vec<Region>> {
        regions::table
            .filter(regions::id.eq_any(ids))
            .select(Region::as_select())
            .load(conn)
            .await
    }

    /// One region, `None` when the id is unknown.
    pub async fn find(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<Region>> {
        regions::table
            .find(id)
            .select(Region::as_select())
            .first(conn)
            .await
            .optional()
    }
}

/// A curated collection of products.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize, Deserialize)]
#[diesel(table_name = collections, check_for_backend(diesel::pg::Pg))]
pub struct Collection {
    pub id: i64,
    pub handle: String,
    pub title: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Collection {
    /// A keyset page of collections ordered by `(title, id)`; `after` is exclusive. Reads one row
    /// more than `limit` so the caller can tell whether another page exists.
    pub async fn page(
        conn: &mut AsyncPgConnection,
        after: Option<(&str, i64)>,
        limit: usize,
    ) -> QueryResult<Vec<Collection>> {
        let mut query = collections::table
            .select(Collection::as_select())
            .into_boxed();
        if let Some((title, id)) = after {
            query = query.filter(
                collections::title
                    .gt(title.to_owned())
                    .or(collections::title
                        .eq(title.to_owned())
                        .and(collections::id.gt(id))),
            );
        }
        query
            .order((collections::title, collections::id))
            .limit(i64::try_from(limit + 1).unwrap_or(i64::MAX))
            .load(conn)
            .await
    }

    /// Collections by id, for loader batches.
    pub async fn by_ids(conn: &mut AsyncPgConnection, ids: &[i64]) -> QueryResult<Vec<Collection>> {
        collections::table
            .filter(collections::id.eq_any(ids))
            .select(Collection::as_select())
            .load(conn)
            .await
    }

    /// Collections by handle, for loader batches.
    pub async fn by_handles(
        conn: &mut AsyncPgConnection,
        handles: &[String],
    ) -> QueryResult<Vec<Collection>> {
        collections::table
            .filter(collections::handle.eq_any(handles))
            .select(Collection::as_select())
            .load(conn)
            .await
    }
}

/// A node of the category tree.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize, Deserialize)]
#[diesel(table_name = categories, check_for_backend(diesel::pg::Pg))]
pub struct Category {
    pub id: i64,
    pub handle: String,
    pub name: String,
    pub description: String,
    pub parent_id: Option<i64>,
    pub rank: i32,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Category {
    /// Active top-level categories, by rank.
    pub async fn top_level(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Category>> {
        categories::table
            .filter(categories::parent_id.is_null().and(categories::is_active))
            .select(Category::as_select())
            .order((categories::rank, categories::id))
            .load(conn)
            .await
    }

    /// Active children of the given parents, by rank, for loader batches.
    pub async fn children_of(
        conn: &mut AsyncPgConnection,
        parent_ids: &[i64],
    ) -> QueryResult<Vec<Category>> {
        categories::table
            .filter(
                categories::parent_id
                    .eq_any(parent_ids)
                    .and(categories::is_active),
            )
            .select(Category::as_select())
            .order((categories::rank, categories::id))
            .load(conn)
            .await
    }

    /// Active categories by id, for loader batches.
    pub async fn by_ids(conn: &mut AsyncPgConnection, ids: &[i64]) -> QueryResult<Vec<Category>> {
        categories::table
            .filter(categories::id.eq_any(ids).and(categories::is_active))
            .select(Category::as_select())
            .load(conn)
            .await
    }

    /// Active categories by handle, for loader batches.
    pub async fn by_handles(
        conn: &mut AsyncPgConnection,
        handles: &[String],
    ) -> QueryResult<Vec<Category>> {
        categories::table
            .filter(
                categories::handle
                    .eq_any(handles)
                    .and(categories::is_active),
            )
            .select(Category::as_select())
            .load(conn)
            .await
    }

    /// `(product_id, category)` pairs for the given products' active categories, for loader batches.
    pub async fn of_products(
        conn: &mut AsyncPgConnection,
        product_ids: &[i64],
    ) -> QueryResult<Vec<(i64, Category)>> {
        product_categories::table
            .inner_join(categories::table)
            .filter(
                product_categories::product_id
                    .eq_any(product_ids)
                    .and(categories::is_active),
            )
            .select((product_categories::product_id, Category::as_select()))
            .order((categories::rank, categories::id))
            .load(conn)
            .await
    }
}

/// Product status: drafts are admin-only.
pub const STATUS_PUBLISHED: &str = "published";

/// A product; the store sees it only when published and not deleted.
#[derive(
    Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable, Serialize, Deserialize,
)]
#[diesel(table_name = products, check_for_backend(diesel::pg::Pg))]
pub struct Product {
    pub id: i64,
    pub handle: String,
    pub title: String,
    pub subtitle: Option<String>,
    pub description: String,
    pub status: String,
    pub thumbnail: Option<String>,
    pub collection_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl Product {
    /// Store-visible products by id, for loader batches.
    pub async fn visible_by_ids(
        conn: &mut AsyncPgConnection,
        ids: &[i64],
    ) -> QueryResult<Vec<Product>> {
        products::table
            .filter(products::id.eq_any(ids))
            .filter(
                products::status
                    .eq(STATUS_PUBLISHED)
                    .and(products::deleted_at.is_null()),
            )
            .select(Product::as_select())
            .load(conn)
            .await
    }

    /// Store-visible products by handle, for loader batches.
    pub async fn visible_by_handles(
        conn: &mut AsyncPgConnection,
        handles: &[String],
    ) -> QueryResult<Vec<Product>> {
        products::table
            .filter(products::handle.eq_any(handles))
            .filter(
                products::status
                    .eq(STATUS_PUBLISHED)
                    .and(products::deleted_at.is_null()),
            )
            .select(Product::as_select())
            .load(conn)
            .await
    }
}

/// A purchasable variant of a product.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize, Deserialize)]
#[diesel(table_name = product_variants, check_for_backend(diesel::pg::Pg))]
pub struct Variant {
    pub id: i64,
    pub product_id: i64,
    pub title: String,
    pub sku: Option<String>,
    pub inventory_quantity: i32,
    pub manage_inventory: bool,
    pub allow_backorder: bool,
    pub rank: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl Variant {
    /// Live variants of the given products, by rank, for loader batches.
    pub async fn of_products(
        conn: &mut AsyncPgConnection,
        product_ids: &[i64],
    ) -> QueryResult<Vec<Variant>> {
        product_variants::table
            .filter(
                product_variants::product_id
                    .eq_any(product_ids)
                    .and(product_variants::deleted_at.is_null()),
            )
            .select(Variant::as_select())
            .order((product_variants::rank, product_variants::id))
            .load(conn)
            .await
    }

    /// Live variants of store-visible products by id, for loader batches.
    pub async fn visible_by_ids(
        conn: &mut AsyncPgConnection,
        ids: &[i64],
    ) -> QueryResult<Vec<Variant>> {
        product_variants::table
            .inner_join(products::table)
            .filter(
                product_variants::id
                    .eq_any(ids)
                    .and(product_variants::deleted_at.is_null()),
            )
            .filter(
                products::status
                    .eq(STATUS_PUBLISHED)
                    .and(products::deleted_at.is_null()),
            )
            .select(Variant::as_select())
            .load(conn)
            .await
    }
}

/// A variant's price in one currency, in minor units.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize, Deserialize)]
#[diesel(table_name = prices, check_for_backend(diesel::pg::Pg))]
pub struct Price {
    pub id: i64,
    pub variant_id: i64,
    pub currency_code: String,
    pub amount: i64,
}

impl Price {
    /// Prices of the given variants (all currencies), for loader batches.
    pub async fn of_variants(
        conn: &mut AsyncPgConnection,
        variant_ids: &[i64],
    ) -> QueryResult<Vec<Price>> {
        prices::table
            .filter(prices::variant_id.eq_any(variant_ids))
            .select(Price::as_select())
            .order((prices::currency_code, prices::id))
            .load(conn)
            .await
    }
}

/// A product image.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize, Deserialize)]
#[diesel(table_name = product_images, check_for_backend(diesel::pg::Pg))]
pub struct ProductImage {
    pub id: i64,
    pub product_id: i64,
    pub url: String,
    pub alt: Option<String>,
    pub rank: i32,
}

impl ProductImage {
    /// Images of the given products, by rank, for loader batches.
    pub async fn of_products(
        conn: &mut AsyncPgConnection,
        product_ids: &[i64],
    ) -> QueryResult<Vec<ProductImage>> {
        product_images::table
            .filter(product_images::product_id.eq_any(product_ids))
            .select(ProductImage::as_select())
            .order((product_images::rank, product_images::id))
            .load(conn)
            .await
    }
}

/// A product option (Size) with its values (S, M, L).
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize, Deserialize)]
#[diesel(table_name = product_options, check_for_backend(diesel::pg::Pg))]
pub struct ProductOption {
    pub id: i64,
    pub product_id: i64,
    pub title: String,
    pub rank: i32,
}

/// One value of a product option.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize, Deserialize)]
#[diesel(table_name = product_option_values, check_for_backend(diesel::pg::Pg))]
pub struct OptionValue {
    pub id: i64,
    pub option_id: i64,
    pub value: String,
    pub rank: i32,
}

impl ProductOption {
    /// Options of the given products with their values, by rank, for loader batches.
    pub async fn of_products(
        conn: &mut AsyncPgConnection,
        product_ids: &[i64],
    ) -> QueryResult<Vec<(ProductOption, Option<OptionValue>)>> {
        product_options::table
            .left_join(product_option_values::table)
            .filter(product_options::product_id.eq_any(product_ids))
            .select((
                ProductOption::as_select(),
                Option::<OptionValue>::as_select(),
            ))
            .order((
                product_options::rank,
                product_options::id,
                product_option_values::rank,
                product_option_values::id,
            ))
            .load(conn)
            .await
    }
}

impl OptionValue {
    /// `(variant_id, option title, value)` for the given variants, for loader batches.
    pub async fn of_variants(
        conn: &mut AsyncPgConnection,
        variant_ids: &[i64],
    ) -> QueryResult<Vec<(i64, String, String)>> {
        variant_option_values::table
            .inner_join(product_option_values::table.inner_join(product_options::table))
            .filter(variant_option_values::variant_id.eq_any(variant_ids))
            .select((
                variant_option_values::variant_id,
                product_options::title,
                product_option_values::value,
            ))
            .order((product_options::rank, product_options::id))
            .load(conn)
            .await
    }
}
