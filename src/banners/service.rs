//! Banner use cases: the cache-first read of the live banners, and the admin writes, each one
//! transaction followed by the invalidation of exactly the banner family.

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;

use super::model::{HeroBanner, HeroBannerChanges, NewHeroBanner};
use crate::cache::{Family, keys};
use crate::error::{AppError, AppResult};
use crate::events::{BannerAction, DomainEvent};
use crate::locales::fields::Localized;
use crate::locales::negotiate::RequestLocale;
use crate::state::AppState;

/// Active banners whose window contains `now`, by sort order. The cache holds every *active*
/// banner (windows included), so a window opening or closing shows without waiting for a TTL.
pub async fn live_banners(
    app: &AppState,
    now: DateTime<Utc>,
    locale: &RequestLocale,
) -> AppResult<Vec<Localized<HeroBanner>>> {
    Ok(live_banners_until(app, now, locale).await?.0)
}

/// [`live_banners`], and the next instant a window opens or closes (when the answer changes by
/// itself, so no cache may keep it past then).
pub async fn live_banners_until(
    app: &AppState,
    now: DateTime<Utc>,
    locale: &RequestLocale,
) -> AppResult<(Vec<Localized<HeroBanner>>, Option<DateTime<Utc>>)> {
    let code = locale.join_code().to_owned();
    let active: Vec<Localized<HeroBanner>> = app
        .cached(&locale.key(keys::hero_banners_active()), move |conn| {
            let code = code.clone();
            Box::pin(async move { Ok(HeroBanner::active_in(conn, &code).await?) })
        })
        .await?;
    let next_change = active
        .iter()
        .flat_map(|b| [b.row.starts_at, b.row.ends_at])
        .flatten()
        .filter(|t| *t > now)
        .min();
    let live = active
        .into_iter()
        .filter(|b| b.row.is_live_at(now))
        .collect();
    Ok((live, next_change))
}

fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!(
        "hero banner {} not found",
        crate::graphql::ids::to_global("HeroBanner", id).0
    ))
}

/// Checks the rules every stored banner must meet.
pub fn validate(banner: &NewHeroBanner) -> AppResult<()> {
    if banner.title.trim().is_empty() {
        return Err(AppError::bad_input("`title` must not be empty"));
    }
    if banner.image_url.trim().is_empty() {
        return Err(AppError::bad_input("`imageUrl` must not be empty"));
    }
    let site_path = |url: &str| url.starts_with('/') && !url.starts_with("//");
    let url = &banner.image_url;
    if !(url.starts_with("https://") || url.starts_with("http://") || site_path(url)) {
        return Err(AppError::bad_input(
            "`imageUrl` must be an http(s) URL or a site path",
        ));
    }
    // A link is followed by shoppers: no `javascript:`, no other scheme, no other host's
    // protocol-relative `//…`.
    if let Some(link) = &banner.link_url
        && !(link.starts_with("https://") || site_path(link))
    {
        return Err(AppError::bad_input(
            "`linkUrl` must be an https:// URL or a site path starting with `/`",
        ));
    }
    if let (Some(start), Some(end)) = (banner.starts_at, banner.ends_at)
        && end <= start
    {
        return Err(AppError::bad_input("`endsAt` must be after `startsAt`"));
    }
    if banner.sort_order < 0 {
        return Err(AppError::bad_input("`sortOrder` must not be negative"));
    }
    Ok(())
}

/// Creates a banner.
pub async fn create(app: &AppState, new: NewHeroBanner) -> AppResult<HeroBanner> {
    validate(&new)?;
    let banner = HeroBanner::insert(&mut *app.db.get().await?, &new).await?;
    banners_written(app, vec![banner.id], BannerAction::Created).await;
    Ok(banner)
}

/// After a committed banner write: the banners family goes stale (the store's list and every
/// response that read it), then staff subscribers hear of it.
async fn banners_written(app: &AppState, ids: Vec<i64>, action: BannerAction) {
    app.invalidate(&[Family::Banners], &[]).await;
    app.events
        .publish(DomainEvent::Banner { ids, action })
        .await;
}

/// Updates a banner; the merged result must still be valid.
pub async fn update(app: &AppState, id: i64, changes: HeroBannerChanges) -> AppResult<HeroBanner> {
    let mut conn = app.db.get().await?;
    let banner = conn
        .transaction::<_, AppError, _>(async |conn| {
            let current = HeroBanner::find_for_update(conn, id)
                .await?
                .ok_or_else(|| not_found(id))?;
            validate(&merged(&current, &changes))?;
            HeroBanner::update(conn, id, &changes)
                .await?
                .ok_or_else(|| not_found(id))
        })
        .await?;
    drop(conn);
    banners_written(app, vec![id], BannerAction::Updated).await;
    Ok(banner)
}

fn merged(b: &HeroBanner, c: &HeroBannerChanges) -> NewHeroBanner {
    NewHeroBanner {
        title: c.title.clone().unwrap_or_else(|| b.title.clone()),
        subtitle: c.subtitle.clone().unwrap_or_else(|| b.subtitle.clone()),
        image_url: c.image_url.clone().unwrap_or_else(|| b.image_url.clone()),
        link_url: c.link_url.clone().unwrap_or_else(|| b.link_url.clone()),
        cta_text: c.cta_text.clone().unwrap_or_else(|| b.cta_text.clone()),
        is_active: c.is_active.unwrap_or(b.is_active),
        sort_order: c.sort_order.unwrap_or(b.sort_order),
        starts_at: c.starts_at.unwrap_or(b.starts_at),
        ends_at: c.ends_at.unwrap_or(b.ends_at),
    }
}

/// Deletes a banner.
pub async fn delete(app: &AppState, id: i64) -> AppResult<()> {
    if !HeroBanner::delete(&mut *app.db.get().await?, id).await? {
        return Err(not_found(id));
    }
    banners_written(app, vec![id], BannerAction::Deleted).await;
    Ok(())
}

/// One entry of a batch: a new position and/or active flag.
#[derive(Debug, Clone)]
pub struct BatchChange {
    /// The banner.
    pub id: i64,
    /// New sort order.
    pub sort_order: Option<i32>,
    /// New active flag.
    pub is_active: Option<bool>,
}

/// Reorders and/or toggles many banners in one transaction: all or nothing.
pub async fn update_many(app: &AppState, changes: Vec<BatchChange>) -> AppResult<Vec<HeroBanner>> {
    if changes.is_empty() || changes.len() > 100 {
        return Err(AppError::bad_input("`changes` takes 1 to 100 entries"));
    }
    let mut seen = std::collections::HashSet::new();
    for c in &changes {
        if !seen.insert(c.id) {
            return Err(AppError::bad_input("a banner appears twice in `changes`"));
        }
        if c.sort_order.is_some_and(|o| o < 0) {
            return Err(AppError::bad_input("`sortOrder` must not be negative"));
        }
    }
    let mut conn = app.db.get().await?;
    let banners = conn
        .transaction::<_, AppError, _>(async |conn| {
            let mut out = Vec::with_capacity(changes.len());
            for c in &changes {
                let change = HeroBannerChanges {
                    sort_order: c.sort_order,
                    is_active: c.is_active,
                    ..Default::default()
                };
                out.push(
                    HeroBanner::update(conn, c.id, &change)
                        .await?
                        .ok_or_else(|| not_found(c.id))?,
                );
            }
            Ok(out)
        })
        .await?;
    drop(conn);
    banners_written(
        app,
        banners.iter().map(|b| b.id).collect(),
        BannerAction::Reordered,
    )
    .await;
    Ok(banners)
}
