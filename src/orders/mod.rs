//! Orders: checkout (`service::complete_cart`), the customer's own orders, the staff order desk,
//! and the live `orderUpdated` feed.

pub mod admin;
pub mod events;
pub mod graphql;
pub mod model;
pub mod service;
