//! Products: the store listing (filters, sorts, keyset pages, batched nested pages), one
//! product by id or handle, and the staff side (drafts, soft deletes, images, live changes).

pub mod admin;
pub mod connection;
pub mod graphql;
pub mod listing;
pub mod model;
pub mod service;
