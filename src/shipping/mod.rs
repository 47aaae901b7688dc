//! Shipping options: flat rates per region, managed by staff, chosen on a cart.

pub mod admin;
pub mod model;
