//! The store's collection roots (`collections` by title, `collection` by id or handle).

//! The store's `Collection` type (with its product listing) and its roots.

use std::sync::Arc;

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Object, Result};

use super::service;
use crate::cache::Family;
use crate::catalog::graph::Collection;
use crate::catalog::loaders::loaders;
use crate::db::pagination::PageRequest;
use crate::error::LoadResultExt;
use crate::graphql::context::app;
use crate::graphql::ids::{Lookup, id_or_handle};
use crate::graphql::response_cache::{Reads, RootReads};
use crate::locales::graphql::request_locale;

/// Cursor of the collections listing.
#[derive(serde::Serialize, serde::Deserialize)]
struct CollectionCursor {
    t: String,
    i: i64,
}

/// A Relay connection of collections, by title.
pub type CollectionConnection = Connection<String, Collection>;

/// What the root fields below read, for the response cache (see `Reads`).
pub const READS: RootReads = &[
    ("collections", Reads::Families(&Family::CATALOG)),
    ("collection", Reads::Families(&Family::CATALOG)),
];

/// Storefront collection queries (public).
#[derive(Default)]
pub struct CollectionsQuery;

#[Object]
impl CollectionsQuery {
    /// Collections by title.
    #[graphql(
        cache_control(max_age = 300),
        complexity = "crate::graphql::cost::connection_cost(first, None, child_complexity)"
    )]
    async fn collections(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<CollectionConnection> {
        let page = PageRequest::new(first, after, None, None)?;
        let after = page.after_key::<CollectionCursor>()?.map(|c| (c.t, c.i));
        let rows =
            service::collections_page(app(ctx)?, after, page.limit, &request_locale(ctx)).await?;
        Ok(page.connection(
            rows,
            |c| CollectionCursor {
                t: c.row.title.clone(),
                i: c.row.id,
            },
            |c| Collection(Arc::new(c)),
        ))
    }

    /// One collection by `id` or `handle` (exactly one); null when not found.
    #[graphql(cache_control(max_age = 300))]
    async fn collection(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        handle: Option<String>,
    ) -> Result<Option<Collection>> {
        let row = match id_or_handle(id, handle, "Collection")? {
            Lookup::Id(id) => loaders(ctx)?.collection.load_one(id).await.gql()?,
            Lookup::Handle(handle) => {
                service::collection_by_handle(app(ctx)?, &handle, &request_locale(ctx)).await?
            }
        };
        Ok(row.map(|r| Collection(Arc::new(r))))
    }
}
