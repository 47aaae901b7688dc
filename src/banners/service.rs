//! Banner use cases: the cache-first read of the live banners.

use chrono::{DateTime, Utc};

use super::model::HeroBanner;
use crate::app::AppState;
use crate::cache::keys;
use crate::error::AppResult;

/// Active banners whose window contains `now`, by sort order. The cache holds every *active*
/// banner (windows included), so a window opening or closing shows without waiting for a TTL.
pub async fn live_banners(app: &AppState, now: DateTime<Utc>) -> AppResult<Vec<HeroBanner>> {
    let db = app.db.clone();
    let active = app
        .cache
        .get_or_load(&keys::hero_banners_active(), async move {
            Ok(HeroBanner::active(&mut *db.get().await?).await?)
        })
        .await?;
    Ok(active.into_iter().filter(|b| b.is_live_at(now)).collect())
}
