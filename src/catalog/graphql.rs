//! GraphQL types of the catalog (wrappers over `model` rows) and the store's `CatalogQuery`.
//! Relations go through the request's `CatalogLoaders`, so lists never cause N+1 queries.

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::listing::{Partition, ProductFilter, ProductQuery, Sort, SortKey};
use super::loaders::{CatalogLoaders, ProductCountKey, ProductPageKey};
use super::model;
use super::service;
use crate::db::pagination::{PageRequest, decode_cursor, encode_cursor};
use crate::error::{AppError, AppResult, LoadResultExt};
use crate::graphql::context::{app, request_data};
use crate::graphql::ids::{expect_global, expect_globals, to_global};
use crate::graphql::scalars::MinorUnits;

fn loaders<'a>(ctx: &Context<'a>) -> AppResult<&'a CatalogLoaders> {
    request_data::<CatalogLoaders>(ctx)
}

/// Decimal places of a currency's minor unit (ISO 4217); 2 unless listed.
fn currency_exponent(code: &str) -> u32 {
    match code {
        "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "UGX" => 0,
        "BHD" | "KWD" | "OMR" | "JOD" | "TND" => 3,
        _ => 2,
    }
}

/// Formats minor units as a decimal string in the currency's exponent ("1299.00").
fn decimal_string(amount: i64, currency: &str) -> String {
    let exp = currency_exponent(currency);
    if exp == 0 {
        return amount.to_string();
    }
    let scale = 10i64.pow(exp);
    let sign = if amount < 0 { "-" } else { "" };
    let abs = amount.unsigned_abs();
    let scale = scale.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = exp as usize
    )
}

/// An amount of money.
#[derive(SimpleObject, Clone, Debug)]
pub struct Money {
    /// Integer amount in minor units (paise, cents).
    pub amount: MinorUnits,
    /// ISO 4217 currency code.
    pub currency_code: String,
    /// The amount in major units as a decimal string, e.g. `"1299.00"`; never a float.
    pub decimal: String,
}

impl Money {
    fn new(amount: i64, currency: &str) -> Self {
        Self {
            amount: MinorUnits(amount),
            currency_code: currency.to_owned(),
            decimal: decimal_string(amount, currency),
        }
    }
}

/// A price with the region's tax applied (prices are stored tax-exclusive).
#[derive(SimpleObject, Clone, Debug)]
pub struct CalculatedPrice {
    /// Price before tax.
    pub subtotal: Money,
    /// Tax at the region's rate, rounded half up to the minor unit.
    pub tax: Money,
    /// Price including tax.
    pub total: Money,
    /// The region's tax rate in basis points (1800 = 18 %).
    pub tax_rate_bps: i32,
}

fn calculated(amount: i64, region: &model::Region) -> CalculatedPrice {
    let rate = i128::from(region.tax_rate_bps);
    let tax = ((i128::from(amount) * rate + 5_000) / 10_000) as i64;
    let cur = &region.currency_code;
    CalculatedPrice {
        subtotal: Money::new(amount, cur),
        tax: Money::new(tax, cur),
        total: Money::new(amount.saturating_add(tax), cur),
        tax_rate_bps: region.tax_rate_bps,
    }
}

/// A sales region: currency, countries, tax.
pub struct Region(pub Arc<model::Region>);

#[Object(cache_control(max_age = 3600))]
impl Region {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global("Region", self.0.id)
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// ISO 4217 currency of all prices in this region.
    async fn currency_code(&self) -> &str {
        &self.0.currency_code
    }
    /// ISO 3166-1 alpha-2 country codes served by this region.
    async fn countries(&self) -> &[String] {
        &self.0.countries
    }
    /// Tax rate in basis points (1800 = 18 %).
    async fn tax_rate_bps(&self) -> i32 {
        self.0.tax_rate_bps
    }
}

