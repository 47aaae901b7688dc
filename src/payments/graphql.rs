//! The storefront's Razorpay flow: `initiatePayment` → Razorpay Checkout in the browser →
//! `verifyRazorpayPayment` (or, if the browser never comes back, the webhook) → the order.

use async_graphql::{Context, ID, Object, Result, SimpleObject};

use super::service;
use crate::catalog::money::Money;
use crate::graphql::context::{app, request_context};
use crate::orders::graphql::Order;

/// What Razorpay Checkout needs (`key`, `order_id`, `amount`, `currency`).
#[derive(SimpleObject, Clone, Debug)]
#[graphql(cache_control(private))]
pub struct RazorpayCheckout {
    /// Pass as `key`.
    pub key_id: String,
    /// Pass as `order_id`.
    pub razorpay_order_id: String,
    /// The cart's total; pass `amount.amount` as `amount` (paise).
    pub amount: Money,
}

/// Razorpay mutations.
#[derive(Default)]
pub struct PaymentsMutation;

#[Object]
impl PaymentsMutation {
    /// Starts paying for a cart that is ready for checkout (lines, email, shipping address and
    /// method) with Razorpay: a Razorpay order for the total computed here. Calling it again for an
    /// unchanged cart returns the same order; a changed total makes a new one.
    async fn initiate_payment(&self, ctx: &Context<'_>, cart_id: ID) -> Result<RazorpayCheckout> {
        let viewer = &request_context(ctx)?.viewer;
        let started = service::initiate(app(ctx)?, viewer, &cart_id).await?;
        Ok(RazorpayCheckout {
            key_id: started.key_id,
            razorpay_order_id: started.payment.provider_id.clone().unwrap_or_default(),
            amount: Money::new(started.payment.amount, &started.payment.currency_code),
        })
    }

    /// Completes the cart with Razorpay Checkout's answer (`razorpay_order_id`,
    /// `razorpay_payment_id`, `razorpay_signature`). The signature is checked first: a wrong one
    /// is `BAD_USER_INPUT` and records nothing. Safe to retry, and safe against the webhook: one
    /// order either way.
    async fn verify_razorpay_payment(
        &self,
        ctx: &Context<'_>,
        cart_id: ID,
        razorpay_order_id: String,
        razorpay_payment_id: String,
        razorpay_signature: String,
    ) -> Result<Order> {
        let app = app(ctx)?;
        let viewer = &request_context(ctx)?.viewer;
        let order = service::verify(
            app,
            viewer,
            &cart_id,
            &razorpay_order_id,
            &razorpay_payment_id,
            &razorpay_signature,
        )
        .await?;
        Order::load_one(app, order).await
    }
}
