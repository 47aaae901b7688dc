//! Plain HTTP endpoints beside GraphQL: liveness, readiness, metrics, and the serve loop with
//! graceful shutdown.

pub mod client;
pub mod outbound;
pub mod request_id;

use std::sync::atomic::Ordering;
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
    let status = if database {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "database": if database { "ok" } else { "unavailable" },
        "redis": redis,
    });
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
    let mut text = metrics_text(&app);
    text.push_str(&jobs_text(&app).await);
    text.into_response()
}

/// The queue's depth from the table (omitted when the database does not answer in time) and this
/// process's worker counters.
async fn jobs_text(app: &AppState) -> String {
    let depth = async {
        let mut conn = app.db.get().await.ok()?;
        crate::jobs::model::depth(&mut conn).await.ok()
    };
    let depth = tokio::time::timeout(std::time::Duration::from_secs(2), depth)
        .await
        .ok()
        .flatten();
    let (completed, failed, dead) = app.job_metrics.snapshot();
    let mut text = format!(
        "# HELP techpotli_jobs_completed_total Jobs this process finished.\n\
         # TYPE techpotli_jobs_completed_total counter\n\
         techpotli_jobs_completed_total {completed}\n\
         # HELP techpotli_jobs_failed_total Job attempts this process saw fail (retries included).\n\
         # TYPE techpotli_jobs_failed_total counter\n\
         techpotli_jobs_failed_total {failed}\n\
         # HELP techpotli_jobs_dead_total Jobs this process moved to dead.\n\
         # TYPE techpotli_jobs_dead_total counter\n\
         techpotli_jobs_dead_total {dead}\n"
    );
    let cdn = &app.cdn_metrics;
    text.push_str(&format!(
        "# HELP techpotli_cdn_purges_total CDN purges this process sent (each may cover many writes).\n\
         # TYPE techpotli_cdn_purges_total counter\n\
         techpotli_cdn_purges_total {}\n\
         # HELP techpotli_cdn_purged_keys_total Surrogate keys this process purged.\n\
         # TYPE techpotli_cdn_purged_keys_total counter\n\
         techpotli_cdn_purged_keys_total {}\n\
         # HELP techpotli_cdn_purge_calls_total Calls made to the CDN to purge.\n\
         # TYPE techpotli_cdn_purge_calls_total counter\n\
         techpotli_cdn_purge_calls_total {}\n",
        cdn.purges.load(Ordering::Relaxed),
        cdn.keys.load(Ordering::Relaxed),
        cdn.calls.load(Ordering::Relaxed),
    ));
    if let Some((queued, running, dead_now)) = depth {
        text.push_str(&format!(
            "# HELP techpotli_jobs Jobs in the queue by state (all instances).\n\
             # TYPE techpotli_jobs gauge\n\
             techpotli_jobs{{state=\"queued\"}} {queued}\n\
             techpotli_jobs{{state=\"running\"}} {running}\n\
             techpotli_jobs{{state=\"dead\"}} {dead_now}\n"
        ));
    }
    text
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn metrics_text(app: &AppState) -> String {
    let pool = app.db.state();
    let m = &app.cache.metrics;
    format!(
        "# HELP techpotli_sql_statements_total SQL statements sent to PostgreSQL.\n\
         # TYPE techpotli_sql_statements_total counter\n\
         techpotli_sql_statements_total {}\n\
         # HELP techpotli_db_pool_connections Open database connections.\n\
         # TYPE techpotli_db_pool_connections gauge\n\
         techpotli_db_pool_connections {}\n\
         # HELP techpotli_db_pool_idle_connections Idle database connections.\n\
         # TYPE techpotli_db_pool_idle_connections gauge\n\
         techpotli_db_pool_idle_connections {}\n\
         # HELP techpotli_cache_hits_total Cache-first reads answered from the cache.\n\
         # TYPE techpotli_cache_hits_total counter\n\
         techpotli_cache_hits_total {}\n\
         # HELP techpotli_cache_misses_total Cache-first reads that loaded from the database.\n\
         # TYPE techpotli_cache_misses_total counter\n\
         techpotli_cache_misses_total {}\n\
         # HELP techpotli_cache_faults_total Cache operations that failed (read fell back to the database).\n\
         # TYPE techpotli_cache_faults_total counter\n\
         techpotli_cache_faults_total {}\n\
         # HELP techpotli_redis_round_trips_total Redis round trips.\n\
         # TYPE techpotli_redis_round_trips_total counter\n\
         techpotli_redis_round_trips_total {}\n",
        app.statements.get(),
        pool.connections,
        pool.idle_connections,
        m.hits.load(Ordering::Relaxed),
        m.misses.load(Ordering::Relaxed),
        m.faults.load(Ordering::Relaxed),
        app.cache.round_trips(),
    )
}

/// Serves `router` on `listener` until SIGTERM or Ctrl-C, then lets in-flight requests finish.
pub async fn serve(listener: tokio::net::TcpListener, router: axum::Router) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
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
    tracing::info!("shutting down: finishing in-flight requests");
}
