//! Product use cases: cache-first store reads (listing, count, one product), and staff writes
//! (validate, one transaction, invalidate exactly what went stale, publish the event).

use diesel_async::AsyncConnection;

use super::listing::{ListedProduct, ProductQuery};
use super::model::{NewProduct, Product, ProductChanges, ProductImage};
use crate::cache::{Family, keys};
use crate::catalog::categories::model::Category;
use crate::catalog::collections::model::Collection;
use crate::catalog::rules::{UNIQUE_FIELDS, check_handle, check_text, not_found};
use crate::db::conflict_on;
use crate::db::pagination::PageRequest;
use crate::error::{AppError, AppResult};
use crate::events::{DomainEvent, ProductAction};
use crate::locales::fields::Localized;
use crate::locales::negotiate::RequestLocale;
use crate::state::AppState;

/// One page of the store's product listing (`limit + 1` rows: the extra tells whether more exist).
pub async fn list_products(
    app: &AppState,
    query: &ProductQuery,
    page: &PageRequest,
    locale: &RequestLocale,
) -> AppResult<Vec<ListedProduct>> {
    let (query, page) = (query.clone(), page.clone());
    let key = locale.key(keys::products_page(&(&query, &page)));
    app.cached(&key, move |conn| {
        let (query, page) = (query.clone(), page.clone());
        Box::pin(async move { query.load_page(conn, &page).await })
    })
    .await
}

/// The capped number of products a listing matches (in a locale, search also matches its
/// translations).
pub async fn count_products(
    app: &AppState,
    query: &ProductQuery,
    locale: &RequestLocale,
) -> AppResult<i64> {
    let query = query.clone();
    let key = locale.key(keys::products_count(&(
        &query.filter,
        &query.currency,
        &query.locale,
    )));
    app.cached(&key, move |conn| {
        let query = query.clone();
        Box::pin(async move { query.count(conn).await })
    })
    .await
}

/// A store-visible product by id, in `locale`.
pub async fn product_by_id(
    app: &AppState,
    id: i64,
    locale: &RequestLocale,
) -> AppResult<Option<Localized<Product>>> {
    let code = locale.join_code().to_owned();
    app.cached(&locale.key(keys::product_by_id(id)), move |conn| {
        let code = code.clone();
        Box::pin(async move { Ok(Product::visible_by_ids(conn, &[id], &code).await?.pop()) })
    })
    .await
}

/// A store-visible product by handle, in `locale`.
pub async fn product_by_handle(
    app: &AppState,
    handle: &str,
    locale: &RequestLocale,
) -> AppResult<Option<Localized<Product>>> {
    let h = handle.to_owned();
    let code = locale.join_code().to_owned();
    app.cached(&locale.key(keys::product_by_handle(handle)), move |conn| {
        let (h, code) = (h.clone(), code.clone());
        Box::pin(async move { Ok(Product::visible_by_handles(conn, &[h], &code).await?.pop()) })
    })
    .await
}

/// After a committed write to a product or anything shown under it (variants, prices, images):
/// every listing (the products family) and that product's own reads (its id and handles, old and
/// new) go stale, other products' pages stay cached; then staff subscribers hear of it.
pub async fn product_written(app: &AppState, id: i64, handles: &[&str], action: ProductAction) {
    let mut entities = keys::product_entities(Some(id), None);
    for handle in handles {
        entities.extend(keys::product_entities(None, Some(handle)));
    }
    app.invalidate(&[Family::Products], &entities).await;
    app.events
        .publish(DomainEvent::Product { id, action })
        .await;
}

/// Products' stock changed (an order placed or canceled), each with whether its availability
/// flipped: their own reads go stale at once (by id and handle: they show `inventoryQuantity`);
/// when an availability flipped, every listing too (they show `inStock`) and staff subscribers
/// hear of that product. One invalidation (one CDN purge) for the whole order. Listings whose
/// products only changed quantity keep their cached `inventoryQuantity` until their TTL.
pub async fn stock_changed(app: &AppState, products: &[(i64, &str, bool)]) {
    let mut entities = Vec::new();
    let mut families: &[Family] = &[];
    for &(id, handle, flipped) in products {
        entities.extend(keys::product_entities(Some(id), Some(handle)));
        if flipped {
            families = &[Family::Products];
        }
    }
    app.invalidate(families, &entities).await;
    for &(id, _, flipped) in products {
        if flipped {
            app.events
                .publish(DomainEvent::Product {
                    id,
                    action: ProductAction::Updated,
                })
                .await;
        }
    }
}

