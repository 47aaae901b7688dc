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
                Some(v) if v.abs() <= MAX_SAFE => Ok(Self(v)),
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
