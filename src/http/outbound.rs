//! Calls this server makes to other services over HTTP(S) (Razorpay, CDN purge APIs): one client
//! type with the operating system's roots, and one `send` that bounds the wait and the size of
//! the answer.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::StatusCode;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// An HTTP/1.1 client for `https://` and `http://` URLs.
pub type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client trusting the operating system's roots.
pub fn https_client() -> anyhow::Result<HttpsClient> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// Sends `request` and reads at most `max_bytes` of the answer, all within `timeout` each for the
/// head and the body. The error says what went wrong without the request's headers (they may
/// carry credentials).
pub async fn send(
    client: &HttpsClient,
    request: hyper::Request<Full<Bytes>>,
    timeout: std::time::Duration,
    max_bytes: usize,
) -> Result<(StatusCode, Bytes), String> {
    let response = tokio::time::timeout(timeout, client.request(request))
        .await
        .map_err(|_| "timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = tokio::time::timeout(
        timeout,
        http_body_util::Limited::new(response.into_body(), max_bytes).collect(),
    )
    .await
    .map_err(|_| "timed out reading the response".to_owned())?
    .map_err(|e| e.to_string())?
    .to_bytes();
    Ok((status, body))
}
