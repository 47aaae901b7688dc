//! Hero banners, store and staff: the live list in its window and order, staff mutations with
//! exact invalidation (zero stale reads), field-named validation, batch atomicity, concurrent
//! updates, and image uploads to local disk and to an S3-compatible server.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use techpotli::auth::Role;

use crate::support::fixtures::banner;
use crate::support::{CacheMode, TestApp, TestDatabase, TestResponse, code, staff_token};

pub(crate) const CREATE: &str = r#"mutation($input: CreateHeroBannerInput!) { createHeroBanner(input: $input) { id title isActive sortOrder } }"#;

const UPDATE: &str = r#"mutation($id: ID!, $input: UpdateHeroBannerInput!) { updateHeroBanner(id: $id, input: $input) { id title } }"#;

pub(crate) async fn banner_count(app: &TestApp) -> i64 {
    use diesel::dsl::count_star;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    techpotli::db::schema::hero_banners::table
        .select(count_star())
        .get_result(&mut app.db.conn().await)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn hero_banners_are_the_active_ones_in_their_window_in_order() {
    let app = TestApp::new().await;
    banner("Later").window(-1, 1).order(-1).insert(&app).await;
    banner("First").window(-1, 1).order(-2).insert(&app).await;
    banner("Expired")
        .window(-2, -1)
        .order(-3)
        .insert(&app)
        .await;
    banner("Upcoming").window(1, 2).order(-3).insert(&app).await;
    banner("Inactive").inactive().order(-3).insert(&app).await;
    let data = app.data("{ heroBanners { title } }", json!({})).await;
    let got: Vec<&str> = data["heroBanners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["title"].as_str().unwrap())
        .collect();
    // Live ones only, by sort order: ours first (negative orders), then the seeded ones.
    assert_eq!(got[..2], ["First", "Later"]);
    for gone in ["Expired", "Upcoming", "Inactive"] {
        assert!(!got.contains(&gone), "{gone} must not show: {got:?}");
    }
    assert!(got.len() > 2, "the seeded live banners follow");
}

async fn zero_stale_reads(mode: CacheMode) {
    let app = TestApp::with_cache(mode).await;
    let token = staff_token(&app, Role::Content).await;
    let products = "{ products(first: 5) { edges { node { handle } } } }";
    let banners = "{ heroBanners { id title sortOrder } }";
    app.get_query(products).await;
    let first = app.get_query(banners).await;
    let product_keys: Vec<String> = if mode == CacheMode::Redis {
        app.redis_keys()
            .await
            .into_iter()
            .filter(|k| k.contains(":products:") || k.contains(":resp:"))
            .collect()
    } else {
        vec![]
    };
    let id = first["data"]["heroBanners"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // update → the very next store read shows it
    let updated = app
        .post_as(
            Some(&token),
            UPDATE,
            json!({ "id": id, "input": { "title": "Monsoon Mega Sale" } }),
        )
        .await;
    assert_eq!(
        updated["data"]["updateHeroBanner"]["title"], "Monsoon Mega Sale",
        "{updated}"
    );
    let after = app.get_query(banners).await;
    assert_eq!(
        after["data"]["heroBanners"][0]["title"], "Monsoon Mega Sale",
        "{mode:?}: stale read after update"
    );

    // create → visible at once
    let created = app.post_as(Some(&token),
        CREATE,
        json!({ "input": { "title": "Brand new", "imageUrl": "/files/b.png", "sortOrder": 0 } }),
    )
    .await;
    let new_id =
        crate::support::store_id(created["data"]["createHeroBanner"]["id"].as_str().unwrap());
    let after = app.get_query(banners).await;
    assert!(
        after["data"]["heroBanners"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["id"] == new_id.as_str())
    );

    // deactivate → gone at once; delete → gone
    app.post_as(
        Some(&token),
        "mutation($id: ID!) { setHeroBannerActive(id: $id, active: false) { id } }",
        json!({ "id": id }),
    )
    .await;
    assert!(!app.get_query(banners).await.to_string().contains(&id));
    app.post_as(
        Some(&token),
        "mutation($id: ID!) { deleteHeroBanner(id: $id) }",
        json!({ "id": new_id }),
    )
    .await;
    assert!(!app.get_query(banners).await.to_string().contains(&new_id));

    // batch reorder → the new order at once
    let live = app.get_query(banners).await["data"]["heroBanners"]
        .as_array()
        .unwrap()
        .clone();
    let (a, b) = (
        live[0]["id"].as_str().unwrap(),
        live[1]["id"].as_str().unwrap(),
    );
    let batch = "mutation($c: [HeroBannerBatchChange!]!) { updateHeroBanners(changes: $c) { id sortOrder } }";
    app.post_as(
        Some(&token),
        batch,
        json!({ "c": [{ "id": a, "sortOrder": 50 }, { "id": b, "sortOrder": 40 }] }),
    )
    .await;
    let order: Vec<String> = app.get_query(banners).await["data"]["heroBanners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(&order[order.len() - 2..], [b.to_owned(), a.to_owned()]);

    if mode == CacheMode::Redis {
        let keys = app.redis_keys().await;
        for key in &product_keys {
            assert!(keys.contains(key), "banner writes flushed {key}");
        }
        assert!(!product_keys.is_empty());
    }
    // …and products are still served without SQL.
    let before = app.statements();
    app.get_query(products).await;
    assert_eq!(app.statements(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn banner_writes_are_visible_at_once_and_flush_nothing_else_with_redis() {
    zero_stale_reads(CacheMode::Redis).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn banner_writes_are_visible_at_once_and_flush_nothing_else_in_process() {
    zero_stale_reads(CacheMode::Memory).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_banner_input_is_refused_with_the_field_named() {
    let app = TestApp::new().await;
    let token = staff_token(&app, Role::Owner).await;
    let cases = [
        (
            json!({ "title": " ", "imageUrl": "https://x/y.jpg" }),
            "title",
        ),
        (json!({ "title": "T", "imageUrl": "" }), "imageUrl"),
        (
            json!({ "title": "T", "imageUrl": "javascript:alert(1)" }),
            "imageUrl",
        ),
        (
            json!({ "title": "T", "imageUrl": "/a.png", "startsAt": "2026-12-02T00:00:00Z", "endsAt": "2026-12-01T00:00:00Z" }),
            "endsAt",
        ),
        (
            json!({ "title": "T", "imageUrl": "/a.png", "sortOrder": -1 }),
            "sortOrder",
        ),
    ];
    let before = banner_count(&app).await;
    for (input, field) in cases {
        let body = app
            .post_as(Some(&token), CREATE, json!({ "input": input }))
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(field),
            "{body}"
        );
    }
    assert_eq!(banner_count(&app).await, before);
    let missing = app.post_as(Some(&token), UPDATE, json!({ "id": techpotli::graphql::ids::to_global("HeroBanner", 999_999).0, "input": { "title": "x" } })).await;
    assert_eq!(code(&missing), "NOT_FOUND");
    let null_title = app.post_as(Some(&token), UPDATE, json!({ "id": techpotli::graphql::ids::to_global("HeroBanner", 1).0, "input": { "title": null } })).await;
    assert_eq!(code(&null_title), "BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_batch_changes_nothing() {
    let app = TestApp::new().await;
    let token = staff_token(&app, Role::Content).await;
    let list = "{ adminHeroBanners(first: 50) { edges { node { id sortOrder isActive } } } }";
    let before = app.post_as(Some(&token), list, json!({})).await;
    let ids: Vec<String> = before["data"]["adminHeroBanners"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 8, "inactive banners are listed for staff");
    let ghost = techpotli::graphql::ids::to_global("HeroBanner", 999_999).0;
    let batch = "mutation($c: [HeroBannerBatchChange!]!) { updateHeroBanners(changes: $c) { id } }";
    let body = app.post_as(Some(&token), batch, json!({ "c": [{ "id": ids[0], "sortOrder": 99, "isActive": false }, { "id": ghost, "sortOrder": 1 }] })).await;
    assert_eq!(code(&body), "NOT_FOUND");
    let after = app.post_as(Some(&token), list, json!({})).await;
    assert_eq!(
        before["data"], after["data"],
        "the first change was rolled back with the failed one"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_updates_of_one_banner_leave_a_consistent_row() {
    let app = TestApp::new().await;
    let token = staff_token(&app, Role::Content).await;
    let id = techpotli::graphql::ids::to_global("HeroBanner", 1).0;
    let updates: Vec<_> = (0..20)
        .map(|i| app.post_as(Some(&token), UPDATE, json!({ "id": id, "input": { "title": format!("Title {i}"), "subtitle": format!("Subtitle {i}") } })))
        .collect();
    for body in futures_util::future::join_all(updates).await {
        assert!(body.get("errors").is_none(), "{body}");
    }
    let row = app
        .post_as(
            Some(&token),
            "{ adminHeroBanners { edges { node { id title subtitle } } } }",
            json!({}),
        )
        .await;
    let node = row["data"]["adminHeroBanners"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| crate::support::store_id(e["node"]["id"].as_str().unwrap()) == id)
        .unwrap()["node"]
        .clone();
    let n = node["title"].as_str().unwrap().trim_start_matches("Title ");
    assert_eq!(
        node["subtitle"],
        format!("Subtitle {n}"),
        "title and subtitle come from the same update"
    );
    let store = app.get_query("{ heroBanners { id title } }").await;
    assert!(
        store.to_string().contains(&format!("Title {n}")),
        "the store shows the last committed update"
    );
}

/// A GraphQL multipart request (the spec's `operations`, `map`, then the file).
fn multipart(token: &str, query: &str, filename: &str, bytes: &[u8]) -> Request<Body> {
    let boundary = "techpotli-test-boundary";
    let operations = json!({ "query": query, "variables": { "file": null } }).to_string();
    let mut body = Vec::new();
    for (name, value) in [
        ("operations", operations.as_str()),
        ("map", r#"{"0":["variables.file"]}"#),
    ] {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"{filename}\"\r\nContent-Type: image/png\r\n\r\n")
            .as_bytes(),
    );
    body.extend(bytes);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    Request::post("/graphql")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header("authorization", format!("Bearer {token}"))
        .header("apollo-require-preflight", "true")
        .body(Body::from(body))
        .unwrap()
}

const UPLOAD: &str = "mutation($file: Upload!) { uploadHeroBannerImage(file: $file) }";

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

fn files_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("banners"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_land_on_local_disk_and_bad_files_are_refused() {
    let db = TestDatabase::seeded().await;
    let dir = std::env::temp_dir().join(format!("uploads-{}", db.name));
    let url = db.url.clone();
    let files = dir.to_string_lossy().to_string();
    let app = TestApp::with_database_url(
        db,
        &url,
        CacheMode::Memory,
        &[("FILES_DIR", &files), ("UPLOAD_MAX_BYTES", "4096")],
    );
    let token = staff_token(&app, Role::Content).await;

    let ok: TestResponse = app.send(multipart(&token, UPLOAD, "hero.png", PNG)).await;
    let url = ok.json()["data"]["uploadHeroBannerImage"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        url.starts_with("/files/banners/") && url.ends_with(".png"),
        "{url}"
    );
    let served = app
        .send(Request::get(url.as_str()).body(Body::empty()).unwrap())
        .await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.body, PNG);
    assert_eq!(files_in(&dir), 1);

    let gif = app
        .send(multipart(
            &token,
            UPLOAD,
            "evil.png",
            b"GIF89a\x01\0\x01\0\0\0\0;",
        ))
        .await
        .json();
    assert_eq!(code(&gif), "BAD_USER_INPUT");
    let mut big = PNG.to_vec();
    big.resize(5000, 0);
    let too_big = app.send(multipart(&token, UPLOAD, "big.png", &big)).await;
    assert_ne!(too_big.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(too_big.json()["errors"].is_array());
    assert_eq!(files_in(&dir), 1, "refused files stored nothing");
    let anon = app
        .send(multipart("not-a-token", UPLOAD, "hero.png", PNG))
        .await
        .json();
    assert_eq!(code(&anon), "UNAUTHENTICATED");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_land_in_an_s3_compatible_bucket() {
    let endpoint =
        std::env::var("TEST_S3_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:59000".into());
    let db = TestDatabase::seeded().await;
    let bucket = format!(
        "b{}",
        db.name
            .replace('_', "-")
            .chars()
            .rev()
            .take(40)
            .collect::<String>()
    )
    .to_lowercase();
    let client = {
        use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
        let conf = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .endpoint_url(&endpoint)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    };
    client
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("the S3 test server (moto) is running; scripts/test starts it");
    let app = with_s3(db, &bucket, &endpoint);
    let token = staff_token(&app, Role::Content).await;
    let body = app
        .send(multipart(&token, UPLOAD, "hero.png", PNG))
        .await
        .json();
    let public = body["data"]["uploadHeroBannerImage"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    let key = public.strip_prefix("https://cdn.techpotli.test/").unwrap();
    let object = client
        .get_object()
        .bucket(&bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    assert_eq!(object.content_type(), Some("image/png"));
    assert_eq!(
        object.body.collect().await.unwrap().into_bytes().as_ref(),
        PNG
    );
    let bad = app
        .send(multipart(&token, UPLOAD, "x.png", b"not an image at all"))
        .await
        .json();
    assert_eq!(code(&bad), "BAD_USER_INPUT");
    let listed = client
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(
        listed.key_count(),
        Some(1),
        "the refused file stored nothing"
    );
}

/// An app storing uploads in `bucket` at the S3-compatible `endpoint`, served under
/// `https://cdn.techpotli.test`.
fn with_s3(db: TestDatabase, bucket: &str, endpoint: &str) -> TestApp {
    let url = db.url.clone();
    TestApp::with_database_url(
        db,
        &url,
        CacheMode::Memory,
        &[
            ("S3_BUCKET", bucket),
            ("S3_ENDPOINT", endpoint),
            ("S3_REGION", "us-east-1"),
            ("S3_ACCESS_KEY_ID", "test"),
            ("S3_SECRET_ACCESS_KEY", "test"),
            ("S3_FORCE_PATH_STYLE", "true"),
            ("S3_PUBLIC_URL", "https://cdn.techpotli.test"),
        ],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_storage_outage_fails_uploads_clearly_and_nothing_else() {
    // An S3 endpoint nothing listens on (the discard port on loopback).
    let app = with_s3(TestDatabase::seeded().await, "gone", "http://127.0.0.1:9");
    let token = staff_token(&app, Role::Content).await;
    let body = app
        .send(multipart(&token, UPLOAD, "hero.png", PNG))
        .await
        .json();
    assert_eq!(code(&body), "SERVICE_UNAVAILABLE", "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        !message.contains("127.0.0.1") && !message.contains("S3"),
        "{message}"
    );
    assert!(body["errors"][0]["extensions"]["requestId"].is_string());
    // Nothing else depends on the storage: the store reads, staff write.
    let data = app.data("{ heroBanners { title } }", json!({})).await;
    assert!(!data["heroBanners"].as_array().unwrap().is_empty());
    let created = app
        .post_as(
            Some(&token),
            r#"mutation { createHeroBanner(input: { title: "Still up", imageUrl: "https://cdn.techpotli.test/x.png" }) { title } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        created["data"]["createHeroBanner"]["title"], "Still up",
        "{created}"
    );
}
