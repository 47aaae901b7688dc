//! Product rows with their images and options, their SQL, and the one rule for "visible in the
//! store" (published and not deleted), in Diesel and in SQL.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};

use crate::db::schema::{
    product_categories, product_images, product_option_values, product_options, products,
    variant_option_values,
};
use crate::load_translated;
use crate::locales::fields::{EntityKind, Localized, Translation};

/// Product status: drafts are admin-only.
pub const STATUS_PUBLISHED: &str = "published";

/// The Diesel type of [`store_visible`].
pub type StoreVisible = diesel::dsl::And<
    diesel::dsl::Eq<products::status, &'static str>,
    diesel::dsl::IsNull<products::deleted_at>,
>;

/// The one rule for "visible in the store" (published and not deleted), as a filter on
/// `products`. [`STORE_VISIBLE_SQL`] says the same for hand-built SQL.
pub fn store_visible() -> StoreVisible {
    products::status
        .eq(STATUS_PUBLISHED)
        .and(products::deleted_at.is_null())
}

/// [`store_visible`] over a `products` row aliased `p`, for the listing's hand-built SQL.
pub const STORE_VISIBLE_SQL: &str = "p.status = 'published' AND p.deleted_at IS NULL";

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

/// [`load_translated!`] for products in `locale` as `Localized` rows, the query finished by
/// `|q| …`.
macro_rules! load_products {
    ($conn:expr, $locale:expr, |$q:ident| $rest:expr) => {
        Localized::from_pairs(load_translated!(
            $conn,
            $locale,
            products::table,
            (products::id, EntityKind::Product),
            Product::as_select(),
            |$q| $rest
        ))
    };
}

impl Product {
    /// Store-visible products by id with their translation in `locale`, for loader batches.
    pub async fn visible_by_ids(
        conn: &mut AsyncPgConnection,
        ids: &[i64],
        locale: &str,
    ) -> QueryResult<Vec<Localized<Product>>> {
        Ok(load_products!(conn, locale, |q| q
            .filter(products::id.eq_any(ids))
            .filter(store_visible())))
    }

    /// Store-visible products by handle with their translation in `locale`.
    pub async fn visible_by_handles(
        conn: &mut AsyncPgConnection,
        handles: &[String],
        locale: &str,
    ) -> QueryResult<Vec<Localized<Product>>> {
        Ok(load_products!(conn, locale, |q| q
            .filter(products::handle.eq_any(handles))
            .filter(store_visible())))
    }

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
            let pattern = crate::db::contains_pattern(text);
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
    /// Options of the given products with their values and their translation in `locale`, by
    /// rank, for loader batches.
    pub async fn of_products(
        conn: &mut AsyncPgConnection,
        product_ids: &[i64],
        locale: &str,
    ) -> QueryResult<
        Vec<(
            ProductOption,
            Option<OptionValue>,
            Option<serde_json::Value>,
        )>,
    > {
        /// An option with one of its values (none for an option without values).
        type OptionRow = (ProductOption, Option<OptionValue>);
        let rows: Vec<(OptionRow, Option<serde_json::Value>)> = load_translated!(
            conn,
            locale,
            product_options::table.left_join(product_option_values::table),
            (product_options::id, EntityKind::Option),
            [
                ProductOption::as_select(),
                Option::<OptionValue>::as_select()
            ] as (option, value),
            |q| q
                .filter(product_options::product_id.eq_any(product_ids))
                .order((
                    product_options::rank,
                    product_options::id,
                    product_option_values::rank,
                    product_option_values::id,
                ))
        );
        Ok(rows
            .into_iter()
            .map(|((option, value), fields)| (option, value, fields))
            .collect())
    }
}

impl OptionValue {
    /// `(variant_id, option title, value)` for the given variants in `locale` (each falling
    /// back to the catalog's own), for loader batches.
    pub async fn of_variants(
        conn: &mut AsyncPgConnection,
        variant_ids: &[i64],
        locale: &str,
    ) -> QueryResult<Vec<(i64, String, String)>> {
        let rows: Vec<((i64, String, String), Option<serde_json::Value>)> = load_translated!(
            conn,
            locale,
            variant_option_values::table
                .inner_join(product_option_values::table.inner_join(product_options::table)),
            (product_options::id, EntityKind::Option),
            [
                variant_option_values::variant_id,
                product_options::title,
                product_option_values::value,
            ] as (variant, title, value),
            |q| q
                .filter(variant_option_values::variant_id.eq_any(variant_ids))
                .order((product_options::rank, product_options::id))
        );
        Ok(rows
            .into_iter()
            .map(|((variant, title, value), fields)| {
                let t = Translation::from_column(fields);
                let title = t
                    .as_ref()
                    .and_then(|t| t.text("title"))
                    .map_or(title.clone(), str::to_owned);
                let value = t
                    .as_ref()
                    .and_then(|t| t.value_of(&value))
                    .map_or(value.clone(), str::to_owned);
                (variant, title, value)
            })
            .collect())
    }
}
