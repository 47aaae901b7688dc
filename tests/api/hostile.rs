//! The public door: every attack that once crashed, stalled or exhausted the server, replayed
//! (scaled to run in seconds) through the real router. Each asserts the clear error, that the
//! server still answers afterwards, and bounded memory or descriptors where the attack was about
//! them.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use techpotli::auth::Role;

use crate::subscriptions::Client;
use crate::support::{CacheMode, TestApp, TestDatabase, TestResponse, code, gid, staff_token};

const LOGIN: &str =
    "mutation($e: String!, $p: String!) { adminLogin(email: $e, password: $p) { token } }";

/// A POST of `body` from the socket address `peer` (as the server sees it), with headers.
async fn post_from(
    app: &TestApp,
    peer: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> TestResponse {
    let mut builder = Request::post("/graphql").header("content-type", "application/json");
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let mut request = builder.body(Body::from(body.to_string())).unwrap();
    let addr: SocketAddr = format!("{peer}:40000").parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(addr));
    app.send(request).await
}

/// An `adminLogin` from the socket address `peer`.
async fn login_from(
    app: &TestApp,
    peer: &str,
    headers: &[(&str, &str)],
    email: &str,
    password: impl Into<String>,
) -> TestResponse {
    let variables = json!({ "e": email, "p": password.into() });
    post_from(
        app,
        peer,
        headers,
        json!({ "query": LOGIN, "variables": variables }),
    )
    .await
}

/// The server still answers an ordinary query.
async fn assert_alive(app: &TestApp) {
    let data = app.data("{ regions { name } }", json!({})).await;
    assert!(data["regions"].as_array().is_some_and(|r| !r.is_empty()));
}

