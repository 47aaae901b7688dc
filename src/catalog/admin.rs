//! The staff side of the catalog: `CatalogAdminQuery` (drafts and deleted products included,
//! staff filters) and `CatalogMutation` (products, variants, prices, images, collections,
//! categories, regions). Every field requires the catalog permission; the services invalidate.

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, Result, Upload};
use chrono::{DateTime, Utc};

use super::graphql::{Category, Collection, ProductImage, ProductVariant, Region};
use super::model::{self, NewProduct, NewVariant, ProductChanges, VariantChanges};
use super::service::{self, CategoryChanges};
use crate::auth::{Permission, RequirePermission};
use crate::db::pagination::{PageRequest, decode_cursor, encode_cursor};
use crate::error::{AppError, AppResult, LoadResultExt};
use crate::graphql::context::{app, db, request_data};
use crate::graphql::ids::{expect_global, expect_globals, to_global};
use crate::graphql::scalars::MinorUnits;

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
    /// Global ID (the same as the store's).
    async fn id(&self) -> ID {
        to_global("Product", self.0.id)
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
        let loaders = request_data::<super::loaders::CatalogLoaders>(ctx)?;
        let rows = loaders.variants.load_one(self.0.id).await.gql()?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(ProductVariant::new)
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

/// Staff catalog queries.
#[derive(Default)]
pub struct CatalogAdminQuery;

#[Object]
impl CatalogAdminQuery {
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
        let after = page
            .after
            .as_deref()
            .map(decode_cursor::<AdminProductCursor>)
            .transpose()?;
        let after = after.map(|c| {
            (
                DateTime::from_timestamp_micros(c.u).unwrap_or_default(),
                c.i,
            )
        });
        let f = filter.unwrap_or_default();
        let search = f.search.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let rows = model::Product::admin_page(
            &mut *db(ctx).await?,
            f.status.map(ProductStatus::as_str),
            search,
            f.updated_since,
            f.include_deleted,
            after,
            page.limit,
        )
        .await
        .map_err(AppError::from)?;
        let (rows, has_previous, has_next) = page.finish(rows);
        let mut connection = Connection::new(has_previous, has_next);
        connection.edges.extend(rows.into_iter().map(|p| {
            let cursor = encode_cursor(&AdminProductCursor {
                u: p.updated_at.timestamp_micros(),
                i: p.id,
            });
            Edge::new(cursor, AdminProduct(p))
        }));
        Ok(connection)
    }

    /// Any product by ID, drafts and deleted ones included.
    #[graphql(
        guard = "RequirePermission(Permission::Catalog)",
        cache_control(private)
    )]
    async fn admin_product(&self, ctx: &Context<'_>, id: ID) -> Result<Option<AdminProduct>> {
        let row = model::Product::find_any(&mut *db(ctx).await?, expect_global(&id, "Product")?)
            .await
            .map_err(AppError::from)?;
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

/// A price in one currency.
#[derive(InputObject)]
pub struct PriceInput {
    /// ISO 4217 code.
    pub currency_code: String,
    /// Amount in minor units (not negative).
    pub amount: MinorUnits,
}

/// A new variant.
#[derive(InputObject)]
pub struct CreateVariantInput {
    /// Title.
    pub title: String,
    /// SKU, unique.
    pub sku: Option<String>,
    /// Units in stock.
    #[graphql(default)]
    pub inventory_quantity: i32,
    /// Track stock (default true).
    #[graphql(default = true)]
    pub manage_inventory: bool,
    /// Sell when out of stock.
    #[graphql(default)]
    pub allow_backorder: bool,
    /// Display order.
    #[graphql(default)]
    pub rank: i32,
    /// Prices, one per currency.
    #[graphql(default)]
    pub prices: Vec<PriceInput>,
}

/// Changes to a variant.
#[derive(InputObject)]
pub struct UpdateVariantInput {
    /// Title.
    pub title: Option<String>,
    /// SKU (`null` clears it).
    pub sku: MaybeUndefined<String>,
    /// Units in stock.
    pub inventory_quantity: Option<i32>,
    /// Track stock.
    pub manage_inventory: Option<bool>,
    /// Sell when out of stock.
    pub allow_backorder: Option<bool>,
    /// Display order.
    pub rank: Option<i32>,
    /// Replaces every price.
    pub prices: Option<Vec<PriceInput>>,
}

fn maybe<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

fn prices(input: Vec<PriceInput>) -> Vec<(String, i64)> {
    input
        .into_iter()
        .map(|p| (p.currency_code, p.amount.0))
        .collect()
}

fn ids_of(ids: Option<Vec<ID>>, kind: &str) -> AppResult<Option<Vec<i64>>> {
    ids.map(|ids| expect_globals(&ids, kind)).transpose()
}

/// Staff catalog mutations.
#[derive(Default)]
pub struct CatalogMutation;

#[Object]
impl CatalogMutation {
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
        let collection = match input.collection_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(id) => Some(Some(expect_global(&id, "Collection")?)),
        };
        let changes = ProductChanges {
            handle: input.handle,
            title: input.title,
            subtitle: maybe(input.subtitle),
            description: input.description,
            status: input.status.map(|s| s.as_str().to_owned()),
            thumbnail: maybe(input.thumbnail),
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

    /// Adds a variant with its prices.
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn create_product_variant(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        input: CreateVariantInput,
    ) -> Result<ProductVariant> {
        let new = NewVariant {
            product_id: expect_global(&product_id, "Product")?,
            title: input.title,
            sku: input.sku,
            inventory_quantity: input.inventory_quantity,
            manage_inventory: input.manage_inventory,
            allow_backorder: input.allow_backorder,
            rank: input.rank,
        };
        Ok(ProductVariant::new(
            service::create_variant(app(ctx)?, new, prices(input.prices)).await?,
        ))
    }

    /// Updates a variant (and replaces its prices when given).
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn update_product_variant(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateVariantInput,
    ) -> Result<ProductVariant> {
        let changes = VariantChanges {
            title: input.title,
            sku: maybe(input.sku),
            inventory_quantity: input.inventory_quantity,
            manage_inventory: input.manage_inventory,
            allow_backorder: input.allow_backorder,
            rank: input.rank,
            deleted_at: None,
        };
        let id = expect_global(&id, "ProductVariant")?;
        Ok(ProductVariant::new(
            service::update_variant(app(ctx)?, id, changes, input.prices.map(prices)).await?,
        ))
    }

    /// Sets a variant's stock.
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn set_variant_inventory(
        &self,
        ctx: &Context<'_>,
        id: ID,
        quantity: i32,
    ) -> Result<ProductVariant> {
        let changes = VariantChanges {
            inventory_quantity: Some(quantity),
            ..Default::default()
        };
        let id = expect_global(&id, "ProductVariant")?;
        Ok(ProductVariant::new(
            service::update_variant(app(ctx)?, id, changes, None).await?,
        ))
    }

    /// Soft-deletes a variant.
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn delete_product_variant(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let changes = VariantChanges {
            deleted_at: Some(Some(Utc::now())),
            ..Default::default()
        };
        service::update_variant(
            app(ctx)?,
            expect_global(&id, "ProductVariant")?,
            changes,
            None,
        )
        .await?;
        Ok(id)
    }

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

    /// Creates a collection.
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn create_collection(
        &self,
        ctx: &Context<'_>,
        handle: String,
        title: String,
        description: Option<String>,
    ) -> Result<Collection> {
        let c = service::create_collection(
            app(ctx)?,
            &handle,
            &title,
            description.as_deref().unwrap_or(""),
        )
        .await?;
        Ok(Collection(Arc::new(c)))
    }

    /// Updates a collection.
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn update_collection(
        &self,
        ctx: &Context<'_>,
        id: ID,
        handle: Option<String>,
        title: Option<String>,
        description: Option<String>,
    ) -> Result<Collection> {
        let id = expect_global(&id, "Collection")?;
        let c = service::update_collection(
            app(ctx)?,
            id,
            handle.as_deref(),
            title.as_deref(),
            description.as_deref(),
        )
        .await?;
        Ok(Collection(Arc::new(c)))
    }

    /// Deletes a collection (its products stay, without a collection).
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn delete_collection(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        service::delete_collection(app(ctx)?, expect_global(&id, "Collection")?).await?;
        Ok(id)
    }

    /// Creates a category (top level without `parentId`).
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn create_category(
        &self,
        ctx: &Context<'_>,
        handle: String,
        name: String,
        parent_id: Option<ID>,
        #[graphql(default)] rank: i32,
        #[graphql(default = true)] is_active: bool,
    ) -> Result<Category> {
        let parent = parent_id
            .map(|id| expect_global(&id, "Category"))
            .transpose()?;
        Ok(Category(Arc::new(
            service::create_category(app(ctx)?, &handle, &name, parent, rank, is_active).await?,
        )))
    }

    /// Updates a category: rename, reorder (`rank`), (de)activate, or move (`parentId`, `null`
    /// for the top level); a move under itself or a descendant is refused.
    #[allow(clippy::too_many_arguments)]
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn update_category(
        &self,
        ctx: &Context<'_>,
        id: ID,
        handle: Option<String>,
        name: Option<String>,
        description: Option<String>,
        parent_id: MaybeUndefined<ID>,
        rank: Option<i32>,
        is_active: Option<bool>,
    ) -> Result<AdminCategory> {
        let parent_id = match parent_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(p) => Some(Some(expect_global(&p, "Category")?)),
        };
        let changes = CategoryChanges {
            handle,
            name,
            description,
            parent_id,
            rank,
            is_active,
        };
        Ok(AdminCategory(
            service::update_category(app(ctx)?, expect_global(&id, "Category")?, changes).await?,
        ))
    }

    /// Deletes a category without children.
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn delete_category(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        service::delete_category(app(ctx)?, expect_global(&id, "Category")?).await?;
        Ok(id)
    }

    /// Creates a region.
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn create_region(
        &self,
        ctx: &Context<'_>,
        name: String,
        currency_code: String,
        countries: Vec<String>,
        #[graphql(default)] tax_rate_bps: i32,
    ) -> Result<Region> {
        Ok(Region(Arc::new(
            service::create_region(app(ctx)?, &name, &currency_code, countries, tax_rate_bps)
                .await?,
        )))
    }

    /// Updates a region.
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn update_region(
        &self,
        ctx: &Context<'_>,
        id: ID,
        name: Option<String>,
        currency_code: Option<String>,
        countries: Option<Vec<String>>,
        tax_rate_bps: Option<i32>,
    ) -> Result<Region> {
        let id = expect_global(&id, "Region")?;
        Ok(Region(Arc::new(
            service::update_region(app(ctx)?, id, name, currency_code, countries, tax_rate_bps)
                .await?,
        )))
    }

    /// Deletes a region.
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn delete_region(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        service::delete_region(app(ctx)?, expect_global(&id, "Region")?).await?;
        Ok(id)
    }
}

