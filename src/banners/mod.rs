//! Hero banners of the storefront home page: which are live now, in which order. The template
//! for a new domain (see README "Adding a domain"): `model.rs` rows and SQL, `graphql.rs` the
//! store side, `admin.rs` the staff side, `service.rs` use cases (validate, lock, commit,
//! invalidate, publish).

pub mod admin;
pub mod graphql;
pub mod model;
pub mod service;
