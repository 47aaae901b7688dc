//! The `hero_banners` row and its queries.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};

use crate::db::schema::hero_banners;
use crate::load_translated;
use crate::locales::fields::{EntityKind, Localized};

/// A home-page hero banner.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize, Deserialize)]
#[diesel(table_name = hero_banners, check_for_backend(diesel::pg::Pg))]
pub struct HeroBanner {
    pub id: i64,
    pub title: String,
    pub subtitle: Option<String>,
    pub image_url: String,
    pub link_url: Option<String>,
    pub cta_text: Option<String>,
    pub is_active: bool,
    pub sort_order: i32,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl HeroBanner {
    /// Every active banner (any window) with its translation in `locale`, by sort order.
    pub async fn active_in(
        conn: &mut AsyncPgConnection,
        locale: &str,
    ) -> QueryResult<Vec<Localized<HeroBanner>>> {
        let rows = load_translated!(
            conn,
            locale,
            hero_banners::table,
            (hero_banners::id, EntityKind::Banner),
            HeroBanner::as_select(),
            |q| q
                .filter(hero_banners::is_active)
                .order((hero_banners::sort_order, hero_banners::id))
        );
        Ok(Localized::from_pairs(rows))
    }

    /// Whether the banner shows at `now` (active, window started, not ended).
    pub fn is_live_at(&self, now: DateTime<Utc>) -> bool {
        self.is_active
            && self.starts_at.is_none_or(|s| s <= now)
            && self.ends_at.is_none_or(|e| e > now)
    }
}

/// Fields of a new banner.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = hero_banners)]
pub struct NewHeroBanner {
    pub title: String,
    pub subtitle: Option<String>,
    pub image_url: String,
    pub link_url: Option<String>,
    pub cta_text: Option<String>,
    pub is_active: bool,
    pub sort_order: i32,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
}

/// A partial update (absent fields unchanged; `Some(None)` clears a nullable one).
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = hero_banners)]
pub struct HeroBannerChanges {
    pub title: Option<String>,
    pub subtitle: Option<Option<String>>,
    pub image_url: Option<String>,
    pub link_url: Option<Option<String>>,
    pub cta_text: Option<Option<String>>,
    pub is_active: Option<bool>,
    pub sort_order: Option<i32>,
    pub starts_at: Option<Option<DateTime<Utc>>>,
    pub ends_at: Option<Option<DateTime<Utc>>>,
}

impl HeroBanner {
    /// One banner, live or not (staff).
    pub async fn find(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<HeroBanner>> {
        hero_banners::table
            .find(id)
            .select(HeroBanner::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// One banner locked for update (concurrent updates of one banner serialize on it).
    pub async fn find_for_update(
        conn: &mut AsyncPgConnection,
        id: i64,
    ) -> QueryResult<Option<HeroBanner>> {
        hero_banners::table
            .find(id)
            .select(HeroBanner::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()
    }

    /// Every banner (admin), by sort order, keyset after `(sort_order, id)`; one extra row.
    pub async fn page(
        conn: &mut AsyncPgConnection,
        after: Option<(i32, i64)>,
        limit: usize,
    ) -> QueryResult<Vec<HeroBanner>> {
        let mut query = hero_banners::table
            .select(HeroBanner::as_select())
            .into_boxed();
        if let Some((order, id)) = after {
            query = query.filter(
                hero_banners::sort_order
                    .gt(order)
                    .or(hero_banners::sort_order
                        .eq(order)
                        .and(hero_banners::id.gt(id))),
            );
        }
        query
            .order((hero_banners::sort_order, hero_banners::id))
            .limit(i64::try_from(limit + 1).unwrap_or(i64::MAX))
            .load(conn)
            .await
    }

    /// Inserts a banner.
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        new: &NewHeroBanner,
    ) -> QueryResult<HeroBanner> {
        diesel::insert_into(hero_banners::table)
            .values(new)
            .returning(HeroBanner::as_returning())
            .get_result(conn)
            .await
    }

    /// Applies changes; `None` when the banner does not exist.
    pub async fn update(
        conn: &mut AsyncPgConnection,
        id: i64,
        changes: &HeroBannerChanges,
    ) -> QueryResult<Option<HeroBanner>> {
        diesel::update(hero_banners::table.find(id))
            .set((changes, hero_banners::updated_at.eq(diesel::dsl::now)))
            .returning(HeroBanner::as_returning())
            .get_result(conn)
            .await
            .optional()
    }

    /// Deletes a banner; false when it did not exist.
    pub async fn delete(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<bool> {
        Ok(diesel::delete(hero_banners::table.find(id))
            .execute(conn)
            .await?
            == 1)
    }
}
