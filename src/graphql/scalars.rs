//! Custom scalars shared by the domains.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

/// An integer amount of money in the currency's minor units (paise, cents). A JSON integer; GraphQL
/// `Int` is 32-bit, which is too small for money, so amounts up to 2^53 travel as this scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinorUnits(pub i64);

/// Largest magnitude a JSON number carries exactly in every client (2^53 - 1).
const MAX_SAFE: i64 = 9_007_199_254_740_991;

#[Scalar(name = "MinorUnits")]
impl ScalarType for MinorUnits {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::Number(n) => match n.as_i64() {
                // `unsigned_abs`: `i64::MIN.abs()` overflows (a panic in debug, a wrap in release).
                Some(v) if v.unsigned_abs() <= MAX_SAFE.unsigned_abs() => Ok(Self(v)),
                _ => Err(InputValueError::custom(
                    "MinorUnits must be an integer within ±2^53",
                )),
            },
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::Number(self.0.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_units_refuse_out_of_range_values_without_overflowing() {
        let parse = |n: i64| MinorUnits::parse(Value::Number(n.into()));
        assert!(parse(i64::MIN).is_err());
        assert!(parse(i64::MAX).is_err());
        assert!(parse(-MAX_SAFE - 1).is_err());
        assert_eq!(parse(-MAX_SAFE).ok(), Some(MinorUnits(-MAX_SAFE)));
        assert_eq!(parse(1999).ok(), Some(MinorUnits(1999)));
    }
}
