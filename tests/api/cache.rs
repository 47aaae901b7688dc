//! Cache-first reads against the real Redis (and the same behaviour in-process): keys and TTLs,
//! zero SQL on a hit, exact family invalidation, the in-flight race, single flight, Redis faults.

use std::sync::Arc;
use std::time::Duration;

use diesel_async::SimpleAsyncConnection;
use serde_json::json;
use techpotli::cache::{Cache, Family, keys};
use techpotli::error::AppResult;
use tokio::sync::Notify;

use crate::support::{CacheMode, TestApp, redis_conn};

const LISTING: &str = "{ products(first: 20) { edges { node { handle title variants { sku prices { amount } } } } } }";
const HOME: &str = "{ heroBanners { title } regions { name } categories { name } }";

async fn ttl(key: &str) -> i64 {
    redis::cmd("TTL")
        .arg(key)
        .query_async(&mut redis_conn().await)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn store_reads_land_in_redis_with_their_ttls() {
    let app = TestApp::new().await;
    app.data(LISTING, json!({})).await;
    app.data(HOME, json!({})).await;
    let keys = app.redis_keys().await;
    let find = |pattern: &str| -> String {
        keys.iter()
            .find(|k| k.starts_with(&format!("{}{pattern}", app.prefix)))
            .cloned()
            .unwrap_or_else(|| panic!("no {pattern} key in {keys:?}"))
    };
    for (pattern, max) in [
        ("products:", 120),
        // Reads that show text name their locale (the default here) before the versions.
        ("hero_banners:active:en-IN@", 300),
        ("regions:list@", 3600),
        ("categories:top:en-IN@", 300),
    ] {
        let key = find(pattern);
        let t = ttl(&key).await;
        assert!(
            t > max - 30 && t <= max,
            "{key} has TTL {t}, want about {max}"
        );
    }
    // Versions are folded into the keys: `…@<products>.<categories>`.
    assert!(find("products:").contains('@'));
    assert!(find(&Family::Products.version_key()).ends_with("v:products"));
}

async fn second_read_costs_no_sql(mode: CacheMode) {
    let app = TestApp::with_cache(mode).await;
    for query in [
        LISTING,
        HOME,
        r#"{ product(handle: "product-000002") { title } collection(handle: "workspace") { title } }"#,
    ] {
        let first = app.data(query, json!({})).await;
        let before = app.statements();
        let second = app.data(query, json!({})).await;
        assert_eq!(first, second);
        // The relations of the listing (variants, prices) still come through loaders; the
        // resource reads themselves must not touch the database. (The public response cache,
        // tested in http_cache.rs, removes the rest.)
        let spent = app.statements() - before;
        let uncached = TestApp::with_cache(CacheMode::Disabled).await;
        let b = uncached.statements();
        uncached.data(query, json!({})).await;
        let full = uncached.statements() - b;
        assert!(
            spent < full,
            "{mode:?}: cached read of {query} cost {spent} statements, uncached {full}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_read_skips_the_database_with_redis() {
    second_read_costs_no_sql(CacheMode::Redis).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_read_skips_the_database_in_process() {
    second_read_costs_no_sql(CacheMode::Memory).await;
}

async fn invalidation_is_exact(mode: CacheMode) {
    let app = TestApp::with_cache(mode).await;
    let q =
        r#"{ product(handle: "product-000003") { title } heroBanners { title } regions { name } }"#;
    let before = app.data(q, json!({})).await;
    let banner_keys_before = if mode == CacheMode::Redis {
        app.redis_keys().await
    } else {
        vec![]
    };
    // A writer changes a product and a region behind the cache, then invalidates products only.
    app.db
        .conn()
        .await
        .batch_execute("UPDATE products SET title = 'Renamed' WHERE handle = 'product-000003'; UPDATE regions SET name = 'Bharat' WHERE id = 1")
        .await
        .unwrap();
    crate::support::invalidate_product(&app, 3, "product-000003").await;
    let after = app.data(q, json!({})).await;
    assert_eq!(
        after["product"]["title"], "Renamed",
        "products family is fresh at once"
    );
    assert_eq!(
        after["regions"], before["regions"],
        "regions family stays cached (stale on purpose here)"
    );
    assert_eq!(after["heroBanners"], before["heroBanners"]);
    if mode == CacheMode::Redis {
        let keys = app.redis_keys().await;
        for key in banner_keys_before
            .iter()
            .filter(|k| k.contains("hero_banners") || k.contains("regions:list"))
        {
            assert!(
                keys.contains(key),
                "{key} was flushed by a products invalidation"
            );
        }
    }
    app.app.cache.invalidate(&[Family::Regions]).await;
    let regions = app.data(q, json!({})).await;
    assert!(regions["regions"].to_string().contains("Bharat"));
}

#[tokio::test(flavor = "multi_thread")]
async fn invalidating_a_family_is_exact_with_redis() {
    invalidation_is_exact(CacheMode::Redis).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn invalidating_a_family_is_exact_in_process() {
    invalidation_is_exact(CacheMode::Memory).await;
}

async fn in_flight_race_ends_fresh(mode: CacheMode) {
    let app = TestApp::with_cache(mode).await;
    let cache: &Cache = &app.app.cache;
    let key = keys::product_by_id(7);
    let read_title = {
        let url = app.db.url.clone();
        move || {
            let url = url.clone();
            async move {
                use diesel::prelude::*;
                use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
                use techpotli::db::schema::products;
                let mut conn = AsyncPgConnection::establish(&url)
                    .await
                    .map_err(|e| anyhow::anyhow!(e))?;
                let title: String = products::table
                    .find(7)
                    .select(products::title)
                    .first(&mut conn)
                    .await?;
                AppResult::Ok(title)
            }
        }
    };
    // The reader loads the old row, then pauses before writing it to the cache.
    let (loaded, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let reader = {
        let (loaded, release, read) = (loaded.clone(), release.clone(), read_title.clone());
        let app = app.app.clone();
        let key = key.clone();
        tokio::spawn(async move {
            app.cache
                .get_or_load(&key, async move {
                    let title = read().await?;
                    loaded.notify_one();
                    release.notified().await;
                    Ok(title)
                })
                .await
        })
    };
    loaded.notified().await;
    // Meanwhile a writer commits and invalidates.
    app.db
        .conn()
        .await
        .batch_execute("UPDATE products SET title = 'Fresh' WHERE id = 7")
        .await
        .unwrap();
    cache
        .invalidate_entities(&keys::product_entities(Some(7), None))
        .await;
    release.notify_one();
    let stale = reader.await.unwrap().unwrap();
    assert_ne!(stale, "Fresh", "the paused reader saw the old row");
    // The old row was written under the old version: the next read is fresh.
    let next = cache.get_or_load(&key, read_title()).await.unwrap();
    assert_eq!(next, "Fresh");
    let again = cache
        .get_or_load(&key, async { AppResult::Ok("must not load".to_owned()) })
        .await
        .unwrap();
    assert_eq!(
        again, "Fresh",
        "the fresh value is what the cache now holds"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn in_flight_reader_cannot_resurrect_old_data_with_redis() {
    in_flight_race_ends_fresh(CacheMode::Redis).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn in_flight_reader_cannot_resurrect_old_data_in_process() {
    in_flight_race_ends_fresh(CacheMode::Memory).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_misses_of_one_key_load_once() {
    for mode in [CacheMode::Redis, CacheMode::Memory] {
        let app = TestApp::with_cache(mode).await;
        let loads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let key = keys::regions_list();
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (app, loads, key) = (app.app.clone(), loads.clone(), key.clone());
                tokio::spawn(async move {
                    app.cache
                        .get_or_load(&key, async move {
                            loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            AppResult::Ok(vec!["India".to_owned()])
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap(), vec!["India".to_owned()]);
        }
        assert_eq!(
            loads.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "{mode:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_store_queries_hit_the_database_once() {
    let app = TestApp::new().await;
    let before = app.statements();
    let queries: Vec<_> = (0..20)
        .map(|_| app.post("{ regions { name } }", json!({})))
        .collect();
    for response in futures_util::future::join_all(queries).await {
        assert_eq!(
            response.json()["data"]["regions"].as_array().map(Vec::len),
            Some(3)
        );
    }
    assert_eq!(
        app.statements() - before,
        1,
        "20 concurrent misses, one SELECT"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_redis_never_fails_a_read() {
    let db = crate::support::TestDatabase::seeded().await;
    let url = db.url.clone();
    // Nothing listens on port 1: every Redis operation fails fast.
    let app = TestApp::with_database_url(
        db,
        &url,
        CacheMode::Memory,
        &[
            ("REDIS_URL", "redis://127.0.0.1:1"),
            ("CACHE_TIMEOUT_MS", "30"),
        ],
    );
    for _ in 0..3 {
        let data = app.data(LISTING, json!({})).await;
        assert_eq!(data["products"]["edges"].as_array().map(Vec::len), Some(20));
    }
    assert!(
        app.app
            .cache
            .metrics
            .faults
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    let ready = app
        .send(
            axum::http::Request::get("/readyz")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        ready.status,
        axum::http::StatusCode::OK,
        "only Redis is down: still ready"
    );
    assert_eq!(ready.json()["redis"], "unavailable");
    let metrics = String::from_utf8(
        app.send(
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .body,
    )
    .unwrap();
    assert!(metrics.contains("techpotli_cache_faults_total"));
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_that_returns_is_used_again() {
    // A Redis on a port of our own that we stop and start mid-test.
    let own = crate::support::OwnRedis::start(0).await;
    let db = crate::support::TestDatabase::seeded().await;
    let url = db.url.clone();
    let redis = own.url();
    let app = TestApp::with_database_url(
        db,
        &url,
        CacheMode::Memory,
        &[("REDIS_URL", &redis), ("CACHE_TIMEOUT_MS", "50")],
    );
    app.data(HOME, json!({})).await;
    let hits = || crate::support::cache_hits(&app);
    own.stop();
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.data(HOME, json!({})).await; // served from PostgreSQL
    own.up().await;
    tokio::time::sleep(Duration::from_millis(400)).await; // past the breaker
    let mut recovered = false;
    // Bounded (10 s), not timed: a loaded CI box may take a few breaker periods to reconnect.
    for _ in 0..50 {
        app.data(HOME, json!({})).await;
        let before = hits();
        app.data(HOME, json!({})).await;
        if hits() > before {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        recovered,
        "the cache was not used again after Redis came back"
    );
}
