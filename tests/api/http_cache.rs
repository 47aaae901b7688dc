//! HTTP caching and persisted queries: Cache-Control from cache hints, ETag/304, viewer-bound
//! responses kept private, the public response cache (zero SQL on a hit, fresh after
//! invalidation), and Apollo's automatic persisted queries over GET, with the allow-list mode.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use techpotli::cache::Family;
use techpotli::graphql::apq::{Manifest, PersistedQueries, register_manifest, sha256_hex};

use crate::support::{CacheMode, TestApp, TestResponse};

fn enc(s: &str) -> String {
    serde_urlencoded::to_string([("q", s)]).unwrap()[2..].to_owned()
}

async fn get(app: &TestApp, query: &str, extra_headers: &[(&str, &str)]) -> TestResponse {
    let mut builder = Request::get(format!("/graphql?query={}", enc(query)));
    for (k, v) in extra_headers {
        builder = builder.header(*k, *v);
    }
    app.send(builder.body(Body::empty()).unwrap()).await
}

async fn get_persisted(app: &TestApp, hash: &str, query: Option<&str>) -> TestResponse {
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } }).to_string();
    let mut uri = format!("/graphql?extensions={}", enc(&ext));
    if let Some(q) = query {
        uri.push_str(&format!("&query={}", enc(q)));
    }
    app.send(Request::get(uri).body(Body::empty()).unwrap())
        .await
}

const LISTING: &str = "{ products(first: 20) { edges { node { handle title variants { sku prices { amount currencyCode } } } } } }";

