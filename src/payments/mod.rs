//! Payments: the `PaymentProvider` interface checkout talks to, the `manual` provider (development
//! and tests: authorizes at once, captures at checkout), and payment sessions recorded in
//! `payments` with their status history. A second provider (Razorpay) implements the trait and is
//! chosen in [`provider_for`]; checkout does not change.

pub mod model;

use futures_util::future::BoxFuture;

use crate::error::AppResult;
use model::Payment;

/// What a provider answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderOutcome {
    /// The provider's own id of the session, if any.
    pub provider_id: Option<String>,
    /// The new status (`authorized`, `captured`, `refunded`, `canceled`, `failed`).
    pub status: &'static str,
}

/// A payment provider.
pub trait PaymentProvider: Send + Sync {
    /// Stored in `payments.provider`.
    fn name(&self) -> &'static str;

    /// Starts a session for `payment` (its amount and currency are the cart's total).
    fn start<'a>(&'a self, payment: &'a Payment) -> BoxFuture<'a, AppResult<ProviderOutcome>>;

    /// Whether checkout captures at once (otherwise a later event, e.g. a webhook, does).
    fn captures_at_checkout(&self) -> bool;

    /// Captures an authorized payment.
    fn capture<'a>(&'a self, payment: &'a Payment) -> BoxFuture<'a, AppResult<ProviderOutcome>>;

    /// Gives the money back (captured) or releases it (authorized): the refund hook of a canceled
    /// order.
    fn refund<'a>(&'a self, payment: &'a Payment) -> BoxFuture<'a, AppResult<ProviderOutcome>>;
}

/// Authorizes every session at once and captures at checkout; no money moves. For development,
/// tests and offline payments (cash on delivery, bank transfer checked by staff).
pub struct Manual;

impl PaymentProvider for Manual {
    fn name(&self) -> &'static str {
        "manual"
    }

    fn start<'a>(&'a self, payment: &'a Payment) -> BoxFuture<'a, AppResult<ProviderOutcome>> {
        Box::pin(async move {
            Ok(ProviderOutcome {
                provider_id: Some(format!("manual_{}", payment.id)),
                status: "authorized",
            })
        })
    }

    fn captures_at_checkout(&self) -> bool {
        true
    }

    fn capture<'a>(&'a self, _: &'a Payment) -> BoxFuture<'a, AppResult<ProviderOutcome>> {
        Box::pin(async {
            Ok(ProviderOutcome {
                provider_id: None,
                status: "captured",
            })
        })
    }

    fn refund<'a>(&'a self, payment: &'a Payment) -> BoxFuture<'a, AppResult<ProviderOutcome>> {
        let status = if payment.status == "captured" {
            "refunded"
        } else {
            "canceled"
        };
        Box::pin(async move {
            Ok(ProviderOutcome {
                provider_id: None,
                status,
            })
        })
    }
}

/// The provider of a region (today every region uses `manual`).
pub fn provider_for(_region_id: i64) -> &'static dyn PaymentProvider {
    &Manual
}

/// The provider named `name` (for captures and refunds of existing payments).
pub fn provider_named(name: &str) -> Option<&'static dyn PaymentProvider> {
    match name {
        "manual" => Some(&Manual),
        _ => None,
    }
}
