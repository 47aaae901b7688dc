//! The GraphQL form of a postal address, shared by saved addresses, carts and orders.

use async_graphql::SimpleObject;

use super::model::AddressFields;

/// A postal address.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(cache_control(private))]
pub struct PostalAddress {
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Company.
    pub company: Option<String>,
    /// Street address.
    pub address1: String,
    /// Apartment, suite, etc.
    pub address2: Option<String>,
    /// City.
    pub city: String,
    /// State or province.
    pub province: Option<String>,
    /// Postal code.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code, upper case.
    pub country_code: String,
    /// Phone.
    pub phone: Option<String>,
}

impl From<AddressFields> for PostalAddress {
    fn from(a: AddressFields) -> Self {
        Self {
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
        }
    }
}

impl PostalAddress {
    /// From an address stored as JSON on a cart or an order (`None` when absent or unreadable).
    pub fn from_json(value: Option<&serde_json::Value>) -> Option<Self> {
        serde_json::from_value::<AddressFields>(value?.clone())
            .ok()
            .map(Self::from)
    }
}
