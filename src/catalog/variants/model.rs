//! Variant rows (stock, backorders) and their prices (one per currency, minor units), with SQL.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};

use crate::catalog::products::model::store_visible;
use crate::db::schema::{prices, product_variants, products};
use crate::load_translated;
use crate::locales::fields::{EntityKind, Localized};

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
    /// Live variants of the given products with their translation in `locale`, by rank, for
    /// loader batches.
    pub async fn of_products(
        conn: &mut AsyncPgConnection,
        product_ids: &[i64],
        locale: &str,
    ) -> QueryResult<Vec<Localized<Variant>>> {
        let live = || {
            product_variants::product_id
                .eq_any(product_ids)
                .and(product_variants::deleted_at.is_null())
        };
        let rows = load_translated!(
            conn,
            locale,
            product_variants::table,
            (product_variants::id, EntityKind::Variant),
            Variant::as_select(),
            |q| q
                .filter(live())
                .order((product_variants::rank, product_variants::id))
        );
        Ok(Localized::from_pairs(rows))
    }

    /// Live variants of store-visible products by id with their translation in `locale`, for
    /// loader batches.
    pub async fn visible_by_ids(
        conn: &mut AsyncPgConnection,
        ids: &[i64],
        locale: &str,
    ) -> QueryResult<Vec<Localized<Variant>>> {
        let rows = load_translated!(
            conn,
            locale,
            product_variants::table.inner_join(products::table),
            (product_variants::id, EntityKind::Variant),
            Variant::as_select(),
            |q| q
                .filter(
                    product_variants::id
                        .eq_any(ids)
                        .and(product_variants::deleted_at.is_null()),
                )
                .filter(store_visible())
        );
        Ok(Localized::from_pairs(rows))
    }

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
