//! Storefront customers: registration with email verification, sign-in (customer tokens from the
//! same machinery as staff, throttled the same way), password reset, profile and addresses; and
//! the staff side (search, disable). Every mail goes through the job queue, enqueued in the
//! transaction of the change that causes it.

pub mod admin;
pub mod graphql;
pub mod jobs;
pub mod model;
pub mod service;
pub mod tokens;
pub mod types;

use crate::graphql::response_cache::RootReads;

/// What this domain's root query fields read (see `Reads`).
pub const READS: &[RootReads] = &[graphql::READS, admin::READS];