#[tokio::test(flavor = "multi_thread")]
async fn public_queries_get_cache_control_from_hints_and_an_etag() {
    let app = TestApp::new().await;
    let listing = get(&app, LISTING, &[]).await;
    assert_eq!(listing.status, StatusCode::OK);
    assert_eq!(
        listing.header("cache-control"),
        Some("public, max-age=60, stale-while-revalidate=60")
    );
    assert!(listing.header("set-cookie").is_none());
    assert!(
        !listing
            .header("vary")
            .unwrap_or("")
            .to_lowercase()
            .contains("cookie")
    );
    let etag = listing.header("etag").expect("etag").to_owned();
    assert!(
        etag.starts_with("W/\"") && etag.ends_with('"'),
        "weak ETag (the data; the per-client cost block varies): {etag}"
    );

    let home = get(&app, "{ heroBanners { title } regions { name } }", &[]).await;
    assert_eq!(
        home.header("cache-control"),
        Some("public, max-age=300, stale-while-revalidate=300")
    );
    let regions = get(&app, "{ regions { name currencyCode } }", &[]).await;
    assert_eq!(
        regions.header("cache-control"),
        Some("public, max-age=3600, stale-while-revalidate=3600")
    );

    let revalidated = get(&app, LISTING, &[("if-none-match", &etag)]).await;
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED);
    assert!(revalidated.body.is_empty());
    assert_eq!(revalidated.header("etag"), Some(etag.as_str()));
    let other = get(&app, LISTING, &[("if-none-match", "\"stale\"")]).await;
    assert_eq!(other.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn viewer_bound_and_failed_responses_are_never_shared() {
    let app = TestApp::new().await;
    let with_token = get(&app, LISTING, &[("authorization", "Bearer abc")]).await;
    assert_eq!(
        with_token.header("cache-control"),
        Some("private, no-store")
    );
    assert!(with_token.header("vary").unwrap().contains("Authorization"));
    assert!(with_token.header("etag").is_none());
    let failed = get(&app, "{ products(first: 500) { edges { cursor } } }", &[]).await;
    assert_eq!(failed.header("cache-control"), Some("no-store"));
    let post = app.post("{ regions { name } }", json!({})).await;
    assert!(
        post.header("cache-control").unwrap().starts_with("public"),
        "POST queries carry the policy too"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn whole_responses_are_cached_and_invalidated_by_family() {
    for mode in [CacheMode::Redis, CacheMode::Memory] {
        let app = TestApp::with_cache(mode).await;
        let query = r#"{ product(handle: "product-000004") { title variants { sku } } }"#;
        let first = get(&app, query, &[]).await.json();
        let before = app.statements();
        let second = get(&app, query, &[]).await.json();
        assert_eq!(first, second);
        assert_eq!(
            app.statements(),
            before,
            "{mode:?}: a cached response runs no SQL"
        );

        // An unrelated family changes: responses that do not read it stay cached.
        let banners = "{ heroBanners { title } }";
        get(&app, banners, &[]).await;
        let before = app.statements();
        app.app.cache.invalidate(&[Family::Regions]).await;
        get(&app, banners, &[]).await;
        assert_eq!(
            app.statements(),
            before,
            "{mode:?}: regions do not flush banners"
        );
        app.app.cache.invalidate(&[Family::Products]).await;
        get(&app, banners, &[]).await;
        assert_eq!(
            app.statements(),
            before,
            "{mode:?}: products do not flush banners"
        );
        app.app.cache.invalidate(&[Family::Banners]).await;
        get(&app, banners, &[]).await;
        assert!(app.statements() > before, "{mode:?}: banners do");
        let before = app.statements();

        // The product changes and its family is invalidated: the very next read is fresh.
        use diesel_async::SimpleAsyncConnection;
        app.db
            .conn()
            .await
            .batch_execute(
                "UPDATE products SET title = 'Updated title' WHERE handle = 'product-000004'",
            )
            .await
            .unwrap();
        crate::support::invalidate_product(&app, 4, "product-000004").await;
        let fresh = get(&app, query, &[]).await.json();
        assert_eq!(
            fresh["data"]["product"]["title"], "Updated title",
            "{mode:?}"
        );
        assert!(app.statements() > before);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn automatic_persisted_queries_over_get() {
    let app = TestApp::new().await;
    let document = "query Regions { regions { name currencyCode } }";
    let hash = sha256_hex(document);

    let unknown = get_persisted(&app, &hash, None).await;
    assert_eq!(unknown.status, StatusCode::OK);
    let body = unknown.json();
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_FOUND"
    );
    assert_eq!(unknown.header("cache-control"), Some("no-store"));

    // The client retries with the document: it runs and is registered.
    let registered = get_persisted(&app, &hash, Some(document)).await;
    assert_eq!(
        registered.json()["data"]["regions"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    let key = format!("{}apq:{hash}", app.prefix);
    assert!(
        app.redis_keys().await.contains(&key),
        "stored in Redis for every instance"
    );
    let ttl: i64 = redis::cmd("TTL")
        .arg(&key)
        .query_async(&mut crate::support::redis_conn().await)
        .await
        .unwrap();
    assert!(ttl > 29 * 24 * 3600);

    // From now on the hash alone is enough: this is the CDN-cacheable URL.
    let by_hash = get_persisted(&app, &hash, None).await;
    assert_eq!(by_hash.status, StatusCode::OK);
    assert_eq!(by_hash.json()["data"], registered.json()["data"]);
    assert!(
        by_hash
            .header("cache-control")
            .unwrap()
            .starts_with("public, max-age=3600")
    );

    // The hash is of the exact bytes: a reformatted document does not match it.
    let reformatted = get_persisted(
        &app,
        &hash,
        Some("query Regions {regions {name currencyCode}}"),
    )
    .await
    .json();
    assert_eq!(
        reformatted["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_HASH_MISMATCH"
    );
    let bad_version = json!({ "persistedQuery": { "version": 2, "sha256Hash": hash } }).to_string();
    let v2 = app
        .send(
            Request::get(format!("/graphql?extensions={}", enc(&bad_version)))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        v2.json()["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_SUPPORTED"
    );

    // Another instance (empty in-process document map) sharing Redis knows the document too.
    let other = PersistedQueries::default();
    assert_eq!(
        other.get(&app.app, &hash, true).await.unwrap().as_deref(),
        Some(document)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn allow_list_mode_runs_only_registered_documents() {
    let app = TestApp::with_settings(CacheMode::Redis, &[("PERSISTED_QUERIES_ONLY", "true")]).await;
    let registered = "query Home { heroBanners { title } }";
    // Registered ahead of time (what `techpotli register-queries manifest.json` does).
    let manifest = Manifest::parse(
        &json!({
            "format": "apollo-persisted-query-manifest",
            "version": 1,
            "operations": [{ "id": sha256_hex(registered), "name": "Home", "type": "query", "body": registered }]
        })
        .to_string(),
    )
    .unwrap();
    register_manifest(&app.app, &mut app.db.conn().await, &manifest)
        .await
        .unwrap();

    let by_hash = get_persisted(&app, &sha256_hex(registered), None)
        .await
        .json();
    assert!(by_hash["data"]["heroBanners"].is_array(), "{by_hash}");
    let plain_registered = get(&app, registered, &[]).await.json();
    assert!(plain_registered["data"]["heroBanners"].is_array());

    let rogue = "{ products(first: 100) { edges { node { title } } } }";
    let plain = get(&app, rogue, &[]).await.json();
    assert_eq!(
        plain["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_ALLOWED"
    );
    assert!(plain.get("data").is_none_or(Value::is_null));
    let with_hash = get_persisted(&app, &sha256_hex(rogue), Some(rogue))
        .await
        .json();
    assert_eq!(
        with_hash["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_ALLOWED"
    );
    // What clients register (automatic persisted queries, e.g. on an instance without the
    // allow-list sharing this Redis) never joins the allow-list.
    let smuggled = "{ collections(first: 100) { edges { node { title } } } }";
    PersistedQueries::default()
        .put(&app.app.cache, smuggled)
        .await;
    let smuggled_run = get_persisted(&app, &sha256_hex(smuggled), None)
        .await
        .json();
    assert_eq!(
        smuggled_run["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_ALLOWED",
        "{smuggled_run}"
    );
    // A hash alone is refused like text: resending the document would not help.
    let unknown = get_persisted(&app, &sha256_hex(rogue), None).await;
    assert_eq!(unknown.status, plain_status(&app, rogue).await);
    assert_eq!(
        unknown.json()["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_ALLOWED"
    );

    // The allow-list is durable: with Redis flushed, a new instance still serves it from
    // PostgreSQL; so does one whose Redis is unreachable.
    let mut redis = crate::support::redis_conn().await;
    let keys = app.redis_keys().await;
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(&keys)
            .query_async(&mut redis)
            .await
            .unwrap();
    }
    for extra in [&[][..], &[("REDIS_URL", "redis://127.0.0.1:1")][..]] {
        let (state, _) = app.sibling(extra).await;
        let ext =
            json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256_hex(registered) } });
        let request = Request::get(format!("/graphql?extensions={}", enc(&ext.to_string())))
            .body(Body::empty())
            .unwrap();
        let bytes =
            crate::support::body_through(&techpotli::app::build_router(state), request).await;
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert!(body["data"]["heroBanners"].is_array(), "{extra:?}: {body}");
    }
}

/// The status of a refused plain-text query.
async fn plain_status(app: &TestApp, query: &str) -> StatusCode {
    get(app, query, &[]).await.status
}

#[tokio::test(flavor = "multi_thread")]
async fn register_queries_command_stores_a_manifest_for_every_instance() {
    let app = TestApp::new().await;
    let body = "query Nav { categories { name children { name } } }";
    let manifest = json!({
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [{ "id": sha256_hex(body), "name": "Nav", "type": "query", "body": body }]
    });
    let path = std::env::temp_dir().join(format!("manifest-{}.json", app.db.name));
    std::fs::write(&path, manifest.to_string()).unwrap();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_techpotli"))
        .arg("register-queries")
        .arg(&path)
        .env("REDIS_URL", crate::support::redis_url())
        .env("CACHE_PREFIX", &app.prefix)
        .env("DATABASE_URL", &app.db.url)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let served = get_persisted(&app, &sha256_hex(body), None).await.json();
    assert!(served["data"]["categories"].is_array(), "{served}");
    let tampered = manifest
        .to_string()
        .replace(&sha256_hex(body), &sha256_hex("x"));
    std::fs::write(&path, tampered).unwrap();
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_techpotli"))
        .arg("register-queries")
        .arg(&path)
        .env("REDIS_URL", crate::support::redis_url())
        .output()
        .unwrap();
    assert!(
        !refused.status.success(),
        "a manifest whose ids are not the documents' hashes is refused"
    );
    assert!(refused.stdout.is_empty(), "no success lines on failure");

    // Durable without Redis: registered into PostgreSQL alone, listed, removed.
    let body2 = "query Regions { regions { name } }";
    let manifest2 = json!({
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [{ "id": sha256_hex(body2), "name": "Regions", "type": "query", "body": body2 }]
    });
    std::fs::write(&path, manifest2.to_string()).unwrap();
    let cli = |args: &[&str], database_url: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_techpotli"))
            .args(args)
            .env_remove("REDIS_URL")
            .env("DATABASE_URL", database_url)
            .output()
            .unwrap()
    };
    let path_arg = path.to_str().unwrap();
    let registered = cli(&["register-queries", path_arg], &app.db.url);
    assert!(
        registered.status.success(),
        "{}",
        String::from_utf8_lossy(&registered.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&registered.stdout).trim(),
        format!("{} Regions", sha256_hex(body2))
    );
    let listed = String::from_utf8_lossy(&cli(&["persisted-queries", "list"], &app.db.url).stdout)
        .into_owned();
    assert!(
        listed.contains(&sha256_hex(body)) && listed.contains(&sha256_hex(body2)),
        "{listed}"
    );
    let removed = cli(
        &["persisted-queries", "remove", &sha256_hex(body2)],
        &app.db.url,
    );
    assert!(removed.status.success());
    let again = cli(
        &["persisted-queries", "remove", &sha256_hex(body2)],
        &app.db.url,
    );
    assert!(!again.status.success(), "removing an unknown hash fails");
    let listed = String::from_utf8_lossy(&cli(&["persisted-queries", "list"], &app.db.url).stdout)
        .into_owned();
    assert!(!listed.contains(&sha256_hex(body2)), "{listed}");
    // A database that cannot be reached: a failure, and not one success line.
    let down = cli(
        &["register-queries", path_arg],
        "postgres://postgres@127.0.0.1:1/nowhere",
    );
    assert!(!down.status.success());
    assert!(
        down.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&down.stdout)
    );
    let _ = std::fs::remove_file(&path);
}
