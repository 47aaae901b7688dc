//! Who is calling: staff accounts, passwords, JWTs, the request's `Viewer`, and the GraphQL guards
//! that let each admin field require one permission.

pub mod graphql;
pub mod guard;
pub mod jwt;
pub mod model;
pub mod password;
pub mod service;
pub mod sessions;
pub mod sign_in;
pub mod viewer;

pub use guard::{RequireAdmin, RequireCustomer, RequirePermission};
pub use viewer::{Permission, Role, Viewer};
