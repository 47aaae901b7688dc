//! `/metrics` in the Prometheus text format, rendered by `metrics-exporter-prometheus` from the
//! `metrics` facade every layer records into: request latency per operation and transport,
//! responses by status and error code, cache and response-cache outcomes per family set, Redis
//! and SQL latency, pool use and waits, WebSocket connections and subscriptions, event-bus lag,
//! the job queue and CDN purges.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use metrics::{Counter, Histogram, counter, gauge};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

/// Histogram buckets (seconds): 0.25 ms to 10 s.
const BUCKETS: &[f64] = &[
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0,
];
/// Distinct operation names kept as labels; beyond, `other` (names come from clients).
const MAX_OPERATIONS: usize = 256;

/// The process's recorder, installed on first use (one per process: the facade is global).
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        match builder.install_recorder() {
            Ok(handle) => handle,
            Err(error) => {
                // Another recorder was installed first: render an empty, working one.
                tracing::warn!(%error, "metrics recorder not installed");
                PrometheusBuilder::new().build_recorder().handle()
            }
        }
    })
}

/// Installs the recorder (at start-up, so the first requests are counted too) and its upkeep:
/// histogram samples wait in a buffer until drained, which a scrape does, but a server nobody
/// scrapes (no `METRICS_TOKEN` in production) must not buffer them for ever.
pub fn install() {
    static UPKEEP: OnceLock<()> = OnceLock::new();
    let h = handle();
    UPKEEP.get_or_init(|| {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let mut every = tokio::time::interval(Duration::from_secs(5));
                loop {
                    every.tick().await;
                    h.run_upkeep();
                }
            });
        }
    });
}

/// The label for an operation name: itself when it is a plain GraphQL name among the first
/// [`MAX_OPERATIONS`] seen, `other` beyond (a stranger must not grow the label set), and
/// `anonymous` without one.
pub fn operation_label(name: Option<&str>) -> String {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return "anonymous".into();
    };
    let plain = name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !plain {
        return "other".into();
    }
    let mut seen = SEEN
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if seen.contains(name) || (seen.len() < MAX_OPERATIONS && seen.insert(name.to_owned())) {
        name.to_owned()
    } else {
        "other".into()
    }
}

