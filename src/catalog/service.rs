//! Catalog use cases the resolvers call: cache-first store reads. Each read names its cache key
//! (see `cache::keys`) and loads from PostgreSQL only on a miss.

use super::listing::{ListedProduct, ProductQuery};
use super::model::{Category, Collection, Product, Region};
use crate::cache::keys;
use crate::db::pagination::PageRequest;
use crate::error::AppResult;
use crate::state::AppState;

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

// --- Admin writes: validate, one transaction, then invalidate exactly the families made stale. ---

use diesel_async::AsyncConnection;

use super::model::{
    NewProduct, NewVariant, Price, ProductChanges, ProductImage, UNIQUE_FIELDS, Variant,
    VariantChanges,
};
use crate::cache::Family;
use crate::db::conflict_on;
use crate::error::AppError;
use crate::events::{DomainEvent, ProductAction};

/// After a write to a product or anything shown under it (variants, prices, images): every
/// listing (the products family) and that product's own reads (its id and handles) go stale;
/// other products' pages stay cached.
async fn product_changed(app: &AppState, id: i64, handles: &[&str]) {
    app.cache.invalidate(&[Family::Products]).await;
    let mut entities = keys::product_entities(Some(id), None);
    for handle in handles {
        entities.extend(keys::product_entities(None, Some(handle)));
    }
    app.cache.invalidate_entities(&entities).await;
}

fn not_found(kind: &str, id: i64) -> AppError {
    AppError::NotFound(format!(
        "{kind} {} not found",
        crate::graphql::ids::to_global(kind, id).0
    ))
}

