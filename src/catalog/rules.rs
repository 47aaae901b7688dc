//! Input rules shared by the catalog's writes: handles, texts, currency codes, the unique
//! constraints and the not-found error. Each rule has one home, so every entity checks alike.

use async_graphql::ID;

use crate::error::{AppError, AppResult};
use crate::graphql::ids::{expect_globals, to_global};

pub fn not_found(kind: &str, id: i64) -> AppError {
    AppError::NotFound(format!("{kind} {} not found", to_global(kind, id).0))
}

pub fn check_text(field: &str, value: &str, max: usize) -> AppResult<()> {
    if value.trim().is_empty() {
        return Err(AppError::bad_input(format!("`{field}` must not be empty")));
    }
    if value.chars().count() > max {
        return Err(AppError::bad_input(format!(
            "`{field}` must be at most {max} characters"
        )));
    }
    Ok(())
}

/// Handles are URL segments: lower-case letters, digits and dashes.
pub fn check_handle(handle: &str) -> AppResult<()> {
    let ok = !handle.is_empty()
        && handle.len() <= 200
        && handle
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !handle.starts_with('-')
        && !handle.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(AppError::bad_input(
            "`handle` must be lower-case letters, digits and dashes",
        ))
    }
}

/// ISO 4217 shape: three upper-case letters.
pub fn check_currency(code: &str) -> AppResult<()> {
    if code.len() == 3 && code.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(AppError::bad_input(
            "`currencyCode` must be an ISO 4217 code such as INR",
        ))
    }
}

/// Unique constraints of catalog tables and the fields they guard.
pub const UNIQUE_FIELDS: &[(&str, &str)] = &[
    ("products_handle_key", "handle"),
    ("product_variants_sku_key", "sku"),
    ("collections_handle_key", "handle"),
    ("categories_handle_key", "handle"),
    ("prices_variant_id_currency_code_key", "currencyCode"),
];

pub fn ids_of(ids: Option<Vec<ID>>, kind: &str) -> AppResult<Option<Vec<i64>>> {
    ids.map(|ids| expect_globals(&ids, kind)).transpose()
}
