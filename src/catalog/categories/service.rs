//! Category use cases: cache-first store reads and staff writes (a move under itself or a
//! descendant is refused).

use diesel_async::AsyncConnection;

use super::model::Category;
use crate::cache::{Family, keys};
use crate::catalog::rules::{UNIQUE_FIELDS, check_handle, check_text, not_found};
use crate::db::conflict_on;
use crate::error::{AppError, AppResult};
use crate::locales::fields::Localized;
use crate::locales::negotiate::RequestLocale;
use crate::state::AppState;

/// Active top-level categories.
pub async fn top_categories(
    app: &AppState,
    locale: &RequestLocale,
) -> AppResult<Vec<Localized<Category>>> {
    let code = locale.join_code().to_owned();
    app.cached(&locale.key(keys::categories_top()), move |conn| {
        let code = code.clone();
        Box::pin(async move { Ok(Category::top_level(conn, &code).await?) })
    })
    .await
}

/// One active category by handle, in `locale`.
pub async fn category_by_handle(
    app: &AppState,
    handle: &str,
    locale: &RequestLocale,
) -> AppResult<Option<Localized<Category>>> {
    let h = handle.to_owned();
    let code = locale.join_code().to_owned();
    app.cached(&locale.key(keys::category_by_handle(handle)), move |conn| {
        let (h, code) = (h.clone(), code.clone());
        Box::pin(async move { Ok(Category::by_handles(conn, &[h], &code).await?.pop()) })
    })
    .await
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
    drop(conn);
    app.invalidate(&[Family::Categories], &[]).await;
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
    drop(conn);
    app.invalidate(&[Family::Categories], &[]).await;
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
    app.invalidate(&[Family::Categories], &[]).await;
    Ok(())
}
