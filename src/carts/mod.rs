//! Carts: server-priced, private carts (anonymous ones reachable only by their unguessable id,
//! customers' only by their owner), lines against the live catalog, contact and addresses,
//! shipping method and payment session — everything checkout (`orders::service`) needs.

pub mod graphql;
pub mod model;
pub mod service;
pub mod totals;
pub mod types;
