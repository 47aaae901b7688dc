//! Variants: the purchasable units of a product (stock, options) and their prices.

pub mod admin;
pub mod model;
pub mod service;
