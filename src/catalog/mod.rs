//! The catalog domain: regions, collections, the category tree, products with options, variants,
//! prices and images. Owns the store's product listing (filters, sorts, keyset pages) and the
//! loaders that batch every relation.

pub mod admin;
pub mod graphql;
pub mod listing;
pub mod loaders;
pub mod model;
pub mod service;
