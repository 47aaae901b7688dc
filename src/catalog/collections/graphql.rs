//! The store's collection roots (`collections` by title, `collection` by id or handle).

//! The store's `Collection` type (with its product listing) and its roots.

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, Object, Result};

use super::service;
use crate::cache::Family;
use crate::catalog::graph::Collection;
use crate::catalog::loaders::loaders;
use crate::db::pagination::{PageRequest, decode_cursor, encode_cursor};
use crate::error::{AppError, LoadResultExt};
use crate::graphql::context::app;
use crate::graphql::ids::expect_global;
use crate::graphql::response_cache::{Reads, RootReads};

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
        let after = page
            .after
            .as_deref()
            .map(decode_cursor::<CollectionCursor>)
            .transpose()?;
        let after = after.map(|c| (c.t, c.i));
        let rows = service::collections_page(app(ctx)?, after, page.limit).await?;
        let (rows, has_previous, has_next) = page.finish(rows);
        let mut connection = Connection::new(has_previous, has_next);
        connection.edges.extend(rows.into_iter().map(|c| {
            let cursor = encode_cursor(&CollectionCursor {
                t: c.title.clone(),
                i: c.id,
            });
            Edge::new(cursor, Collection(Arc::new(c)))
        }));
        Ok(connection)
    }

    /// One collection by `id` or `handle` (exactly one); null when not found.
    #[graphql(cache_control(max_age = 300))]
    async fn collection(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        handle: Option<String>,
    ) -> Result<Option<Collection>> {
        let l = loaders(ctx)?;
        let row = match (id, handle) {
            (Some(id), None) => l
                .collection
                .load_one(expect_global(&id, "Collection")?)
                .await
                .gql()?,
            (None, Some(handle)) => service::collection_by_handle(app(ctx)?, &handle).await?,
            _ => return Err(AppError::bad_input("give exactly one of `id` or `handle`").into()),
        };
        Ok(row.map(|r| Collection(Arc::new(r))))
    }
}
