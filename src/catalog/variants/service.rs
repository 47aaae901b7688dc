//! Variant writes: validate, one transaction with the prices, then the product is stale.

use diesel_async::AsyncConnection;

use super::model::{NewVariant, Price, Variant, VariantChanges};
use crate::catalog::products::model::Product;
use crate::catalog::products::service::product_written;
use crate::catalog::rules::{UNIQUE_FIELDS, check_currency, check_text, not_found};
use crate::db::conflict_on;
use crate::error::{AppError, AppResult};
use crate::events::ProductAction;
use crate::state::AppState;

/// Highest price in minor units (10¹¹: a billion rupees). With at most 100 per line and 50 lines
/// a cart, every total fits an `i64` many times over.
pub const MAX_PRICE: i64 = 100_000_000_000;

/// Prices of a variant: 0 to [`MAX_PRICE`], one per currency.
pub fn check_prices(prices: &[(String, i64)]) -> AppResult<()> {
    let mut seen = std::collections::HashSet::new();
    for (currency, amount) in prices {
        check_currency(currency)?;
        if !(0..=MAX_PRICE).contains(amount) {
            return Err(AppError::bad_input(format!(
                "`amount` must be between 0 and {MAX_PRICE} (minor units)"
            )));
        }
        if !seen.insert(currency) {
            return Err(AppError::bad_input(format!(
                "`currencyCode` {currency} appears twice"
            )));
        }
    }
    Ok(())
}

/// Creates a variant with its prices.
pub async fn create_variant(
    app: &AppState,
    new: NewVariant,
    prices: Vec<(String, i64)>,
) -> AppResult<Variant> {
    check_text("title", &new.title, 200)?;
    check_prices(&prices)?;
    if new.inventory_quantity < 0 && !new.allow_backorder {
        return Err(AppError::bad_input(
            "`inventoryQuantity` must not be negative",
        ));
    }
    let mut conn = app.db.get().await?;
    let (variant, handle) = conn
        .transaction::<_, AppError, _>(async |conn| {
            let product = Product::find_any(conn, new.product_id)
                .await?
                .ok_or_else(|| not_found("Product", new.product_id))?;
            let variant = Variant::insert(conn, &new)
                .await
                .map_err(|e| conflict_on(e, UNIQUE_FIELDS))?;
            Price::replace_for_variant(conn, variant.id, &prices).await?;
            Ok((variant, product.handle))
        })
        .await?;
    drop(conn);
    product_written(app, variant.product_id, &[&handle], ProductAction::Updated).await;
    Ok(variant)
}

/// Updates a variant (and replaces its prices when given).
pub async fn update_variant(
    app: &AppState,
    id: i64,
    changes: VariantChanges,
    prices: Option<Vec<(String, i64)>>,
) -> AppResult<Variant> {
    if let Some(t) = &changes.title {
        check_text("title", t, 200)?;
    }
    if let Some(p) = &prices {
        check_prices(p)?;
    }
    let mut conn = app.db.get().await?;
    let (variant, handle) = conn
        .transaction::<_, AppError, _>(async |conn| {
            let variant = Variant::update(conn, id, &changes)
                .await
                .map_err(|e| conflict_on(e, UNIQUE_FIELDS))?
                .ok_or_else(|| not_found("ProductVariant", id))?;
            if let Some(p) = &prices {
                Price::replace_for_variant(conn, id, p).await?;
            }
            let product = Product::find_any(conn, variant.product_id).await?;
            Ok((variant, product.map(|p| p.handle).unwrap_or_default()))
        })
        .await?;
    drop(conn);
    product_written(app, variant.product_id, &[&handle], ProductAction::Updated).await;
    Ok(variant)
}
