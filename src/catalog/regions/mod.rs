//! Regions: a currency, the countries served and a tax rate; every price is read in one.

pub mod admin;
pub mod graphql;
pub mod model;
pub mod service;
