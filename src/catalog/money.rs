//! Money in integer minor units: the `Money` type, decimal formatting by currency exponent, and
//! the one tax rule (tax-exclusive prices, tax rounded half up to the minor unit).

use async_graphql::SimpleObject;

use super::regions::model::Region;
use crate::graphql::scalars::MinorUnits;

/// Decimal places of a currency's minor unit (ISO 4217); 2 unless listed.
fn currency_exponent(code: &str) -> u32 {
    match code {
        "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "UGX" => 0,
        "BHD" | "KWD" | "OMR" | "JOD" | "TND" => 3,
        _ => 2,
    }
}

/// Formats minor units as a decimal string in the currency's exponent ("1299.00").
fn decimal_string(amount: i64, currency: &str) -> String {
    let exp = currency_exponent(currency);
    if exp == 0 {
        return amount.to_string();
    }
    let scale = 10i64.pow(exp);
    let sign = if amount < 0 { "-" } else { "" };
    let abs = amount.unsigned_abs();
    let scale = scale.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = exp as usize
    )
}

/// An amount of money.
#[derive(SimpleObject, Clone, Debug)]
pub struct Money {
    /// Integer amount in minor units (paise, cents).
    pub amount: MinorUnits,
    /// ISO 4217 currency code.
    pub currency_code: String,
    /// The amount in major units as a decimal string, e.g. `"1299.00"`; never a float.
    pub decimal: String,
}

impl Money {
    pub fn new(amount: i64, currency: &str) -> Self {
        Self {
            amount: MinorUnits(amount),
            currency_code: currency.to_owned(),
            decimal: decimal_string(amount, currency),
        }
    }
}

/// A price with the region's tax applied (prices are stored tax-exclusive).
#[derive(SimpleObject, Clone, Debug)]
pub struct CalculatedPrice {
    /// Price before tax.
    pub subtotal: Money,
    /// Tax at the region's rate, rounded half up to the minor unit.
    pub tax: Money,
    /// Price including tax.
    pub total: Money,
    /// The region's tax rate in basis points (1800 = 18 %).
    pub tax_rate_bps: i32,
}

pub fn calculated(amount: i64, region: &Region) -> CalculatedPrice {
    let rate = i128::from(region.tax_rate_bps);
    let tax = ((i128::from(amount) * rate + 5_000) / 10_000) as i64;
    let cur = &region.currency_code;
    CalculatedPrice {
        subtotal: Money::new(amount, cur),
        tax: Money::new(tax, cur),
        total: Money::new(amount.saturating_add(tax), cur),
        tax_rate_bps: region.tax_rate_bps,
    }
}

/// The span of a product's variant prices in one currency.
#[derive(SimpleObject, Clone, Debug)]
pub struct PriceRange {
    /// Lowest variant price.
    pub min: Money,
    /// Highest variant price.
    pub max: Money,
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    #[test]
    fn money_formats_in_the_currency_exponent() {
        assert_eq!(decimal_string(129_900, "INR"), "1299.00");
        assert_eq!(decimal_string(5, "USD"), "0.05");
        assert_eq!(decimal_string(-5, "USD"), "-0.05");
        assert_eq!(decimal_string(1500, "JPY"), "1500");
        assert_eq!(decimal_string(1234, "KWD"), "1.234");
    }

    #[test]
    fn tax_rounds_half_up() {
        let region = Region {
            id: 1,
            name: "India".into(),
            currency_code: "INR".into(),
            countries: vec!["IN".into()],
            tax_rate_bps: 1800,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let price = calculated(1_000, &region);
        assert_eq!(price.tax.amount.0, 180);
        assert_eq!(price.total.amount.0, 1_180);
        assert_eq!(calculated(3, &region).tax.amount.0, 1); // 0.54 rounds up
    }
}
