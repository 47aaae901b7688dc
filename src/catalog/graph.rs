//! The store's catalog object graph: `Product`, `ProductVariant`, `Collection` and `Category`
//! refer to each other (a product's collection lists products, a variant knows its product), so
//! their GraphQL types live together here and the entity modules around them stay acyclic. Every
//! relation goes through the request's `CatalogLoaders`, so lists never cause N+1 queries.

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::categories::model as category_model;
use super::collections::model as collection_model;
use super::loaders::{ProductCountKey, ProductPageKey, loaders};
use super::money::{CalculatedPrice, Money, PriceRange, calculated};
use super::products::connection::{
    CountSource, ProductArgs, ProductConnectionFields, ProductFilterInput, ProductSortInput,
};
use super::products::listing::{ListedProduct, Partition, ProductQuery};
use super::products::model;
use super::regions::graphql::region_or_inherited;
use super::regions::model::Region;
use super::variants::model as variant_model;
use crate::db::pagination::PageRequest;
use crate::error::{AppError, AppResult, LoadResultExt};
use crate::graphql::ids::to_global;
use crate::locales::fields::{EntityKind, Localized, Translation, pick, pick_opt};
use crate::locales::graphql::{FieldLocale, field_locales};

/// A product as the storefront sees it, in the request's language.
#[derive(Clone)]
pub struct Product {
    row: Arc<model::Product>,
    translation: Option<Arc<Translation>>,
    /// Region the product was requested in; the default for its variants' prices.
    region: Option<Arc<Region>>,
}

impl Product {
    /// Wraps a row (with its translation) with the region it was requested in.
    pub fn new(row: Localized<model::Product>, region: Option<Arc<Region>>) -> Self {
        Self {
            row: Arc::new(row.row),
            translation: row.translation.map(Arc::new),
            region,
        }
    }

    fn text<'a>(&'a self, field: &str, own: &'a str) -> &'a str {
        pick(self.translation.as_deref(), field, own)
    }
}

#[Object(cache_control(max_age = 300))]
impl Product {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global("Product", self.row.id)
    }
    /// URL handle, unique.
    async fn handle(&self) -> &str {
        &self.row.handle
    }
    /// Title.
    async fn title(&self) -> &str {
        self.text("title", &self.row.title)
    }
    /// Optional subtitle.
    async fn subtitle(&self) -> Option<&str> {
        pick_opt(
            self.translation.as_deref(),
            "subtitle",
            self.row.subtitle.as_deref(),
        )
    }
    /// Long description (plain text).
    async fn description(&self) -> &str {
        self.text("description", &self.row.description)
    }
    /// Which locale each translatable field (title, subtitle, description) is in: the
    /// request's where translated, else the default's.
    async fn field_locales(&self, ctx: &Context<'_>) -> Vec<FieldLocale> {
        field_locales(ctx, EntityKind::Product, self.translation.as_deref())
    }
    /// Thumbnail image URL.
    async fn thumbnail(&self) -> Option<&str> {
        self.row.thumbnail.as_deref()
    }
    /// When the product was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// When the product last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
    /// The collection the product belongs to.
    async fn collection(&self, ctx: &Context<'_>) -> Result<Option<Collection>> {
        let Some(id) = self.row.collection_id else {
            return Ok(None);
        };
        let row = loaders(ctx)?.collection.load_one(id).await.gql()?;
        Ok(row.map(|r| Collection(Arc::new(r))))
    }
    /// Active categories the product is in.
    async fn categories(&self, ctx: &Context<'_>) -> Result<Vec<Category>> {
        let rows = loaders(ctx)?
            .product_categories
            .load_one(self.row.id)
            .await
            .gql()?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(|r| Category(Arc::new(r)))
            .collect())
    }
    /// Purchasable variants, by rank.
    async fn variants(&self, ctx: &Context<'_>) -> Result<Vec<ProductVariant>> {
        let rows = loaders(ctx)?.variants.load_one(self.row.id).await.gql()?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(|v| ProductVariant::localized(v, self.region.clone()))
            .collect())
    }
    /// Options (Size, Colour) with their values.
    async fn options(&self, ctx: &Context<'_>) -> Result<Vec<ProductOption>> {
        let rows = loaders(ctx)?.options.load_one(self.row.id).await.gql()?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(|o| {
                let t = o.translation.as_ref();
                ProductOption {
                    id: to_global("ProductOption", o.option.id),
                    title: pick(t, "title", &o.option.title).to_owned(),
                    values: o
                        .values
                        .iter()
                        .map(|v| {
                            t.and_then(|t| t.value_of(&v.value))
                                .unwrap_or(&v.value)
                                .to_owned()
                        })
                        .collect(),
                    translation: o.translation.clone(),
                }
            })
            .collect())
    }
    /// Images, by rank.
    async fn images(&self, ctx: &Context<'_>) -> Result<Vec<ProductImage>> {
        let rows = loaders(ctx)?.images.load_one(self.row.id).await.gql()?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(|i| ProductImage {
                id: to_global("ProductImage", i.id),
                url: i.url,
                alt: i.alt,
                rank: i.rank,
            })
            .collect())
    }
    /// Lowest and highest variant price in the region (`regionId`, or the one the product was
    /// requested in); null when no variant is priced there.
    async fn price_range(
        &self,
        ctx: &Context<'_>,
        region_id: Option<ID>,
    ) -> Result<Option<PriceRange>> {
        let Some(region) = region_or_inherited(ctx, region_id.as_ref(), &self.region).await? else {
            return Err(AppError::bad_input("`regionId` is required to price a product").into());
        };
        let l = loaders(ctx)?;
        let variants = l
            .variants
            .load_one(self.row.id)
            .await
            .gql()?
            .unwrap_or_default();
        let prices = l
            .prices
            .load_many(variants.iter().map(|v| v.row.id))
            .await
            .gql()?;
        let amounts = prices
            .values()
            .flatten()
            .filter(|p| p.currency_code == region.currency_code)
            .map(|p| p.amount);
        let (min, max) = amounts.fold((None, None), |(lo, hi): (Option<i64>, Option<i64>), a| {
            (
                Some(lo.map_or(a, |l| l.min(a))),
                Some(hi.map_or(a, |h| h.max(a))),
            )
        });
        Ok(min.zip(max).map(|(min, max)| PriceRange {
            min: Money::new(min, &region.currency_code),
            max: Money::new(max, &region.currency_code),
        }))
    }
}

