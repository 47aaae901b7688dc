//! GraphQL types carts and orders share: postal addresses and money totals.

use async_graphql::SimpleObject;

use crate::catalog::money::Money;
use crate::customers::model::AddressFields;

/// A postal address on a cart or an order.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(cache_control(private))]
pub struct PostalAddress {
    pub first_name: String,
    pub last_name: String,
    pub company: Option<String>,
    pub address1: String,
    pub address2: Option<String>,
    pub city: String,
    pub province: Option<String>,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2.
    pub country_code: String,
    pub phone: Option<String>,
}

impl PostalAddress {
    /// From a stored JSON address (`None` when absent or unreadable).
    pub fn from_json(value: Option<&serde_json::Value>) -> Option<Self> {
        let a: AddressFields = serde_json::from_value(value?.clone()).ok()?;
        Some(Self {
            first_name: a.first_name,
            last_name: a.last_name,
            company: a.company,
            address1: a.address1,
            address2: a.address2,
            city: a.city,
            province: a.province,
            postal_code: a.postal_code,
            country_code: a.country_code,
            phone: a.phone,
        })
    }
}

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
