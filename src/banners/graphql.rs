//! GraphQL type `HeroBanner` and the store's `BannersQuery`.

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use super::model;
use super::service;
use crate::graphql::context::app;
use crate::graphql::ids::to_global;

/// A home-page hero banner.
pub struct HeroBanner(pub model::HeroBanner);

#[Object(cache_control(max_age = 300))]
impl HeroBanner {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global("HeroBanner", self.0.id)
    }
    /// Headline.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Secondary line.
    async fn subtitle(&self) -> Option<&str> {
        self.0.subtitle.as_deref()
    }
    /// Image URL.
    async fn image_url(&self) -> &str {
        &self.0.image_url
    }
    /// Where the banner links to.
    async fn link_url(&self) -> Option<&str> {
        self.0.link_url.as_deref()
    }
    /// Call-to-action button text.
    async fn cta_text(&self) -> Option<&str> {
        self.0.cta_text.as_deref()
    }
    /// Display order (ascending).
    async fn sort_order(&self) -> i32 {
        self.0.sort_order
    }
    /// Start of the display window, if any.
    async fn starts_at(&self) -> Option<DateTime<Utc>> {
        self.0.starts_at
    }
    /// End of the display window (exclusive), if any.
    async fn ends_at(&self) -> Option<DateTime<Utc>> {
        self.0.ends_at
    }
}

/// Storefront banner queries (public).
#[derive(Default)]
pub struct BannersQuery;

#[Object]
impl BannersQuery {
    /// Active banners within their time window, by sort order.
    #[graphql(cache_control(max_age = 300))]
    async fn hero_banners(&self, ctx: &Context<'_>) -> Result<Vec<HeroBanner>> {
        let rows = service::live_banners(app(ctx)?, Utc::now()).await?;
        Ok(rows.into_iter().map(HeroBanner).collect())
    }
}