/// A product option and its values.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct ProductOption {
    /// Global ID.
    pub id: ID,
    /// Option name (Size).
    pub title: String,
    /// Values in display order (S, M, L).
    pub values: Vec<String>,
    #[graphql(skip)]
    pub translation: Option<Translation>,
}

#[async_graphql::ComplexObject]
impl ProductOption {
    /// Which locale each translatable field (title, values) is in.
    async fn field_locales(&self, ctx: &Context<'_>) -> Vec<FieldLocale> {
        field_locales(ctx, EntityKind::Option, self.translation.as_ref())
    }
}

/// A product image.
#[derive(SimpleObject, Clone, Debug)]
pub struct ProductImage {
    /// Global ID.
    pub id: ID,
    /// Public URL.
    pub url: String,
    /// Alternative text.
    pub alt: Option<String>,
    /// Display order.
    pub rank: i32,
}

/// The value a variant has for one option.
#[derive(SimpleObject, Clone, Debug)]
pub struct VariantOption {
    /// Option name (Size).
    pub option: String,
    /// Value (M).
    pub value: String,
}

/// A purchasable variant, in the request's language.
#[derive(Clone)]
pub struct ProductVariant {
    row: Arc<variant_model::Variant>,
    translation: Option<Arc<Translation>>,
    region: Option<Arc<Region>>,
}

impl ProductVariant {
    /// Wraps a variant row (the catalog's own text: staff answers).
    pub fn new(row: variant_model::Variant) -> Self {
        Self::localized(
            Localized {
                row,
                translation: None,
            },
            None,
        )
    }

    /// Wraps a variant row with its translation, listed under a product requested in `region`
    /// (its default for prices).
    pub fn localized(row: Localized<variant_model::Variant>, region: Option<Arc<Region>>) -> Self {
        Self {
            row: Arc::new(row.row),
            translation: row.translation.map(Arc::new),
            region,
        }
    }
}