fn check_text(field: &str, value: &str, max: usize) -> AppResult<()> {
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

/// Prices of a variant: non-negative, one per currency.
pub fn check_prices(prices: &[(String, i64)]) -> AppResult<()> {
    let mut seen = std::collections::HashSet::new();
    for (currency, amount) in prices {
        check_currency(currency)?;
        if *amount < 0 {
            return Err(AppError::bad_input("`amount` must not be negative"));
        }
        if !seen.insert(currency) {
            return Err(AppError::bad_input(format!(
                "`currencyCode` {currency} appears twice"
            )));
        }
    }
    Ok(())
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
        && Collection::by_ids(conn, &[id]).await?.is_empty()
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
    product_changed(app, product.id, &[&product.handle]).await;
    app.events
        .publish(DomainEvent::Product {
            id: product.id,
            action: ProductAction::Created,
        })
        .await;
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
    product_changed(app, id, &[&product.handle, &old_handle]).await;
    let action = if product.deleted_at.is_some() {
        ProductAction::Deleted
    } else {
        ProductAction::Updated
    };
    app.events
        .publish(DomainEvent::Product {
            id: product.id,
            action,
        })
        .await;
    Ok(product)
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
    product_changed(app, variant.product_id, &[&handle]).await;
    app.events
        .publish(DomainEvent::Product {
            id: variant.product_id,
            action: ProductAction::Updated,
        })
        .await;
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
    product_changed(app, variant.product_id, &[&handle]).await;
    app.events
        .publish(DomainEvent::Product {
            id: variant.product_id,
            action: ProductAction::Updated,
        })
        .await;
    Ok(variant)
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
    product_changed(app, product_id, &[&product.handle]).await;
    app.events
        .publish(DomainEvent::Product {
            id: product_id,
            action: ProductAction::Updated,
        })
        .await;
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
    product_changed(app, product_id, &[&product.handle]).await;
    app.events
        .publish(DomainEvent::Product {
            id: product_id,
            action: ProductAction::Updated,
        })
        .await;
    Ok(())
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
    app.cache.invalidate(&[Family::Collections]).await;
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
    app.cache.invalidate(&[Family::Collections]).await;
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
    app.cache
        .invalidate(&[Family::Collections, Family::Products])
        .await;
    let mut entities = Vec::new();
    for (product_id, handle) in &members {
        entities.extend(keys::product_entities(Some(*product_id), Some(handle)));
    }
    app.cache.invalidate_entities(&entities).await;
    Ok(())
}

/// Changes to a category; `parent_id: Some(None)` moves it to the top level.
#[derive(Debug, Default)]
pub struct CategoryChanges {
    /// New handle.
    pub handle: Option<String>,
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New parent.
    pub parent_id: Option<Option<i64>>,
    /// New position among siblings.
    pub rank: Option<i32>,
    /// New active flag.
    pub is_active: Option<bool>,
}

/// Creates a category.
pub async fn create_category(
    app: &AppState,
    handle: &str,
    name: &str,
    parent_id: Option<i64>,
    rank: i32,
    is_active: bool,
) -> AppResult<Category> {
    check_handle(handle)?;
    check_text("name", name, 200)?;
    let mut conn = app.db.get().await?;
    if let Some(parent) = parent_id {
        Category::find_any(&mut conn, parent)
            .await?
            .ok_or_else(|| not_found("Category", parent))?;
    }
    let c = Category::insert(&mut conn, handle, name, parent_id, rank, is_active)
        .await
        .map_err(|e| conflict_on(e, UNIQUE_FIELDS))?;
    app.cache.invalidate(&[Family::Categories]).await;
    Ok(c)
}

/// Updates a category: reparenting under itself or a descendant is refused.
pub async fn update_category(
    app: &AppState,
    id: i64,
    changes: CategoryChanges,
) -> AppResult<Category> {
    if let Some(h) = &changes.handle {
        check_handle(h)?;
    }
    if let Some(n) = &changes.name {
        check_text("name", n, 200)?;
    }
    let mut conn = app.db.get().await?;
    let category = conn
        .transaction::<_, AppError, _>(async |conn| {
            let mut c = Category::find_any(conn, id)
                .await?
                .ok_or_else(|| not_found("Category", id))?;
            if let Some(Some(parent)) = changes.parent_id {
                Category::find_any(conn, parent)
                    .await?
                    .ok_or_else(|| not_found("Category", parent))?;
                if Category::is_self_or_descendant(conn, id, parent).await? {
                    return Err(AppError::bad_input(
                        "`parentId` would make the category its own ancestor",
                    ));
                }
            }
            if let Some(h) = changes.handle.clone() {
                c.handle = h;
            }
            if let Some(n) = changes.name.clone() {
                c.name = n;
            }
            if let Some(d) = changes.description.clone() {
                c.description = d;
            }
            if let Some(p) = changes.parent_id {
                c.parent_id = p;
            }
            if let Some(r) = changes.rank {
                c.rank = r;
            }
            if let Some(a) = changes.is_active {
                c.is_active = a;
            }
            Category::save(conn, &c)
                .await
                .map_err(|e| conflict_on(e, UNIQUE_FIELDS))
        })
        .await?;
    app.cache.invalidate(&[Family::Categories]).await;
    Ok(category)
}

/// Deletes a category that has no children.
pub async fn delete_category(app: &AppState, id: i64) -> AppResult<()> {
    let deleted = Category::delete(&mut *app.db.get().await?, id)
        .await
        .map_err(|e| match conflict_on(e, UNIQUE_FIELDS) {
            AppError::Conflict(_) => AppError::Conflict(
                "the category has child categories; move or delete them first".into(),
            ),
            other => other,
        })?;
    if !deleted {
        return Err(not_found("Category", id));
    }
    app.cache.invalidate(&[Family::Categories]).await;
    Ok(())
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
    app.cache.invalidate(&[Family::Regions]).await;
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
    app.cache.invalidate(&[Family::Regions]).await;
    Ok(r)
}

/// Deletes a region.
pub async fn delete_region(app: &AppState, id: i64) -> AppResult<()> {
    if !Region::delete(&mut *app.db.get().await?, id).await? {
        return Err(not_found("Region", id));
    }
    app.cache.invalidate(&[Family::Regions]).await;
    Ok(())
}
