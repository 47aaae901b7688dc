//! Receiving a GraphQL multipart request (uploads) within bounds we enforce ourselves: the number
//! of parts, the size of the whole body and of each file, and a deadline for the whole body.
//! async-graphql's own `max_num_files` is not enforced (7.2), and every file part becomes a
//! temporary file, so without these a stranger can hold thousands of descriptors open.

use std::pin::Pin;
use std::task::{Context, Poll};

use async_graphql::Request;
use async_graphql::http::MultipartOptions;
use axum::body::Body;
use axum::body::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};

use super::limits::LimitError;
use crate::config::Config;

/// Why a multipart request was refused.
#[derive(Debug)]
pub enum UploadError {
    /// A bound was exceeded (413 or a clear code).
    Limit(LimitError),
    /// Not a well-formed multipart GraphQL request.
    Malformed(String),
}

/// The boundary parameter of a `multipart/form-data` content type.
fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// Counts parts (delimiter lines) and bytes as the body streams in, failing past the bounds.
struct Bounded<S> {
    inner: S,
    delimiter: Vec<u8>,
    /// The end of the previous chunk, so a delimiter split across chunks is still seen.
    carry: Vec<u8>,
    parts: usize,
    max_parts: usize,
    bytes: usize,
    max_bytes: usize,
    exceeded: std::sync::Arc<std::sync::Mutex<Option<LimitError>>>,
}

impl<S> Bounded<S> {
    fn measure(&mut self, chunk: &[u8]) -> Result<(), LimitError> {
        self.bytes += chunk.len();
        if self.bytes > self.max_bytes {
            return Err(LimitError {
                code: "QUERY_TOO_LARGE",
                message: format!(
                    "multipart body is over the limit of {} bytes",
                    self.max_bytes
                ),
            });
        }
        let mut window = std::mem::take(&mut self.carry);
        let skip = window.len();
        window.extend_from_slice(chunk);
        let d = &self.delimiter;
        let mut i = 0;
        while i + d.len() <= window.len() {
            if window[i..].starts_with(d) {
                // Only matches that end inside the new chunk are new.
                if i + d.len() > skip {
                    self.parts += 1;
                }
                i += d.len();
            } else {
                i += 1;
            }
        }
        // The closing delimiter is counted too: parts = delimiters - 1.
        if self.parts > self.max_parts + 1 {
            return Err(LimitError {
                code: "QUERY_TOO_COMPLEX",
                message: format!(
                    "multipart request has more than {} parts (operations, map and at most {} files)",
                    self.max_parts,
                    self.max_parts.saturating_sub(2)
                ),
            });
        }
        let keep = d.len().saturating_sub(1).min(window.len());
        self.carry = window[window.len() - keep..].to_vec();
        Ok(())
    }
}

impl<S: Stream<Item = Result<Bytes, std::io::Error>> + Unpin> Stream for Bounded<S> {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.inner.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(chunk))) => match self.measure(&chunk) {
                Ok(()) => Poll::Ready(Some(Ok(chunk))),
                Err(e) => {
                    let message = e.message.clone();
                    *self
                        .exceeded
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e);
                    Poll::Ready(Some(Err(std::io::Error::other(message))))
                }
            },
            other => other,
        }
    }
}

/// Receives a multipart request within the configured bounds.
pub async fn receive(
    content_type: Option<String>,
    body: Body,
    config: &Config,
) -> Result<Request, UploadError> {
    let Some(boundary) = content_type.as_deref().and_then(boundary) else {
        return Err(UploadError::Malformed(
            "multipart/form-data without a boundary".into(),
        ));
    };
    let max_files = config.upload_max_files;
    let exceeded = std::sync::Arc::default();
    let bounded = Bounded {
        inner: body.into_data_stream().map_err(std::io::Error::other),
        delimiter: format!("--{boundary}").into_bytes(),
        carry: Vec::new(),
        parts: 0,
        max_parts: max_files + 2,
        bytes: 0,
        max_bytes: config.upload_max_bytes.saturating_mul(max_files) + config.limits.max_body_bytes,
        exceeded: std::sync::Arc::clone(&exceeded),
    };
    let options = MultipartOptions::default()
        .max_file_size(config.upload_max_bytes)
        .max_num_files(max_files);
    let received = tokio::time::timeout(
        config.upload_deadline,
        async_graphql::http::receive_body(content_type, bounded.into_async_read(), options),
    )
    .await;
    let limit = exceeded
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    match (received, limit) {
        (_, Some(limit)) => Err(UploadError::Limit(limit)),
        (Err(_), None) => Err(UploadError::Limit(LimitError {
            code: "UPLOAD_TIMEOUT",
            message: format!(
                "the upload did not arrive within {} s",
                config.upload_deadline.as_secs()
            ),
        })),
        (Ok(Err(e)), None) => Err(UploadError::Malformed(format!(
            "malformed GraphQL request: {e}"
        ))),
        (Ok(Ok(request)), None) => Ok(request),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_are_read_from_the_content_type() {
        assert_eq!(
            boundary("multipart/form-data; boundary=\"abc\"").as_deref(),
            Some("abc")
        );
        assert_eq!(boundary("multipart/form-data").as_deref(), None);
    }

    #[test]
    fn parts_are_counted_across_chunks() {
        let mut b = Bounded {
            inner: futures_util::stream::empty::<Result<Bytes, std::io::Error>>(),
            delimiter: b"--xyz".to_vec(),
            carry: Vec::new(),
            parts: 0,
            max_parts: 3,
            bytes: 0,
            max_bytes: 1 << 20,
            exceeded: std::sync::Arc::default(),
        };
        b.measure(b"--xyz\r\na\r\n--x").unwrap();
        b.measure(b"yz\r\nb\r\n--xyz").unwrap();
        assert_eq!(b.parts, 3);
        b.measure(b"\r\nc\r\n--xyz").unwrap();
        assert!(b.measure(b"\r\nd\r\n--xyz--").is_err());
    }
}
