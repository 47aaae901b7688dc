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

/// Fields of a new product.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = products)]
pub struct NewProduct {
    pub handle: String,
    pub title: String,
    pub subtitle: Option<String>,
    pub description: String,
    pub status: String,
    pub thumbnail: Option<String>,
    pub collection_id: Option<i64>,
}

/// A partial product update.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = products)]
pub struct ProductChanges {
    pub handle: Option<String>,
    pub title: Option<String>,
    pub subtitle: Option<Option<String>>,
    pub description: Option<String>,
    pub status: Option<String>,
    pub thumbnail: Option<Option<String>>,
    pub collection_id: Option<Option<i64>>,
    pub deleted_at: Option<Option<DateTime<Utc>>>,
}

/// Fields of a new variant.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = product_variants)]
pub struct NewVariant {
    pub product_id: i64,
    pub title: String,
    pub sku: Option<String>,
    pub inventory_quantity: i32,
    pub manage_inventory: bool,
    pub allow_backorder: bool,
    pub rank: i32,
}

/// A partial variant update.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = product_variants)]
pub struct VariantChanges {
    pub title: Option<String>,
    pub sku: Option<Option<String>>,
    pub inventory_quantity: Option<i32>,
    pub manage_inventory: Option<bool>,
    pub allow_backorder: Option<bool>,
    pub rank: Option<i32>,
    pub deleted_at: Option<Option<DateTime<Utc>>>,
}

/// Unique constraints of catalog tables and the fields they guard.
pub const UNIQUE_FIELDS: &[(&str, &str)] = &[
    ("products_handle_key", "handle"),
    ("product_variants_sku_key", "sku"),
    ("collections_handle_key", "handle"),
    ("categories_handle_key", "handle"),
    ("prices_variant_id_currency_code_key", "currencyCode"),
];

