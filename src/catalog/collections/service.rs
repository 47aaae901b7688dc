//! Collection use cases: cache-first store reads and staff writes.

use super::model::Collection;
use crate::cache::{Family, keys};
use crate::catalog::products::model::Product;
use crate::catalog::rules::{UNIQUE_FIELDS, check_handle, check_text, not_found};
use crate::db::conflict_on;
use crate::error::AppResult;
use crate::locales::fields::Localized;
use crate::locales::negotiate::RequestLocale;
use crate::state::AppState;

/// A page of collections by title after `(title, id)`.
pub async fn collections_page(
    app: &AppState,
    after: Option<(String, i64)>,
    limit: usize,
    locale: &RequestLocale,
) -> AppResult<Vec<Localized<Collection>>> {
    let key = locale.key(keys::collections_page(&(&after, limit)));
    let code = locale.join_code().to_owned();
    app.cached(&key, move |conn| {
        let (after, code) = (after.clone(), code.clone());
        Box::pin(async move {
            let after = after.as_ref().map(|(t, i)| (t.as_str(), *i));
            Ok(Collection::page(conn, after, limit, &code).await?)
        })
    })
    .await
}

/// One collection by handle, in `locale`.
pub async fn collection_by_handle(
    app: &AppState,
    handle: &str,
    locale: &RequestLocale,
) -> AppResult<Option<Localized<Collection>>> {
    let h = handle.to_owned();
    let code = locale.join_code().to_owned();
    app.cached(
        &locale.key(keys::collection_by_handle(handle)),
        move |conn| {
            let (h, code) = (h.clone(), code.clone());
            Box::pin(async move { Ok(Collection::by_handles(conn, &[h], &code).await?.pop()) })
        },
    )
    .await
}

/// Creates a collection.
pub async fn create_collection(
    app: &AppState,
    handle: &str,
    title: &str,
    description: &str,
) -> AppResult<Collection> {
    check_handle(handle)?;
    check_text("title", title, 300)?;
    let c = Collection::insert(&mut *app.db.get().await?, handle, title, description)
        .await
        .map_err(|e| conflict_on(e, UNIQUE_FIELDS))?;
    app.invalidate(&[Family::Collections], &[]).await;
    Ok(c)
}

/// Updates a collection.
pub async fn update_collection(
    app: &AppState,
    id: i64,
    handle: Option<&str>,
    title: Option<&str>,
    description: Option<&str>,
) -> AppResult<Collection> {
    if let Some(h) = handle {
        check_handle(h)?;
    }
    if let Some(t) = title {
        check_text("title", t, 300)?;
    }
    let c = Collection::update(&mut *app.db.get().await?, id, handle, title, description)
        .await
        .map_err(|e| conflict_on(e, UNIQUE_FIELDS))?
        .ok_or_else(|| not_found("Collection", id))?;
    app.invalidate(&[Family::Collections], &[]).await;
    Ok(c)
}

/// Deletes a collection; its products stay, without a collection (so products are stale too).
pub async fn delete_collection(app: &AppState, id: i64) -> AppResult<()> {
    let mut conn = app.db.get().await?;
    // Its products keep existing without a collection: their own reads go stale too.
    let members = Product::in_collection(&mut conn, id).await?;
    if !Collection::delete(&mut conn, id).await? {
        return Err(not_found("Collection", id));
    }
    drop(conn);
    let mut entities = Vec::new();
    for (product_id, handle) in &members {
        entities.extend(keys::product_entities(Some(*product_id), Some(handle)));
    }
    app.invalidate(&[Family::Collections, Family::Products], &entities)
        .await;
    Ok(())
}