/// Resident memory of this process in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[tokio::test(flavor = "multi_thread")]
async fn deeply_nested_literals_are_refused_before_parsing_on_every_transport() {
    let app = TestApp::new().await;
    let deep = format!(
        "{{ __typename(x: {}1{}) }}",
        "[".repeat(2000),
        "]".repeat(2000)
    );
    let objects = format!(
        "{{ __typename(x: {}1{}) }}",
        "{a: ".repeat(2000),
        "}".repeat(2000)
    );
    for doc in [&deep, &objects] {
        let response = app.post(doc, json!({})).await;
        let body = response.json();
        assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("nesting depth")
        );
    }
    let body = app.get_query(&deep).await;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX");
    // Over the WebSocket too (the parser runs there as well).
    let addr = app.serve().await;
    let token = staff_token(&app, Role::Owner).await;
    let mut ws = Client::init(addr, json!({ "Authorization": format!("Bearer {token}") }))
        .await
        .unwrap();
    ws.subscribe("1", &deep).await;
    let reply = ws.next(Duration::from_secs(5)).await.unwrap();
    // async-graphql reports a request error as `next` with errors (then `complete`).
    let errors = if reply["type"] == "error" {
        reply["payload"].clone()
    } else {
        reply["payload"]["errors"].clone()
    };
    assert_eq!(
        errors[0]["extensions"]["code"], "QUERY_TOO_COMPLEX",
        "{reply}"
    );
    assert_alive(&app).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn huge_bodies_are_refused_without_reading_them_whole() {
    let app = TestApp::new().await;
    let before = rss_kib();
    for i in 0..8 {
        let junk = format!("{{ {}{i} }}", "a".repeat(2 * 1024 * 1024));
        let response = app.post(&junk, json!({})).await;
        assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(code(&response.json()), "QUERY_TOO_LARGE");
    }
    // A document under the body limit but over the document limit.
    let response = app
        .post(&format!("{{ {} }}", "a ".repeat(20_000)), json!({}))
        .await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        response.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("over the limit")
    );
    let grown_mib = rss_kib().saturating_sub(before) / 1024;
    assert!(grown_mib < 64, "RSS grew {grown_mib} MiB");
    assert_alive(&app).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn nested_connections_cost_their_page_sizes_and_are_refused_before_any_sql() {
    let app = TestApp::with_cache(CacheMode::Disabled).await;
    let nested = "{ products(first: 100) { edges { node { collection { products(first: 100) { edges { node { collection { products(first: 100) { edges { node { title } } } } } } } } } } } }";
    let before = app.statements();
    let body = app.post(nested, json!({})).await.raw_json();
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("query cost is") && message.contains("5000"),
        "{message}"
    );
    assert!(
        body["extensions"]["cost"]["requestedQueryCost"]
            .as_u64()
            .unwrap()
            > 1_000_000
    );
    assert_eq!(app.statements(), before, "nothing ran");
    // Sixteen aliases of it: the same answer, not a dead process.
    let aliases: Vec<String> = (0..16)
        .map(|i| format!("a{i}: {}", &nested[2..nested.len() - 2]))
        .collect();
    let body = app
        .post(&format!("{{ {} }}", aliases.join(" ")), json!({}))
        .await
        .json();
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX");
    assert_eq!(app.statements(), before);
    assert_alive(&app).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn many_aliases_and_root_fields_are_refused() {
    let app = TestApp::with_cache(CacheMode::Disabled).await;
    // Five hundred of them do not even fit the document limit…
    let many: Vec<String> = (0..500)
        .map(|i| {
            format!("p{i}: products(first: 100, filter: {{ search: \"x{i}\" }}) {{ totalCount }}")
        })
        .collect();
    let body = app
        .post(&format!("{{ {} }}", many.join(" ")), json!({}))
        .await
        .json();
    assert_eq!(code(&body), "QUERY_TOO_LARGE");
    // …and a hundred break the alias limit.
    let aliases: Vec<String> = (0..100)
        .map(|i| {
            format!("p{i}: products(first: 100, filter: {{ search: \"x{i}\" }}) {{ totalCount }}")
        })
        .collect();
    let before = app.statements();
    let body = app
        .post(&format!("{{ {} }}", aliases.join(" ")), json!({}))
        .await
        .json();
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("aliases is 100, over the limit of 30")
    );
    assert_eq!(app.statements(), before);
    assert_alive(&app).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fragment_bombs_are_measured_without_being_expanded() {
    let app = TestApp::new().await;
    let mut doc = String::from("query { ...F0 }\n");
    for i in 0..8 {
        doc.push_str(&format!(
            "fragment F{i} on Query {{ {} }}\n",
            format!("...F{} ", i + 1).repeat(10)
        ));
    }
    doc.push_str("fragment F8 on Query { __typename }\n");
    let before = rss_kib();
    let body = app.post(&doc, json!({})).await.json();
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("selections after fragment expansion")
    );
    let grown_mib = rss_kib().saturating_sub(before) / 1024;
    assert!(grown_mib < 64, "RSS grew {grown_mib} MiB");
    assert_alive(&app).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_chain_of_fragments_within_the_limits_runs() {
    let app = TestApp::new().await;
    // 80 fragments, each spreading the next: 81 selections, well within the limits, deeper than
    // async-graphql's own recursion check (64) that the guard's measure replaces.
    let mut doc = String::from("query Chain { ...F0 }\n");
    for i in 0..80 {
        doc.push_str(&format!("fragment F{i} on QueryRoot {{ ...F{} }}\n", i + 1));
    }
    doc.push_str("fragment F80 on QueryRoot { __typename }\n");
    let body = app.post_raw(json!({ "query": doc })).await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(body["data"]["__typename"], "QueryRoot", "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_sign_in_per_request_and_guesses_are_counted_before_verifying() {
    let app = TestApp::new().await;
    staff_token(&app, Role::Owner).await;
    let email = "owner@techpotli.test";
    // Twenty sign-ins in one request: one is evaluated.
    let fields: Vec<String> = (0..20)
        .map(|i| {
            format!("a{i}: adminLogin(email: \"{email}\", password: \"guess-{i}\") {{ token }}")
        })
        .collect();
    let body = post_from(
        &app,
        "198.51.100.1",
        &[],
        json!({ "query": format!("mutation {{ {} }}", fields.join(" ")) }),
    )
    .await
    .json();
    let errors = body["errors"].as_array().unwrap();
    let evaluated = errors
        .iter()
        .filter(|e| e["extensions"]["code"] == "UNAUTHENTICATED")
        .count();
    let refused = errors
        .iter()
        .filter(|e| e["message"] == "one sign-in per request")
        .count();
    assert_eq!((evaluated, refused), (1, 19), "{body}");

    // Forty concurrent guesses from one client: exactly the limit is evaluated.
    let guesses = (0..40).map(|i| {
        let app = &app;
        async move {
            login_from(app, "198.51.100.2", &[], email, format!("wrong-{i}"))
                .await
                .json()
        }
    });
    let results = futures_util::future::join_all(guesses).await;
    let evaluated = results
        .iter()
        .filter(|b| code(b) == "UNAUTHENTICATED")
        .count();
    let refusal = |b: &Value, starts: &str| {
        code(b) == "TOO_MANY_REQUESTS"
            && b["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(starts))
    };
    let over_the_limit = results
        .iter()
        .filter(|b| refusal(b, "too many attempts"))
        .count();
    // An admitted guess may still wait too long for one of the few hashing slots when the
    // machine is busy (seen once in CI: 4 evaluated): refused too, but not by the count.
    let no_slot = results
        .iter()
        .filter(|b| refusal(b, "too many sign-ins at once"))
        .count();
    assert_eq!(over_the_limit, 35, "{results:?}");
    assert_eq!(evaluated + no_slot, 5, "{results:?}");
    assert!(evaluated >= 1, "{results:?}");

    // A rotating X-Forwarded-For from an untrusted peer does not open new buckets…
    for i in 0..3 {
        let forged = format!("203.0.113.{i}");
        let body = login_from(
            &app,
            "198.51.100.2",
            &[("x-forwarded-for", &forged)],
            email,
            "wrong",
        )
        .await
        .json();
        assert_eq!(code(&body), "TOO_MANY_REQUESTS");
    }
    // …and the right password from a client that has not failed still works.
    let body = login_from(&app, "198.51.100.3", &[], email, "correct-horse-battery")
        .await
        .json();
    assert!(body["data"]["adminLogin"]["token"].is_string(), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_under_attack_stays_open_to_clients_that_have_not_failed() {
    let app = TestApp::new().await;
    staff_token(&app, Role::Owner).await;
    let email = "owner@techpotli.test";
    // Spread across many clients (a botnet): the account counter passes its limit.
    for i in 0..25 {
        login_from(&app, &format!("198.51.100.{}", 10 + i), &[], email, "wrong").await;
    }
    // A client that failed once is now locked out of this account…
    let body = login_from(&app, "198.51.100.10", &[], email, "correct-horse-battery")
        .await
        .json();
    assert_eq!(code(&body), "TOO_MANY_REQUESTS");
    // …the real staff member, who has not failed, is not.
    let body = login_from(&app, "192.0.2.50", &[], email, "correct-horse-battery")
        .await
        .json();
    assert!(body["data"]["adminLogin"]["token"].is_string(), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trusted_proxy_names_the_client() {
    let app = TestApp::with_settings(CacheMode::Redis, &[("TRUSTED_PROXIES", "10.0.0.0/8")]).await;
    staff_token(&app, Role::Owner).await;
    let email = "owner@techpotli.test";
    for _ in 0..5 {
        login_from(
            &app,
            "10.0.0.7",
            &[("x-forwarded-for", "198.51.100.77")],
            email,
            "wrong",
        )
        .await;
    }
    let body = login_from(
        &app,
        "10.0.0.7",
        &[("x-forwarded-for", "198.51.100.77")],
        email,
        "wrong",
    )
    .await
    .json();
    assert_eq!(code(&body), "TOO_MANY_REQUESTS");
    // Another client behind the same proxy has its own count.
    let body = login_from(
        &app,
        "10.0.0.7",
        &[("x-forwarded-for", "198.51.100.78")],
        email,
        "correct-horse-battery",
    )
    .await
    .json();
    assert!(body["data"]["adminLogin"]["token"].is_string(), "{body}");
}

fn multipart_with_parts(token: &str, parts: usize) -> Request<Body> {
    let boundary = "b";
    let mut body = String::new();
    body.push_str(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{{\"query\":\"{{ __typename }}\"}}\r\n"));
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{}}\r\n"
    ));
    for i in 0..parts {
        body.push_str(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"f{i}\"; filename=\"f\"\r\n\r\n\r\n"));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    Request::post("/graphql")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header("apollo-require-preflight", "true")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn multipart_part_counts_are_bounded_and_cross_site_forms_refused() {
    let app = TestApp::new().await;
    let token = staff_token(&app, Role::Content).await;
    // Strangers may not stream uploads at all.
    let mut anonymous = multipart_with_parts(&token, 1);
    anonymous.headers_mut().remove("authorization");
    let response = app.send(anonymous).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&response.json()), "UNAUTHENTICATED");
    let before = open_fds();
    let response = app.send(multipart_with_parts(&token, 25_000)).await;
    let body = response.json();
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("parts")
    );
    assert!(
        open_fds() < before + 50,
        "descriptors leaked: {} -> {}",
        before,
        open_fds()
    );
    // A handful of parts is fine.
    assert_eq!(
        app.send(multipart_with_parts(&token, 2)).await.json()["data"]["__typename"],
        "QueryRoot"
    );
    // Without the preflight header (what a cross-site form sends): refused.
    let mut form = multipart_with_parts(&token, 1);
    form.headers_mut().remove("apollo-require-preflight");
    let response = app.send(form).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert!(
        response.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Apollo-Require-Preflight")
    );
    assert_alive(&app).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_upload_is_cut_off_at_its_deadline() {
    let app = TestApp::with_settings(CacheMode::Memory, &[("UPLOAD_DEADLINE_SECS", "1")]).await;
    let addr = app.serve().await;
    let token = staff_token(&app, Role::Content).await;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nApollo-Require-Preflight: true\r\nAuthorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let part = "--b\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n";
    stream
        .write_all(format!("{:x}\r\n{part}\r\n", part.len()).as_bytes())
        .await
        .unwrap();
    // …and then nothing. The server answers by itself.
    let mut reply = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut reply))
        .await
        .expect("the server answered a stalled upload")
        .unwrap();
    let text = String::from_utf8_lossy(&reply[..n]);
    assert!(text.contains("UPLOAD_TIMEOUT"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_die_with_the_account_over_http_and_websocket() {
    let app = TestApp::new().await;
    let owner = staff_token(&app, Role::Owner).await;
    let content = staff_token(&app, Role::Content).await;
    let me = "{ adminMe { email role } }";
    assert_eq!(
        app.post_as(Some(&content), me, json!({})).await["data"]["adminMe"]["role"],
        "CONTENT"
    );
    let addr = app.serve().await;
    let mut ws = Client::init(
        addr,
        json!({ "Authorization": format!("Bearer {content}") }),
    )
    .await
    .unwrap();
    ws.subscribe("1", "subscription { bannerUpdated { id } }")
        .await;

    // The owner deactivates the content editor.
    let content_id =
        techpotli::auth::jwt::JwtKeys::viewer_of(&app.app.jwt.verify(&content).unwrap());
    let techpotli::auth::Viewer::Admin { id, .. } = content_id else {
        panic!()
    };
    let body = app
        .post_as(Some(&owner), "mutation($id: ID!) { updateStaffMember(id: $id, input: { isActive: false }) { email } }", json!({ "id": gid("Admin", id) }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    // At once: HTTP refuses the old token…
    let body = app.post_as(Some(&content), me, json!({})).await;
    assert_eq!(code(&body), "UNAUTHENTICATED");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );
    // …and the open socket is closed with 4401.
    let closed = loop {
        match ws.next(Duration::from_secs(5)).await {
            Err(code) => break code,
            Ok(_) => continue,
        }
    };
    assert_eq!(closed, 4401);
    // Reactivated with a new password: the old token stays dead, a new sign-in works.
    app.post_as(Some(&owner), "mutation($id: ID!) { updateStaffMember(id: $id, input: { isActive: true, password: \"a-brand-new-password\" }) { email } }", json!({ "id": gid("Admin", id) })).await;
    assert_eq!(
        code(&app.post_as(Some(&content), me, json!({})).await),
        "UNAUTHENTICATED"
    );
    let body = login_from(
        &app,
        "192.0.2.9",
        &[],
        "content@techpotli.test",
        "a-brand-new-password",
    )
    .await
    .json();
    assert!(body["data"]["adminLogin"]["token"].is_string(), "{body}");
    // Only owners manage staff.
    let body = app
        .post_as(
            Some(&owner),
            "mutation($id: ID!) { updateStaffMember(id: $id, input: { role: CATALOG }) { role } }",
            json!({ "id": gid("Admin", id) }),
        )
        .await;
    assert_eq!(body["data"]["updateStaffMember"]["role"], "CATALOG");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_signed_with_the_public_development_secret_is_refused() {
    let app = TestApp::new().await;
    let forged = techpotli::auth::jwt::JwtKeys::new(
        techpotli::config::DEV_JWT_SECRET.as_bytes(),
        chrono::Duration::hours(1),
    )
    .issue_admin(1, Role::Owner, 1)
    .unwrap()
    .0;
    let body = app
        .post_as(Some(&forged), "{ adminMe { email } }", json!({}))
        .await;
    assert_eq!(code(&body), "UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread")]
async fn persisted_queries_store_only_documents_that_parse_within_the_limits() {
    let app = TestApp::new().await;
    let text = "x".repeat(1024 * 1024);
    let hash = techpotli::graphql::apq::sha256_hex(&text);
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let response = app
        .send(
            Request::post("/graphql")
                .header("content-type", "application/json")
                .body(Body::from(
                    json!({ "query": text, "extensions": ext }).to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
    let junk = "this is not GraphQL";
    let hash = techpotli::graphql::apq::sha256_hex(junk);
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let body = app
        .post_raw(json!({ "query": junk, "extensions": ext }))
        .await;
    assert_eq!(code(&body), "GRAPHQL_PARSE_FAILED");
    let keys = app.redis_keys().await;
    assert!(!keys.iter().any(|k| k.contains("apq:")), "stored: {keys:?}");
    // A real document is stored.
    let good = "{ regions { name } }";
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": techpotli::graphql::apq::sha256_hex(good) } });
    app.post_raw(json!({ "query": good, "extensions": ext }))
        .await;
    assert!(app.redis_keys().await.iter().any(|k| k.contains("apq:")));
}

#[tokio::test(flavor = "multi_thread")]
async fn nul_in_any_string_input_is_bad_user_input() {
    let app = TestApp::new().await;
    assert_eq!(
        app.error(
            "{ products(filter: { search: \"a\\u0000b\" }) { totalCount } }",
            json!({}),
        )
        .await
        .0,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.error(
            "query($h: String) { product(handle: $h) { id } }",
            json!({ "h": "x\u{0}y" }),
        )
        .await
        .0,
        "BAD_USER_INPUT"
    );
    let token = staff_token(&app, Role::Content).await;
    let body = app
        .post_as(
            Some(&token),
            "mutation($i: CreateHeroBannerInput!) { createHeroBanner(input: $i) { id } }",
            json!({ "i": { "title": "a\u{0}", "imageUrl": "https://x/y.png" } }),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread")]
async fn banner_links_are_https_or_site_paths() {
    let app = TestApp::new().await;
    let token = staff_token(&app, Role::Content).await;
    let create = "mutation($i: CreateHeroBannerInput!) { createHeroBanner(input: $i) { id } }";
    for bad in [
        "javascript:alert(1)",
        "http://evil.example/",
        "//evil.example/x",
        "data:text/html,x",
    ] {
        let body = app
            .post_as(
                Some(&token),
                create,
                json!({ "i": { "title": "t", "imageUrl": "https://x/y.png", "linkUrl": bad } }),
            )
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{bad}");
    }
    for good in ["https://techpotli.example/sale", "/collections/sale"] {
        let body = app
            .post_as(
                Some(&token),
                create,
                json!({ "i": { "title": "t", "imageUrl": "https://x/y.png", "linkUrl": good } }),
            )
            .await;
        assert!(body.get("errors").is_none(), "{good}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_banner_window_change_bounds_the_response_max_age() {
    let app = TestApp::new().await;
    let token = staff_token(&app, Role::Content).await;
    let ends = (chrono::Utc::now() + chrono::Duration::seconds(20)).to_rfc3339();
    let body = app
        .post_as(Some(&token), "mutation($i: CreateHeroBannerInput!) { createHeroBanner(input: $i) { id } }", json!({ "i": { "title": "Flash", "imageUrl": "https://x/y.png", "isActive": true, "endsAt": ends } }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let response = app
        .send(
            Request::get("/graphql?query=%7B%20heroBanners%20%7B%20title%20%7D%20%7D")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let cache_control = response.header("cache-control").unwrap().to_owned();
    let max_age: u32 = cache_control
        .split(',')
        .find_map(|p| p.trim().strip_prefix("max-age="))
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&max_age), "{cache_control}");
    assert!(
        response.json()["data"]["heroBanners"]
            .to_string()
            .contains("Flash")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn queries_over_the_websocket_run_as_over_http_and_operations_per_socket_are_capped() {
    let db = TestDatabase::seeded().await;
    let url = db.url.clone();
    let app =
        TestApp::with_database_url(db, &url, CacheMode::Redis, &[("WS_MAX_SUBSCRIPTIONS", "3")]);
    let addr = app.serve().await;
    let token = staff_token(&app, Role::Owner).await;
    let mut ws = Client::init(addr, json!({ "Authorization": format!("Bearer {token}") }))
        .await
        .unwrap();
    ws.subscribe(
        "q",
        "{ products(first: 3) { edges { node { title variants { sku } } } } }",
    )
    .await;
    let reply = ws.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(reply["type"], "next", "{reply}");
    assert_eq!(
        reply["payload"]["data"]["products"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert!(
        reply["payload"]["extensions"]["cost"]["requestedQueryCost"]
            .as_u64()
            .is_some()
    );
    let done = ws.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(done["type"], "complete");
    for id in ["a", "b", "c", "d"] {
        ws.subscribe(id, "subscription { bannerUpdated { id } }")
            .await;
    }
    let refused = ws.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        (refused["id"].as_str(), refused["type"].as_str()),
        (Some("d"), Some("error")),
        "{refused}"
    );
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "TOO_MANY_REQUESTS"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_response_reports_its_cost_and_staff_have_a_larger_bucket() {
    let app = TestApp::new().await;
    let listing =
        "{ products(first: 20) { edges { node { title variants { sku price { amount } } } } } }";
    let body = app.post(listing, json!({})).await.raw_json();
    let cost = &body["extensions"]["cost"];
    let requested = cost["requestedQueryCost"].as_u64().unwrap();
    let actual = cost["actualQueryCost"].as_u64().unwrap();
    assert!(
        requested > 20 * 5 && actual > 0 && actual <= requested,
        "{cost}"
    );
    assert!(
        cost["throttleStatus"]["maximumAvailable"]
            .as_u64()
            .is_some()
    );
    // An answer from the response cache: free, and still reported.
    let listing = "{ products(first: 20) { edges { node { title handle } } } }";
    let uri = format!(
        "/graphql?query={}",
        &serde_urlencoded::to_string([("q", listing)]).unwrap()[2..]
    );
    let first = app
        .send(Request::get(&uri).body(Body::empty()).unwrap())
        .await
        .raw_json();
    let second = app
        .send(Request::get(&uri).body(Body::empty()).unwrap())
        .await
        .raw_json();
    assert_eq!(first["data"], second["data"]);
    assert_eq!(
        second["extensions"]["cost"]["actualQueryCost"], 0,
        "{first}\n{second}"
    );
    assert_eq!(
        second["extensions"]["cost"]["requestedQueryCost"],
        first["extensions"]["cost"]["requestedQueryCost"]
    );
    assert!(
        first["extensions"]["cost"]["actualQueryCost"]
            .as_u64()
            .unwrap()
            > 0
    );
    let token = staff_token(&app, Role::Catalog).await;
    let staff = app
        .post_as(Some(&token), "{ adminMe { email } }", json!({}))
        .await;
    assert_eq!(
        staff["extensions"]["cost"]["throttleStatus"]["maximumAvailable"],
        50_000
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_leaky_bucket_is_shared_by_instances_through_redis() {
    let db = TestDatabase::seeded().await;
    let url = db.url.clone();
    let small = [
        ("THROTTLE_PUBLIC_MAXIMUM", "1000"),
        ("THROTTLE_PUBLIC_RESTORE_RATE", "1"),
        ("CACHE_ENABLED", "true"),
    ];
    let a = TestApp::with_database_url(db, &url, CacheMode::Redis, &small);
    let (_b_app, b_addr) = a.sibling(&small).await;
    let a_addr = a.serve().await;
    let query = "{ products(first: 50) { edges { node { title handle } } } }";
    // Distinct documents (a comment differs), so none is served from the response cache, where
    // answers are free.
    let sent = std::sync::atomic::AtomicUsize::new(0);
    let post = |addr: SocketAddr| {
        let n = sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        async move {
            let body = json!({ "query": format!("# request {n}\n{query}") }).to_string();
            let client = reqwest_like(addr, body).await;
            serde_json::from_str::<Value>(&client).unwrap()
        }
    };
    let first = post(a_addr).await;
    let requested = first["extensions"]["cost"]["requestedQueryCost"]
        .as_u64()
        .unwrap();
    assert!(requested > 100 && requested < 1000, "{first}");
    let mut throttled_on_b = false;
    for _ in 0..20 {
        let body = post(b_addr).await;
        if code(&body) == "THROTTLED" {
            assert!(
                body["errors"][0]["extensions"]["retryAfter"]
                    .as_u64()
                    .unwrap()
                    >= 1
            );
            assert!(
                body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"]
                    .as_u64()
                    .unwrap()
                    < requested
            );
            throttled_on_b = true;
            break;
        }
    }
    assert!(throttled_on_b, "instance B never saw what A spent");
    // And A sees what B spent.
    assert_eq!(code(&post(a_addr).await), "THROTTLED");
}

/// A minimal HTTP/1.1 POST over a socket (the request then has a real peer address).
async fn reqwest_like(addr: SocketAddr, body: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.unwrap();
    let text = String::from_utf8_lossy(&reply).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        // De-chunk.
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&tail[..n]);
            rest = &tail[n + 2..];
        }
        out
    } else {
        body.to_owned()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn production_switches_hide_introspection_graphiql_and_metrics() {
    let app = TestApp::with_settings(
        CacheMode::Memory,
        &[
            ("APP_ENV", "production"),
            ("METRICS_TOKEN", "metrics-secret"),
        ],
    )
    .await;
    let body = app
        .post("{ __schema { types { name } } }", json!({}))
        .await
        .json();
    assert!(body["data"]["__schema"].is_null(), "{body}");
    let body = app
        .post("{ produtcs { totalCount } }", json!({}))
        .await
        .json();
    assert!(
        !body.to_string().contains("Did you mean"),
        "no suggestions: {body}"
    );
    let graphiql = app
        .send(Request::get("/graphiql").body(Body::empty()).unwrap())
        .await;
    assert_eq!(graphiql.status, StatusCode::NOT_FOUND);
    let metrics = app
        .send(Request::get("/metrics").body(Body::empty()).unwrap())
        .await;
    assert_eq!(metrics.status, StatusCode::UNAUTHORIZED);
    let metrics = app
        .send(
            Request::get("/metrics")
                .header("authorization", "Bearer metrics-secret")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(metrics.status, StatusCode::OK);
    // No CORS headers unless origins are configured.
    let response = app
        .send(
            Request::get("/graphql?query=%7B__typename%7D")
                .header("origin", "https://evil.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(response.header("access-control-allow-origin").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_allows_only_configured_origins() {
    let app = TestApp::with_settings(
        CacheMode::Memory,
        &[("CORS_ALLOWED_ORIGINS", "https://shop.techpotli.example")],
    )
    .await;
    let ok = app
        .send(
            Request::get("/graphql?query=%7B__typename%7D")
                .header("origin", "https://shop.techpotli.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://shop.techpotli.example")
    );
    // Browser scripts may read the request id, and send their own or a traceparent.
    assert_eq!(
        ok.header("access-control-expose-headers"),
        Some("x-request-id")
    );
    let preflight = app
        .send(
            Request::options("/graphql")
                .header("origin", "https://shop.techpotli.example")
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "x-request-id,traceparent")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let allowed = preflight
        .header("access-control-allow-headers")
        .unwrap_or_default()
        .to_owned();
    assert!(
        allowed.contains("x-request-id") && allowed.contains("traceparent"),
        "{allowed}"
    );
    let other = app
        .send(
            Request::get("/graphql?query=%7B__typename%7D")
                .header("origin", "https://evil.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(other.header("access-control-allow-origin").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_storefront_pages_cost_well_under_one_second_of_refill() {
    let app = TestApp::with_cache(CacheMode::Disabled).await;
    let region = gid("Region", 1);
    let pages = [
        (
            "listing of 20",
            "query Listing($region: ID) { products(first: 20, regionId: $region) { edges { cursor node { id handle title thumbnail images { url alt } variants { id title sku inStock price { amount currencyCode decimal } } } } pageInfo { hasNextPage endCursor } } }",
            json!({ "region": region }),
        ),
        (
            "product page",
            "query Product($handle: String, $region: ID) { product(handle: $handle, regionId: $region) { id title description images { url } options { title values } variants { id sku title options { option value } price { amount currencyCode decimal } } } }",
            json!({ "handle": "product-000001", "region": region }),
        ),
        (
            "home page",
            "query Home { heroBanners { id title subtitle imageUrl linkUrl ctaText } categories { id name handle children { id name handle } } collection(handle: \"bestsellers\") { title products(first: 8) { edges { node { handle title thumbnail } } } } }",
            json!({}),
        ),
    ];
    let restore_rate = techpotli::throttle::ThrottleConfig::default()
        .public
        .restore_rate;
    for (name, query, variables) in pages {
        let body = app
            .post_raw(json!({ "query": query, "variables": variables }))
            .await;
        assert!(body.get("errors").is_none(), "{name}: {body}");
        let cost = &body["extensions"]["cost"];
        let requested = cost["requestedQueryCost"].as_u64().unwrap();
        eprintln!(
            "{name}: requested {requested}, actual {}",
            cost["actualQueryCost"]
        );
        assert!(
            requested * 2 < restore_rate,
            "{name} costs {requested} of {restore_rate}/s"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn extreme_money_amounts_are_bad_user_input_not_a_dropped_connection() {
    let app = TestApp::new().await;
    assert_eq!(
        app.error(
            "{ products(filter: { price: { min: -9223372036854775808 } }) { totalCount } }",
            json!({}),
        )
        .await
        .0,
        "BAD_USER_INPUT"
    );
    // An argument async-graphql itself cannot coerce still carries a code.
    let body = app
        .post(
            "query($n: Int) { products(first: $n) { totalCount } }",
            json!({ "n": 3_000_000_000u64 }),
        )
        .await
        .json();
    assert_ne!(
        code(&body),
        "<none>",
        "coercion errors carry a code: {body}"
    );
    assert_alive(&app).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn doubly_spread_fragment_chains_do_not_pin_a_worker() {
    let app = TestApp::new().await;
    let mut doc = String::from("query { ...F0 }\n");
    for i in 0..60 {
        doc.push_str(&format!(
            "fragment F{i} on Query {{ ...F{n} ...F{n} }}\n",
            n = i + 1
        ));
    }
    doc.push_str("fragment F60 on Query { ...Nope }\n");
    let body = app.post(&doc, json!({})).await.json();
    assert!(
        ["QUERY_TOO_COMPLEX", "GRAPHQL_VALIDATION_FAILED"].contains(&code(&body)),
        "{body}"
    );
    let body = app.get_query(&doc).await;
    assert!(body["errors"].is_array());
    assert_alive(&app).await;
}

/// No response cache, and a public bucket of 5,000 points refilled by one a second: what a
/// request takes or gets back shows in its `throttleStatus`.
async fn slow_refill_app() -> TestApp {
    TestApp::with_settings(
        CacheMode::Disabled,
        &[
            ("THROTTLE_PUBLIC_MAXIMUM", "5000"),
            ("THROTTLE_PUBLIC_RESTORE_RATE", "1"),
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_expensive_query_is_not_refunded() {
    let app = slow_refill_app().await;
    // A bad cursor deep inside nulls the whole answer out.
    let query = "{ products(first: 100) { edges { node { title categories { products(first: -1) { totalCount } } } } } }";
    let body = app.post_raw(json!({ "query": query })).await;
    assert!(body["errors"].is_array(), "{body}");
    let cost = &body["extensions"]["cost"];
    let requested = cost["requestedQueryCost"].as_u64().unwrap();
    assert!(requested > 500, "{cost}");
    assert_eq!(
        cost["throttleStatus"]["currentlyAvailable"]
            .as_u64()
            .unwrap()
            + requested,
        5000,
        "the points stay taken: {cost}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unused_points_go_back_to_the_callers_own_bucket() {
    let app = slow_refill_app().await;
    // Asks for a page of 100; the demo catalog fills a fraction of it.
    let query = "{ products(first: 100) { edges { node { title } } } }";
    let mut left = 5000;
    for round in 0..2 {
        let body = app.post_raw(json!({ "query": query })).await;
        assert!(body["errors"].is_null(), "{body}");
        let cost = &body["extensions"]["cost"];
        let requested = cost["requestedQueryCost"].as_u64().unwrap();
        let actual = cost["actualQueryCost"].as_u64().unwrap();
        assert!(actual > 0 && actual < requested, "{cost}");
        let available = cost["throttleStatus"]["currentlyAvailable"]
            .as_u64()
            .unwrap();
        left -= actual;
        // Only what the answer used is gone (a point a second comes back meanwhile).
        assert!(
            (left..=left + 2).contains(&available),
            "round {round}: {available} available, {left} expected: {cost}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_client_cannot_flood_the_persisted_query_store() {
    let app = TestApp::new().await;
    for i in 0..205 {
        let doc = format!("{{ a{i}: __typename }}");
        let hash = techpotli::graphql::apq::sha256_hex(&doc);
        let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
        let body = post_from(
            &app,
            "198.51.100.99",
            &[],
            json!({ "query": doc, "extensions": ext }),
        )
        .await
        .json();
        assert_eq!(
            body["data"][format!("a{i}")],
            "QueryRoot",
            "the request still runs"
        );
    }
    let stored = app
        .redis_keys()
        .await
        .iter()
        .filter(|k| k.contains("apq:") && !k.contains("throttle"))
        .count();
    assert_eq!(stored, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn random_persisted_query_hashes_cannot_drive_database_lookups() {
    let app = TestApp::with_settings(
        CacheMode::Redis,
        &[
            ("THROTTLE_PUBLIC_MAXIMUM", "200"),
            ("THROTTLE_PUBLIC_RESTORE_RATE", "1"),
        ],
    )
    .await;
    let miss = |i: usize| {
        let hash = techpotli::graphql::apq::sha256_hex(&format!("no such document {i}"));
        let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } }).to_string();
        let query = serde_urlencoded::to_string([("extensions", ext)]).unwrap();
        Request::get(format!("/graphql?{query}"))
            .body(Body::empty())
            .unwrap()
    };
    let before = app.statements();
    for i in 0..20 {
        let body = app.send(miss(i)).await.json();
        // The answer is the protocol's either way: the client resends the document.
        assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body}");
    }
    // Each miss costs 50 of the 200 points: four reach PostgreSQL, the other sixteen do not.
    let lookups = app.statements() - before;
    assert!(
        lookups <= 4,
        "{lookups} database lookups for 20 random hashes"
    );
    assert!(
        lookups >= 1,
        "misses within the bucket are looked up in PostgreSQL"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_persisted_query_hashes_are_refused_before_any_lookup() {
    let app = TestApp::new().await;
    let before = (app.statements(), app.redis_keys().await);
    for hash in ["x".repeat(20_000), "zz".repeat(32), "ab".into()] {
        let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
        let body = app.post_raw(json!({ "extensions": ext })).await;
        assert_eq!(code(&body), "PERSISTED_QUERY_NOT_SUPPORTED", "{body}");
    }
    // Nothing was looked up in PostgreSQL, and nothing was written to Redis.
    assert_eq!((app.statements(), app.redis_keys().await), before);
    assert_alive(&app).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn huge_or_respelt_get_urls_are_bounded_before_the_hit_paths_memo() {
    // A limit a URL can exceed (`http` refuses URIs over 64 KiB before any handler runs).
    let app = TestApp::with_settings(CacheMode::Redis, &[("GRAPHQL_MAX_BODY_BYTES", "8192")]).await;
    let limit = app.app.config.limits.max_body_bytes;
    assert_eq!(limit, 8192);
    let listing = "/graphql?query=%7B%20products(first%3A%202)%20%7B%20edges%20%7B%20node%20%7B%20handle%20%7D%20%7D%20%7D%20%7D";
    let send = |uri: String| {
        let app = &app;
        async move {
            app.send(Request::get(uri).body(Body::empty()).unwrap())
                .await
        }
    };
    // Over the limit: refused before anything (the memo's hash included) looks at it, every time.
    let huge = format!("{listing}&x={}", "a".repeat(limit + 1));
    for _ in 0..3 {
        let refused = send(huge.clone()).await;
        assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(code(&refused.json()), "QUERY_TOO_LARGE");
    }
    // Junk parameters make new memo entries (each paid for by a full-path request): every
    // spelling, and the plain one after them, answers the same data.
    let plain = send(listing.to_owned()).await.json();
    for i in 0..200 {
        let respelt = send(format!("{listing}&junk={i}")).await;
        assert_eq!(respelt.status, StatusCode::OK);
        assert_eq!(respelt.json(), plain);
    }
    assert_eq!(send(listing.to_owned()).await.json(), plain);
    assert_alive(&app).await;
}
