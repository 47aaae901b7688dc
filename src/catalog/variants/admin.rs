//! Staff variant mutations: create, update (prices included), stock, delete.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result};
use chrono::Utc;

use super::model::{NewVariant, VariantChanges};
use super::service;
use crate::auth::{Permission, RequirePermission};
use crate::catalog::graph::ProductVariant;
use crate::graphql::context::app;
use crate::graphql::ids::expect_global;
use crate::graphql::scalars::MinorUnits;

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

fn prices(input: Vec<PriceInput>) -> Vec<(String, i64)> {
    input
        .into_iter()
        .map(|p| (p.currency_code, p.amount.0))
        .collect()
}

/// Staff variant mutations.
#[derive(Default)]
pub struct VariantsMutation;

#[Object]
impl VariantsMutation {
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
            sku: input.sku.into(),
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
}
