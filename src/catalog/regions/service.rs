//! Region use cases: the cache-first list, and the staff writes (validate, write, invalidate).

use super::model::Region;
use crate::cache::{Family, keys};
use crate::catalog::rules::{check_currency, check_text, not_found};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Every region.
pub async fn regions(app: &AppState) -> AppResult<Vec<Region>> {
    app.cached(&keys::regions_list(), |conn| {
        Box::pin(async move { Ok(Region::list(conn).await?) })
    })
    .await
}

fn check_region(
    name: &str,
    currency: &str,
    countries: &[String],
    tax_rate_bps: i32,
) -> AppResult<()> {
    check_text("name", name, 100)?;
    check_currency(currency)?;
    if countries
        .iter()
        .any(|c| c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_uppercase()))
    {
        return Err(AppError::bad_input(
            "`countries` must be ISO 3166-1 alpha-2 codes such as IN",
        ));
    }
    if !(0..=10_000).contains(&tax_rate_bps) {
        return Err(AppError::bad_input(
            "`taxRateBps` must be between 0 and 10000",
        ));
    }
    Ok(())
}

/// Creates a region.
pub async fn create_region(
    app: &AppState,
    name: &str,
    currency: &str,
    countries: Vec<String>,
    tax_rate_bps: i32,
) -> AppResult<Region> {
    check_region(name, currency, &countries, tax_rate_bps)?;
    let r = Region::insert(
        &mut *app.db.get().await?,
        name,
        currency,
        &countries,
        tax_rate_bps,
    )
    .await?;
    app.invalidate(&[Family::Regions], &[]).await;
    Ok(r)
}

/// Updates a region.
pub async fn update_region(
    app: &AppState,
    id: i64,
    name: Option<String>,
    currency: Option<String>,
    countries: Option<Vec<String>>,
    tax_rate_bps: Option<i32>,
) -> AppResult<Region> {
    let mut conn = app.db.get().await?;
    let mut r = Region::find(&mut conn, id)
        .await?
        .ok_or_else(|| not_found("Region", id))?;
    r.name = name.unwrap_or(r.name);
    r.currency_code = currency.unwrap_or(r.currency_code);
    r.countries = countries.unwrap_or(r.countries);
    r.tax_rate_bps = tax_rate_bps.unwrap_or(r.tax_rate_bps);
    check_region(&r.name, &r.currency_code, &r.countries, r.tax_rate_bps)?;
    let r = Region::save(&mut conn, &r).await?;
    drop(conn);
    app.invalidate(&[Family::Regions], &[]).await;
    Ok(r)
}

/// Deletes a region.
pub async fn delete_region(app: &AppState, id: i64) -> AppResult<()> {
    let deleted = Region::delete(&mut *app.db.get().await?, id)
        .await
        .map_err(|e| match e {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                _,
            ) => AppError::Conflict("the region has carts or orders; it cannot be deleted".into()),
            other => other.into(),
        })?;
    if !deleted {
        return Err(not_found("Region", id));
    }
    app.invalidate(&[Family::Regions], &[]).await;
    Ok(())
}
