//! Staff region mutations (catalog permission).

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result};

use super::graphql::Region;
use super::service;
use crate::auth::{Permission, RequirePermission};
use crate::graphql::context::app;
use crate::graphql::ids::expect_global;

/// Staff region mutations.
#[derive(Default)]
pub struct RegionsMutation;

#[Object]
impl RegionsMutation {
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
