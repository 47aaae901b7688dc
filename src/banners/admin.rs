//! The staff side of banners (banners permission): `AdminHeroBanner` with inactive ones and
//! timestamps, the staff listing, create/update/toggle/delete/batch-reorder mutations, image
//! upload, and the live `bannerUpdated` subscription.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, Upload};
use chrono::{DateTime, Utc};

use super::model;
use super::service;
use crate::auth::{Permission, RequirePermission};
use crate::db::pagination::PageRequest;
use crate::error::{AppError, AppResult};
use crate::events::{BannerAction, DomainEvent};
use crate::graphql::context::app;
use crate::graphql::ids::{event_id, expect_global, to_global};
use crate::graphql::response_cache::{Reads, RootReads};

/// A banner as staff see it (inactive ones and timestamps included).
pub struct AdminHeroBanner(pub model::HeroBanner);

#[Object(cache_control(private))]
impl AdminHeroBanner {
    /// Global ID (its own; arguments also take the store's `HeroBanner` ID).
    pub async fn id(&self) -> ID {
        to_global("AdminHeroBanner", self.0.id)
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
    /// Link target.
    async fn link_url(&self) -> Option<&str> {
        self.0.link_url.as_deref()
    }
    /// Call-to-action text.
    async fn cta_text(&self) -> Option<&str> {
        self.0.cta_text.as_deref()
    }
    /// Whether it may show.
    async fn is_active(&self) -> bool {
        self.0.is_active
    }
    /// Display order.
    async fn sort_order(&self) -> i32 {
        self.0.sort_order
    }
    /// Window start.
    async fn starts_at(&self) -> Option<DateTime<Utc>> {
        self.0.starts_at
    }
    /// Window end (exclusive).
    async fn ends_at(&self) -> Option<DateTime<Utc>> {
        self.0.ends_at
    }
    /// Whether the store shows it right now.
    async fn is_live(&self) -> bool {
        self.0.is_live_at(Utc::now())
    }
    /// Created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A new banner.
#[derive(InputObject)]
pub struct CreateHeroBannerInput {
    /// Headline (required).
    pub title: String,
    /// Secondary line.
    pub subtitle: Option<String>,
    /// Image URL (e.g. from `uploadHeroBannerImage`).
    pub image_url: String,
    /// Link target.
    pub link_url: Option<String>,
    /// Call-to-action text.
    pub cta_text: Option<String>,
    /// Active (default true).
    #[graphql(default = true)]
    pub is_active: bool,
    /// Display order (default 0).
    #[graphql(default)]
    pub sort_order: i32,
    /// Window start.
    pub starts_at: Option<DateTime<Utc>>,
    /// Window end (exclusive).
    pub ends_at: Option<DateTime<Utc>>,
}

/// Changes to a banner; omitted fields stay, `null` clears an optional one.
#[derive(InputObject)]
pub struct UpdateHeroBannerInput {
    /// Headline.
    pub title: MaybeUndefined<String>,
    /// Secondary line.
    pub subtitle: MaybeUndefined<String>,
    /// Image URL.
    pub image_url: MaybeUndefined<String>,
    /// Link target.
    pub link_url: MaybeUndefined<String>,
    /// Call-to-action text.
    pub cta_text: MaybeUndefined<String>,
    /// Active.
    pub is_active: MaybeUndefined<bool>,
    /// Display order.
    pub sort_order: MaybeUndefined<i32>,
    /// Window start.
    pub starts_at: MaybeUndefined<DateTime<Utc>>,
    /// Window end.
    pub ends_at: MaybeUndefined<DateTime<Utc>>,
}

fn required<T>(field: &str, value: MaybeUndefined<T>) -> AppResult<Option<T>> {
    match value {
        MaybeUndefined::Undefined => Ok(None),
        MaybeUndefined::Null => Err(AppError::bad_input(format!("`{field}` cannot be null"))),
        MaybeUndefined::Value(v) => Ok(Some(v)),
    }
}

impl UpdateHeroBannerInput {
    fn into_changes(self) -> AppResult<model::HeroBannerChanges> {
        Ok(model::HeroBannerChanges {
            title: required("title", self.title)?,
            subtitle: self.subtitle.into(),
            image_url: required("imageUrl", self.image_url)?,
            link_url: self.link_url.into(),
            cta_text: self.cta_text.into(),
            is_active: required("isActive", self.is_active)?,
            sort_order: required("sortOrder", self.sort_order)?,
            starts_at: self.starts_at.into(),
            ends_at: self.ends_at.into(),
        })
    }
}

/// One entry of `updateHeroBanners`.
#[derive(InputObject)]
pub struct HeroBannerBatchChange {
    /// The banner.
    pub id: ID,
    /// New display order.
    pub sort_order: Option<i32>,
    /// New active flag.
    pub is_active: Option<bool>,
}

/// Cursor of the admin banner list.
#[derive(serde::Serialize, serde::Deserialize)]
struct BannerCursor {
    o: i32,
    i: i64,
}

/// What the root fields below read, for the response cache (see `Reads`).
pub const READS: RootReads = &[("adminHeroBanners", Reads::Private)];

/// Staff banner queries (content permission).
#[derive(Default)]
pub struct BannersAdminQuery;

#[Object]
impl BannersAdminQuery {
    /// Every banner, inactive and out-of-window ones included, by sort order.
    #[graphql(
        guard = "RequirePermission(Permission::Banners)",
        cache_control(private),
        complexity = "crate::graphql::cost::connection_cost(first, None, child_complexity)"
    )]
    async fn admin_hero_banners(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, AdminHeroBanner>> {
        let page = PageRequest::new(first, after, None, None)?;
        let after = page.after_key::<BannerCursor>()?;
        let (after, limit) = (after.map(|c| (c.o, c.i)), page.limit);
        let rows = app(ctx)?
            .read(move |conn| {
                Box::pin(async move { Ok(model::HeroBanner::page(conn, after, limit).await?) })
            })
            .await?;
        Ok(page.connection(
            rows,
            |b| BannerCursor {
                o: b.sort_order,
                i: b.id,
            },
            AdminHeroBanner,
        ))
    }
}

/// Staff banner mutations (content permission).
#[derive(Default)]
pub struct BannersMutation;

#[Object]
impl BannersMutation {
    /// Creates a banner.
    #[graphql(guard = "RequirePermission(Permission::Banners)")]
    async fn create_hero_banner(
        &self,
        ctx: &Context<'_>,
        input: CreateHeroBannerInput,
    ) -> Result<AdminHeroBanner> {
        let new = model::NewHeroBanner {
            title: input.title,
            subtitle: input.subtitle,
            image_url: input.image_url,
            link_url: input.link_url,
            cta_text: input.cta_text,
            is_active: input.is_active,
            sort_order: input.sort_order,
            starts_at: input.starts_at,
            ends_at: input.ends_at,
        };
        Ok(AdminHeroBanner(service::create(app(ctx)?, new).await?))
    }

