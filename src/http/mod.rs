//! Plain HTTP endpoints beside GraphQL: liveness, readiness, metrics, and the SIGTERM signal
//! (the serve loop and its drain are in `shutdown`).

pub mod client;
pub mod health;
pub mod metrics;
pub mod outbound;
pub mod request_id;
pub mod shutdown;

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// Adds `Content-Security-Policy: csp` and `X-Content-Type-Options: nosniff` to a page or asset
/// served from the binary (GraphiQL, the admin console).
pub fn with_csp(mut response: Response, csp: &'static str) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_SECURITY_POLICY,
        axum::http::HeaderValue::from_static(csp),
    );
    headers.insert(
        axum::http::header::X_CONTENT_TYPE_OPTIONS,
        axum::http::HeaderValue::from_static("nosniff"),
    );
    response
}

/// `GET /healthz`: the process is up.
pub async fn healthz() -> &'static str {
    "ok"
}

/// How long a readiness probe waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /readyz`: 200 when the database answers, 503 otherwise; reports Redis too.
pub async fn readyz(State(app): State<AppState>) -> Response {
    use diesel_async::RunQueryDsl;
    let database = tokio::time::timeout(READY_TIMEOUT, async {
        let mut conn = app.db.get().await.ok()?;
        diesel::sql_query("SELECT 1").execute(&mut *conn).await.ok()
    })
    .await
    .ok()
    .flatten()
    .is_some();
    // Redis only speeds reads up: its state is reported, but the instance stays ready without it.
    let redis = match app.cache.redis_ready().await {
        Some(true) => "ok",
        Some(false) => "unavailable",
        None => app.cache.backend(),
    };
    // Draining (SIGTERM): not ready, so a load balancer stops sending new requests here.
    let draining = app.shutdown.is_draining();
    let status = if database && !draining {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = serde_json::json!({
        "database": if database { "ok" } else { "unavailable" },
        "redis": redis,
        "draining": draining,
    });
    // Where cache hits read versions: held in memory under a live lease, or asked of Redis.
    if let Some(mirror) = app.cache.mirror() {
        body["versions"] = if mirror.trusted() { "memory" } else { "redis" }.into();
    }
    (status, Json(body)).into_response()
}

/// CORS for the origins in `CORS_ALLOWED_ORIGINS`; none (no CORS headers at all) by default.
pub fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::{HeaderName, HeaderValue, Method};
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        tower_http::cors::CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                axum::http::header::CONTENT_TYPE,
                axum::http::header::AUTHORIZATION,
                HeaderName::from_static("apollo-require-preflight"),
                HeaderName::from_static("x-apollo-operation-name"),
                HeaderName::from_static("apollographql-client-name"),
                HeaderName::from_static("apollographql-client-version"),
                HeaderName::from_static(request_id::HEADER),
                HeaderName::from_static("traceparent"),
            ])
            .expose_headers([HeaderName::from_static(request_id::HEADER)])
            .max_age(Duration::from_secs(600)),
    )
}

/// `GET /metrics`: Prometheus text format. With `METRICS_TOKEN` set it requires
/// `Authorization: Bearer <token>`; without one it is open in development and absent (404) in
/// production.
pub async fn metrics(State(app): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match (&app.config.metrics_token, app.config.env) {
        (Some(token), _) if presented.is_some_and(|p| constant_time_eq(p, token)) => {}
        (Some(_), _) => return StatusCode::UNAUTHORIZED.into_response(),
        (None, crate::config::AppEnv::Production) => return StatusCode::NOT_FOUND.into_response(),
        (None, crate::config::AppEnv::Development) => {}
    }
    metrics::render(&app).await.into_response()
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
