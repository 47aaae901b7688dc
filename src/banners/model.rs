//! The `hero_banners` row and its queries.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};

use crate::db::schema::hero_banners;

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
    /// Every active banner (any window), by sort order.
    pub async fn active(conn: &mut AsyncPgConnection) -> QueryResult<Vec<HeroBanner>> {
        hero_banners::table
            .filter(hero_banners::is_active)
            .select(HeroBanner::as_select())
            .order((hero_banners::sort_order, hero_banners::id))
            .load(conn)
            .await
    }

    /// Whether the banner shows at `now` (active, window started, not ended).
    pub fn is_live_at(&self, now: DateTime<Utc>) -> bool {
        self.is_active
            && self.starts_at.is_none_or(|s| s <= now)
            && self.ends_at.is_none_or(|e| e > now)
    }

    /// Active banners whose window contains `now`, by sort order.
    pub async fn live(
        conn: &mut AsyncPgConnection,
        now: DateTime<Utc>,
    ) -> QueryResult<Vec<HeroBanner>> {
        hero_banners::table
            .filter(hero_banners::is_active)
            .filter(
                hero_banners::starts_at
                    .is_null()
                    .or(hero_banners::starts_at.le(now)),
            )
            .filter(
                hero_banners::ends_at
                    .is_null()
                    .or(hero_banners::ends_at.gt(now)),
            )
            .select(HeroBanner::as_select())
            .order((hero_banners::sort_order, hero_banners::id))
            .load(conn)
            .await
    }

    /// One banner that is live at `now`, for `node(id)`.
    pub async fn find_live(
        conn: &mut AsyncPgConnection,
        id: i64,
        now: DateTime<Utc>,
    ) -> QueryResult<Option<HeroBanner>> {
        Ok(Self::live(conn, now)
            .await?
            .into_iter()
            .find(|b| b.id == id))
    }
}
