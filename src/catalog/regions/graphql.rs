//! The store's `Region` type and its roots (`regions`, `region`), plus the `regionId` argument
//! every priced field takes.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result};

use super::model;
use super::service;
use crate::cache::Family;
use crate::catalog::loaders::loaders;
use crate::error::{AppError, AppResult, LoadResultExt};
use crate::graphql::context::app;
use crate::graphql::ids::{expect_global, to_global};
use crate::graphql::response_cache::{Reads, RootReads};

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
pub async fn region_arg(
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

pub async fn region_or_inherited(
    ctx: &Context<'_>,
    region_id: Option<&ID>,
    inherited: &Option<Arc<model::Region>>,
) -> AppResult<Option<Arc<model::Region>>> {
    match region_id {
        Some(_) => region_arg(ctx, region_id).await,
        None => Ok(inherited.clone()),
    }
}

/// What the root fields below read, for the response cache (see `Reads`).
pub const READS: RootReads = &[
    ("regions", Reads::Families(&[Family::Regions])),
    ("region", Reads::Families(&[Family::Regions])),
];

/// Storefront region queries (public).
#[derive(Default)]
pub struct RegionsQuery;

#[Object]
impl RegionsQuery {
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