/// Resolves an optional `regionId` argument; unknown regions are a client error.
async fn region_arg(
    ctx: &Context<'_>,
    region_id: Option<&ID>,
) -> AppResult<Option<Arc<model::Region>>> {
    let Some(id) = region_id else { return Ok(None) };
    let key = expect_global(id, "Region")?;
    let region = loaders(ctx)?
        .region
        .load_one(key)
        .await
        .map_err(|e| e.shared())?;
    region
        .map(Arc::new)
        .map(Some)
        .ok_or_else(|| AppError::bad_input(format!("unknown regionId `{}`", id.as_str())))
}

/// A product as the storefront sees it.
#[derive(Clone)]
pub struct Product {
    row: Arc<model::Product>,
    /// Region the product was requested in; the default for its variants' prices.
    region: Option<Arc<model::Region>>,
}

impl Product {
    /// Wraps a row with the region it was requested in.
    pub fn new(row: model::Product, region: Option<Arc<model::Region>>) -> Self {
        Self {
            row: Arc::new(row),
            region,
        }
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
        &self.row.title
    }
    /// Optional subtitle.
    async fn subtitle(&self) -> Option<&str> {
        self.row.subtitle.as_deref()
    }
    /// Long description (plain text).
    async fn description(&self) -> &str {
        &self.row.description
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
            .map(|v| ProductVariant {
                row: Arc::new(v),
                region: self.region.clone(),
            })
            .collect())
    }
    /// Options (Size, Colour) with their values.
    async fn options(&self, ctx: &Context<'_>) -> Result<Vec<ProductOption>> {
        let rows = loaders(ctx)?.options.load_one(self.row.id).await.gql()?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(|(o, values)| ProductOption {
                id: to_global("ProductOption", o.id),
                title: o.title,
                values: values.into_iter().map(|v| v.value).collect(),
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
            .load_many(variants.iter().map(|v| v.id))
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

async fn region_or_inherited(
    ctx: &Context<'_>,
    region_id: Option<&ID>,
    inherited: &Option<Arc<model::Region>>,
) -> AppResult<Option<Arc<model::Region>>> {
    match region_id {
        Some(_) => region_arg(ctx, region_id).await,
        None => Ok(inherited.clone()),
    }
}

/// The span of a product's variant prices in one currency.
#[derive(SimpleObject, Clone, Debug)]
pub struct PriceRange {
    /// Lowest variant price.
    pub min: Money,
    /// Highest variant price.
    pub max: Money,
}

/// A product option and its values.
#[derive(SimpleObject, Clone, Debug)]
pub struct ProductOption {
    /// Global ID.
    pub id: ID,
    /// Option name (Size).
    pub title: String,
    /// Values in display order (S, M, L).
    pub values: Vec<String>,
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

/// A purchasable variant.
#[derive(Clone)]
pub struct ProductVariant {
    row: Arc<model::Variant>,
    region: Option<Arc<model::Region>>,
}

impl ProductVariant {
    /// Wraps a variant row.
    pub fn new(row: model::Variant) -> Self {
        Self {
            row: Arc::new(row),
            region: None,
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
        &self.row.title
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
    ) -> AppResult<Option<(i64, Arc<model::Region>)>> {
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

/// A curated collection.
pub struct Collection(pub Arc<model::Collection>);

#[Object(cache_control(max_age = 300))]
impl Collection {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global("Collection", self.0.id)
    }
    /// URL handle, unique.
    async fn handle(&self) -> &str {
        &self.0.handle
    }
    /// Title.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Description.
    async fn description(&self) -> &str {
        &self.0.description
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
        Ok(nested_products(ctx, args, Partition::Collection, self.0.id).await?)
    }
}

/// A node of the category tree.
pub struct Category(pub Arc<model::Category>);

#[Object(cache_control(max_age = 300))]
impl Category {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global("Category", self.0.id)
    }
    /// URL handle, unique.
    async fn handle(&self) -> &str {
        &self.0.handle
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Description.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Position among its siblings.
    async fn rank(&self) -> i32 {
        self.0.rank
    }
    /// The parent category; null at the top level.
    async fn parent(&self, ctx: &Context<'_>) -> Result<Option<Category>> {
        let Some(id) = self.0.parent_id else {
            return Ok(None);
        };
        let row = loaders(ctx)?.category.load_one(id).await.gql()?;
        Ok(row.map(|r| Category(Arc::new(r))))
    }
    /// Active child categories, by rank.
    async fn children(&self, ctx: &Context<'_>) -> Result<Vec<Category>> {
        let rows = loaders(ctx)?
            .category_children
            .load_one(self.0.id)
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
        Ok(nested_products(ctx, args, Partition::Category, self.0.id).await?)
    }
}

/// Server-side filters for product listings; all given filters must match.
#[derive(InputObject, Default, Clone, Debug)]
pub struct ProductFilterInput {
    /// In any of these collections.
    pub collection_ids: Option<Vec<ID>>,
    /// In any of these categories or their descendants.
    pub category_ids: Option<Vec<ID>>,
    /// Free text over title and description; every word must match.
    pub search: Option<String>,
    /// Only these products.
    pub ids: Option<Vec<ID>>,
    /// Only these handles.
    pub handles: Option<Vec<String>>,
    /// Some variant priced within this range in the region's currency (requires `regionId`).
    pub price: Option<PriceRangeInput>,
}

/// An inclusive price range in minor units.
#[derive(InputObject, Clone, Debug)]
pub struct PriceRangeInput {
    /// Lowest price, inclusive.
    pub min: Option<MinorUnits>,
    /// Highest price, inclusive.
    pub max: Option<MinorUnits>,
}

/// What to sort products by.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum ProductSortField {
    /// Creation time.
    #[default]
    CreatedAt,
    /// Title.
    Title,
    /// Lowest variant price in the region's currency (requires `regionId`); unpriced last.
    Price,
}

/// Sort direction.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum SortDirection {
    /// Ascending.
    #[default]
    Asc,
    /// Descending.
    Desc,
}

/// A product sort.
#[derive(InputObject, Clone, Copy, Debug, Default)]
pub struct ProductSortInput {
    /// Sort key.
    #[graphql(default)]
    pub field: ProductSortField,
    /// Direction.
    #[graphql(default)]
    pub direction: SortDirection,
}

/// Extra fields of `ProductConnection`.
pub struct ProductConnectionFields {
    count: CountSource,
}

enum CountSource {
    Root(ProductQuery),
    Nested(ProductCountKey),
}

#[Object]
impl ProductConnectionFields {
    /// Number of matching products, exact up to 10,000 (reported as 10,000 beyond). Only
    /// computed when selected.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
        match &self.count {
            CountSource::Root(query) => Ok(service::count_products(app(ctx)?, query).await?),
            CountSource::Nested(key) => Ok(loaders(ctx)?
                .product_counts
                .load_one(key.clone())
                .await
                .gql()?
                .unwrap_or(0)),
        }
    }
}

/// A Relay connection of products.
pub type ProductConnection = Connection<String, Product, ProductConnectionFields>;

/// Arguments shared by every product listing field.
pub struct ProductArgs {
    /// Page size, forward.
    pub first: Option<i32>,
    /// Exclusive start cursor.
    pub after: Option<String>,
    /// Page size, backward.
    pub last: Option<i32>,
    /// Exclusive end cursor.
    pub before: Option<String>,
    /// Filters.
    pub filter: Option<ProductFilterInput>,
    /// Sort.
    pub sort: Option<ProductSortInput>,
    /// Region for prices (and required by price sort/filters).
    pub region_id: Option<ID>,
}

impl ProductArgs {
    async fn resolve(
        self,
        ctx: &Context<'_>,
    ) -> AppResult<(ProductQuery, PageRequest, Option<Arc<model::Region>>)> {
        let page = PageRequest::new(self.first, self.after, self.last, self.before)?;
        let region = region_arg(ctx, self.region_id.as_ref()).await?;
        let f = self.filter.unwrap_or_default();
        let search = f
            .search
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        if search.as_ref().is_some_and(|s| s.len() > 200) {
            return Err(AppError::bad_input(
                "`filter.search` must be at most 200 characters",
            ));
        }
        let filter = ProductFilter {
            collection_ids: f
                .collection_ids
                .map(|ids| expect_globals(&ids, "Collection"))
                .transpose()?,
            category_ids: f
                .category_ids
                .map(|ids| expect_globals(&ids, "Category"))
                .transpose()?,
            search,
            ids: f
                .ids
                .map(|ids| expect_globals(&ids, "Product"))
                .transpose()?,
            handles: f.handles,
            price_min: f.price.as_ref().and_then(|p| p.min).map(|m| m.0),
            price_max: f.price.as_ref().and_then(|p| p.max).map(|m| m.0),
        };
        let sort = self.sort.unwrap_or_default();
        let sort = Sort {
            key: match sort.field {
                ProductSortField::CreatedAt => SortKey::CreatedAt,
                ProductSortField::Title => SortKey::Title,
                ProductSortField::Price => SortKey::Price,
            },
            descending: sort.direction == SortDirection::Desc,
        };
        let query = ProductQuery {
            filter,
            sort,
            currency: region.as_ref().map(|r| r.currency_code.clone()),
        };
        query.validate()?;
        Ok((query, page, region))
    }
}

fn build_connection(
    query: &ProductQuery,
    page: &PageRequest,
    rows: Vec<super::listing::ListedProduct>,
    region: Option<Arc<model::Region>>,
    count: CountSource,
) -> ProductConnection {
    let (rows, has_previous, has_next) = page.finish(rows);
    let mut connection = Connection::with_additional_fields(
        has_previous,
        has_next,
        ProductConnectionFields { count },
    );
    connection.edges.extend(
        rows.into_iter()
            .map(|r| Edge::new(r.cursor(query), Product::new(r.product, region.clone()))),
    );
    connection
}

/// The store's product listing at the root.
pub async fn root_products(ctx: &Context<'_>, args: ProductArgs) -> AppResult<ProductConnection> {
    let (query, page, region) = args.resolve(ctx).await?;
    let rows = service::list_products(app(ctx)?, &query, &page).await?;
    Ok(build_connection(
        &query,
        &page,
        rows,
        region,
        CountSource::Root(query.clone()),
    ))
}

async fn nested_products(
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

/// Cursor of the collections listing.
#[derive(serde::Serialize, serde::Deserialize)]
struct CollectionCursor {
    t: String,
    i: i64,
}

/// A Relay connection of collections, by title.
pub type CollectionConnection = Connection<String, Collection>;

/// Storefront catalog queries (public).
#[derive(Default)]
pub struct CatalogQuery;

#[Object]
impl CatalogQuery {
    /// Store-visible products, keyset-paginated, filtered and sorted on the server.
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        cache_control(max_age = 60),
        complexity = "crate::graphql::cost::connection_cost(first, last, child_complexity)"
    )]
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
        Ok(root_products(
            ctx,
            ProductArgs {
                first,
                after,
                last,
                before,
                filter,
                sort,
                region_id,
            },
        )
        .await?)
    }

    /// One store-visible product by `id` or `handle` (exactly one); null when not found.
    #[graphql(cache_control(max_age = 300))]
    async fn product(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        handle: Option<String>,
        region_id: Option<ID>,
    ) -> Result<Option<Product>> {
        let region = region_arg(ctx, region_id.as_ref()).await?;
        let app = app(ctx)?;
        let row = match (id, handle) {
            (Some(id), None) => service::product_by_id(app, expect_global(&id, "Product")?).await?,
            (None, Some(handle)) => service::product_by_handle(app, &handle).await?,
            _ => return Err(AppError::bad_input("give exactly one of `id` or `handle`").into()),
        };
        Ok(row.map(|r| Product::new(r, region)))
    }

    /// Collections by title.
    #[graphql(
        cache_control(max_age = 300),
        complexity = "crate::graphql::cost::connection_cost(first, None, child_complexity)"
    )]
    async fn collections(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<CollectionConnection> {
        let page = PageRequest::new(first, after, None, None)?;
        let after = page
            .after
            .as_deref()
            .map(decode_cursor::<CollectionCursor>)
            .transpose()?;
        let after = after.map(|c| (c.t, c.i));
        let rows = service::collections_page(app(ctx)?, after, page.limit).await?;
        let (rows, has_previous, has_next) = page.finish(rows);
        let mut connection = Connection::new(has_previous, has_next);
        connection.edges.extend(rows.into_iter().map(|c| {
            let cursor = encode_cursor(&CollectionCursor {
                t: c.title.clone(),
                i: c.id,
            });
            Edge::new(cursor, Collection(Arc::new(c)))
        }));
        Ok(connection)
    }

    /// One collection by `id` or `handle` (exactly one); null when not found.
    #[graphql(cache_control(max_age = 300))]
    async fn collection(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        handle: Option<String>,
    ) -> Result<Option<Collection>> {
        let l = loaders(ctx)?;
        let row = match (id, handle) {
            (Some(id), None) => l
                .collection
                .load_one(expect_global(&id, "Collection")?)
                .await
                .gql()?,
            (None, Some(handle)) => service::collection_by_handle(app(ctx)?, &handle).await?,
            _ => return Err(AppError::bad_input("give exactly one of `id` or `handle`").into()),
        };
        Ok(row.map(|r| Collection(Arc::new(r))))
    }

    /// Active top-level categories by rank; descend with `children`.
    #[graphql(cache_control(max_age = 300))]
    async fn categories(&self, ctx: &Context<'_>) -> Result<Vec<Category>> {
        let rows = service::top_categories(app(ctx)?).await?;
        Ok(rows.into_iter().map(|r| Category(Arc::new(r))).collect())
    }

    /// One active category by `id` or `handle` (exactly one); null when not found.
    #[graphql(cache_control(max_age = 300))]
    async fn category(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        handle: Option<String>,
    ) -> Result<Option<Category>> {
        let l = loaders(ctx)?;
        let row = match (id, handle) {
            (Some(id), None) => l
                .category
                .load_one(expect_global(&id, "Category")?)
                .await
                .gql()?,
            (None, Some(handle)) => service::category_by_handle(app(ctx)?, &handle).await?,
            _ => return Err(AppError::bad_input("give exactly one of `id` or `handle`").into()),
        };
        Ok(row.map(|r| Category(Arc::new(r))))
    }

    /// Every sales region.
    #[graphql(cache_control(max_age = 3600))]
    async fn regions(&self, ctx: &Context<'_>) -> Result<Vec<Region>> {
        let rows = service::regions(app(ctx)?).await?;
        Ok(rows.into_iter().map(|r| Region(Arc::new(r))).collect())
    }

    /// One region; null when not found.
    #[graphql(cache_control(max_age = 3600))]
    async fn region(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Region>> {
        let row = loaders(ctx)?
            .region
            .load_one(expect_global(&id, "Region")?)
            .await
            .gql()?;
        Ok(row.map(|r| Region(Arc::new(r))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_formats_in_the_currency_exponent() {
        assert_eq!(decimal_string(129_900, "INR"), "1299.00");
        assert_eq!(decimal_string(5, "USD"), "0.05");
        assert_eq!(decimal_string(-5, "USD"), "-0.05");
        assert_eq!(decimal_string(1500, "JPY"), "1500");
        assert_eq!(decimal_string(1234, "KWD"), "1.234");
    }

    #[test]
    fn tax_rounds_half_up() {
        let region = model::Region {
            id: 1,
            name: "India".into(),
            currency_code: "INR".into(),
            countries: vec!["IN".into()],
            tax_rate_bps: 1800,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let price = calculated(1_000, &region);
        assert_eq!(price.tax.amount.0, 180);
        assert_eq!(price.total.amount.0, 1_180);
        assert_eq!(calculated(3, &region).tax.amount.0, 1); // 0.54 rounds up
    }
}
