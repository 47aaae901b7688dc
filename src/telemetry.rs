//! Logs and traces. Logs go to stderr (`LOG_FORMAT=json|pretty`, filtered by `RUST_LOG`).
//! Traces are exported over OTLP/HTTP (protobuf) only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set: one span per HTTP request (named by its
//! operation, joined to the caller's trace when it sends a W3C `traceparent`) and per WebSocket
//! operation, with a child span for each loader batch, SQL statement and Redis call. Those child
//! spans are `debug` level and only the trace exporter asks for them (`OTEL_TRACES_FILTER`,
//! default `techpotli=debug`), so without an endpoint they cost nothing; the log keeps its own
//! filter. Spans carry SQL text without bind values (they may hold customer data).

use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::Full;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Bound on one export request (head and body each).
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);
/// Bound on the flush at exit (after the drain, before the orchestrator's SIGKILL).
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// What `init` set up; [`Telemetry::shutdown`] flushes the spans still queued.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

/// Whether traces are exported (set once by [`init`]).
static TRACING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether spans are exported: when not, the request path skips reading `traceparent` into an
/// OpenTelemetry context.
pub fn exporting() -> bool {
    TRACING.load(std::sync::atomic::Ordering::Relaxed)
}

/// Installs the global subscriber: the log layer and, when configured, the trace exporter.
/// Must run inside the tokio runtime (the exporter sends on it).
pub fn init() -> anyhow::Result<Telemetry> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let log_filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,techpotli=info".into());
    // Logs go to stderr, so a command's own output on stdout stays clean.
    let log = match env("LOG_FORMAT").as_deref() {
        Some("json") => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .boxed(),
        Some("pretty") | None => tracing_subscriber::fmt::layer()
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(std::io::stderr)
            .boxed(),
        Some(other) => anyhow::bail!("LOG_FORMAT must be `json` or `pretty`, not `{other}`"),
    }
    .with_filter(log_filter);

    let endpoint = match (
        env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        env("OTEL_EXPORTER_OTLP_ENDPOINT"),
    ) {
        (Some(traces), _) => Some(traces),
        (None, Some(base)) => Some(format!("{}/v1/traces", base.trim_end_matches('/'))),
        (None, None) => None,
    };
    let Some(endpoint) = endpoint else {
        tracing_subscriber::registry().with(log).init();
        return Ok(Telemetry { provider: None });
    };
    if let Some(protocol) = env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .or_else(|| env("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .filter(|p| p != "http/protobuf")
    {
        anyhow::bail!(
            "OTEL_EXPORTER_OTLP_PROTOCOL `{protocol}` is not supported: traces are sent as \
             http/protobuf (a collector's port 4318)"
        );
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(ExportClient::new()?)
        .with_endpoint(endpoint.clone())
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .context("building the OTLP trace exporter")?;
    let service = env("OTEL_SERVICE_NAME").unwrap_or_else(|| "techpotli".into());
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(service)
                .build(),
        )
        .build();
    let trace_filter = tracing_subscriber::EnvFilter::try_new(
        env("OTEL_TRACES_FILTER").unwrap_or_else(|| "techpotli=debug".into()),
    )
    .context("OTEL_TRACES_FILTER")?;
    let traces = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("techpotli"))
        .with_filter(trace_filter);
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    tracing_subscriber::registry().with(log).with(traces).init();
    TRACING.store(true, std::sync::atomic::Ordering::Relaxed);
    tracing::info!(%endpoint, "exporting traces over OTLP/HTTP");
    Ok(Telemetry {
        provider: Some(provider),
    })
}

impl Telemetry {
    /// Sends the spans still queued (bounded), before the process exits.
    pub async fn shutdown(self) {
        if let Some(provider) = self.provider {
            let flushed =
                tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(FLUSH_TIMEOUT))
                    .await;
            if let Ok(Err(error)) = flushed {
                eprintln!("trace export at shutdown: {error}");
            }
        }
    }
}

/// Marks the current request span with the caller's trace (its `traceparent`), so the request's
/// spans join it.
pub fn join_caller_trace(span: &tracing::Span, headers: &axum::http::HeaderMap) {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    if !exporting() || !headers.contains_key("traceparent") {
        return;
    }
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&opentelemetry_http::HeaderExtractor(headers))
    });
    let _ = span.set_parent(parent);
}

/// A span for work done for the current request (a SQL statement, a Redis call), attached to the
/// request's trace but not held by it: `make` builds it with `parent: None`, so a statement whose
/// future is dropped before it finishes (its span then lives on in the connection until the next
/// statement) cannot keep the request's span open. Background work outside any request (the job
/// worker's polls) gets no span, so it does not send a one-span trace every second.
pub fn child_span(make: impl FnOnce() -> tracing::Span) -> tracing::Span {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    if !exporting() {
        return tracing::Span::none();
    }
    let current = tracing::Span::current();
    if current.is_none() {
        return tracing::Span::none();
    }
    let span = make();
    let _ = span.set_parent(current.context());
    span
}

/// Names the request's span (`span`) by its GraphQL operation, in the log and in the trace.
pub fn name_span(span: &tracing::Span, name: &str) {
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    span.record("operation", name);
    if exporting() {
        // The trace span has usually started already (its children did): rename it there.
        span.context().span().update_name(name.to_owned());
    }
}

/// The exporter's HTTP client: the server's own hyper client. The SDK exports from its own
/// thread, outside the runtime, so each request is spawned onto the runtime and awaited there.
#[derive(Debug)]
struct ExportClient {
    client: crate::http::outbound::HttpsClient,
    runtime: tokio::runtime::Handle,
}

impl ExportClient {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            client: crate::http::outbound::https_client()?,
            runtime: tokio::runtime::Handle::try_current()
                .context("the trace exporter needs the tokio runtime")?,
        })
    }
}

#[async_graphql::async_trait::async_trait]
impl opentelemetry_http::HttpClient for ExportClient {
    async fn send_bytes(
        &self,
        request: axum::http::Request<Bytes>,
    ) -> Result<axum::http::Response<Bytes>, opentelemetry_http::HttpError> {
        let client = self.client.clone();
        let (parts, body) = request.into_parts();
        let request = hyper::Request::from_parts(parts, Full::new(body));
        let (status, body) = self
            .runtime
            .spawn(async move {
                crate::http::outbound::send(&client, request, EXPORT_TIMEOUT, 1024 * 1024).await
            })
            .await
            .map_err(|e| e.to_string())??;
        let mut response = axum::http::Response::new(body);
        *response.status_mut() = status;
        Ok(response)
    }
}