impl Product {
    /// Any product (admin), drafts and deleted ones included.
    pub async fn find_any(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<Product>> {
        products::table
            .find(id)
            .select(Product::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Admin listing by `(updated_at desc, id desc)` with staff filters; one extra row.
    pub async fn admin_page(
        conn: &mut AsyncPgConnection,
        status: Option<&str>,
        text: Option<&str>,
        updated_since: Option<DateTime<Utc>>,
        include_deleted: bool,
        after: Option<(DateTime<Utc>, i64)>,
        limit: usize,
    ) -> QueryResult<Vec<Product>> {
        let mut query = products::table.select(Product::as_select()).into_boxed();
        if let Some(status) = status {
            query = query.filter(products::status.eq(status.to_owned()));
        }
        if let Some(text) = text {
            let pattern = format!(
                "%{}%",
                text.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            );
            query = query.filter(
                products::title
                    .ilike(pattern.clone())
                    .or(products::handle.ilike(pattern)),
            );
        }
        if let Some(since) = updated_since {
            query = query.filter(products::updated_at.ge(since));
        }
        if !include_deleted {
            query = query.filter(products::deleted_at.is_null());
        }
        if let Some((at, id)) = after {
            query = query.filter(
                products::updated_at
                    .lt(at)
                    .or(products::updated_at.eq(at).and(products::id.lt(id))),
            );
        }
        query
            .order((products::updated_at.desc(), products::id.desc()))
            .limit(i64::try_from(limit + 1).unwrap_or(i64::MAX))
            .load(conn)
            .await
    }

    /// `(id, handle)` of every product in a collection (any status).
    pub async fn in_collection(
        conn: &mut AsyncPgConnection,
        collection_id: i64,
    ) -> QueryResult<Vec<(i64, String)>> {
        products::table
            .filter(products::collection_id.eq(collection_id))
            .select((products::id, products::handle))
            .load(conn)
            .await
    }

    /// Inserts a product.
    pub async fn insert(conn: &mut AsyncPgConnection, new: &NewProduct) -> QueryResult<Product> {
        diesel::insert_into(products::table)
            .values(new)
            .returning(Product::as_returning())
            .get_result(conn)
            .await
    }

    /// Applies changes; `None` when the product does not exist.
    pub async fn update(
        conn: &mut AsyncPgConnection,
        id: i64,
        changes: &ProductChanges,
    ) -> QueryResult<Option<Product>> {
        diesel::update(products::table.find(id))
            .set((changes, products::updated_at.eq(diesel::dsl::now)))
            .returning(Product::as_returning())
            .get_result(conn)
            .await
            .optional()
    }

    /// Replaces the product's categories.
    pub async fn set_categories(
        conn: &mut AsyncPgConnection,
        id: i64,
        category_ids: &[i64],
    ) -> QueryResult<()> {
        diesel::delete(product_categories::table.filter(product_categories::product_id.eq(id)))
            .execute(conn)
            .await?;
        let rows: Vec<_> = category_ids
            .iter()
            .map(|c| {
                (
                    product_categories::product_id.eq(id),
                    product_categories::category_id.eq(*c),
                )
            })
            .collect();
        diesel::insert_into(product_categories::table)
            .values(rows)
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        Ok(())
    }
}

impl Variant {
    /// Any variant (admin).
    pub async fn find_any(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<Variant>> {
        product_variants::table
            .find(id)
            .select(Variant::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Inserts a variant.
    pub async fn insert(conn: &mut AsyncPgConnection, new: &NewVariant) -> QueryResult<Variant> {
        diesel::insert_into(product_variants::table)
            .values(new)
            .returning(Variant::as_returning())
            .get_result(conn)
            .await
    }

    /// Applies changes; `None` when the variant does not exist.
    pub async fn update(
        conn: &mut AsyncPgConnection,
        id: i64,
        changes: &VariantChanges,
    ) -> QueryResult<Option<Variant>> {
        diesel::update(product_variants::table.find(id))
            .set((changes, product_variants::updated_at.eq(diesel::dsl::now)))
            .returning(Variant::as_returning())
            .get_result(conn)
            .await
            .optional()
    }
}

impl Price {
    /// Replaces every price of a variant.
    pub async fn replace_for_variant(
        conn: &mut AsyncPgConnection,
        variant_id: i64,
        prices: &[(String, i64)],
    ) -> QueryResult<()> {
        diesel::delete(prices::table.filter(prices::variant_id.eq(variant_id)))
            .execute(conn)
            .await?;
        let rows: Vec<_> = prices
            .iter()
            .map(|(c, a)| {
                (
                    prices::variant_id.eq(variant_id),
                    prices::currency_code.eq(c.clone()),
                    prices::amount.eq(*a),
                )
            })
            .collect();
        diesel::insert_into(prices::table)
            .values(rows)
            .execute(conn)
            .await?;
        Ok(())
    }
}

impl ProductImage {
    /// Appends an image after the product's last one.
    pub async fn append(
        conn: &mut AsyncPgConnection,
        product_id: i64,
        url: &str,
        alt: Option<&str>,
    ) -> QueryResult<ProductImage> {
        let next: Option<i32> = product_images::table
            .filter(product_images::product_id.eq(product_id))
            .select(diesel::dsl::max(product_images::rank))
            .first(conn)
            .await?;
        diesel::insert_into(product_images::table)
            .values((
                product_images::product_id.eq(product_id),
                product_images::url.eq(url),
                product_images::alt.eq(alt),
                product_images::rank.eq(next.map_or(0, |r| r + 1)),
            ))
            .returning(ProductImage::as_returning())
            .get_result(conn)
            .await
    }

    /// Sets ranks from the given order; false unless `ids` are exactly the product's images.
    pub async fn reorder(
        conn: &mut AsyncPgConnection,
        product_id: i64,
        ids: &[i64],
    ) -> QueryResult<bool> {
        let mut existing: Vec<i64> = product_images::table
            .filter(product_images::product_id.eq(product_id))
            .select(product_images::id)
            .load(conn)
            .await?;
        let mut wanted = ids.to_vec();
        existing.sort_unstable();
        wanted.sort_unstable();
        if existing != wanted {
            return Ok(false);
        }
        for (rank, id) in ids.iter().enumerate() {
            diesel::update(product_images::table.find(id))
                .set(product_images::rank.eq(i32::try_from(rank).unwrap_or(i32::MAX)))
                .execute(conn)
                .await?;
        }
        Ok(true)
    }
}

impl Collection {
    /// Inserts a collection.
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        handle: &str,
        title: &str,
        description: &str,
    ) -> QueryResult<Collection> {
        diesel::insert_into(collections::table)
            .values((
                collections::handle.eq(handle),
                collections::title.eq(title),
                collections::description.eq(description),
            ))
            .returning(Collection::as_returning())
            .get_result(conn)
            .await
    }

    /// Updates a collection; `None` when it does not exist.
    pub async fn update(
        conn: &mut AsyncPgConnection,
        id: i64,
        handle: Option<&str>,
        title: Option<&str>,
        description: Option<&str>,
    ) -> QueryResult<Option<Collection>> {
        let current = collections::table
            .find(id)
            .select(Collection::as_select())
            .first(conn)
            .await
            .optional()?;
        let Some(c) = current else { return Ok(None) };
        diesel::update(collections::table.find(id))
            .set((
                collections::handle.eq(handle.unwrap_or(&c.handle)),
                collections::title.eq(title.unwrap_or(&c.title)),
                collections::description.eq(description.unwrap_or(&c.description)),
                collections::updated_at.eq(diesel::dsl::now),
            ))
            .returning(Collection::as_returning())
            .get_result(conn)
            .await
            .optional()
    }

    /// Deletes a collection (its products keep existing, without a collection).
    pub async fn delete(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<bool> {
        Ok(diesel::delete(collections::table.find(id))
            .execute(conn)
            .await?
            == 1)
    }
}

impl Category {
    /// Any category (admin), inactive ones included.
    pub async fn find_any(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<Category>> {
        categories::table
            .find(id)
            .select(Category::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Whether `ancestor` is `id` or one of its ancestors (reparenting under it would loop).
    pub async fn is_self_or_descendant(
        conn: &mut AsyncPgConnection,
        id: i64,
        candidate_parent: i64,
    ) -> QueryResult<bool> {
        #[derive(QueryableByName)]
        struct Found {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            found: bool,
        }
        let found: Found = diesel::sql_query(
            "WITH RECURSIVE tree AS (SELECT id FROM categories WHERE id = $1 \
             UNION SELECT c.id FROM categories c JOIN tree t ON c.parent_id = t.id) \
             SELECT EXISTS (SELECT 1 FROM tree WHERE id = $2) AS found",
        )
        .bind::<diesel::sql_types::BigInt, _>(id)
        .bind::<diesel::sql_types::BigInt, _>(candidate_parent)
        .get_result(conn)
        .await?;
        Ok(found.found)
    }

    /// Inserts a category.
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        handle: &str,
        name: &str,
        parent_id: Option<i64>,
        rank: i32,
        is_active: bool,
    ) -> QueryResult<Category> {
        diesel::insert_into(categories::table)
            .values((
                categories::handle.eq(handle),
                categories::name.eq(name),
                categories::parent_id.eq(parent_id),
                categories::rank.eq(rank),
                categories::is_active.eq(is_active),
            ))
            .returning(Category::as_returning())
            .get_result(conn)
            .await
    }

    /// Writes a whole category row back (after the service merged the changes).
    pub async fn save(conn: &mut AsyncPgConnection, c: &Category) -> QueryResult<Category> {
        diesel::update(categories::table.find(c.id))
            .set((
                categories::handle.eq(&c.handle),
                categories::name.eq(&c.name),
                categories::description.eq(&c.description),
                categories::parent_id.eq(c.parent_id),
                categories::rank.eq(c.rank),
                categories::is_active.eq(c.is_active),
                categories::updated_at.eq(diesel::dsl::now),
            ))
            .returning(Category::as_returning())
            .get_result(conn)
            .await
    }

    /// Deletes a category without children.
    pub async fn delete(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<bool> {
        Ok(diesel::delete(categories::table.find(id))
            .execute(conn)
            .await?
            == 1)
    }
}

impl Region {
    /// Inserts a region.
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        name: &str,
        currency: &str,
        countries: &[String],
        tax_rate_bps: i32,
    ) -> QueryResult<Region> {
        diesel::insert_into(regions::table)
            .values((
                regions::name.eq(name),
                regions::currency_code.eq(currency),
                regions::countries.eq(countries),
                regions::tax_rate_bps.eq(tax_rate_bps),
            ))
            .returning(Region::as_returning())
            .get_result(conn)
            .await
    }

    /// Writes a whole region row back.
    pub async fn save(conn: &mut AsyncPgConnection, r: &Region) -> QueryResult<Region> {
        diesel::update(regions::table.find(r.id))
            .set((
                regions::name.eq(&r.name),
                regions::currency_code.eq(&r.currency_code),
                regions::countries.eq(&r.countries),
                regions::tax_rate_bps.eq(r.tax_rate_bps),
                regions::updated_at.eq(diesel::dsl::now),
            ))
            .returning(Region::as_returning())
            .get_result(conn)
            .await
    }

    /// Deletes a region.
    pub async fn delete(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<bool> {
        Ok(diesel::delete(regions::table.find(id))
            .execute(conn)
            .await?
            == 1)
    }
}
