//! Request ids. Every HTTP request gets one: the caller's `X-Request-Id` when it is sane, else
//! the trace id of a W3C `traceparent`, else a fresh one. It is echoed in the `X-Request-Id`
//! response header, names the request's log span (so every line logged while serving it carries
//! it), and is written into `extensions.requestId` of server-side GraphQL errors (`INTERNAL`,
//! `SERVICE_UNAVAILABLE`), so a support ticket leads to its log lines.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The response (and accepted request) header.
pub const HEADER: &str = "x-request-id";
/// Longest caller-given id kept; a longer one is replaced.
const MAX_LEN: usize = 128;

/// What the task serving a request knows of it: its id, and the SQL statements run for it.
struct Scope {
    id: String,
    statements: std::sync::atomic::AtomicU32,
}

tokio::task_local! {
    static CURRENT: std::sync::Arc<Scope>;
}

/// The id of the request being served on this task, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(|scope| scope.id.clone()).ok()
}

/// Runs `future` (a task spawned for the request on this task, e.g. a loader batch) inside the
/// same request: its SQL statements count for it, and it is logged with its id.
pub fn propagate<F: std::future::Future>(
    future: F,
) -> impl std::future::Future<Output = F::Output> {
    let scope = CURRENT.try_with(std::sync::Arc::clone).ok();
    async move {
        match scope {
            Some(scope) => CURRENT.scope(scope, future).await,
            None => future.await,
        }
    }
}

/// Counts one SQL statement for the request being served on this task (if any): the ones its
/// resolvers and loaders run, and a cache miss it loads for requests waiting on the same key.
pub fn count_statement() {
    let _ = CURRENT.try_with(|scope| scope.statements.fetch_add(1, Ordering::Relaxed));
}

/// Middleware: assigns the id, runs the request inside its span, logs one line when it ends and
/// echoes the id.
pub async fn assign(request: Request, next: Next) -> Response {
    let id = from_headers(request.headers()).unwrap_or_else(generate);
    // `operation`, `pq` (the persisted-query hash), `cache` (hit / miss; absent when the
    // response cache was not consulted) and `errors` (the codes) are filled in by the GraphQL
    // handler; `sql` (statements run for it) when it ends.
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %request.method(),
        path = %request.uri().path(),
        operation = tracing::field::Empty,
        pq = tracing::field::Empty,
        otel.name = %format_args!("{} {}", request.method(), request.uri().path()),
        otel.kind = "server",
        cache = tracing::field::Empty,
        errors = tracing::field::Empty,
    );
    crate::telemetry::join_caller_trace(&span, request.headers());
    let started = Instant::now();
    let scope = std::sync::Arc::new(Scope {
        id: id.clone(),
        statements: std::sync::atomic::AtomicU32::new(0),
    });
    let mut response = CURRENT
        .scope(scope.clone(), next.run(request).instrument(span.clone()))
        .await;
    tracing::info!(
        parent: &span,
        status = response.status().as_u16(),
        sql = scope.statements.load(Ordering::Relaxed),
        micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "served"
    );
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}

/// The caller's id: `X-Request-Id` (printable, at most 128 of `A-Za-z0-9-_.:`), else the trace id
/// of a valid `traceparent`.
fn from_headers(headers: &HeaderMap) -> Option<String> {
    let given = headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| {
            !v.is_empty()
                && v.len() <= MAX_LEN
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        });
    if let Some(id) = given {
        return Some(id.to_owned());
    }
    // `version-traceid-parentid-flags`, trace id 32 lower-case hex digits, not all zero.
    let traceparent = headers.get("traceparent")?.to_str().ok()?.trim();
    let mut parts = traceparent.split('-');
    let (version, trace) = (parts.next()?, parts.next()?);
    let valid = version.len() == 2
        && trace.len() == 32
        && trace
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && trace.bytes().any(|b| b != b'0');
    valid.then(|| trace.to_owned())
}

/// Puts `id` into server-side errors (`INTERNAL`, `SERVICE_UNAVAILABLE`): the client sees no
/// details, but can quote the id that finds them in the log.
pub fn tag_server_errors(errors: &mut [async_graphql::ServerError], id: &str) {
    for error in errors {
        let server_side = error.extensions.as_ref().is_some_and(|e| {
            matches!(e.get("code"), Some(async_graphql::Value::String(code))
                if code == "INTERNAL" || code == "SERVICE_UNAVAILABLE")
        });
        if server_side {
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("requestId", id);
        }
    }
}

/// A fresh id shaped like a trace id: 16 hex digits per process (random at start-up) and 16 of a
/// counter, so ids never repeat within a process and rarely across processes.
pub fn generate() -> String {
    static INSTANCE: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let instance = *INSTANCE.get_or_init(crate::random::u64);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    // Hex by hand: this runs on every request, and `format!` costs ten times as much.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(32);
    for word in [instance, count] {
        for shift in (0..16).rev() {
            out.push(char::from(HEX[((word >> (shift * 4)) & 0xf) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn callers_ids_are_kept_only_when_sane() {
        assert_eq!(
            from_headers(&headers(&[("x-request-id", "abc-123_x.y:z")])).as_deref(),
            Some("abc-123_x.y:z")
        );
        assert_eq!(from_headers(&headers(&[("x-request-id", "a b")])), None);
        assert_eq!(
            from_headers(&headers(&[("x-request-id", &"a".repeat(129))])),
            None
        );
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            from_headers(&headers(&[("traceparent", tp)])).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        let zero = "00-00000000000000000000000000000000-00f067aa0ba902b7-01";
        assert_eq!(from_headers(&headers(&[("traceparent", zero)])), None);
    }

    #[test]
    fn generated_ids_are_trace_shaped_and_distinct() {
        let (a, b) = (generate(), generate());
        assert!(a.len() == 32 && a.bytes().all(|c| c.is_ascii_hexdigit()));
        // One instance prefix, then a counter that steps by one.
        assert_eq!(a[..16], b[..16]);
        let count = |id: &str| u64::from_str_radix(&id[16..], 16).unwrap();
        assert_eq!(count(&b), count(&a) + 1);
    }
}
