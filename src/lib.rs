//! Techpotli commerce GraphQL server.
//!
//! Architecture map:
//! - [`state`]: the shared services (`App`, `AppState`); [`app`]: `build_router`, on top of
//!   everything (nothing in `src/` imports it).
//! - Domains, each with `model.rs` (rows + SQL), `graphql.rs` (store side), `admin.rs` (staff
//!   side), `service.rs` (use cases) and `loaders.rs` where lists reach relations:
//!   [`catalog`] (one folder per entity: regions, collections, categories, products, variants),
//!   [`banners`] (home-page hero banners; the template for a new domain), [`auth`] (staff
//!   accounts, tokens, throttled sign-in), [`customers`] (storefront accounts, addresses, email
//!   verification and password reset), [`carts`] (server-priced carts), [`shipping`] (flat
//!   rates per region), [`payments`] (the provider interface, `manual`), [`orders`] (checkout,
//!   the order desk, `orderUpdated`).
//! - Shared machinery: [`db`] (pool, migrations, keyset pagination), [`cache`] (Redis or
//!   in-process, versioned invalidation, single flight), [`graphql`] (plumbing and
//!   the schema assembly), [`http`] (health, metrics, serve loop), [`storage`] (S3/R2 or local
//!   files), [`events`] (the event bus), [`jobs`] (the durable job queue and its workers),
//!   [`mail`] (templates, SMTP or log), [`random`] (ids, jitter), [`error`], [`config`].
//! - The public door: [`graphql::limits`] (bounds checked before parsing and expansion),
//!   [`graphql::cost`] (query cost and the request guard), [`throttle`] (leaky buckets of cost
//!   points), [`http::client`] (client addresses), [`auth::sessions`] (tokens die with accounts).
//! - [`seed`]: the deterministic demo catalog; [`cli`]: the command line.

pub mod admin_console;
pub mod app;
pub mod auth;
pub mod banners;
pub mod cache;
pub mod carts;
pub mod catalog;
pub mod cdn;
pub mod cli;
pub mod config;
pub mod customers;
pub mod db;
pub mod error;
pub mod events;
pub mod graphql;
pub mod http;
pub mod jobs;
pub mod locales;
pub mod mail;
pub mod orders;
pub mod payments;
pub mod random;
pub mod seed;
pub mod shipping;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod throttle;
