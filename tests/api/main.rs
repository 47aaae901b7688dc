//! The integration test binary: every test drives the real router against a real PostgreSQL.

// Helpers outside `#[test]` fns are not covered by clippy.toml's allow-*-in-tests; a test should
// fail loudly on an unexpected shape.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

mod auth;
mod banners;
mod cache;
mod catalog;
mod catalog_admin;
mod cdn;
mod checkout;
mod customers;
mod errors;
mod faults;
mod freshness;
mod hostile;
mod http;
mod http_cache;
mod jobs;
mod localization;
mod modules;
mod pagination;
mod razorpay;
mod schema;
mod shutdown;
mod subscriptions;
mod support;
mod traces;
