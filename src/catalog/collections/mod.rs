//! Collections: curated groups of products, each with its own product listing.

pub mod admin;
pub mod graphql;
pub mod model;
pub mod service;
