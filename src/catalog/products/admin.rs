//! The staff side of products: `AdminProduct`, the staff listing with its filters, product and
//! image mutations, and the live `productUpdated` subscription (catalog permission throughout).

use std::sync::Arc;

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, Result, Upload};
use chrono::{DateTime, Utc};

use super::model::{self, NewProduct, ProductChanges};
use super::service;
use crate::auth::{Permission, RequirePermission};
use crate::catalog::graph::ProductImage;
use crate::catalog::graph::ProductVariant;
use crate::catalog::loaders::loaders;
use crate::catalog::rules::ids_of;
use crate::db::pagination::PageRequest;
use crate::error::LoadResultExt;
use crate::graphql::context::app;
use crate::graphql::ids::{event_id, expect_global, expect_globals, to_global};
use crate::graphql::response_cache::{Reads, RootReads};

/// Publication state.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum ProductStatus {
    /// Staff only.
    Draft,
    /// Visible in the store (unless deleted).
    Published,
}

impl ProductStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Published => "published",
        }
    }
}

/// A product as staff see it.
pub struct AdminProduct(pub model::Product);

#[Object(cache_control(private))]
impl AdminProduct {
    /// Global ID (its own; arguments also take the store's `Product` ID).
    pub async fn id(&self) -> ID {
        to_global("AdminProduct", self.0.id)
    }
    /// URL handle.
    async fn handle(&self) -> &str {
        &self.0.handle
    }
    /// Title.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Subtitle.
    async fn subtitle(&self) -> Option<&str> {
        self.0.subtitle.as_deref()
    }
    /// Description.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Draft or published.
    async fn status(&self) -> ProductStatus {
        if self.0.status == model::STATUS_PUBLISHED {
            ProductStatus::Published
        } else {
            ProductStatus::Draft
        }
    }
    /// Thumbnail URL.
    async fn thumbnail(&self) -> Option<&str> {
        self.0.thumbnail.as_deref()
    }
    /// Collection.
    async fn collection_id(&self) -> Option<ID> {
        self.0.collection_id.map(|id| to_global("Collection", id))
    }
    /// Created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Soft-deletion time; deleted products never reach the store.
    async fn deleted_at(&self) -> Option<DateTime<Utc>> {
        self.0.deleted_at
    }
    /// Live variants with prices.
    async fn variants(&self, ctx: &Context<'_>) -> Result<Vec<ProductVariant>> {
        let loaders = loaders(ctx)?;
        let rows = loaders.variants.load_one(self.0.id).await.gql()?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            // Staff see the catalog's own text.
            .map(|v| ProductVariant::new(v.row))
            .collect())
    }
}

