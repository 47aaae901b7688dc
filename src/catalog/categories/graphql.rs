//! The store's category roots (`categories` at the top level, `category` by id or handle).

//! The store's `Category` type (tree navigation and its product listing) and its roots.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result};

use super::service;
use crate::cache::Family;
use crate::catalog::graph::Category;
use crate::catalog::loaders::loaders;
use crate::error::LoadResultExt;
use crate::graphql::context::app;
use crate::graphql::ids::{Lookup, id_or_handle};
use crate::graphql::response_cache::{Reads, RootReads};
use crate::locales::graphql::request_locale;

/// What the root fields below read, for the response cache (see `Reads`).
pub const READS: RootReads = &[
    ("categories", Reads::Families(&Family::CATALOG)),
    ("category", Reads::Families(&Family::CATALOG)),
];

/// Storefront category queries (public).
#[derive(Default)]
pub struct CategoriesQuery;

#[Object]
impl CategoriesQuery {
    /// Active top-level categories by rank; descend with `children`.
    #[graphql(cache_control(max_age = 300))]
    async fn categories(&self, ctx: &Context<'_>) -> Result<Vec<Category>> {
        let rows = service::top_categories(app(ctx)?, &request_locale(ctx)).await?;
        Ok(rows.into_iter().map(|r| Category(Arc::new(r))).collect())
    }

    /// One active category by `id` or `handle` (exactly one); null when not found.
    #[graphql(cache_control(max_age = 300))]
    async fn category(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        handle: Option<String>,
    ) -> Result<Option<Category>> {
        let row = match id_or_handle(id, handle, "Category")? {
            Lookup::Id(id) => loaders(ctx)?.category.load_one(id).await.gql()?,
            Lookup::Handle(handle) => {
                service::category_by_handle(app(ctx)?, &handle, &request_locale(ctx)).await?
            }
        };
        Ok(row.map(|r| Category(Arc::new(r))))
    }
}
