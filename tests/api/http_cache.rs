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

    // The request that registered the document is not remembered by the hit path (a repeat must
    // reach the registration again); its repeat, which registers nothing, is.
    let hot = || {
        app.app
            .cache
            .metrics
            .hot_hits
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    get_persisted(&app, &hash, Some(document)).await;
    assert_eq!(hot(), 0, "the registering request was not remembered");
    get_persisted(&app, &hash, Some(document)).await;
    assert_eq!(hot(), 1, "its repeat was");

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

/// Every header but the request's own id and the length (the cost block's bucket level varies
/// in digits), as text.
fn headers_of(response: &TestResponse) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = response
        .headers
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "x-request-id" | "content-length"))
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("?").to_owned()))
        .collect();
    headers.sort();
    headers
}

fn hot_hits(app: &TestApp) -> u64 {
    app.app
        .cache
        .metrics
        .hot_hits
        .load(std::sync::atomic::Ordering::Relaxed)
}

/// The body without the client's bucket level (it refills between requests).
fn comparable(response: &TestResponse) -> Value {
    let mut body = response.raw_json();
    if let Some(status) = body["extensions"]["cost"]["throttleStatus"].as_object_mut() {
        status.remove("currentlyAvailable");
    }
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_get_takes_the_memoised_hit_path_and_answers_exactly_as_the_full_path() {
    for mode in [CacheMode::Redis, CacheMode::Memory] {
        let app = TestApp::with_cache(mode).await;
        let query = "{ products(first: 3) { edges { node { handle title } } } }";
        let uri = format!("/graphql?query={}", enc(query));
        // The same request spelt another way is another memo entry, served by the full path.
        let respelt = format!("{uri}&variables=%7B%7D");
        let send = |uri: String, headers: Vec<(&'static str, String)>| {
            let app = &app;
            async move {
                let mut builder = Request::get(uri);
                for (k, v) in headers {
                    builder = builder.header(k, v);
                }
                app.send(builder.body(Body::empty()).unwrap()).await
            }
        };

        let first = send(uri.clone(), vec![]).await;
        assert_eq!(first.status, StatusCode::OK, "{mode:?}");
        let full = send(respelt.clone(), vec![]).await;
        assert_eq!(
            hot_hits(&app),
            0,
            "{mode:?}: a first sight is the full path's"
        );
        let (hits, statements) = (crate::support::cache_hits(&app), app.statements());
        let hot = send(uri.clone(), vec![]).await;
        assert_eq!(hot_hits(&app), 1, "{mode:?}: the repeat is the memo's");
        assert_eq!(crate::support::cache_hits(&app), hits + 1, "{mode:?}");
        assert_eq!(app.statements(), statements, "{mode:?}: no SQL");
        assert_eq!(hot.status, StatusCode::OK);
        assert_eq!(
            headers_of(&hot),
            headers_of(&full),
            "{mode:?}: the same headers as a hit of the full path"
        );
        assert_eq!(comparable(&hot), comparable(&full), "{mode:?}");
        assert_eq!(hot.raw_json()["extensions"]["cost"]["actualQueryCost"], 0);
        assert!(
            hot.raw_json()["extensions"]["cost"]["requestedQueryCost"]
                .as_u64()
                .is_some_and(|c| c > 0),
            "{mode:?}: says what it would have cost"
        );
        assert_eq!(hot.raw_json()["extensions"]["locale"], "en-IN");

        // Revalidation on the memo's path: 304 with the validator and no body or media type.
        let etag = hot.header("etag").expect("etag").to_owned();
        let revalidated = send(uri.clone(), vec![("if-none-match", etag.clone())]).await;
        assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED, "{mode:?}");
        assert_eq!(hot_hits(&app), 2);
        assert!(revalidated.body.is_empty());
        assert_eq!(revalidated.header("etag"), Some(etag.as_str()));
        assert_eq!(revalidated.header("content-type"), None);

        // Another media type, another language, credentials: not this memo entry.
        let typed = send(
            uri.clone(),
            vec![("accept", "application/graphql-response+json".into())],
        )
        .await;
        assert_eq!(
            typed.header("content-type"),
            Some("application/graphql-response+json; charset=utf-8")
        );
        let hindi = send(uri.clone(), vec![("accept-language", "hi-IN".into())]).await;
        assert_eq!(hindi.header("content-language"), Some("hi-IN"), "{mode:?}");
        let staff = crate::support::staff_token(&app, techpotli::auth::Role::Catalog).await;
        let signed_in = send(
            uri.clone(),
            vec![("authorization", format!("Bearer {staff}"))],
        )
        .await;
        assert_eq!(signed_in.header("cache-control"), Some("private, no-store"));
        assert_eq!(
            hot_hits(&app),
            2,
            "{mode:?}: none of the three was the memo's"
        );

        let version_reads = || {
            let m = &app.app.cache.metrics;
            m.versions_from_memory
                .load(std::sync::atomic::Ordering::Relaxed)
                + m.versions_from_redis
                    .load(std::sync::atomic::Ordering::Relaxed)
        };
        // What a miss costs in version reads on the full path alone (a spelling never seen: the
        // hit path reads nothing for it): the response's key and the listing's own.
        app.app.cache.invalidate(&[Family::Products]).await;
        let reads_before = version_reads();
        send(format!("{uri}&variables=%7B%20%7D"), vec![]).await;
        let full_path_reads = version_reads() - reads_before;

        // A write: the very next repeat is fresh (the full path's), the one after the memo's.
        use diesel_async::SimpleAsyncConnection;
        let newest = first.raw_json()["data"]["products"]["edges"][0]["node"]["handle"]
            .as_str()
            .expect("a product")
            .to_owned();
        app.db
            .conn()
            .await
            .batch_execute(&format!(
                "UPDATE products SET title = 'Renamed' WHERE handle = '{newest}'"
            ))
            .await
            .unwrap();
        app.app.cache.invalidate(&[Family::Products]).await;
        let reads_before = version_reads();
        let fresh = send(uri.clone(), vec![]).await;
        if mode == CacheMode::Redis {
            assert_eq!(
                version_reads() - reads_before,
                full_path_reads,
                "the full path used the hit path's version read, not a second one"
            );
        }
        assert_eq!(
            fresh.raw_json()["data"]["products"]["edges"][0]["node"]["title"],
            "Renamed",
            "{mode:?}"
        );
        assert_eq!(
            hot_hits(&app),
            2,
            "{mode:?}: the new entry came through the full path"
        );
        let again = send(uri.clone(), vec![]).await;
        assert_eq!(hot_hits(&app), 3, "{mode:?}");
        assert_eq!(
            again.json(),
            fresh.json(),
            "{mode:?}: the same data, from the memo"
        );
        assert_ne!(again.header("etag"), Some(etag.as_str()));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_locale_is_negotiated_at_once_by_a_remembered_request() {
    let app = TestApp::new().await;
    let uri = format!(
        "/graphql?query={}",
        enc("{ products(first: 2) { edges { node { title } } } }")
    );
    let german = || {
        let app = &app;
        let uri = uri.clone();
        async move {
            app.send(
                Request::get(uri)
                    .header("accept-language", "de-DE")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
        }
    };
    german().await;
    let remembered = german().await;
    assert_eq!(hot_hits(&app), 1);
    assert_eq!(remembered.header("content-language"), Some("en-IN"));
    // A locale appears without any cache version moving (written behind the API's back, then
    // read as a reload would): only the locales tell the memo its negotiation is out of date.
    use diesel_async::SimpleAsyncConnection;
    app.db
        .conn()
        .await
        .batch_execute("INSERT INTO locales (code, name) VALUES ('de-DE', 'Deutsch')")
        .await
        .unwrap();
    app.app.locales.reload_now(&app.app.db).await;
    let negotiated = german().await;
    assert_eq!(negotiated.header("content-language"), Some("de-DE"));
    assert_eq!(negotiated.raw_json()["extensions"]["locale"], "de-DE");
    assert_eq!(
        hot_hits(&app),
        1,
        "the locales changed: the full path answered"
    );
    // A reload that finds the same locales keeps the memo.
    german().await;
    app.app.locales.reload_now(&app.app.db).await;
    german().await;
    assert_eq!(hot_hits(&app), 3, "an unchanged reload is the same locales");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_memos_two_chunk_body_is_framed_by_its_exact_length_on_the_wire() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::new().await;
    let addr = app.serve().await;
    let uri = format!(
        "/graphql?query={}",
        enc("{ products(first: 5) { edges { node { handle } } } }")
    );
    let mut exchanges = Vec::new();
    for _ in 0..3 {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(
                format!("GET {uri} HTTP/1.1\r\nhost: shop\r\nconnection: close\r\n\r\n").as_bytes(),
            )
            .await
            .unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        exchanges.push(raw);
    }
    assert_eq!(hot_hits(&app), 2, "the last two were the memo's");
    for raw in exchanges {
        let text = String::from_utf8(raw).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").expect("a head");
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .expect("content-length, not chunked")
            .parse()
            .unwrap();
        assert_eq!(body.len(), length);
        let json: Value = serde_json::from_str(body).expect("the whole body, as JSON");
        assert_eq!(
            json["data"]["products"]["edges"].as_array().map(Vec::len),
            Some(5)
        );
        assert!(json["extensions"]["cost"]["requestedQueryCost"].is_u64());
    }
}