/// Staff filters of `adminProducts`.
#[derive(InputObject, Default)]
pub struct AdminProductFilter {
    /// Only this status.
    pub status: Option<ProductStatus>,
    /// Text in the title or handle.
    pub search: Option<String>,
    /// Changed at or after.
    pub updated_since: Option<DateTime<Utc>>,
    /// Include soft-deleted products.
    #[graphql(default)]
    pub include_deleted: bool,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct AdminProductCursor {
    u: i64,
    i: i64,
}

/// What the root fields below read, for the response cache (see `Reads`).
pub const READS: RootReads = &[
    ("adminProducts", Reads::Private),
    ("adminProduct", Reads::Private),
];

/// Staff product queries.
#[derive(Default)]
pub struct ProductsAdminQuery;

#[Object]
impl ProductsAdminQuery {
    /// Every product, newest change first, with staff filters.
    #[graphql(
        guard = "RequirePermission(Permission::Catalog)",
        cache_control(private),
        complexity = "crate::graphql::cost::connection_cost(first, None, child_complexity)"
    )]
    async fn admin_products(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<AdminProductFilter>,
    ) -> Result<Connection<String, AdminProduct>> {
        let page = PageRequest::new(first, after, None, None)?;
        let after = page.after_key::<AdminProductCursor>()?.map(|c| {
            (
                DateTime::from_timestamp_micros(c.u).unwrap_or_default(),
                c.i,
            )
        });
        let f = filter.unwrap_or_default();
        let search: Option<Arc<str>> = f
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Arc::from);
        let (status, since, deleted, limit) = (
            f.status.map(ProductStatus::as_str),
            f.updated_since,
            f.include_deleted,
            page.limit,
        );
        let rows = app(ctx)?
            .read(move |conn| {
                let search = search.clone();
                Box::pin(async move {
                    Ok(model::Product::admin_page(
                        conn,
                        status,
                        search.as_deref(),
                        since,
                        deleted,
                        after,
                        limit,
                    )
                    .await?)
                })
            })
            .await?;
        Ok(page.connection(
            rows,
            |p| AdminProductCursor {
                u: p.updated_at.timestamp_micros(),
                i: p.id,
            },
            AdminProduct,
        ))
    }

    /// Any product by ID, drafts and deleted ones included.
    #[graphql(
        guard = "RequirePermission(Permission::Catalog)",
        cache_control(private)
    )]
    async fn admin_product(&self, ctx: &Context<'_>, id: ID) -> Result<Option<AdminProduct>> {
        let id = expect_global(&id, "Product")?;
        let row = app(ctx)?
            .read(move |conn| {
                Box::pin(async move { Ok(model::Product::find_any(conn, id).await?) })
            })
            .await?;
        Ok(row.map(AdminProduct))
    }
}

/// A new product.
#[derive(InputObject)]
pub struct CreateProductInput {
    /// URL handle (lower-case letters, digits, dashes), unique.
    pub handle: String,
    /// Title.
    pub title: String,
    /// Subtitle.
    pub subtitle: Option<String>,
    /// Description.
    #[graphql(default)]
    pub description: String,
    /// Status (default DRAFT).
    #[graphql(default_with = "ProductStatus::Draft")]
    pub status: ProductStatus,
    /// Thumbnail URL.
    pub thumbnail: Option<String>,
    /// Collection.
    pub collection_id: Option<ID>,
    /// Categories.
    pub category_ids: Option<Vec<ID>>,
}

/// Changes to a product; omitted fields stay, `null` clears an optional one.
#[derive(InputObject)]
pub struct UpdateProductInput {
    /// URL handle.
    pub handle: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Subtitle.
    pub subtitle: MaybeUndefined<String>,
    /// Description.
    pub description: Option<String>,
    /// Status.
    pub status: Option<ProductStatus>,
    /// Thumbnail.
    pub thumbnail: MaybeUndefined<String>,
    /// Collection (`null` removes it).
    pub collection_id: MaybeUndefined<ID>,
    /// Replaces the categories.
    pub category_ids: Option<Vec<ID>>,
}

/// Staff product mutations.
#[derive(Default)]
pub struct ProductsMutation;

#[Object]
impl ProductsMutation {
    /// Creates a product (a draft unless `status` says otherwise).
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn create_product(
        &self,
        ctx: &Context<'_>,
        input: CreateProductInput,
    ) -> Result<AdminProduct> {
        let new = NewProduct {
            handle: input.handle,
            title: input.title,
            subtitle: input.subtitle,
            description: input.description,
            status: input.status.as_str().into(),
            thumbnail: input.thumbnail,
            collection_id: input
                .collection_id
                .map(|id| expect_global(&id, "Collection"))
                .transpose()?,
        };
        let categories = ids_of(input.category_ids, "Category")?;
        Ok(AdminProduct(
            service::create_product(app(ctx)?, new, categories).await?,
        ))
    }