    /// Updates a banner.
    #[graphql(guard = "RequirePermission(Permission::Banners)")]
    async fn update_hero_banner(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateHeroBannerInput,
    ) -> Result<AdminHeroBanner> {
        let id = expect_global(&id, "HeroBanner")?;
        Ok(AdminHeroBanner(
            service::update(app(ctx)?, id, input.into_changes()?).await?,
        ))
    }

    /// Shows or hides a banner.
    #[graphql(guard = "RequirePermission(Permission::Banners)")]
    async fn set_hero_banner_active(
        &self,
        ctx: &Context<'_>,
        id: ID,
        active: bool,
    ) -> Result<AdminHeroBanner> {
        let id = expect_global(&id, "HeroBanner")?;
        let changes = model::HeroBannerChanges {
            is_active: Some(active),
            ..Default::default()
        };
        Ok(AdminHeroBanner(
            service::update(app(ctx)?, id, changes).await?,
        ))
    }

    /// Deletes a banner; returns its ID.
    #[graphql(guard = "RequirePermission(Permission::Banners)")]
    async fn delete_hero_banner(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        service::delete(app(ctx)?, expect_global(&id, "HeroBanner")?).await?;
        Ok(id)
    }

    /// Reorders and/or toggles many banners in one transaction: all change, or none does.
    #[graphql(guard = "RequirePermission(Permission::Banners)")]
    async fn update_hero_banners(
        &self,
        ctx: &Context<'_>,
        changes: Vec<HeroBannerBatchChange>,
    ) -> Result<Vec<AdminHeroBanner>> {
        let changes = changes
            .into_iter()
            .map(|c| {
                Ok(service::BatchChange {
                    id: expect_global(&c.id, "HeroBanner")?,
                    sort_order: c.sort_order,
                    is_active: c.is_active,
                })
            })
            .collect::<AppResult<Vec<_>>>()?;
        Ok(service::update_many(app(ctx)?, changes)
            .await?
            .into_iter()
            .map(AdminHeroBanner)
            .collect())
    }

    /// Uploads a banner image (JPEG, PNG, WebP or AVIF by content; at most `UPLOAD_MAX_BYTES`)
    /// and returns its public URL for `imageUrl`. A refused file stores nothing.
    #[graphql(guard = "RequirePermission(Permission::Banners)")]
    async fn upload_hero_banner_image(&self, ctx: &Context<'_>, file: Upload) -> Result<String> {
        Ok(crate::graphql::upload::store_image(ctx, file, "banners").await?)
    }
}

/// A banner change, as admin subscribers receive it: ids and action only.
#[derive(async_graphql::SimpleObject, Clone)]
pub struct BannerUpdatedEvent {
    /// This event's own ID.
    pub id: ID,
    /// The (first) banner changed.
    pub banner_id: ID,
    /// Every banner changed (several for a batch).
    pub ids: Vec<ID>,
    /// What happened.
    pub action: BannerAction,
}

/// Live banner changes for staff (content permission).
#[derive(Default)]
pub struct BannersSubscription;

#[async_graphql::Subscription]
impl BannersSubscription {
    /// Every banner change made by any staff member on any instance, after it committed.
    #[graphql(guard = "RequirePermission(Permission::Banners)")]
    async fn banner_updated(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl futures_util::Stream<Item = Result<BannerUpdatedEvent>> + use<>> {
        let rx = app(ctx)?.events.subscribe();
        Ok(crate::events::stream(rx, |event| match event {
            DomainEvent::Banner { ids, action } => Some(BannerUpdatedEvent {
                id: event_id("BannerUpdatedEvent"),
                banner_id: to_global("AdminHeroBanner", ids.first().copied().unwrap_or_default()),
                ids: ids
                    .iter()
                    .map(|id| to_global("AdminHeroBanner", *id))
                    .collect(),
                action: *action,
            }),
            _ => None,
        }))
    }
}
