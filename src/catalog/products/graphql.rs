//! The store's product roots: the listing (`products`) and one product (`product`).

//! The store's `Product` (with its options, images and price range) and the product roots.

use async_graphql::{Context, ID, Object, Result};

use super::connection::{CountSource, ProductArgs, ProductFilterInput, ProductSortInput};
use super::service;
use crate::cache::Family;
use crate::catalog::graph::{Product, ProductConnection, build_connection};
use crate::catalog::regions::graphql::region_arg;
use crate::error::AppResult;
use crate::graphql::context::app;
use crate::graphql::ids::{Lookup, id_or_handle};
use crate::graphql::response_cache::{Reads, RootReads};
use crate::locales::graphql::request_locale;

/// What the root fields below read, for the response cache (see `Reads`).
pub const READS: RootReads = &[
    ("products", Reads::Families(&Family::CATALOG)),
    ("product", Reads::OneProduct),
];

/// Storefront product queries (public).
#[derive(Default)]
pub struct ProductsQuery;

#[Object]
impl ProductsQuery {
    /// Store-visible products, keyset-paginated, filtered and sorted on the server.
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        cache_control(max_age = 60),
        complexity = "crate::graphql::cost::connection_cost(first, last, child_complexity)"
    )]
    async fn products(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<ProductFilterInput>,
        sort: Option<ProductSortInput>,
        region_id: Option<ID>,
    ) -> Result<ProductConnection> {
        Ok(root_products(
            ctx,
            ProductArgs {
                first,
                after,
                last,
                before,
                filter,
                sort,
                region_id,
            },
        )
        .await?)
    }

    /// One store-visible product by `id` or `handle` (exactly one); null when not found.
    #[graphql(cache_control(max_age = 300))]
    async fn product(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        handle: Option<String>,
        region_id: Option<ID>,
    ) -> Result<Option<Product>> {
        let region = region_arg(ctx, region_id.as_ref()).await?;
        let app = app(ctx)?;
        let locale = request_locale(ctx);
        let row = match id_or_handle(id, handle, "Product")? {
            Lookup::Id(id) => service::product_by_id(app, id, &locale).await?,
            Lookup::Handle(handle) => service::product_by_handle(app, &handle, &locale).await?,
        };
        Ok(row.map(|r| Product::new(r, region)))
    }
}

/// The store's product listing at the root.
pub async fn root_products(ctx: &Context<'_>, args: ProductArgs) -> AppResult<ProductConnection> {
    let (query, page, region) = args.resolve(ctx).await?;
    let rows = service::list_products(app(ctx)?, &query, &page, &request_locale(ctx)).await?;
    Ok(build_connection(
        &query,
        &page,
        rows,
        region,
        CountSource::Root(query.clone()),
    ))
}