    /// Updates a product.
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn update_product(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateProductInput,
    ) -> Result<AdminProduct> {
        let collection = input
            .collection_id
            .map_value(|id| expect_global(&id, "Collection"))
            .transpose()?
            .into();
        let changes = ProductChanges {
            handle: input.handle,
            title: input.title,
            subtitle: input.subtitle.into(),
            description: input.description,
            status: input.status.map(|s| s.as_str().to_owned()),
            thumbnail: input.thumbnail.into(),
            collection_id: collection,
            deleted_at: None,
        };
        let categories = ids_of(input.category_ids, "Category")?;
        Ok(AdminProduct(
            service::update_product(
                app(ctx)?,
                expect_global(&id, "Product")?,
                changes,
                categories,
            )
            .await?,
        ))
    }

    /// Makes a product visible in the store.
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn publish_product(&self, ctx: &Context<'_>, id: ID) -> Result<AdminProduct> {
        let changes = ProductChanges {
            status: Some(model::STATUS_PUBLISHED.into()),
            ..Default::default()
        };
        Ok(AdminProduct(
            service::update_product(app(ctx)?, expect_global(&id, "Product")?, changes, None)
                .await?,
        ))
    }

    /// Takes a product back to draft.
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn unpublish_product(&self, ctx: &Context<'_>, id: ID) -> Result<AdminProduct> {
        let changes = ProductChanges {
            status: Some("draft".into()),
            ..Default::default()
        };
        Ok(AdminProduct(
            service::update_product(app(ctx)?, expect_global(&id, "Product")?, changes, None)
                .await?,
        ))
    }

    /// Soft-deletes a product (it leaves the store at once; staff still see it).
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn delete_product(&self, ctx: &Context<'_>, id: ID) -> Result<AdminProduct> {
        let changes = ProductChanges {
            deleted_at: Some(Some(Utc::now())),
            ..Default::default()
        };
        Ok(AdminProduct(
            service::update_product(app(ctx)?, expect_global(&id, "Product")?, changes, None)
                .await?,
        ))
    }
}

/// Staff product image mutations.
#[derive(Default)]
pub struct ProductImagesMutation;

#[Object]
impl ProductImagesMutation {
    /// Uploads an image (JPEG, PNG, WebP, AVIF) and appends it to the product.
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn add_product_image(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        file: Upload,
        alt: Option<String>,
    ) -> Result<ProductImage> {
        let product_id = expect_global(&product_id, "Product")?;
        let url = crate::graphql::upload::store_image(ctx, file, "products").await?;
        let i = service::add_product_image(app(ctx)?, product_id, &url, alt.as_deref()).await?;
        Ok(ProductImage {
            id: to_global("ProductImage", i.id),
            url: i.url,
            alt: i.alt,
            rank: i.rank,
        })
    }

    /// Sets the image order (every image of the product, once).
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn reorder_product_images(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        image_ids: Vec<ID>,
    ) -> Result<bool> {
        let ids = expect_globals(&image_ids, "ProductImage")?;
        service::reorder_product_images(app(ctx)?, expect_global(&product_id, "Product")?, ids)
            .await?;
        Ok(true)
    }
}

/// A product change, as admin subscribers receive it.
#[derive(async_graphql::SimpleObject, Clone)]
pub struct ProductUpdatedEvent {
    /// This event's own ID.
    pub id: ID,
    /// The product (refetch it with `adminProduct(id)` or `node(id)`).
    pub product_id: ID,
    /// What happened.
    pub action: crate::events::ProductAction,
}

/// Live product changes for staff (catalog permission).
#[derive(Default)]
pub struct ProductsSubscription;

#[async_graphql::Subscription]
impl ProductsSubscription {
    /// Every product change (fields, variants, prices, images, status) on any instance.
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn product_updated(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl futures_util::Stream<Item = Result<ProductUpdatedEvent>> + use<>> {
        let rx = app(ctx)?.events.subscribe();
        Ok(crate::events::stream(rx, |event| match event {
            crate::events::DomainEvent::Product { id, action } => Some(ProductUpdatedEvent {
                id: event_id("ProductUpdatedEvent"),
                product_id: to_global("AdminProduct", *id),
                action: *action,
            }),
            _ => None,
        }))
    }
}
