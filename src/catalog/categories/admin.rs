//! The staff view of a category and the category mutations (catalog permission).

use async_graphql::{Context, ID, MaybeUndefined, Object, Result};

use super::model;
use super::service::{self, CategoryChanges};
use crate::auth::{Permission, RequirePermission};
use crate::catalog::graph::Category;
use crate::graphql::context::app;
use crate::graphql::ids::{expect_global, to_global};

/// A category as staff see it (inactive ones included).
pub struct AdminCategory(pub model::Category);

#[Object(cache_control(private))]
impl AdminCategory {
    /// Global ID.
    async fn id(&self) -> ID {
        to_global("AdminCategory", self.0.id)
    }
    /// Handle.
    async fn handle(&self) -> &str {
        &self.0.handle
    }
    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Parent.
    async fn parent_id(&self) -> Option<ID> {
        self.0.parent_id.map(|id| to_global("Category", id))
    }
    /// Position among siblings.
    async fn rank(&self) -> i32 {
        self.0.rank
    }
    /// Whether the store shows it.
    async fn is_active(&self) -> bool {
        self.0.is_active
    }
}

/// Staff category mutations.
#[derive(Default)]
pub struct CategoriesMutation;

#[Object]
impl CategoriesMutation {
    /// Creates a category (top level without `parentId`).
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn create_category(
        &self,
        ctx: &Context<'_>,
        handle: String,
        name: String,
        parent_id: Option<ID>,
        #[graphql(default)] rank: i32,
        #[graphql(default = true)] is_active: bool,
    ) -> Result<Category> {
        let parent = parent_id
            .map(|id| expect_global(&id, "Category"))
            .transpose()?;
        Ok(Category::plain(
            service::create_category(app(ctx)?, &handle, &name, parent, rank, is_active).await?,
        ))
    }

    /// Updates a category: rename, reorder (`rank`), (de)activate, or move (`parentId`, `null`
    /// for the top level); a move under itself or a descendant is refused.
    #[allow(clippy::too_many_arguments)]
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn update_category(
        &self,
        ctx: &Context<'_>,
        id: ID,
        handle: Option<String>,
        name: Option<String>,
        description: Option<String>,
        parent_id: MaybeUndefined<ID>,
        rank: Option<i32>,
        is_active: Option<bool>,
    ) -> Result<AdminCategory> {
        let parent_id = parent_id
            .map_value(|p| expect_global(&p, "Category"))
            .transpose()?
            .into();
        let changes = CategoryChanges {
            handle,
            name,
            description,
            parent_id,
            rank,
            is_active,
        };
        Ok(AdminCategory(
            service::update_category(app(ctx)?, expect_global(&id, "Category")?, changes).await?,
        ))
    }

    /// Deletes a category without children.
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn delete_category(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        service::delete_category(app(ctx)?, expect_global(&id, "Category")?).await?;
        Ok(id)
    }
}
