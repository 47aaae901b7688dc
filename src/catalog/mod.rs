//! The catalog domain: regions, collections, the category tree, products with options, images,
//! variants and prices. Owns the store's product listing (filters, sorts, keyset pages) and the
//! loaders that batch every relation.
//!
//! One folder per entity, each in the shape of a domain: `model.rs` (rows and their SQL),
//! `graphql.rs` (the store's types and root queries), `admin.rs` (staff types and mutations),
//! `service.rs` (cache-first reads; writes that validate, commit, invalidate and publish).
//! Shared by the entities: `money` (amounts and the tax rule), `rules` (input checks, unique
//! constraints) and `loaders` (every batched relation of one request).

use async_graphql::MergedObject;

use crate::graphql::response_cache::RootReads;

pub mod categories;
pub mod collections;
pub mod graph;
pub mod loaders;
pub mod money;
pub mod products;
pub mod regions;
pub mod rules;
pub mod variants;

/// What the catalog's root query fields read, entity by entity (for the response cache).
pub const READS: &[RootReads] = &[
    products::graphql::READS,
    collections::graphql::READS,
    categories::graphql::READS,
    regions::graphql::READS,
    products::admin::READS,
];

/// Storefront catalog queries (public).
#[derive(MergedObject, Default)]
pub struct CatalogQuery(
    products::graphql::ProductsQuery,
    collections::graphql::CollectionsQuery,
    categories::graphql::CategoriesQuery,
    regions::graphql::RegionsQuery,
);

/// Staff catalog queries (catalog permission).
pub type CatalogAdminQuery = products::admin::ProductsAdminQuery;

/// Staff catalog mutations (catalog permission).
#[derive(MergedObject, Default)]
pub struct CatalogMutation(
    products::admin::ProductsMutation,
    variants::admin::VariantsMutation,
    products::admin::ProductImagesMutation,
    collections::admin::CollectionsMutation,
    categories::admin::CategoriesMutation,
    regions::admin::RegionsMutation,
);

/// Live catalog changes for staff (catalog permission).
pub type CatalogSubscription = products::admin::ProductsSubscription;