#[Object(cache_control(max_age = 300))]
impl ProductVariant {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global("ProductVariant", self.row.id)
    }
    /// Title (e.g. "M / Blue").
    async fn title(&self) -> &str {
        pick(self.translation.as_deref(), "title", &self.row.title)
    }
    /// Which locale each translatable field (title) is in.
    async fn field_locales(&self, ctx: &Context<'_>) -> Vec<FieldLocale> {
        field_locales(ctx, EntityKind::Variant, self.translation.as_deref())
    }
    /// Stock keeping unit.
    async fn sku(&self) -> Option<&str> {
        self.row.sku.as_deref()
    }
    /// Units in stock (meaningful when `manageInventory`).
    async fn inventory_quantity(&self) -> i32 {
        self.row.inventory_quantity
    }
    /// Whether stock is tracked for this variant.
    async fn manage_inventory(&self) -> bool {
        self.row.manage_inventory
    }
    /// Whether it may be ordered when out of stock.
    async fn allow_backorder(&self) -> bool {
        self.row.allow_backorder
    }
    /// Whether it can be added to a cart now.
    async fn in_stock(&self) -> bool {
        !self.row.manage_inventory || self.row.allow_backorder || self.row.inventory_quantity > 0
    }
    /// The option values this variant carries.
    async fn options(&self, ctx: &Context<'_>) -> Result<Vec<VariantOption>> {
        let rows = loaders(ctx)?
            .variant_options
            .load_one(self.row.id)
            .await
            .gql()?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(|(option, value)| VariantOption { option, value })
            .collect())
    }
    /// Price in the region's currency (`regionId`, or the region the product was requested in);
    /// null when not priced there.
    async fn price(&self, ctx: &Context<'_>, region_id: Option<ID>) -> Result<Option<Money>> {
        Ok(self
            .region_amount(ctx, region_id)
            .await?
            .map(|(amount, region)| Money::new(amount, &region.currency_code)))
    }
    /// Price with the region's tax applied; null when not priced there.
    async fn calculated_price(
        &self,
        ctx: &Context<'_>,
        region_id: Option<ID>,
    ) -> Result<Option<CalculatedPrice>> {
        Ok(self
            .region_amount(ctx, region_id)
            .await?
            .map(|(amount, region)| calculated(amount, &region)))
    }
    /// Prices in every currency.
    async fn prices(&self, ctx: &Context<'_>) -> Result<Vec<Money>> {
        let rows = loaders(ctx)?.prices.load_one(self.row.id).await.gql()?;
        Ok(rows
            .unwrap_or_default()
            .iter()
            .map(|p| Money::new(p.amount, &p.currency_code))
            .collect())
    }
    /// The product this variant belongs to.
    async fn product(&self, ctx: &Context<'_>) -> Result<Option<Product>> {
        let row = loaders(ctx)?
            .product
            .load_one(self.row.product_id)
            .await
            .gql()?;
        Ok(row.map(|r| Product::new(r, self.region.clone())))
    }
}

impl ProductVariant {
    async fn region_amount(
        &self,
        ctx: &Context<'_>,
        region_id: Option<ID>,
    ) -> AppResult<Option<(i64, Arc<Region>)>> {
        let Some(region) = region_or_inherited(ctx, region_id.as_ref(), &self.region).await? else {
            return Err(AppError::bad_input(
                "`regionId` is required to price a variant",
            ));
        };
        let prices = loaders(ctx)?
            .prices
            .load_one(self.row.id)
            .await
            .map_err(|e| e.shared())?;
        let amount = prices
            .unwrap_or_default()
            .into_iter()
            .find(|p| p.currency_code == region.currency_code);
        Ok(amount.map(|p| (p.amount, region)))
    }
}

/// A curated collection, in the request's language.
pub struct Collection(pub Arc<Localized<collection_model::Collection>>);

impl Collection {
    /// A collection row as the catalog has it (staff answers).
    pub fn plain(row: collection_model::Collection) -> Self {
        Self(Arc::new(Localized {
            row,
            translation: None,
        }))
    }
}

#[Object(cache_control(max_age = 300))]
impl Collection {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global("Collection", self.0.row.id)
    }
    /// URL handle, unique.
    async fn handle(&self) -> &str {
        &self.0.row.handle
    }
    /// Title.
    async fn title(&self) -> &str {
        self.0.text("title", &self.0.row.title)
    }
    /// Description.
    async fn description(&self) -> &str {
        self.0.text("description", &self.0.row.description)
    }
    /// Which locale each translatable field (title, description) is in.
    async fn field_locales(&self, ctx: &Context<'_>) -> Vec<FieldLocale> {
        field_locales(ctx, EntityKind::Collection, self.0.translation.as_ref())
    }
    /// The collection's store-visible products.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::graphql::cost::connection_cost(first, last, child_complexity)")]
    async fn products(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<ProductFilterInput>,
        sort: Option<ProductSortInput>,
        region_id: Option<ID>,
    ) -> Result<ProductConnection> {
        let args = ProductArgs {
            first,
            after,
            last,
            before,
            filter,
            sort,
            region_id,
        };
        Ok(nested_products(ctx, args, Partition::Collection, self.0.row.id).await?)
    }
}

