//! Sends purges by surrogate key to the configured CDN. Every purger takes the whole set of keys
//! of one (coalesced) purge and splits it into as few calls as the CDN allows. A failure of any
//! call fails the purge, which the job queue retries as a whole (purging a key twice is harmless).
//!
//! | purger | call | soft purge |
//! |---|---|---|
//! | `varnish` | `PURGE /` with `xkey-softpurge: k1 k2 …` (or `xkey-purge`) to each host | yes: the object's TTL ends, it is kept for grace (served only while the origin is sick, see `deploy/varnish/techpotli.vcl`) |
//! | `fastly` | `POST /service/{id}/purge`, `{"surrogate_keys": […]}` (≤ 256), `Fastly-Key` | yes: `Fastly-Soft-Purge: 1` marks stale; `Surrogate-Control` allows stale only on error |
//! | `cloudflare` | `POST /zones/{zone}/purge_cache`, `{"tags": […]}` (≤ 30), bearer token | no: Cloudflare purges by tag are always hard |
//! | `webhook` | `POST {"keys": […], "soft": bool}` to each URL, optional bearer token | the receiver decides |

use bytes::Bytes;
use http_body_util::Full;
use hyper::Method;

use crate::config::{CdnConfig, CdnTarget};
use crate::http::outbound::{self, HttpsClient};

/// Largest answer read from a purge call.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Bytes of keys in one Varnish purge header (Varnish refuses headers past `http_req_hdr_len`,
/// 8 KiB by default).
const VARNISH_HEADER_BYTES: usize = 4_000;
/// Fastly's limit of keys per batch purge.
const FASTLY_KEYS: usize = 256;
/// Cloudflare's limit of tags per purge call.
const CLOUDFLARE_TAGS: usize = 30;

/// What this process's purges did, for `/metrics`.
#[derive(Debug, Default)]
pub struct PurgeMetrics {
    /// Purges sent (each may take over many writes).
    pub purges: std::sync::atomic::AtomicU64,
    /// Keys purged.
    pub keys: std::sync::atomic::AtomicU64,
    /// Calls to the CDN.
    pub calls: std::sync::atomic::AtomicU64,
}

impl PurgeMetrics {
    /// Counts one purge of `keys` keys in `calls` calls.
    pub fn purged(&self, keys: usize, calls: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        self.purges.fetch_add(1, Relaxed);
        self.keys.fetch_add(keys as u64, Relaxed);
        self.calls.fetch_add(calls as u64, Relaxed);
    }
}

/// A configured CDN purger.
pub struct Purger {
    config: CdnConfig,
    http: HttpsClient,
    /// Until when (Unix ms) writes queue their purges without trying them (after a failure).
    backing_off_until: std::sync::atomic::AtomicU64,
}

impl Purger {
    /// The purger of `config`; `None` when `CDN_PURGER=none`.
    pub fn new(config: &CdnConfig) -> anyhow::Result<Option<Self>> {
        if config.target == CdnTarget::None {
            return Ok(None);
        }
        Ok(Some(Self {
            config: config.clone(),
            http: outbound::https_client()?,
            backing_off_until: std::sync::atomic::AtomicU64::new(0),
        }))
    }

    /// Whether a write may try its purge itself (no recent failure).
    pub fn may_try_now(&self) -> bool {
        now_ms()
            >= self
                .backing_off_until
                .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// After a failed attempt: writes only queue their purges for `pause`.
    pub fn back_off(&self, pause: std::time::Duration) {
        let until = now_ms().saturating_add(u64::try_from(pause.as_millis()).unwrap_or(u64::MAX));
        self.backing_off_until
            .store(until, std::sync::atomic::Ordering::Relaxed);
    }

    /// The purger's name (`varnish`, `fastly`, …).
    pub fn name(&self) -> &'static str {
        self.config.target.name()
    }

