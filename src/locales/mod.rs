//! Localization: the store's locales, per-locale translations of the catalog and banners, and
//! the choice of language per request.
//!
//! - `model`: locale and translation rows; `fields`: what can be translated, and a translation
//!   as reads carry it (joined by the same statement that loads its entity).
//! - `negotiate`: the one rule that picks a request's locale (directive, `locale` argument,
//!   `Accept-Language`, default); `registry`: this instance's copy of the locales.
//! - `graphql`: `locales`, `@inContext`, `fieldLocales`; `admin`: staff locale and translation
//!   writes; `service`: their use cases and exact, per-locale invalidation.

pub mod admin;
pub mod fields;
pub mod graphql;
pub mod model;
pub mod negotiate;
pub mod registry;
pub mod service;
