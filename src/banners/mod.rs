//! Hero banners of the storefront home page: which are live now, in which order.

pub mod graphql;
pub mod model;
pub mod service;
