//! Relay object identification: the `Node` interface over every identifiable store type and the
//! staff types a staff app refetches (`AdminProduct`, `AdminHeroBanner`: staff only, by
//! permission), and the `node(id)` / `nodes(ids)` roots. Part of the assembly: it is the one place
//! that knows how each domain loads an entity by ID.

use std::sync::Arc;

use async_graphql::{Context, ID, Interface, Object, Result};

use crate::auth::RequirePermission;
use crate::auth::viewer::Permission;
use crate::banners::admin::AdminHeroBanner;
use crate::banners::graphql::HeroBanner;
use crate::banners::model::HeroBanner as BannerRow;
use crate::banners::service as banner_service;
use crate::cache::Family;
use crate::catalog::graph::{Category, Collection, Product, ProductVariant};
use crate::catalog::loaders::CatalogLoaders;
use crate::catalog::products::admin::AdminProduct;
use crate::catalog::products::model::Product as ProductRow;
use crate::catalog::regions::graphql::Region;
use crate::db::pagination::MAX_PAGE_SIZE;
use crate::error::{AppError, LoadResultExt};
use crate::graphql::context::{app, request_data};
use crate::graphql::ids::from_global;
use crate::graphql::response_cache::{Reads, RootReads};
use crate::locales::graphql::request_locale;

/// An object with a globally unique, opaque ID that `node(id)` can refetch.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Global ID."))]
pub enum Node {
    /// A product.
    Product(Product),
    /// A product variant.
    ProductVariant(ProductVariant),
    /// A collection.
    Collection(Collection),
    /// A category.
    Category(Category),
    /// A region.
    Region(Region),
    /// A hero banner.
    HeroBanner(HeroBanner),
    /// Any product, as staff see it (catalog permission).
    AdminProduct(AdminProduct),
    /// Any hero banner, as staff see it (banners permission).
    AdminHeroBanner(AdminHeroBanner),
}

/// Staff types are refetched only by staff whose role grants `permission` (the same guard as
/// their own fields).
async fn require(ctx: &Context<'_>, permission: Permission) -> Result<()> {
    async_graphql::Guard::check(&RequirePermission(permission), ctx).await
}

async fn load_node(ctx: &Context<'_>, id: &ID) -> Result<Option<Node>> {
    let (kind, key) = from_global(id)?;
    let l = request_data::<CatalogLoaders>(ctx)?;
    Ok(match kind.as_str() {
        "Product" => l
            .product
            .load_one(key)
            .await
            .gql()?
            .map(|r| Node::Product(Product::new(r, None))),
        "ProductVariant" => l
            .variant
            .load_one(key)
            .await
            .gql()?
            .map(|r| Node::ProductVariant(ProductVariant::localized(r, None))),
        "Collection" => l
            .collection
            .load_one(key)
            .await
            .gql()?
            .map(|r| Node::Collection(Collection(Arc::new(r)))),
        "Category" => l
            .category
            .load_one(key)
            .await
            .gql()?
            .map(|r| Node::Category(Category(Arc::new(r)))),
        "Region" => l
            .region
            .load_one(key)
            .await
            .gql()?
            .map(|r| Node::Region(Region(Arc::new(r)))),
        // The same cached, window-filtered list the store shows: one rule for "live".
        "HeroBanner" => {
            banner_service::live_banners(app(ctx)?, chrono::Utc::now(), &request_locale(ctx))
                .await?
                .into_iter()
                .find(|b| b.row.id == key)
                .map(|b| Node::HeroBanner(HeroBanner(b)))
        }
        "AdminProduct" => {
            require(ctx, Permission::Catalog).await?;
            app(ctx)?
                .read(move |conn| {
                    Box::pin(async move { Ok(ProductRow::find_any(conn, key).await?) })
                })
                .await?
                .map(|r| Node::AdminProduct(AdminProduct(r)))
        }
        "AdminHeroBanner" => {
            require(ctx, Permission::Banners).await?;
            app(ctx)?
                .read(move |conn| Box::pin(async move { Ok(BannerRow::find(conn, key).await?) }))
                .await?
                .map(|b| Node::AdminHeroBanner(AdminHeroBanner(b)))
        }
        _ => {
            return Err(AppError::bad_input(format!(
                "ID `{}` does not name a refetchable type",
                id.as_str()
            ))
            .into());
        }
    })
}

/// What the root fields below read, for the response cache (see `Reads`).
pub const READS: RootReads = &[
    ("node", Reads::Families(&Family::ALL)),
    ("nodes", Reads::Families(&Family::ALL)),
];

/// `node` and `nodes` roots.
#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Refetches any object by its global ID; null when it does not exist or is not visible.
    #[graphql(cache_control(max_age = 60))]
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        load_node(ctx, &id).await
    }

    /// Refetches up to 100 objects by global ID, in the order given (null where missing).
    #[graphql(
        cache_control(max_age = 60),
        complexity = "ids.len().max(1).saturating_mul(child_complexity).saturating_add(1)"
    )]
    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> Result<Vec<Option<Node>>> {
        if ids.len() > MAX_PAGE_SIZE {
            return Err(
                AppError::bad_input(format!("`ids` takes at most {MAX_PAGE_SIZE} IDs")).into(),
            );
        }
        // Store types resolve concurrently, so the loaders batch them into one query per type;
        // staff types read one row each, one after the other (one pooled connection at a time).
        let staff = ids
            .iter()
            .any(|id| from_global(id).is_ok_and(|(kind, _)| kind.starts_with("Admin")));
        if !staff {
            return futures_util::future::try_join_all(ids.iter().map(|id| load_node(ctx, id)))
                .await;
        }
        let mut out = Vec::with_capacity(ids.len());
        for id in &ids {
            out.push(load_node(ctx, id).await?);
        }
        Ok(out)
    }
}
