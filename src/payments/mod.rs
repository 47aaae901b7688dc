//! Payments: the `PaymentProvider` interface checkout talks to, the `manual` provider (development
//! and tests: authorizes at once, captures at checkout), and payment sessions recorded in
//! `payments` with their status history. A second provider (Razorpay) implements the trait and is
//! chosen in [`provider_for`]; checkout does not change.

pub mod graphql;
pub mod jobs;
pub mod model;
pub mod razorpay;
pub mod refunds;
pub mod service;
pub mod webhooks;

use futures_util::future::BoxFuture;

use crate::error::{AppError, AppResult};
use crate::state::App;
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

/// Gives back everything a payment took (a canceled order): the provider's refund for captured
/// money, a release for authorized money. Runs inside the caller's transaction; a provider error
/// fails it, so nothing is recorded as refunded that was not.
pub async fn refund_in_full(
    app: &App,
    payment: &Payment,
    remaining: i64,
) -> AppResult<ProviderOutcome> {
    match payment.provider.as_str() {
        "razorpay" => {
            let razorpay = app
                .razorpay
                .as_ref()
                .ok_or_else(|| AppError::Conflict("Razorpay is not configured".into()))?;
            match (&payment.provider_payment_id, payment.status.as_str()) {
                (Some(_), "captured") if remaining <= 0 => Ok(ProviderOutcome {
                    provider_id: None,
                    status: "refunded",
                }),
                (Some(id), "captured") => {
                    let refund = razorpay.refund(id, remaining, None).await?;
                    Ok(ProviderOutcome {
                        provider_id: Some(refund.id),
                        status: "refunded",
                    })
                }
                // Never paid: nothing to give back.
                _ => Ok(ProviderOutcome {
                    provider_id: None,
                    status: "canceled",
                }),
            }
        }
        other => match provider_named(other) {
            Some(provider) => provider.refund(payment).await,
            None => Err(AppError::Internal(anyhow::anyhow!(
                "unknown payment provider {other}"
            ))),
        },
    }
}
