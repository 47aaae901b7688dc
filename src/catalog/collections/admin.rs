//! Staff collection mutations (catalog permission).

use async_graphql::{Context, ID, Object, Result};

use super::service;
use crate::auth::{Permission, RequirePermission};
use crate::catalog::graph::Collection;
use crate::graphql::context::app;
use crate::graphql::ids::expect_global;

/// Staff collection mutations.
#[derive(Default)]
pub struct CollectionsMutation;

#[Object]
impl CollectionsMutation {
    /// Creates a collection.
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn create_collection(
        &self,
        ctx: &Context<'_>,
        handle: String,
        title: String,
        description: Option<String>,
    ) -> Result<Collection> {
        let c = service::create_collection(
            app(ctx)?,
            &handle,
            &title,
            description.as_deref().unwrap_or(""),
        )
        .await?;
        Ok(Collection::plain(c))
    }

    /// Updates a collection.
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn update_collection(
        &self,
        ctx: &Context<'_>,
        id: ID,
        handle: Option<String>,
        title: Option<String>,
        description: Option<String>,
    ) -> Result<Collection> {
        let id = expect_global(&id, "Collection")?;
        let c = service::update_collection(
            app(ctx)?,
            id,
            handle.as_deref(),
            title.as_deref(),
            description.as_deref(),
        )
        .await?;
        Ok(Collection::plain(c))
    }

    /// Deletes a collection (its products stay, without a collection).
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn delete_collection(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        service::delete_collection(app(ctx)?, expect_global(&id, "Collection")?).await?;
        Ok(id)
    }
}
