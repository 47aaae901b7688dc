//! Categories: the navigation tree; a category lists the products of its whole subtree.

pub mod admin;
pub mod graphql;
pub mod model;
pub mod service;
