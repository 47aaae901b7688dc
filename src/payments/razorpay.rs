//! Razorpay: its Orders, Payments (capture) and Refunds API over HTTPS, and the two signatures it
//! uses — HMAC-SHA256 of `order_id|payment_id` with the key secret (Checkout's handler response)
//! and of the raw webhook body with the webhook secret (`X-Razorpay-Signature`) — both compared in
//! constant time.

use base64::Engine;
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::Full;
use serde::Deserialize;
use sha2::Sha256;

use crate::config::RazorpayConfig;
use crate::error::{AppError, AppResult};
use crate::http::outbound::{self, HttpsClient};

/// Largest API response read.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

type HmacSha256 = Hmac<Sha256>;

/// Lower-case hex HMAC-SHA256 of `message` with `secret` (HMAC takes keys of any length).
pub fn sign(secret: &str, message: &[u8]) -> String {
    <HmacSha256 as KeyInit>::new_from_slice(secret.as_bytes()).map_or_else(
        |_| String::new(),
        |mut mac| {
            mac.update(message);
            crate::cache::keys::hex(&mac.finalize().into_bytes())
        },
    )
}

/// Whether `signature` (hex) is the HMAC-SHA256 of `message` with `secret`, compared in constant
/// time. Malformed hex is simply not a match.
pub fn verify(secret: &str, message: &[u8], signature: &str) -> bool {
    let Some(expected) = decode_hex(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = <HmacSha256 as KeyInit>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(message);
    mac.verify_slice(&expected).is_ok()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A Razorpay order (one checkout attempt).
#[derive(Debug, Clone, Deserialize)]
pub struct RazorpayOrder {
    pub id: String,
    pub amount: i64,
    pub currency: String,
}

/// A Razorpay refund.
#[derive(Debug, Clone, Deserialize)]
pub struct RazorpayRefund {
    pub id: String,
    pub amount: i64,
    /// `pending` or `processed` (`refund.processed` follows a pending one).
    #[serde(default)]
    pub status: String,
}

/// The Razorpay API client.
pub struct Razorpay {
    config: RazorpayConfig,
    http: HttpsClient,
}

impl Razorpay {
    /// A client for the configured account (`https` roots from the operating system).
    pub fn new(config: RazorpayConfig) -> anyhow::Result<Self> {
        Ok(Self {
            config,
            http: outbound::https_client()?,
        })
    }

    /// The public key id the storefront's Razorpay Checkout needs.
    pub fn key_id(&self) -> &str {
        &self.config.key_id
    }

    /// Whether `signature` is Razorpay Checkout's signature of this order and payment.
    pub fn verify_payment(&self, order_id: &str, payment_id: &str, signature: &str) -> bool {
        verify(
            &self.config.key_secret,
            format!("{order_id}|{payment_id}").as_bytes(),
            signature,
        )
    }

    /// Whether `signature` is the webhook signature of `body`.
    pub fn verify_webhook(&self, body: &[u8], signature: &str) -> bool {
        verify(&self.config.webhook_secret, body, signature)
    }

    /// Creates an order for `amount` (minor units) in `currency`.
    pub async fn create_order(
        &self,
        amount: i64,
        currency: &str,
        receipt: &str,
        notes: serde_json::Value,
    ) -> AppResult<RazorpayOrder> {
        let body = serde_json::json!({
            "amount": amount, "currency": currency, "receipt": receipt, "notes": notes,
        });
        self.call("/v1/orders", &body).await
    }

    /// Whether the account captures payments by itself.
    pub fn auto_capture(&self) -> bool {
        self.config.auto_capture
    }

    /// Captures an authorized payment (accounts without automatic capture).
    pub async fn capture(&self, payment_id: &str, amount: i64, currency: &str) -> AppResult<()> {
        let body = serde_json::json!({ "amount": amount, "currency": currency });
        let _: serde_json::Value = self
            .call(&format!("/v1/payments/{payment_id}/capture"), &body)
            .await?;
        Ok(())
    }

    /// Refunds `amount` of a captured payment; `reference` (our refund id) travels in its notes
    /// and comes back in `refund.processed`, so the webhook finds our row even when the answer to
    /// this call was lost.
    pub async fn refund(
        &self,
        payment_id: &str,
        amount: i64,
        reference: Option<i64>,
    ) -> AppResult<RazorpayRefund> {
        let body = serde_json::json!({ "amount": amount, "notes": { "refund_id": reference } });
        self.call(&format!("/v1/payments/{payment_id}/refund"), &body)
            .await
    }

    /// A payment's status at Razorpay (`created`, `authorized`, `captured`, `refunded`, `failed`).
    pub async fn payment_status(&self, payment_id: &str) -> AppResult<String> {
        let payment: serde_json::Value = self
            .call(
                &format!("/v1/payments/{payment_id}"),
                &serde_json::Value::Null,
            )
            .await?;
        Ok(payment["status"].as_str().unwrap_or_default().to_owned())
    }

    /// POSTs `body` (GETs when it is `null`) and reads the JSON answer.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> AppResult<T> {
        let unavailable = |what: String| {
            tracing::warn!(path, error = %what, "Razorpay API call failed");
            AppError::Unavailable
        };
        let credentials = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.config.key_id, self.config.key_secret));
        let method = if body.is_null() {
            hyper::Method::GET
        } else {
            hyper::Method::POST
        };
        let payload = if body.is_null() {
            Bytes::new()
        } else {
            Bytes::from(body.to_string())
        };
        let request = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.config.api_url))
            .header("content-type", "application/json")
            .header("authorization", format!("Basic {credentials}"))
            .body(Full::new(payload))
            .map_err(|e| AppError::Internal(e.into()))?;
        let (status, bytes) =
            outbound::send(&self.http, request, self.config.timeout, MAX_RESPONSE_BYTES)
                .await
                .map_err(unavailable)?;
        if status.is_server_error() {
            return Err(unavailable(format!("HTTP {status}")));
        }
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes);
            tracing::warn!(path, %status, body = %text, "Razorpay refused the call");
            return Err(AppError::Conflict(format!(
                "the payment provider refused the request (HTTP {})",
                status.as_u16()
            )));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            AppError::Internal(anyhow::anyhow!("Razorpay answered unreadable JSON: {e}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_documented_algorithm_and_refuse_tampering() {
        // HMAC-SHA256("order_1|pay_1", "secret"), computed independently (Python hmac).
        let sig = sign("secret", b"order_1|pay_1");
        assert_eq!(
            sig,
            "52115a0d3400de9e86aade1f1b6eba9e8974604f4e267a9e9a16633a4c8dd2cb"
        );
        assert!(verify("secret", b"order_1|pay_1", &sig));
        assert!(verify("secret", b"order_1|pay_1", &sig.to_uppercase()));
        assert!(!verify("secret", b"order_1|pay_2", &sig));
        assert!(!verify("other", b"order_1|pay_1", &sig));
        assert!(!verify("secret", b"order_1|pay_1", "zz"));
        assert!(!verify("secret", b"order_1|pay_1", ""));
    }
}