/// A node of the category tree, in the request's language.
pub struct Category(pub Arc<Localized<category_model::Category>>);

impl Category {
    /// A category row as the catalog has it (staff answers).
    pub fn plain(row: category_model::Category) -> Self {
        Self(Arc::new(Localized {
            row,
            translation: None,
        }))
    }
}

#[Object(cache_control(max_age = 300))]
impl Category {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global("Category", self.0.row.id)
    }
    /// URL handle, unique.
    async fn handle(&self) -> &str {
        &self.0.row.handle
    }
    /// Display name.
    async fn name(&self) -> &str {
        self.0.text("name", &self.0.row.name)
    }
    /// Description.
    async fn description(&self) -> &str {
        self.0.text("description", &self.0.row.description)
    }
    /// Which locale each translatable field (name, description) is in.
    async fn field_locales(&self, ctx: &Context<'_>) -> Vec<FieldLocale> {
        field_locales(ctx, EntityKind::Category, self.0.translation.as_ref())
    }
    /// Position among its siblings.
    async fn rank(&self) -> i32 {
        self.0.row.rank
    }
    /// The parent category; null at the top level.
    async fn parent(&self, ctx: &Context<'_>) -> Result<Option<Category>> {
        let Some(id) = self.0.row.parent_id else {
            return Ok(None);
        };
        let row = loaders(ctx)?.category.load_one(id).await.gql()?;
        Ok(row.map(|r| Category(Arc::new(r))))
    }
    /// Active child categories, by rank.
    async fn children(&self, ctx: &Context<'_>) -> Result<Vec<Category>> {
        let rows = loaders(ctx)?
            .category_children
            .load_one(self.0.row.id)
            .await
            .gql()?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(|r| Category(Arc::new(r)))
            .collect())
    }
    /// Store-visible products in this category or any of its descendants.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::graphql::cost::connection_cost(first, last, child_complexity)")]
    async fn products(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<ProductFilterInput>,
        sort: Option<ProductSortInput>,
        region_id: Option<ID>,
    ) -> Result<ProductConnection> {
        let args = ProductArgs {
            first,
            after,
            last,
            before,
            filter,
            sort,
            region_id,
        };
        Ok(nested_products(ctx, args, Partition::Category, self.0.row.id).await?)
    }
}

/// A Relay connection of products.
pub type ProductConnection = Connection<String, Product, ProductConnectionFields>;

pub fn build_connection(
    query: &ProductQuery,
    page: &PageRequest,
    rows: Vec<ListedProduct>,
    region: Option<Arc<Region>>,
    count: CountSource,
) -> ProductConnection {
    let (rows, has_previous, has_next) = page.finish(rows);
    let mut connection = Connection::with_additional_fields(
        has_previous,
        has_next,
        ProductConnectionFields { count },
    );
    connection.edges.extend(rows.into_iter().map(|r| {
        let cursor = r.cursor(query);
        let row = Localized {
            row: r.product,
            translation: Translation::from_column(r.translation),
        };
        Edge::new(cursor, Product::new(row, region.clone()))
    }));
    connection
}

pub async fn nested_products(
    ctx: &Context<'_>,
    args: ProductArgs,
    partition: Partition,
    parent_id: i64,
) -> AppResult<ProductConnection> {
    let (query, page, region) = args.resolve(ctx).await?;
    // Validate cursors here: the batched loader would otherwise fail the whole batch.
    query.check_cursors(&page)?;
    let key = ProductPageKey {
        partition,
        parent_id,
        query: query.clone(),
        page: page.clone(),
    };
    let rows = loaders(ctx)?
        .product_pages
        .load_one(key)
        .await
        .map_err(|e| e.shared())?;
    let count = CountSource::Nested(ProductCountKey {
        partition,
        parent_id,
        query: query.clone(),
    });
    Ok(build_connection(
        &query,
        &page,
        rows.unwrap_or_default(),
        region,
        count,
    ))
}
