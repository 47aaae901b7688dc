//! Test harness: a fresh PostgreSQL database per test (cloned from a migrated, seeded template),
//! the real router driven in-process, and helpers to send GraphQL and read results.

pub mod db;
pub mod proxy;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use techpotli::app::{App, AppState, build_router};
use techpotli::config::Config;
use tower::ServiceExt;

pub use db::TestDatabase;

/// Products in the seeded template (drafts and deleted ones included).
pub const SEEDED_PRODUCTS: i64 = 1_500;

/// A response as the client sees it.
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl TestResponse {
    /// The body as JSON (panics with the body text otherwise).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The application under test over its own database; dropped at the end of the test.
pub struct TestApp {
    pub app: AppState,
    router: Router,
    pub db: TestDatabase,
}

impl TestApp {
    /// An app over a fresh copy of the seeded catalog.
    pub async fn new() -> Self {
        let db = TestDatabase::seeded().await;
        let url = db.url.clone();
        Self::with_database_url(db, &url, &[])
    }

    /// An app whose pool talks to `url` (e.g. through a fault-injecting proxy) with extra env.
    pub fn with_database_url(db: TestDatabase, url: &str, extra: &[(&str, &str)]) -> Self {
        let mut vars: Vec<(String, String)> = vec![("DATABASE_URL".into(), url.into())];
        vars.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let config =
            Config::from_lookup(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
                .expect("test config");
        let app = App::build(config);
        let router = build_router(app.clone());
        Self { app, router, db }
    }

    /// SQL statements the app has sent so far.
    pub fn statements(&self) -> u64 {
        self.app.statements.get()
    }

    /// Sends a raw HTTP request through the router.
    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        TestResponse {
            status,
            headers,
            body,
        }
    }

    /// POSTs a GraphQL request with `application/json`.
    pub async fn post(&self, query: &str, variables: Value) -> TestResponse {
        let body = json!({ "query": query, "variables": variables });
        let request = Request::post("/graphql")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        self.send(request).await
    }

    /// POSTs a query that must succeed; returns `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let response = self.post(query, variables).await;
        assert_eq!(response.status, StatusCode::OK);
        let body = response.json();
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// POSTs a query that must fail; returns the first error's `extensions.code` and message.
    pub async fn error(&self, query: &str, variables: Value) -> (String, String) {
        let response = self.post(query, variables).await;
        assert_eq!(
            response.status,
            StatusCode::OK,
            "application/json answers 200"
        );
        let body = response.json();
        let error = &body["errors"][0];
        assert!(error.is_object(), "expected an error, got {body:#}");
        (
            error["extensions"]["code"]
                .as_str()
                .unwrap_or("<none>")
                .to_owned(),
            error["message"].as_str().unwrap_or_default().to_owned(),
        )
    }
}

/// The global ID the API gives a row.
pub fn gid(type_name: &str, id: i64) -> String {
    techpotli::graphql::ids::to_global(type_name, id).0
}
