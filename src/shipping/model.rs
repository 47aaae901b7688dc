//! The `shipping_options` row and its queries.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::shipping_options;

/// A flat-rate shipping option of one region.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = shipping_options, check_for_backend(diesel::pg::Pg))]
pub struct ShippingOptionRow {
    pub id: i64,
    pub region_id: i64,
    pub name: String,
    /// Price in the region's currency, minor units, before tax.
    pub amount: i64,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Changes to an option (omitted fields stay).
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = shipping_options)]
pub struct ShippingOptionChanges {
    pub name: Option<String>,
    pub amount: Option<i64>,
    pub is_active: Option<bool>,
}

impl ShippingOptionRow {
    /// A region's options (active only unless `all`), by id.
    pub async fn of_region(
        conn: &mut AsyncPgConnection,
        region_id: i64,
        all: bool,
    ) -> QueryResult<Vec<Self>> {
        let mut query = shipping_options::table
            .filter(shipping_options::region_id.eq(region_id))
            .select(Self::as_select())
            .order(shipping_options::id)
            .into_boxed();
        if !all {
            query = query.filter(shipping_options::is_active);
        }
        query.load(conn).await
    }

    /// By id.
    pub async fn find(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<Self>> {
        shipping_options::table
            .find(id)
            .select(Self::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Inserts an option.
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        region_id: i64,
        name: &str,
        amount: i64,
    ) -> QueryResult<Self> {
        diesel::insert_into(shipping_options::table)
            .values((
                shipping_options::region_id.eq(region_id),
                shipping_options::name.eq(name),
                shipping_options::amount.eq(amount),
            ))
            .returning(Self::as_returning())
            .get_result(conn)
            .await
    }

    /// Applies changes; `None` when absent.
    pub async fn change(
        conn: &mut AsyncPgConnection,
        id: i64,
        changes: &ShippingOptionChanges,
    ) -> QueryResult<Option<Self>> {
        diesel::update(shipping_options::table.find(id))
            .set((changes, shipping_options::updated_at.eq(diesel::dsl::now)))
            .returning(Self::as_returning())
            .get_result(conn)
            .await
            .optional()
    }

    /// Deletes an option (carts that chose it lose their choice); `false` when absent.
    pub async fn delete(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<bool> {
        diesel::delete(shipping_options::table.find(id))
            .execute(conn)
            .await
            .map(|n| n == 1)
    }
}
