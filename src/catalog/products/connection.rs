//! Product listing arguments as the schema takes them: filter and sort inputs, the arguments every
//! listing field shares (resolved into a `ProductQuery` and a page), and `totalCount`.

//! Product listings as Relay connections: the filter and sort inputs, the arguments every
//! listing field shares, and the root and nested (batched) listings.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Object, Result};

use super::listing::{ProductFilter, ProductQuery, Sort, SortKey};
use super::service;
use crate::catalog::loaders::{ProductCountKey, loaders};
use crate::catalog::regions::graphql::region_arg;
use crate::catalog::regions::model::Region;
use crate::db::pagination::PageRequest;
use crate::error::{AppError, AppResult, LoadResultExt};
use crate::graphql::context::app;
use crate::graphql::ids::expect_globals;
use crate::graphql::scalars::MinorUnits;
use crate::locales::graphql::request_locale;

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
    /// Where `totalCount` comes from.
    pub count: CountSource,
}

pub enum CountSource {
    /// A root listing: counted (cache-first) on its own.
    Root(ProductQuery),
    /// A listing under a collection or category: counted in one batch with its siblings.
    Nested(ProductCountKey),
}

#[Object]
impl ProductConnectionFields {
    /// Number of matching products, exact up to 10,000 (reported as 10,000 beyond). Only
    /// computed when selected.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
        match &self.count {
            CountSource::Root(query) => {
                Ok(service::count_products(app(ctx)?, query, &request_locale(ctx)).await?)
            }
            CountSource::Nested(key) => Ok(loaders(ctx)?
                .product_counts
                .load_one(key.clone())
                .await
                .gql()?
                .unwrap_or(0)),
        }
    }
}

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
    pub async fn resolve(
        self,
        ctx: &Context<'_>,
    ) -> AppResult<(ProductQuery, PageRequest, Option<Arc<Region>>)> {
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
            locale: request_locale(ctx).scope().map(str::to_owned),
        };
        query.validate()?;
        Ok((query, page, region))
    }
}
