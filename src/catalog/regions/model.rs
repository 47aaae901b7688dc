//! Region rows (name, currency, countries, tax rate) and their SQL.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};

use crate::db::schema::regions;

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