/// The per-request series' handles, cached on each worker thread: recording a request then
/// costs a hash lookup by operation name, not label strings allocated and the series looked up
/// in the registry for every sample (that cost S1 about 7.5 %, `bench/RESULTS.md`). At most
/// [`MAX_OPERATIONS`] + 2 operations per thread (names that are not labels share `other`).
#[derive(Default)]
struct Handles {
    /// Latency by operation, then by transport (`http`, `ws`) × cache (`hit`, `miss`, `bypass`).
    operations: HashMap<String, [Option<Histogram>; 6]>,
    /// Responses by status and transport.
    responses: HashMap<(u16, &'static str), Counter>,
}

thread_local! {
    static HANDLES: RefCell<Handles> = RefCell::new(Handles::default());
}

/// Records one GraphQL operation: its latency by operation (`name`, labelled as
/// [`operation_label`] says), transport and cache outcome, and its HTTP status.
pub fn record_operation(
    name: Option<&str>,
    transport: &'static str,
    cache: &'static str,
    status: u16,
    elapsed: Duration,
) {
    let slot = match transport {
        "ws" => 3,
        _ => 0,
    } + match cache {
        "hit" => 0,
        "miss" => 1,
        _ => 2,
    };
    HANDLES.with_borrow_mut(|handles| {
        let lookup = name.unwrap_or("anonymous");
        let key = if handles.operations.contains_key(lookup) {
            std::borrow::Cow::Borrowed(lookup)
        } else {
            // Not seen on this thread: the label decides the key, so names that are not labels
            // (and would grow the map) all share `other`.
            let label = operation_label(name);
            handles.operations.entry(label.clone()).or_default();
            std::borrow::Cow::Owned(label)
        };
        let Some(series) = handles.operations.get_mut(key.as_ref()) else {
            return;
        };
        let histogram = series[slot].get_or_insert_with(|| {
            metrics::histogram!(
                "techpotli_graphql_request_duration_seconds",
                "operation" => key.clone().into_owned(),
                "transport" => transport,
                "cache" => cache,
            )
        });
        histogram.record(elapsed.as_secs_f64());
        handles
            .responses
            .entry((status, transport))
            .or_insert_with(|| {
                counter!("techpotli_graphql_responses_total", "status" => status.to_string(), "transport" => transport)
            })
            .increment(1);
    });
}

/// Counts one GraphQL error by its `extensions.code`.
pub fn record_error_code(code: &str) {
    /// The codes the server sends; anything else is counted as `other`.
    const KNOWN: &[&str] = &[
        "BAD_USER_INPUT",
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "NOT_FOUND",
        "CONFLICT",
        "TOO_MANY_REQUESTS",
        "SERVICE_UNAVAILABLE",
        "INTERNAL",
        "GRAPHQL_PARSE_FAILED",
        "GRAPHQL_VALIDATION_FAILED",
        "BAD_REQUEST",
        "QUERY_TOO_LARGE",
        "QUERY_TOO_COMPLEX",
        "THROTTLED",
        "PERSISTED_QUERY_NOT_FOUND",
        "PERSISTED_QUERY_NOT_ALLOWED",
        "PERSISTED_QUERY_HASH_MISMATCH",
    ];
    let code: &'static str = KNOWN
        .iter()
        .find(|k| **k == code)
        .copied()
        .unwrap_or("other");
    counter!("techpotli_graphql_errors_total", "code" => code).increment(1);
}

/// `/metrics`: what the recorder holds, with this process's counters and the pool's state set
/// at scrape time, and the queue's depth (omitted when the database does not answer in time).
pub async fn render(app: &AppState) -> String {
    let h = handle();
    let pool = app.db.state();
    let stats = &pool.statistics;
    counter!("techpotli_sql_statements_total").absolute(app.statements.get());
    gauge!("techpotli_db_pool_connections").set(f64::from(pool.connections));
    gauge!("techpotli_db_pool_idle_connections").set(f64::from(pool.idle_connections));
    counter!("techpotli_db_pool_checkouts_total", "outcome" => "direct").absolute(stats.get_direct);
    counter!("techpotli_db_pool_checkouts_total", "outcome" => "waited").absolute(stats.get_waited);
    counter!("techpotli_db_pool_checkouts_total", "outcome" => "timed_out")
        .absolute(stats.get_timed_out);
    gauge!("techpotli_db_pool_wait_seconds_total").set(stats.get_wait_time.as_secs_f64());
    counter!("techpotli_db_pool_connections_closed_broken_total")
        .absolute(stats.connections_closed_broken + stats.connections_closed_invalid);
    let m = &app.cache.metrics;
    counter!("techpotli_cache_hits_total").absolute(m.hits.load(Ordering::Relaxed));
    counter!("techpotli_cache_hot_path_hits_total").absolute(m.hot_hits.load(Ordering::Relaxed));
    counter!("techpotli_cache_misses_total").absolute(m.misses.load(Ordering::Relaxed));
    counter!("techpotli_cache_faults_total").absolute(m.faults.load(Ordering::Relaxed));
    counter!("techpotli_redis_round_trips_total").absolute(app.cache.round_trips());
    counter!("techpotli_cache_version_reads_total", "source" => "memory")
        .absolute(m.versions_from_memory.load(Ordering::Relaxed));
    counter!("techpotli_cache_version_reads_total", "source" => "redis")
        .absolute(m.versions_from_redis.load(Ordering::Relaxed));
    if let Some(mirror) = app.cache.mirror() {
        gauge!("techpotli_cache_version_memory_trusted").set(if mirror.trusted() {
            1.0
        } else {
            0.0
        });
        counter!("techpotli_cache_version_memory_resets_total")
            .absolute(mirror.resets.load(Ordering::Relaxed));
    }
    let (completed, failed, dead) = app.job_metrics.snapshot();
    counter!("techpotli_jobs_completed_total").absolute(completed);
    counter!("techpotli_jobs_failed_total").absolute(failed);
    counter!("techpotli_jobs_dead_total").absolute(dead);
    let cdn = &app.cdn_metrics;
    counter!("techpotli_cdn_purges_total").absolute(cdn.purges.load(Ordering::Relaxed));
    counter!("techpotli_cdn_purged_keys_total").absolute(cdn.keys.load(Ordering::Relaxed));
    counter!("techpotli_cdn_purge_calls_total").absolute(cdn.calls.load(Ordering::Relaxed));
    let depth = async {
        let mut conn = app.db.get().await.ok()?;
        crate::jobs::model::depth(&mut conn).await.ok()
    };
    if let Ok(Some((queued, running, dead_now))) =
        tokio::time::timeout(Duration::from_secs(2), depth).await
    {
        gauge!("techpotli_jobs", "state" => "queued").set(queued as f64);
        gauge!("techpotli_jobs", "state" => "running").set(running as f64);
        gauge!("techpotli_jobs", "state" => "dead").set(dead_now as f64);
    }
    h.run_upkeep();
    h.render()
}
