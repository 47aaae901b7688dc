//! Catalog use cases the resolvers call: cache-first store reads. Each read names its cache key
//! (see `cache::keys`) and loads from PostgreSQL only on a miss.

use super::listing::{ListedProduct, ProductQuery};
use super::model::{Category, Collection, Product, Region};
use crate::app::AppState;
use crate::cache::keys;
use crate::db::pagination::PageRequest;
use crate::error::AppResult;

/// One page of the store's product listing (`limit + 1` rows: the extra tells whether more exist).
pub async fn list_products(
    app: &AppState,
    query: &ProductQuery,
    page: &PageRequest,
) -> AppResult<Vec<ListedProduct>> {
    let key = keys::products_page(&(query, page));
    let (db, query, page) = (app.db.clone(), query.clone(), page.clone());
    app.cache
        .get_or_load(&key, async move {
            query.load_page(&mut *db.get().await?, &page).await
        })
        .await
}

/// The capped number of products a listing matches.
pub async fn count_products(app: &AppState, query: &ProductQuery) -> AppResult<i64> {
    let key = keys::products_count(&(&query.filter, &query.currency));
    let (db, query) = (app.db.clone(), query.clone());
    app.cache
        .get_or_load(
            &key,
            async move { query.count(&mut *db.get().await?).await },
        )
        .await
}

/// A store-visible product by id.
pub async fn product_by_id(app: &AppState, id: i64) -> AppResult<Option<Product>> {
    let db = app.db.clone();
    app.cache
        .get_or_load(&keys::product_by_id(id), async move {
            Ok(Product::visible_by_ids(&mut *db.get().await?, &[id])
                .await?
                .pop())
        })
        .await
}

/// A store-visible product by handle.
pub async fn product_by_handle(app: &AppState, handle: &str) -> AppResult<Option<Product>> {
    let (db, h) = (app.db.clone(), handle.to_owned());
    app.cache
        .get_or_load(&keys::product_by_handle(handle), async move {
            Ok(Product::visible_by_handles(&mut *db.get().await?, &[h])
                .await?
                .pop())
        })
        .await
}

/// Every region.
pub async fn regions(app: &AppState) -> AppResult<Vec<Region>> {
    let db = app.db.clone();
    app.cache
        .get_or_load(&keys::regions_list(), async move {
            Ok(Region::list(&mut *db.get().await?).await?)
        })
        .await
}

/// A page of collections by title after `(title, id)`.
pub async fn collections_page(
    app: &AppState,
    after: Option<(String, i64)>,
    limit: usize,
) -> AppResult<Vec<Collection>> {
    let key = keys::collections_page(&(&after, limit));
    let db = app.db.clone();
    app.cache
        .get_or_load(&key, async move {
            let after = after.as_ref().map(|(t, i)| (t.as_str(), *i));
            Ok(Collection::page(&mut *db.get().await?, after, limit).await?)
        })
        .await
}

/// One collection by handle.
pub async fn collection_by_handle(app: &AppState, handle: &str) -> AppResult<Option<Collection>> {
    let (db, h) = (app.db.clone(), handle.to_owned());
    app.cache
        .get_or_load(&keys::collection_by_handle(handle), async move {
            Ok(Collection::by_handles(&mut *db.get().await?, &[h])
                .await?
                .pop())
        })
        .await
}

/// Active top-level categories.
pub async fn top_categories(app: &AppState) -> AppResult<Vec<Category>> {
    let db = app.db.clone();
    app.cache
        .get_or_load(&keys::categories_top(), async move {
            Ok(Category::top_level(&mut *db.get().await?).await?)
        })
        .await
}

/// One active category by handle.
pub async fn category_by_handle(app: &AppState, handle: &str) -> AppResult<Option<Category>> {
    let (db, h) = (app.db.clone(), handle.to_owned());
    app.cache
        .get_or_load(&keys::category_by_handle(handle), async move {
            Ok(Category::by_handles(&mut *db.get().await?, &[h])
                .await?
                .pop())
        })
        .await
}