    /// Purges `keys`; returns how many calls it made. The error names the failing call without
    /// credentials.
    pub async fn purge(&self, keys: &[String]) -> Result<usize, String> {
        if keys.is_empty() {
            return Ok(0);
        }
        let soft = self.config.soft;
        let mut calls = 0;
        match &self.config.target {
            CdnTarget::None => {}
            CdnTarget::Varnish { hosts } => {
                let header = if soft { "xkey-softpurge" } else { "xkey-purge" };
                for group in by_bytes(keys, VARNISH_HEADER_BYTES) {
                    for host in hosts {
                        let request = hyper::Request::builder()
                            .method(Method::from_bytes(b"PURGE").map_err(|e| e.to_string())?)
                            .uri(format!("{host}/"))
                            .header(header, group.join(" "))
                            .body(Full::new(Bytes::new()))
                            .map_err(|e| e.to_string())?;
                        self.call(&shown(host), request).await?;
                        calls += 1;
                    }
                }
            }
            CdnTarget::Fastly {
                api_url,
                service_id,
                token,
            } => {
                for chunk in keys.chunks(FASTLY_KEYS) {
                    let mut request = hyper::Request::builder()
                        .method(Method::POST)
                        .uri(format!("{api_url}/service/{service_id}/purge"))
                        .header("fastly-key", token)
                        .header("accept", "application/json")
                        .header("content-type", "application/json");
                    if soft {
                        request = request.header("fastly-soft-purge", "1");
                    }
                    let body = serde_json::json!({ "surrogate_keys": chunk });
                    self.call("fastly", json_request(request, &body)?).await?;
                    calls += 1;
                }
            }
            CdnTarget::Cloudflare {
                api_url,
                zone_id,
                token,
            } => {
                for chunk in keys.chunks(CLOUDFLARE_TAGS) {
                    let request = hyper::Request::builder()
                        .method(Method::POST)
                        .uri(format!("{api_url}/zones/{zone_id}/purge_cache"))
                        .header("authorization", format!("Bearer {token}"))
                        .header("content-type", "application/json");
                    let body = serde_json::json!({ "tags": chunk });
                    let answer = self
                        .call("cloudflare", json_request(request, &body)?)
                        .await?;
                    // Cloudflare reports failures in the body too.
                    let ok = serde_json::from_slice::<serde_json::Value>(&answer)
                        .ok()
                        .and_then(|v| v["success"].as_bool())
                        .unwrap_or(false);
                    if !ok {
                        return Err("cloudflare: the purge was not accepted".into());
                    }
                    calls += 1;
                }
            }
            CdnTarget::Webhook { urls, token } => {
                let body = serde_json::json!({ "keys": keys, "soft": soft });
                for url in urls {
                    let mut request = hyper::Request::builder()
                        .method(Method::POST)
                        .uri(url.as_str())
                        .header("content-type", "application/json");
                    if let Some(token) = token {
                        request = request.header("authorization", format!("Bearer {token}"));
                    }
                    self.call(&shown(url), json_request(request, &body)?)
                        .await?;
                    calls += 1;
                }
            }
        }
        Ok(calls)
    }

    /// One call; anything but a 2xx answer is an error naming `what` and the status.
    async fn call(
        &self,
        what: &str,
        request: hyper::Request<Full<Bytes>>,
    ) -> Result<Bytes, String> {
        let (status, body) =
            outbound::send(&self.http, request, self.config.timeout, MAX_RESPONSE_BYTES)
                .await
                .map_err(|e| format!("{what}: {e}"))?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(format!("{what}: HTTP {}", status.as_u16()))
        }
    }
}

fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
}

fn json_request(
    builder: hyper::http::request::Builder,
    body: &serde_json::Value,
) -> Result<hyper::Request<Full<Bytes>>, String> {
    builder
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| e.to_string())
}

/// A URL as errors and logs may show it: scheme, host and port only (a webhook URL may carry a
/// token in its path, query or user info).
fn shown(url: &str) -> String {
    match url.parse::<hyper::Uri>() {
        Ok(uri) => format!(
            "{}://{}{}",
            uri.scheme_str().unwrap_or("http"),
            uri.host().unwrap_or("?"),
            uri.port_u16().map(|p| format!(":{p}")).unwrap_or_default()
        ),
        Err(_) => "(unparsable URL)".into(),
    }
}

/// Splits `keys` into groups whose space-joined length stays within `limit` bytes.
fn by_bytes(keys: &[String], limit: usize) -> Vec<Vec<&str>> {
    let mut groups: Vec<Vec<&str>> = Vec::new();
    let mut used = 0;
    for key in keys {
        match groups.last_mut() {
            Some(group) if used + 1 + key.len() <= limit => {
                group.push(key);
                used += 1 + key.len();
            }
            _ => {
                groups.push(vec![key]);
                used = key.len();
            }
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_errors_lose_their_secrets() {
        assert_eq!(
            shown("https://user:pa55@hooks.example.com:8443/purge/s3cret?token=t0k"),
            "https://hooks.example.com:8443"
        );
        assert_eq!(shown("http://10.0.0.5:6081"), "http://10.0.0.5:6081");
    }

    #[test]
    fn varnish_headers_are_split_by_size() {
        let keys: Vec<String> = (0..1000).map(|i| format!("product:id:{i:06}")).collect();
        let groups = by_bytes(&keys, VARNISH_HEADER_BYTES);
        assert!(groups.len() > 1);
        assert!(
            groups
                .iter()
                .all(|g| g.join(" ").len() <= VARNISH_HEADER_BYTES)
        );
        assert_eq!(groups.iter().map(Vec::len).sum::<usize>(), keys.len());
    }
}
