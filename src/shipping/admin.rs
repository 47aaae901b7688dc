//! Staff management of shipping options (orders permission), and the `ShippingOption` type the
//! storefront sees on carts.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};

use super::model::{ShippingOptionChanges, ShippingOptionRow};
use crate::auth::{Permission, RequirePermission};
use crate::catalog::money::Money;
use crate::catalog::regions::model::Region;
use crate::error::AppError;
use crate::graphql::context::db;
use crate::graphql::ids::{expect_global, to_global};
use crate::graphql::response_cache::{Reads, RootReads};

/// What the root fields below read, for the response cache (see `Reads`).
pub const READS: RootReads = &[("adminShippingOptions", Reads::Private)];

/// Longest option name.
const MAX_NAME_CHARS: usize = 100;

/// A flat-rate shipping option.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(cache_control(private))]
pub struct ShippingOption {
    /// Global ID.
    pub id: ID,
    /// Shown to shoppers, e.g. "Standard (3-5 days)".
    pub name: String,
    /// Price before tax, in the region's currency.
    pub price: Money,
    /// Offered to shoppers.
    pub is_active: bool,
}

impl ShippingOption {
    /// The GraphQL form of a row priced in `currency`.
    pub fn new(row: ShippingOptionRow, currency: &str) -> Self {
        Self {
            id: to_global("ShippingOption", row.id),
            price: Money::new(row.amount, currency),
            name: row.name,
            is_active: row.is_active,
        }
    }
}

/// A new shipping option.
#[derive(InputObject, Debug)]
pub struct CreateShippingOptionInput {
    /// The region it ships in.
    pub region_id: ID,
    /// Name shown to shoppers.
    pub name: String,
    /// Price before tax in the region's currency, minor units (≥ 0).
    pub amount: i64,
}

/// Changes to a shipping option (omitted fields stay).
#[derive(InputObject, Debug, Default)]
pub struct UpdateShippingOptionInput {
    /// Name shown to shoppers.
    pub name: Option<String>,
    /// Price before tax, minor units (≥ 0).
    pub amount: Option<i64>,
    /// Offered to shoppers.
    pub is_active: Option<bool>,
}

fn check(name: Option<&str>, amount: Option<i64>) -> Result<(), AppError> {
    if let Some(name) = name {
        let n = name.trim().chars().count();
        if n == 0 || n > MAX_NAME_CHARS {
            return Err(AppError::bad_input(format!(
                "`name` must have 1 to {MAX_NAME_CHARS} characters"
            )));
        }
    }
    let max = crate::catalog::variants::service::MAX_PRICE;
    if amount.is_some_and(|a| !(0..=max).contains(&a)) {
        return Err(AppError::bad_input(format!(
            "`amount` must be between 0 and {max} (minor units)"
        )));
    }
    Ok(())
}

async fn currency_of(conn: &mut diesel_async::AsyncPgConnection, region: i64) -> Result<String> {
    Ok(Region::find(conn, region)
        .await
        .map_err(AppError::from)?
        .ok_or_else(|| AppError::not_found("region"))?
        .currency_code)
}

/// Staff shipping queries.
#[derive(Default)]
pub struct ShippingAdminQuery;

#[Object]
impl ShippingAdminQuery {
    /// A region's shipping options, inactive ones included.
    #[graphql(
        guard = "RequirePermission(Permission::Orders)",
        cache_control(private)
    )]
    async fn admin_shipping_options(
        &self,
        ctx: &Context<'_>,
        region_id: ID,
    ) -> Result<Vec<ShippingOption>> {
        let region = expect_global(&region_id, "Region")?;
        let conn = &mut *db(ctx).await?;
        let currency = currency_of(conn, region).await?;
        let rows = ShippingOptionRow::of_region(conn, region, true)
            .await
            .map_err(AppError::from)?;
        Ok(rows
            .into_iter()
            .map(|r| ShippingOption::new(r, &currency))
            .collect())
    }
}

/// Staff shipping mutations.
#[derive(Default)]
pub struct ShippingMutation;

#[Object]
impl ShippingMutation {
    /// Adds a flat-rate option to a region.
    #[graphql(guard = "RequirePermission(Permission::Orders)")]
    async fn create_shipping_option(
        &self,
        ctx: &Context<'_>,
        input: CreateShippingOptionInput,
    ) -> Result<ShippingOption> {
        check(Some(&input.name), Some(input.amount))?;
        let region = expect_global(&input.region_id, "Region")?;
        let conn = &mut *db(ctx).await?;
        let currency = currency_of(conn, region).await?;
        let row = ShippingOptionRow::insert(conn, region, input.name.trim(), input.amount)
            .await
            .map_err(AppError::from)?;
        Ok(ShippingOption::new(row, &currency))
    }

    /// Changes an option.
    #[graphql(guard = "RequirePermission(Permission::Orders)")]
    async fn update_shipping_option(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateShippingOptionInput,
    ) -> Result<ShippingOption> {
        check(input.name.as_deref(), input.amount)?;
        let id = expect_global(&id, "ShippingOption")?;
        let conn = &mut *db(ctx).await?;
        let changes = ShippingOptionChanges {
            name: input.name.map(|n| n.trim().to_owned()),
            amount: input.amount,
            is_active: input.is_active,
        };
        let row = ShippingOptionRow::change(conn, id, &changes)
            .await
            .map_err(AppError::from)?
            .ok_or_else(|| AppError::not_found("shipping option"))?;
        let currency = currency_of(conn, row.region_id).await?;
        Ok(ShippingOption::new(row, &currency))
    }

    /// Deletes an option; carts that had chosen it must choose again.
    #[graphql(guard = "RequirePermission(Permission::Orders)")]
    async fn delete_shipping_option(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let raw = expect_global(&id, "ShippingOption")?;
        if ShippingOptionRow::delete(&mut *db(ctx).await?, raw)
            .await
            .map_err(AppError::from)?
        {
            Ok(id)
        } else {
            Err(AppError::not_found("shipping option").into())
        }
    }
}
