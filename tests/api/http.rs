//! GraphQL over HTTP: GET and POST, media types and status codes per the spec, GraphiQL served
//! from the binary, health endpoints.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

use crate::support::{CacheMode, TestApp};

fn get(uri: &str, accept: Option<&str>) -> Request<Body> {
    let mut builder = Request::get(uri);
    if let Some(accept) = accept {
        builder = builder.header("accept", accept);
    }
    builder.body(Body::empty()).unwrap()
}

fn encode(s: &str) -> String {
    serde_urlencoded::to_string([("q", s)]).unwrap()[2..].to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn get_runs_queries_with_variables_and_operation_name() {
    let app = TestApp::new().await;
    let query =
        "query A { regions { name } } query B($h: String) { product(handle: $h) { handle } }";
    let uri = format!(
        "/graphql?query={}&operationName=B&variables={}",
        encode(query),
        encode(&json!({ "h": "product-000001" }).to_string())
    );
    let response = app
        .send(get(&uri, Some("application/graphql-response+json")))
        .await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(
        response
            .header("content-type")
            .unwrap()
            .starts_with("application/graphql-response+json")
    );
    assert_eq!(
        response.json()["data"]["product"]["handle"],
        "product-000001"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn request_errors_are_400_for_graphql_response_json_and_200_for_json() {
    let app = TestApp::new().await;
    let uri = format!("/graphql?query={}", encode("{ nope }"));
    let modern = app
        .send(get(
            &uri,
            Some("application/graphql-response+json, application/json;q=0.9"),
        ))
        .await;
    assert_eq!(modern.status, StatusCode::BAD_REQUEST);
    assert!(modern.json().get("data").is_none());
    let legacy = app.send(get(&uri, Some("application/json"))).await;
    assert_eq!(legacy.status, StatusCode::OK);
    assert!(
        legacy
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    // Field errors (bad arguments) keep partial data: 200 in both flavors.
    let uri = format!(
        "/graphql?query={}",
        encode("{ products(first: 500) { edges { cursor } } }")
    );
    let field_error = app
        .send(get(&uri, Some("application/graphql-response+json")))
        .await;
    assert_eq!(field_error.status, StatusCode::OK);
    assert_eq!(
        field_error.json()["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_http_requests_get_400_not_500() {
    let app = TestApp::new().await;
    let bad_json = Request::post("/graphql")
        .header("content-type", "application/json")
        .body(Body::from("{"))
        .unwrap();
    assert_eq!(app.send(bad_json).await.status, StatusCode::BAD_REQUEST);
    let no_query = app.send(get("/graphql", None)).await;
    assert_eq!(no_query.status, StatusCode::BAD_REQUEST);
    let bad_vars = app
        .send(get(
            "/graphql?query=%7Bregions%7Bname%7D%7D&variables=%7B",
            None,
        ))
        .await;
    assert_eq!(bad_vars.status, StatusCode::BAD_REQUEST);
    assert!(
        bad_vars.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("variables")
    );
    let text_plain = Request::post("/graphql")
        .header("content-type", "text/plain")
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(
        app.send(text_plain).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn mutations_are_refused_over_get() {
    let app = TestApp::new().await;
    let uri = format!("/graphql?query={}", encode("mutation { anything }"));
    let response = app.send(get(&uri, None)).await;
    assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.header("allow"), Some("POST"));
}

#[tokio::test(flavor = "multi_thread")]
async fn graphiql_is_served_from_the_binary_under_a_strict_csp() {
    let app = TestApp::new().await;
    let page = app.send(get("/graphiql", None)).await;
    assert_eq!(page.status, StatusCode::OK);
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unpkg") && !csp.contains("jsdelivr")
    );
    let html = String::from_utf8(page.body.clone()).unwrap();
    let scripts: Vec<&str> = html
        .split("src=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .collect();
    assert_eq!(scripts.len(), 4);
    assert!(
        !html.contains("<script>"),
        "no inline script: the CSP forbids it"
    );
    for src in scripts {
        assert!(
            src.starts_with("/graphiql/assets/"),
            "asset {src} is not self-hosted"
        );
        let asset = app.send(get(src, None)).await;
        assert_eq!(asset.status, StatusCode::OK, "{src}");
        assert!(asset.body.len() > 100);
    }
    assert_eq!(
        app.send(get("/graphiql/assets/nope.js", None)).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_console_is_served_with_graphiql_and_introspection_off() {
    let app = TestApp::with_settings(
        CacheMode::Redis,
        &[("GRAPHIQL", "false"), ("GRAPHQL_INTROSPECTION", "false")],
    )
    .await;
    assert_eq!(
        app.send(get("/graphiql", None)).await.status,
        StatusCode::NOT_FOUND
    );
    let page = app.send(get("/admin", None)).await;
    assert_eq!(page.status, StatusCode::OK);
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    let html = String::from_utf8(page.body.clone()).unwrap();
    assert_eq!(
        html.matches("<script").count(),
        html.matches("<script src=\"/admin/assets/").count(),
        "no inline script"
    );
    for asset in ["/admin/assets/app.js", "/admin/assets/app.css"] {
        let response = app.send(get(asset, None)).await;
        assert_eq!(response.status, StatusCode::OK, "{asset}");
        assert!(html.contains(asset), "{asset} is linked from the page");
    }
    assert_eq!(
        app.send(get("/admin/assets/nope.js", None)).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn health_readiness_and_metrics() {
    let app = TestApp::new().await;
    assert_eq!(app.send(get("/healthz", None)).await.status, StatusCode::OK);
    let ready = app.send(get("/readyz", None)).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.json()["database"], "ok");
    app.data("{ regions { name } }", json!({})).await;
    let metrics = String::from_utf8(app.send(get("/metrics", None)).await.body).unwrap();
    let line = metrics
        .lines()
        .find(|l| l.starts_with("techpotli_sql_statements_total "))
        .unwrap();
    let n: u64 = line.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(n >= 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_describe_operations_caches_sql_redis_and_the_pool() {
    let app = TestApp::new().await;
    let home = "query MetricsHome { regions { name } }";
    app.data(home, json!({})).await;
    app.data(home, json!({})).await;
    let (code, _) = app
        .error("{ product(handle: \"x\", id: \"y\") { id } }", json!({}))
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    // A stranger's operation names cannot grow the label set without bound.
    for i in 0..300 {
        app.data(&format!("query Name{i} {{ __typename }}"), json!({}))
            .await;
    }
    let text = String::from_utf8(app.send(get("/metrics", None)).await.body).unwrap();
    let value = |prefix: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| {
                let ours: Vec<&str> = text
                    .lines()
                    .filter(|l| l.contains("graphql_request"))
                    .take(12)
                    .collect();
                panic!("no `{prefix}` in\n{}", ours.join("\n"))
            })
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    // Latency per operation, transport and cache outcome: the first Home missed, the second hit.
    let home_count = |cache: &str| {
        value(&format!(
            "techpotli_graphql_request_duration_seconds_count{{operation=\"MetricsHome\",transport=\"http\",cache=\"{cache}\"}}"
        ))
    };
    assert_eq!(home_count("miss"), 1.0);
    assert_eq!(home_count("hit"), 1.0);
    assert!(
        text.contains(
            "techpotli_graphql_request_duration_seconds_bucket{operation=\"MetricsHome\""
        )
    );
    assert!(value("techpotli_graphql_errors_total{code=\"BAD_USER_INPUT\"}") >= 1.0);
    assert!(value("techpotli_graphql_responses_total{status=\"200\",transport=\"http\"}") >= 303.0);
    assert!(value("techpotli_graphql_request_duration_seconds_count{operation=\"other\"") >= 1.0);
    let operations: std::collections::BTreeSet<&str> = text
        .lines()
        .filter_map(|l| {
            l.strip_prefix("techpotli_graphql_request_duration_seconds_count{operation=\"")
        })
        .filter_map(|l| l.split('"').next())
        .collect();
    // The first 256 names, `other` and `anonymous`.
    assert!(
        operations.len() <= 258,
        "{} operation labels",
        operations.len()
    );
    // Caches per family set, SQL and Redis latency, the pool.
    assert!(value("techpotli_response_cache_total{outcome=\"hit\",families=\"regions\"}") >= 1.0);
    assert!(text.contains("techpotli_cache_reads_total{outcome=\"miss\",families=\"regions\"}"));
    assert!(value("techpotli_sql_statement_duration_seconds_count") >= 1.0);
    assert!(value("techpotli_redis_command_duration_seconds_count") >= 1.0);
    assert!(value("techpotli_db_pool_checkouts_total{outcome=\"direct\"}") >= 1.0);
    assert!(value("techpotli_sql_statements_total") >= 1.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn local_files_are_served_and_paths_cannot_escape() {
    let db = crate::support::TestDatabase::seeded().await;
    let dir = std::env::temp_dir().join(format!("files-{}", db.name));
    std::fs::create_dir_all(dir.join("banners")).unwrap();
    std::fs::write(dir.join("banners/hero.png"), b"\x89PNG\r\n\x1a\nfake").unwrap();
    let url = db.url.clone();
    let files = dir.to_string_lossy().to_string();
    let app = crate::support::TestApp::with_database_url(
        db,
        &url,
        crate::support::CacheMode::Memory,
        &[("FILES_DIR", &files)],
    );
    let ok = app.send(get("/files/banners/hero.png", None)).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.header("content-type"), Some("image/png"));
    assert!(ok.body.starts_with(b"\x89PNG"));
    for bad in [
        "/files/../Cargo.toml",
        "/files/banners/..%2F..%2Fx",
        "/files/missing.png",
    ] {
        assert_eq!(
            app.send(get(bad, None)).await.status,
            StatusCode::NOT_FOUND,
            "{bad}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_response_carries_a_request_id() {
    let app = TestApp::new().await;
    let get = |headers: &[(&'static str, &str)]| {
        let mut builder = Request::get("/healthz");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::empty()).unwrap()
    };
    // Fresh ids are trace-shaped and differ per request.
    let a = app.send(get(&[])).await;
    let b = app.send(get(&[])).await;
    let (a, b) = (
        a.header("x-request-id").unwrap(),
        b.header("x-request-id").unwrap(),
    );
    assert!(
        a.len() == 32 && a.bytes().all(|c| c.is_ascii_hexdigit()),
        "{a}"
    );
    assert_ne!(a, b);
    // A caller's sane id is kept; a hostile one is replaced; a traceparent's trace id is used.
    let kept = app.send(get(&[("x-request-id", "checkout-42")])).await;
    assert_eq!(kept.header("x-request-id"), Some("checkout-42"));
    let replaced = app.send(get(&[("x-request-id", "<script>")])).await;
    assert_ne!(replaced.header("x-request-id"), Some("<script>"));
    let traced = app
        .send(get(&[(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )]))
        .await;
    assert_eq!(
        traced.header("x-request-id"),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );
    // GraphQL answers and refusals by inner layers carry one too.
    let refused = app
        .send(
            Request::post("/graphql")
                .header("content-type", "application/json")
                .body(Body::from("{not json"))
                .unwrap(),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.header("x-request-id").is_some());
}

/// Every metric the Grafana dashboard in `deploy/` plots is one the code records.
#[test]
fn the_dashboard_plots_only_metrics_the_code_records() {
    fn sources(dir: &std::path::Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push_str(&std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut code = String::new();
    sources(&root.join("src"), &mut code);
    let dashboard = std::fs::read_to_string(root.join("deploy/grafana/techpotli.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    let mut names = std::collections::BTreeSet::new();
    for panel in json["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let mut rest = expr;
            while let Some(at) = rest.find("techpotli_") {
                let tail = &rest[at..];
                let end = tail
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(tail.len());
                names.insert(tail[..end].to_owned());
                rest = &tail[end..];
            }
        }
    }
    assert!(names.len() >= 15, "{names:?}");
    for name in names {
        let recorded = name
            .trim_end_matches("_bucket")
            .trim_end_matches("_count")
            .to_owned();
        assert!(
            code.contains(&format!("\"{recorded}\"")),
            "the dashboard plots `{name}`, which nothing in src/ records"
        );
    }
}
