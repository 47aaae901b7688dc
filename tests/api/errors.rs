//! Bad input gets a clear error with `extensions.code`, never a panic or a 500; a database outage
//! is reported without leaking SQL and heals by itself.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

use crate::support::proxy::FaultProxy;
use techpotli::auth::Role;

use crate::subscriptions::Client;
use crate::support::{CacheMode, TestApp, TestDatabase, gid, staff_token};

const LIST: &str = r#"query($first: Int, $last: Int, $after: String, $before: String, $region: ID, $sort: ProductSortInput, $filter: ProductFilterInput) {
  products(first: $first, last: $last, after: $after, before: $before, regionId: $region, sort: $sort, filter: $filter) { edges { cursor } } }"#;

#[tokio::test(flavor = "multi_thread")]
async fn bad_pagination_and_ids_are_bad_user_input() {
    let app = TestApp::new().await;
    let title_cursor = app
        .data(LIST, json!({ "first": 1, "sort": { "field": "TITLE" } }))
        .await["products"]["edges"][0]["cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let cases = vec![
        (json!({ "after": "not-a-cursor" }), "malformed cursor"),
        (json!({ "after": "eyJ4IjoxfQ" }), "malformed cursor"), // valid base64 JSON, wrong shape
        (json!({ "first": 101 }), "at most 100"),
        (json!({ "first": -1 }), "negative"),
        (json!({ "last": -5 }), "negative"),
        (json!({ "first": 5, "last": 5 }), "together"),
        (json!({ "region": gid("Region", 999) }), "unknown regionId"),
        (json!({ "region": "bm9wZQ" }), "malformed ID"),
        (json!({ "region": gid("Product", 1) }), "not a Region ID"),
        (
            json!({ "filter": { "collectionIds": ["%%%"] } }),
            "malformed ID",
        ),
        (
            json!({ "sort": { "field": "PRICE" } }),
            "requires `regionId`",
        ),
        (
            json!({ "filter": { "price": { "min": 10 } } }),
            "requires `regionId`",
        ),
        (
            json!({ "region": gid("Region", 1), "filter": { "price": { "min": 10, "max": 5 } } }),
            "must not exceed",
        ),
        (json!({ "after": title_cursor }), "different sort"), // a TITLE cursor under the default sort
    ];
    for (vars, needle) in cases {
        let (code, message) = app.error(LIST, vars.clone()).await;
        assert_eq!(code, "BAD_USER_INPUT", "{vars}: {message}");
        assert!(
            message.contains(needle),
            "{vars}: message `{message}` lacks `{needle}`"
        );
    }
    let (code, _) = app
        .error(
            r#"{ product(id: "UHJvZHVjdDox", handle: "x") { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    let (code, _) = app
        .error(r#"{ node(id: "garbage") { id } }"#, json!({}))
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    let too_many: Vec<String> = (1..=101).map(|i| gid("Product", i)).collect();
    let (code, _) = app
        .error(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": too_many }),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_cursor_in_a_nested_connection_fails_only_that_field() {
    let app = TestApp::new().await;
    let q = r#"{ regions { name } collections(first: 2) { edges { node { products(after: "bad") { edges { cursor } } } } } }"#;
    let body = app.post(q, json!({})).await.json();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(
        body["data"]["regions"].as_array().map(Vec::len),
        Some(3),
        "sibling fields still resolve"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_documents_are_request_errors_with_codes() {
    let app = TestApp::new().await;
    let body = app.post("{ products { nope } }", json!({})).await.json();
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    assert!(body.get("data").is_none());
    let body = app.post("{ products { ", json!({})).await.json();
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_PARSE_FAILED"
    );
    // A variable of the wrong type is rejected before any resolver runs.
    let body = app.post(LIST, json!({ "first": "ten" })).await.json();
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("first")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn database_outage_is_reported_without_leaks_and_heals_by_itself() {
    let db = TestDatabase::seeded().await;
    let pg: std::net::SocketAddr = "127.0.0.1:5432".parse().unwrap();
    let proxy = FaultProxy::start(pg).await;
    let url = db.url.replace("127.0.0.1:5432", &proxy.addr.to_string());
    // No cache: every request must reach the database through the proxy.
    let app = TestApp::with_database_url(
        db,
        &url,
        CacheMode::Disabled,
        &[("DATABASE_ACQUIRE_TIMEOUT_MS", "300")],
    );
    let query = "{ products(first: 2) { edges { node { handle variants { sku } } } } }";
    app.data(query, json!({})).await;
    // A staff socket opened while the database is up, to run an operation during the outage.
    let token = staff_token(&app, Role::Catalog).await;
    let addr = app.serve().await;
    let mut socket = Client::init(addr, json!({ "Authorization": format!("Bearer {token}") }))
        .await
        .unwrap();

    proxy.down();
    let body = app.post(query, json!({})).await;
    assert_eq!(body.status, StatusCode::OK);
    let request_id = body.header("x-request-id").unwrap().to_owned();
    let body = body.json();
    let error = &body["errors"][0];
    assert_eq!(
        error["extensions"]["code"], "SERVICE_UNAVAILABLE",
        "{body:#}"
    );
    // The client gets no details, but the id that finds them in the server log.
    assert_eq!(error["extensions"]["requestId"], request_id.as_str());
    // A WebSocket operation has no request of its own: it gets an id of its own.
    socket.subscribe("q", query).await;
    let message = socket
        .next(std::time::Duration::from_secs(10))
        .await
        .unwrap();
    let ws_error = &message["payload"]["errors"][0]["extensions"];
    assert_eq!(ws_error["code"], "SERVICE_UNAVAILABLE", "{message}");
    let ws_id = ws_error["requestId"].as_str().unwrap();
    assert!(ws_id.len() == 32 && ws_id != request_id, "{ws_id}");
    let text = body.to_string().to_lowercase();
    for leak in ["select", "postgres", "connection refused", "bb8", "diesel"] {
        assert!(!text.contains(leak), "response leaks `{leak}`: {text}");
    }
    let ready = app
        .send(Request::get("/readyz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    let live = app
        .send(Request::get("/healthz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(live.status, StatusCode::OK);

    proxy.restore();
    // The pool re-establishes connections on demand: the very next request succeeds.
    let mut healed = false;
    for _ in 0..20 {
        let body = app.post(query, json!({})).await.json();
        if body.get("errors").is_none() {
            healed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        healed,
        "the server did not recover after the database returned"
    );
    let ready = app
        .send(Request::get("/readyz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(ready.status, StatusCode::OK);
}
