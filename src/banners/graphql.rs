//! The store side of banners: the `HeroBanner` type and the public `heroBanners` root, whose
//! answer may be cached only until the next display window opens or closes.

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use super::model;
use super::service;
use crate::cache::Family;
use crate::graphql::context::{app, cap_max_age};
use crate::graphql::ids::to_global;
use crate::graphql::response_cache::{Reads, RootReads};
use crate::locales::fields::{EntityKind, Localized};
use crate::locales::graphql::{FieldLocale, field_locales, request_locale};

/// A home-page hero banner, in the request's language.
pub struct HeroBanner(pub Localized<model::HeroBanner>);

#[Object(cache_control(max_age = 300))]
impl HeroBanner {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global("HeroBanner", self.0.row.id)
    }
    /// Headline.
    async fn title(&self) -> &str {
        self.0.text("title", &self.0.row.title)
    }
    /// Secondary line.
    async fn subtitle(&self) -> Option<&str> {
        self.0.text_opt("subtitle", self.0.row.subtitle.as_deref())
    }
    /// Image URL.
    async fn image_url(&self) -> &str {
        &self.0.row.image_url
    }
    /// Where the banner links to.
    async fn link_url(&self) -> Option<&str> {
        self.0.row.link_url.as_deref()
    }
    /// Call-to-action button text.
    async fn cta_text(&self) -> Option<&str> {
        self.0.text_opt("ctaText", self.0.row.cta_text.as_deref())
    }
    /// Display order (ascending).
    async fn sort_order(&self) -> i32 {
        self.0.row.sort_order
    }
    /// Start of the display window, if any.
    async fn starts_at(&self) -> Option<DateTime<Utc>> {
        self.0.row.starts_at
    }
    /// End of the display window (exclusive), if any.
    async fn ends_at(&self) -> Option<DateTime<Utc>> {
        self.0.row.ends_at
    }
    /// Which locale each translatable field (title, subtitle, ctaText) is in.
    async fn field_locales(&self, ctx: &Context<'_>) -> Vec<FieldLocale> {
        field_locales(ctx, EntityKind::Banner, self.0.translation.as_ref())
    }
}

/// What the root fields below read, for the response cache (see `Reads`).
pub const READS: RootReads = &[("heroBanners", Reads::Families(&[Family::Banners]))];

/// Storefront banner queries (public).
#[derive(Default)]
pub struct BannersQuery;

#[Object]
impl BannersQuery {
    /// Active banners within their time window, by sort order.
    #[graphql(cache_control(max_age = 300))]
    async fn hero_banners(&self, ctx: &Context<'_>) -> Result<Vec<HeroBanner>> {
        let now = Utc::now();
        let locale = request_locale(ctx);
        let (rows, next_change) = service::live_banners_until(app(ctx)?, now, &locale).await?;
        if let Some(at) = next_change {
            let seconds = (at - now).num_seconds().clamp(1, i64::from(u32::MAX));
            cap_max_age(ctx, u32::try_from(seconds).unwrap_or(1));
        }
        Ok(rows.into_iter().map(HeroBanner).collect())
    }
}