/// A category as staff see it (inactive ones included).
pub struct AdminCategory(pub model::Category);

#[Object(cache_control(private))]
impl AdminCategory {
    /// Global ID.
    async fn id(&self) -> ID {
        to_global("Category", self.0.id)
    }
    /// Handle.
    async fn handle(&self) -> &str {
        &self.0.handle
    }
    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Parent.
    async fn parent_id(&self) -> Option<ID> {
        self.0.parent_id.map(|id| to_global("Category", id))
    }
    /// Position among siblings.
    async fn rank(&self) -> i32 {
        self.0.rank
    }
    /// Whether the store shows it.
    async fn is_active(&self) -> bool {
        self.0.is_active
    }
}

/// A product change, as admin subscribers receive it.
#[derive(async_graphql::SimpleObject, Clone)]
pub struct ProductUpdatedEvent {
    /// The product.
    pub id: ID,
    /// What happened.
    pub action: crate::events::ProductAction,
}

/// Live product changes for staff (catalog permission).
#[derive(Default)]
pub struct CatalogSubscription;

#[async_graphql::Subscription]
impl CatalogSubscription {
    /// Every product change (fields, variants, prices, images, status) on any instance.
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn product_updated(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl futures_util::Stream<Item = Result<ProductUpdatedEvent>> + use<>> {
        let rx = app(ctx)?.events.subscribe();
        Ok(crate::events::stream(rx, |event| match event {
            crate::events::DomainEvent::Product { id, action } => Some(ProductUpdatedEvent {
                id: to_global("Product", *id),
                action: *action,
            }),
            _ => None,
        }))
    }
}
