//! Cart and order totals, in integer minor units, from database prices only.
//!
//! The rule: `subtotal = Σ unit price × quantity`; `tax = round_half_up((subtotal + shipping) ×
//! rate_bps / 10,000)`, computed once on the whole (not per line, so lines never round apart);
//! `total = subtotal + shipping + tax`. Prices and shipping rates are stored before tax.

/// A cart's or order's money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub subtotal: i64,
    pub shipping: i64,
    pub tax: i64,
    pub total: i64,
}

impl Totals {
    /// Totals of `(unit price, quantity)` lines, a shipping amount and a tax rate.
    pub fn compute(
        lines: impl IntoIterator<Item = (i64, i32)>,
        shipping: i64,
        rate_bps: i32,
    ) -> Self {
        let subtotal: i128 = lines
            .into_iter()
            .map(|(price, qty)| i128::from(price) * i128::from(qty))
            .sum();
        let taxable = subtotal + i128::from(shipping);
        let tax = (taxable * i128::from(rate_bps) + 5_000).div_euclid(10_000);
        let clamp = |v: i128| i64::try_from(v).unwrap_or(i64::MAX);
        Self {
            subtotal: clamp(subtotal),
            shipping,
            tax: clamp(tax),
            total: clamp(taxable + tax),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines, shipping, tax rate, expected totals.
    type Case = (&'static [(i64, i32)], i64, i32, Totals);

    /// Hand-computed cases (INR paise, 18 % GST unless noted).
    #[test]
    fn totals_match_hand_computed_cases() {
        let cases: &[Case] = &[
            // ₹999.00 × 2 + ₹50.00 shipping: 2,048.00 × 18 % = 368.64.
            (
                &[(99_900, 2)],
                5_000,
                1800,
                Totals {
                    subtotal: 199_800,
                    shipping: 5_000,
                    tax: 36_864,
                    total: 241_664,
                },
            ),
            // 0.03 × 18 % = 0.0054 → 0.01 (half up at 0.005).
            (
                &[(3, 1)],
                0,
                1800,
                Totals {
                    subtotal: 3,
                    shipping: 0,
                    tax: 1,
                    total: 4,
                },
            ),
            // 0.02 × 18 % = 0.0036 → 0.00.
            (
                &[(2, 1)],
                0,
                1800,
                Totals {
                    subtotal: 2,
                    shipping: 0,
                    tax: 0,
                    total: 2,
                },
            ),
            // Exactly half a paisa rounds up: 25 × 2 % = 0.50 → 1.
            (
                &[(25, 1)],
                0,
                200,
                Totals {
                    subtotal: 25,
                    shipping: 0,
                    tax: 1,
                    total: 26,
                },
            ),
            // Per-line rounding would give 1 + 1 = 2; on the whole, 0.54 + 0.54 = 1.08 → 1.
            (
                &[(3, 1), (3, 1)],
                0,
                1800,
                Totals {
                    subtotal: 6,
                    shipping: 0,
                    tax: 1,
                    total: 7,
                },
            ),
            // Tax-free region, free shipping.
            (
                &[(12_345, 3)],
                0,
                0,
                Totals {
                    subtotal: 37_035,
                    shipping: 0,
                    tax: 0,
                    total: 37_035,
                },
            ),
            // Several lines, 20 % VAT: (1,999 × 3 + 500 + 799) = 7,296; shipping 499 → tax 1,559.
            (
                &[(1_999, 3), (500, 1), (799, 1)],
                499,
                2000,
                Totals {
                    subtotal: 7_296,
                    shipping: 499,
                    tax: 1_559,
                    total: 9_354,
                },
            ),
            // Empty cart with shipping only.
            (
                &[],
                4_000,
                1800,
                Totals {
                    subtotal: 0,
                    shipping: 4_000,
                    tax: 720,
                    total: 4_720,
                },
            ),
        ];
        for (lines, shipping, rate, want) in cases {
            assert_eq!(
                Totals::compute(lines.iter().copied(), *shipping, *rate),
                *want,
                "{lines:?}"
            );
        }
    }
}