fn check_status(status: &str) -> AppResult<()> {
    if matches!(status, "draft" | "published") {
        Ok(())
    } else {
        Err(AppError::bad_input("`status` must be DRAFT or PUBLISHED"))
    }
}

async fn ensure_collection(
    conn: &mut diesel_async::AsyncPgConnection,
    id: Option<i64>,
) -> AppResult<()> {
    if let Some(id) = id
        && Collection::exist(conn, &[id]).await?.is_empty()
    {
        return Err(not_found("Collection", id));
    }
    Ok(())
}

async fn ensure_categories(
    conn: &mut diesel_async::AsyncPgConnection,
    ids: &[i64],
) -> AppResult<()> {
    for id in ids {
        if Category::find_any(conn, *id).await?.is_none() {
            return Err(not_found("Category", *id));
        }
    }
    Ok(())
}

/// Creates a product (with its categories).
pub async fn create_product(
    app: &AppState,
    new: NewProduct,
    category_ids: Option<Vec<i64>>,
) -> AppResult<Product> {
    check_handle(&new.handle)?;
    check_text("title", &new.title, 300)?;
    check_status(&new.status)?;
    let mut conn = app.db.get().await?;
    let product = conn
        .transaction::<_, AppError, _>(async |conn| {
            ensure_collection(conn, new.collection_id).await?;
            let product = Product::insert(conn, &new)
                .await
                .map_err(|e| conflict_on(e, UNIQUE_FIELDS))?;
            if let Some(ids) = &category_ids {
                ensure_categories(conn, ids).await?;
                Product::set_categories(conn, product.id, ids).await?;
            }
            Ok(product)
        })
        .await?;
    drop(conn);
    product_written(app, product.id, &[&product.handle], ProductAction::Created).await;
    Ok(product)
}

/// Updates a product (and optionally replaces its categories).
pub async fn update_product(
    app: &AppState,
    id: i64,
    changes: ProductChanges,
    category_ids: Option<Vec<i64>>,
) -> AppResult<Product> {
    if let Some(h) = &changes.handle {
        check_handle(h)?;
    }
    if let Some(t) = &changes.title {
        check_text("title", t, 300)?;
    }
    if let Some(s) = &changes.status {
        check_status(s)?;
    }
    let mut conn = app.db.get().await?;
    let (product, old_handle) = conn
        .transaction::<_, AppError, _>(async |conn| {
            let old = Product::find_any(conn, id)
                .await?
                .ok_or_else(|| not_found("Product", id))?;
            if let Some(collection) = changes.collection_id {
                ensure_collection(conn, collection).await?;
            }
            let product = Product::update(conn, id, &changes)
                .await
                .map_err(|e| conflict_on(e, UNIQUE_FIELDS))?
                .ok_or_else(|| not_found("Product", id))?;
            if let Some(ids) = &category_ids {
                ensure_categories(conn, ids).await?;
                Product::set_categories(conn, id, ids).await?;
            }
            Ok((product, old.handle))
        })
        .await?;
    let action = if product.deleted_at.is_some() {
        ProductAction::Deleted
    } else {
        ProductAction::Updated
    };
    drop(conn);
    product_written(app, id, &[&product.handle, &old_handle], action).await;
    Ok(product)
}

/// Appends an uploaded image to a product.
pub async fn add_product_image(
    app: &AppState,
    product_id: i64,
    url: &str,
    alt: Option<&str>,
) -> AppResult<ProductImage> {
    let mut conn = app.db.get().await?;
    let product = Product::find_any(&mut conn, product_id)
        .await?
        .ok_or_else(|| not_found("Product", product_id))?;
    let image = ProductImage::append(&mut conn, product_id, url, alt).await?;
    drop(conn);
    product_written(app, product_id, &[&product.handle], ProductAction::Updated).await;
    Ok(image)
}

/// Reorders a product's images (the list must name each image once).
pub async fn reorder_product_images(
    app: &AppState,
    product_id: i64,
    ids: Vec<i64>,
) -> AppResult<()> {
    let mut conn = app.db.get().await?;
    let product = conn
        .transaction::<_, AppError, _>(async |conn| {
            let product = Product::find_any(conn, product_id)
                .await?
                .ok_or_else(|| not_found("Product", product_id))?;
            if !ProductImage::reorder(conn, product_id, &ids).await? {
                return Err(AppError::bad_input(
                    "`imageIds` must list every image of the product exactly once",
                ));
            }
            Ok(product)
        })
        .await?;
    drop(conn);
    product_written(app, product_id, &[&product.handle], ProductAction::Updated).await;
    Ok(())
}
