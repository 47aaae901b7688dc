//! Traces over OTLP/HTTP to a collector on loopback (a fake one: it stores what it is sent, as no
//! OpenTelemetry collector is installed here): one span per request, joined to the caller's
//! trace, with child spans for loader batches, SQL statements and Redis calls.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use tokio::io::AsyncWriteExt;

use crate::shutdown::{exit_of, read_response, sigterm, spawn_server};
use crate::support::TestApp;

/// A collector endpoint storing every export request's spans.
async fn collector() -> (std::net::SocketAddr, Arc<Mutex<Vec<Span>>>) {
    let spans: Arc<Mutex<Vec<Span>>> = Arc::default();
    let store = spans.clone();
    let router = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: Bytes| {
            let store = store.clone();
            async move {
                let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                let mut store = store.lock().unwrap();
                for resource in request.resource_spans {
                    for scope in resource.scope_spans {
                        store.extend(scope.spans);
                    }
                }
                (
                    [("content-type", "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (addr, spans)
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref()?.value.as_ref())
        .map(|v| match v {
            Value::StringValue(s) => s.clone(),
            other => format!("{other:?}"),
        })
}

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

#[tokio::test(flavor = "multi_thread")]
async fn a_request_is_one_trace_with_loader_sql_and_redis_spans_joined_to_the_callers() {
    let app = TestApp::new().await;
    let (collector_addr, spans) = collector().await;
    let endpoint = format!("http://{collector_addr}");
    let prefix = format!("techpotli:traces:{}:", std::process::id());
    let redis = crate::support::redis_url();
    let (server, addr) = spawn_server(
        &app,
        5,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("REDIS_URL", redis.as_str()),
            ("CACHE_PREFIX", prefix.as_str()),
        ],
    )
    .await;
    let body = r#"{"query":"query Listing { products(first: 5) { edges { node { title variants { sku } categories { name } } } } }"}"#;
    let request = format!(
        "POST /graphql HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\n\
         traceparent: 00-{TRACE}-{CALLER_SPAN}-01\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let (status, text) = read_response(&mut stream).await.unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains(&format!("x-request-id: {TRACE}")),
        "the request id is the caller's trace id: {text}"
    );

    // The batch exporter sends within about 100 ms; wait (bounded) for the statements' spans.
    let trace = hex(TRACE);
    let mut ours = Vec::new();
    for _ in 0..100 {
        ours = spans
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.trace_id == trace)
            .cloned()
            .collect();
        if ours.iter().any(|s| s.name == "Listing") && ours.iter().any(|s| s.name == "sql") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let names: Vec<&str> = ours.iter().map(|s| s.name.as_str()).collect();
    let root = ours
        .iter()
        .find(|s| s.name == "Listing")
        .unwrap_or_else(|| panic!("no span named by the operation: {names:?}"));
    assert_eq!(
        root.parent_span_id,
        hex(CALLER_SPAN),
        "joined to the caller's span"
    );
    assert_eq!(root.kind, 2, "SERVER");
    // Every other span of the trace descends from the request's span.
    let parent_of = |s: &Span| ours.iter().find(|p| p.span_id == s.parent_span_id);
    for span in ours.iter().filter(|s| s.span_id != root.span_id) {
        let mut at = span;
        while at.span_id != root.span_id {
            at = parent_of(at).unwrap_or_else(|| panic!("{} is not under the request", span.name));
        }
    }
    let loaders: Vec<&Span> = ours.iter().filter(|s| s.name.ends_with("Loader")).collect();
    assert!(!loaders.is_empty(), "loader batch spans: {names:?}");
    let sql: Vec<&Span> = ours.iter().filter(|s| s.name == "sql").collect();
    assert!(sql.len() >= 2, "SQL spans: {names:?}");
    for s in &sql {
        let statement = attribute(s, "db.statement").expect("db.statement");
        assert!(statement.contains("SELECT"), "{statement}");
        assert!(!statement.contains("binds"), "no bind values: {statement}");
    }
    // Some statements run inside a loader batch's span.
    assert!(
        sql.iter()
            .any(|s| loaders.iter().any(|l| l.span_id == s.parent_span_id)),
        "SQL under loader batches: {names:?}"
    );
    assert!(names.contains(&"redis"), "Redis spans: {names:?}");

    sigterm(&server);
    let (status, log) = exit_of(server, Duration::from_secs(15)).await;
    assert!(status.success(), "{log}");
    println!(
        "{} spans in the trace: {} loader batches, {} SQL, {} Redis",
        ours.len(),
        loaders.len(),
        sql.len(),
        names.iter().filter(|n| **n == "redis").count()
    );
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}
