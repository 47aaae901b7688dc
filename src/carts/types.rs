//! GraphQL types carts and orders share: money totals (and postal addresses, from customers).

use async_graphql::SimpleObject;

use crate::catalog::money::Money;
pub use crate::customers::types::PostalAddress;

/// Money totals, computed by the server from database prices (tax on subtotal + shipping, rounded
/// half up once).
#[derive(SimpleObject, Clone, Debug)]
#[graphql(cache_control(private))]
pub struct Totals {
    /// Lines before tax.
    pub subtotal: Money,
    /// Shipping before tax.
    pub shipping: Money,
    /// Tax at the region's rate.
    pub tax: Money,
    /// What the shopper pays.
    pub total: Money,
    /// The rate in basis points (1800 = 18 %).
    pub tax_rate_bps: i32,
}

impl Totals {
    /// From computed totals.
    pub fn new(t: super::totals::Totals, currency: &str, rate: i32) -> Self {
        Self {
            subtotal: Money::new(t.subtotal, currency),
            shipping: Money::new(t.shipping, currency),
            tax: Money::new(t.tax, currency),
            total: Money::new(t.total, currency),
            tax_rate_bps: rate,
        }
    }
}
