//! Behind a CDN: surrogate keys on public responses, and after each write a purge of exactly the
//! keys it made stale — proven through a real Varnish running `deploy/varnish/techpotli.vcl`
//! (hits, exact purges, one purge for a batch, a hung Varnish retried), and for Fastly, Cloudflare
//! and a webhook against local fakes of their APIs that check each vendor's documented request.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use diesel::sql_types::{BigInt, Jsonb, Text};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};
use techpotli::auth::Role;
use techpotli::jobs::{Handlers, Worker};

use crate::support::mail::free_port;
use crate::support::varnish::OwnVarnish;
use crate::support::{CacheMode, TestApp, gid, staff_token};

const LISTING: &str = "{ products(first: 3) { edges { node { id title } } } }";
const BANNERS: &str = "{ heroBanners { title } }";

fn product(handle: &str) -> String {
    format!(r#"{{ product(handle: "{handle}") {{ id title }} }}"#)
}

/// The app behind its own Varnish, purging it (`CDN_PURGER=varnish`).
async fn behind_varnish(extra: &[(&str, &str)]) -> (TestApp, OwnVarnish) {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut settings = vec![
        ("CDN_PURGER", "varnish"),
        ("CDN_PURGE_URLS", url.as_str()),
        ("CDN_PURGE_REPEAT_MS", "0"),
    ];
    settings.extend_from_slice(extra);
    let app = TestApp::with_settings(CacheMode::Redis, &settings).await;
    let origin = app.serve().await;
    let varnish = OwnVarnish::start(port, origin).await;
    (app, varnish)
}

#[derive(diesel::QueryableByName)]
struct PurgeRow {
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = Jsonb)]
    payload: Value,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    attempts: i32,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    last_error: Option<String>,
}

async fn purge_jobs(app: &TestApp) -> Vec<PurgeRow> {
    diesel::sql_query(
        "SELECT state, payload, attempts, last_error FROM jobs WHERE kind = 'cdn.purge' ORDER BY id",
    )
    .load(&mut app.db.conn().await)
    .await
    .unwrap()
}

/// Calls this instance made to the CDN.
fn purge_calls(app: &TestApp) -> u64 {
    std::sync::atomic::AtomicU64::load(
        &app.app.cdn_metrics.calls,
        std::sync::atomic::Ordering::SeqCst,
    )
}

/// `n` banners inserted directly (no write, no purge); their global ids.
async fn banners(app: &TestApp, n: i32) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let banner = crate::support::fixtures::banner(&format!("Banner {i}"))
            .order(i)
            .insert(app)
            .await;
        ids.push(gid("HeroBanner", banner.id));
    }
    ids
}

async fn warm(varnish: &OwnVarnish, query: &str) {
    let first = varnish.query(query).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let second = varnish.query(query).await;
    assert_eq!(
        second.cache, "HIT",
        "{query} is served by Varnish the second time"
    );
}

#[tokio::test]
async fn public_responses_name_what_they_depend_on() {
    // Limits raised so that one query can name more single products than a response carries.
    let app = TestApp::with_settings(
        CacheMode::Redis,
        &[
            ("GRAPHQL_MAX_ALIASES", "100"),
            ("GRAPHQL_MAX_ROOT_FIELDS", "100"),
        ],
    )
    .await;
    let keys = |r: &crate::support::TestResponse| -> Vec<String> {
        r.header("surrogate-key")
            .unwrap_or_default()
            .split(' ')
            .map(str::to_owned)
            .collect()
    };
    let page = app.send_as(None, &product("product-000010")).await;
    let page_keys = keys(&page);
    assert!(page_keys.contains(&"all".to_owned()), "{page_keys:?}");
    // Addressed by handle, it depends on that handle's entity key (which every write to the
    // product purges, beside its id's).
    assert!(
        page_keys.iter().any(|k| k.starts_with("product:handle:")),
        "{page_keys:?}"
    );
    let by_id = app
        .send_as(
            None,
            &format!(r#"{{ product(id: "{}") {{ title }} }}"#, gid("Product", 10)),
        )
        .await;
    assert!(keys(&by_id).contains(&"product:id:10".to_owned()));
    assert!(
        !page_keys.contains(&"products".to_owned()),
        "a product page survives writes to other products: {page_keys:?}"
    );
    let listing = keys(&app.send_as(None, LISTING).await);
    assert!(listing.contains(&"products".to_owned()) && listing.contains(&"categories".to_owned()));
    assert_eq!(
        keys(&app.send_as(None, BANNERS).await),
        vec!["all", "banners"]
    );
    // Without a purger the CDN is not told to keep anything longer than browsers.
    assert_eq!(page.header("surrogate-control"), None);
    assert_eq!(page.header("cache-tag"), None);

    // Too many single products: one key every product write purges, within every CDN's header
    // limits.
    let many: String = (1..=40)
        .map(|i| format!(r#"p{i}: product(handle: "product-{i:06}") {{ id }} "#))
        .collect();
    let wide = app.send_as(None, &format!("{{ {many} }}")).await;
    let wide: std::collections::BTreeSet<String> = keys(&wide).into_iter().collect();
    let families: std::collections::BTreeSet<String> = [
        "all",
        "product:many",
        "categories",
        "collections",
        "regions",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(wide, families);

    // Viewer-specific answers carry none.
    let token = staff_token(&app, Role::Catalog).await;
    let private = app.send_as(Some(&token), BANNERS).await;
    assert_eq!(private.header("surrogate-key"), None);
}

#[tokio::test]
async fn varnish_serves_hits_and_a_write_purges_exactly_its_keys() {
    let (app, varnish) = behind_varnish(&[]).await;
    let token = staff_token(&app, Role::Catalog).await;
    let (lamp, other) = (product("product-000010"), product("product-000011"));
    for query in [LISTING, lamp.as_str(), other.as_str(), BANNERS] {
        warm(&varnish, query).await;
    }
    // The origin answers with an edge TTL for the CDN; Varnish keeps the tags to itself.
    let origin = app.send_as(None, &lamp).await;
    assert!(
        origin
            .header("surrogate-control")
            .is_some_and(|v| v.starts_with("max-age=3600")),
        "{:?}",
        origin.header("surrogate-control")
    );
    let edge = varnish.query(&lamp).await;
    assert!(edge.headers.get("surrogate-key").is_none() && edge.headers.get("xkey").is_none());

    let data = app
        .ok_as(
            &token,
            "mutation($id: ID!) { updateProduct(id: $id, input: { title: \"Edge-fresh lamp\" }) { title } }",
            json!({ "id": gid("Product", 10) }),
        )
        .await;
    assert_eq!(data["updateProduct"]["title"], "Edge-fresh lamp");
    // The write sent its purge before answering: no worker has run.
    let jobs = purge_jobs(&app).await;
    assert_eq!(jobs.len(), 1, "one write, one purge");
    assert_eq!(jobs[0].state, "done", "{:?}", jobs[0].last_error);
    let keys: Vec<&str> = jobs[0].payload["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert!(
        keys.contains(&"products") && keys.contains(&"product:id:10"),
        "{keys:?}"
    );
    let page_key = app
        .send_as(None, &lamp)
        .await
        .header("surrogate-key")
        .unwrap()
        .split(' ')
        .find(|k| k.starts_with("product:handle:"))
        .unwrap()
        .to_owned();
    assert!(
        keys.contains(&page_key.as_str()),
        "the page's own key is purged"
    );

    // Right after the mutation answered, the changed product and every listing are fetched
    // again and show the change ...
    let page = varnish.query(&lamp).await;
    assert_eq!(page.cache, "MISS");
    assert_eq!(page.body["data"]["product"]["title"], "Edge-fresh lamp");
    assert_eq!(varnish.query(LISTING).await.cache, "MISS");
    // ... while another product's page and the banners stay at the edge.
    assert_eq!(varnish.query(&other).await.cache, "HIT");
    assert_eq!(varnish.query(BANNERS).await.cache, "HIT");
    assert_eq!(varnish.query(&lamp).await.cache, "HIT");
}

#[tokio::test]
async fn a_batch_is_one_purge_and_a_hung_varnish_is_retried() {
    let (app, varnish) = behind_varnish(&[
        ("CDN_PURGE_TIMEOUT_MS", "300"),
        ("JOBS_RETRY_BASE_MS", "2000"),
    ])
    .await;
    let token = staff_token(&app, Role::Content).await;
    let ids = banners(&app, 50).await;
    warm(&varnish, BANNERS).await;

    // A batch reorder of 50 banners: one purge.
    let changes: Vec<Value> = ids
        .iter()
        .rev()
        .enumerate()
        .map(|(i, id)| json!({ "id": id, "sortOrder": i }))
        .collect();
    app.ok_as(
        &token,
        "mutation($c: [HeroBannerBatchChange!]!) { updateHeroBanners(changes: $c) { id } }",
        json!({ "c": changes }),
    )
    .await;
    assert_eq!(purge_jobs(&app).await.len(), 1);
    let sent = || purge_calls(&app);
    assert_eq!(sent(), 1, "one PURGE request for the whole batch");
    let fresh = varnish.query(BANNERS).await;
    assert_eq!(fresh.cache, "MISS");
    assert_eq!(fresh.body["data"]["heroBanners"][0]["title"], "Banner 49");
    warm(&varnish, BANNERS).await;

    // Varnish hangs: the write gives up on its purge after the call timeout and answers; the
    // purge is left to the workers, which fail too and wait to retry.
    varnish.pause();
    let data = app
        .ok_as(
            &token,
            "mutation($id: ID!) { setHeroBannerActive(id: $id, active: false) { title } }",
            json!({ "id": ids[49] }),
        )
        .await;
    assert_eq!(data["setHeroBannerActive"]["title"], "Banner 49");
    app.run_jobs().await;
    let jobs = purge_jobs(&app).await;
    let last = jobs.last().unwrap();
    assert_eq!((last.state.as_str(), last.attempts), ("queued", 1));
    assert!(
        last.last_error
            .as_deref()
            .is_some_and(|e| e.contains("timed out")),
        "{:?}",
        last.last_error
    );
    // (The PURGE sent into the hung Varnish may still be read when it wakes; the queue does not
    // count on that.)
    varnish.resume();
    let mut retried = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        app.run_jobs().await;
        if purge_jobs(&app)
            .await
            .last()
            .is_some_and(|j| j.state == "done")
        {
            retried = true;
            break;
        }
    }
    assert!(retried, "the purge was retried and went through");
    let fresh = varnish.query(BANNERS).await;
    assert_eq!(fresh.cache, "MISS");
    assert_ne!(fresh.body["data"]["heroBanners"][0]["title"], "Banner 49");
}

#[tokio::test]
async fn purges_left_to_the_workers_coalesce() {
    // Writes that do not wait for their purge (`CDN_PURGE_WAIT_MS=0`): the workers send them.
    let (app, varnish) = behind_varnish(&[("CDN_PURGE_WAIT_MS", "0")]).await;
    let token = staff_token(&app, Role::Content).await;
    let ids = banners(&app, 10).await;
    warm(&varnish, BANNERS).await;
    for id in &ids {
        app.ok_as(
            &token,
            "mutation($id: ID!) { setHeroBannerActive(id: $id, active: false) { id } }",
            json!({ "id": id }),
        )
        .await;
    }
    assert_eq!(purge_jobs(&app).await.len(), 10);
    assert_eq!(
        varnish.query(BANNERS).await.cache,
        "HIT",
        "nothing sent yet"
    );
    Worker::new(app.app.clone(), Handlers::standard(), 1)
        .run_until_idle()
        .await;
    assert_eq!(purge_calls(&app), 1, "ten writes, one PURGE");
    assert!(purge_jobs(&app).await.iter().all(|j| j.state == "done"));
    let fresh = varnish.query(BANNERS).await;
    assert_eq!(fresh.cache, "MISS");
    let titles = fresh.body["data"]["heroBanners"].to_string();
    assert!(!titles.contains("Banner "), "{titles}");
}

/// One request to a fake vendor API: method, path, headers, JSON body.
type Call = (Method, String, HeaderMap, Value);

/// What a fake vendor API received.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Call>>>);

impl Received {
    fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// A fake of Fastly's, Cloudflare's and a webhook's purge endpoints on loopback: records every
/// request and answers as the vendor does (Cloudflare with `{"success": …}` in the body).
async fn fake_cdn_api(cloudflare_success: bool) -> (Received, String) {
    let received = Received::default();
    let router = Router::new()
        .fallback(
            async |State((received, ok)): State<(Received, bool)>,
                   method: Method,
                   uri: Uri,
                   headers: HeaderMap,
                   body: String| {
                let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                received
                    .0
                    .lock()
                    .unwrap()
                    .push((method, uri.path().to_owned(), headers, body));
                (
                    StatusCode::OK,
                    json!({ "success": ok, "status": "ok" }).to_string(),
                )
            },
        )
        .with_state((received.clone(), cloudflare_success));
    let addr = crate::support::serve(router).await;
    (received, format!("http://{addr}"))
}

async fn rename_product(app: &TestApp, id: i64) {
    let token = staff_token(app, Role::Catalog).await;
    app.ok_as(
        &token,
        "mutation($id: ID!) { updateProduct(id: $id, input: { title: \"Renamed\" }) { id } }",
        json!({ "id": gid("Product", id) }),
    )
    .await;
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn strings(value: &Value) -> Vec<String> {
    let mut out: Vec<String> = value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn fastly_gets_a_soft_batch_purge_by_surrogate_key() {
    let (received, url) = fake_cdn_api(true).await;
    let app = TestApp::with_settings(
        CacheMode::Redis,
        &[
            ("CDN_PURGER", "fastly"),
            ("CDN_API_URL", &url),
            ("CDN_SERVICE_ID", "SU1Z0isxPaozGVKXdv0eY"),
            ("CDN_API_TOKEN", "fastly-token-secret"),
            ("CDN_PURGE_REPEAT_MS", "0"),
            ("CDN_MAX_AGE_SECS", "86400"),
        ],
    )
    .await;
    // The CDN may keep a listing for the configured day, but the banners only until a window
    // closes: no write marks that moment, so no purge would come. Fresh and from the response cache.
    let edge_ttl = |r: &crate::support::TestResponse| -> u32 {
        let value = r.header("surrogate-control").unwrap_or_default().to_owned();
        value
            .strip_prefix("max-age=")
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("Surrogate-Control: {value}"))
    };
    assert_eq!(edge_ttl(&app.send_as(None, LISTING).await), 86_400);
    crate::support::fixtures::banner("Ends within the hour")
        .window(None, 1)
        .insert(&app)
        .await;
    for _ in 0..2 {
        let ttl = edge_ttl(&app.send_as(None, BANNERS).await);
        assert!((1..=3_600).contains(&ttl), "{ttl}");
    }
    rename_product(&app, 10).await;
    app.run_jobs().await;
    let calls = received.take();
    assert_eq!(calls.len(), 1);
    let (method, path, headers, body) = &calls[0];
    assert_eq!(
        (method, path.as_str()),
        (&Method::POST, "/service/SU1Z0isxPaozGVKXdv0eY/purge")
    );
    assert_eq!(header(headers, "fastly-key"), "fastly-token-secret");
    assert_eq!(header(headers, "fastly-soft-purge"), "1");
    assert_eq!(header(headers, "content-type"), "application/json");
    let keys = strings(&body["surrogate_keys"]);
    assert_eq!(keys.len(), 4);
    assert!(keys.contains(&"product:id:10".to_owned()) && keys.contains(&"products".to_owned()));
}

#[tokio::test]
async fn cloudflare_gets_tags_and_a_refusal_is_retried() {
    let (received, url) = fake_cdn_api(false).await;
    let app = TestApp::with_settings(
        CacheMode::Redis,
        &[
            ("CDN_PURGER", "cloudflare"),
            ("CDN_API_URL", &url),
            ("CDN_ZONE_ID", "023e105f4ecef8ad9ca31a8372d0c353"),
            ("CDN_API_TOKEN", "cloudflare-token-secret"),
            ("CDN_PURGE_REPEAT_MS", "0"),
        ],
    )
    .await;
    // Cloudflare reads tags from `Cache-Tag`, comma-separated.
    let page = app.send_as(None, &product("product-000010")).await;
    let tags = page.header("cache-tag").unwrap_or_default();
    assert!(
        tags.split(',').any(|t| t.starts_with("product:handle:")),
        "{tags}"
    );
    assert!(page.header("surrogate-control").is_some());

    rename_product(&app, 10).await;
    app.run_jobs().await;
    // The write's own attempt, then the worker's: both refused.
    let calls = received.take();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].1, calls[1].1);
    assert_eq!(calls[0].3, calls[1].3);
    let (method, path, headers, body) = &calls[0];
    assert_eq!(
        (method, path.as_str()),
        (
            &Method::POST,
            "/zones/023e105f4ecef8ad9ca31a8372d0c353/purge_cache"
        )
    );
    assert_eq!(
        header(headers, "authorization"),
        "Bearer cloudflare-token-secret"
    );
    assert_eq!(strings(&body["tags"]).len(), 4);
    // `"success": false` in a 200 answer is a failure: the purge waits for a retry.
    let jobs = purge_jobs(&app).await;
    assert_eq!((jobs[0].state.as_str(), jobs[0].attempts), ("queued", 1));
    assert!(
        !jobs[0]
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("cloudflare-token-secret")
    );
}

#[tokio::test]
async fn a_webhook_gets_the_keys_and_the_repeat_purge_follows() {
    let (received, url) = fake_cdn_api(true).await;
    let hook = format!("{url}/purge-hook");
    let app = TestApp::with_settings(
        CacheMode::Redis,
        &[
            ("CDN_PURGER", "webhook"),
            ("CDN_PURGE_URLS", &hook),
            ("CDN_API_TOKEN", "hook-token"),
            ("CDN_SOFT_PURGE", "false"),
            ("CDN_PURGE_REPEAT_MS", "1000"),
        ],
    )
    .await;
    let token = staff_token(&app, Role::Catalog).await;
    app.ok_as(&token, "mutation { createRegion(name: \"Nepal\", currencyCode: \"NPR\", countries: [\"NP\"], taxRateBps: 1300) { id } }", json!({})).await;
    app.run_jobs().await;
    let first = received.take();
    assert_eq!(first.len(), 1);
    let (method, path, headers, body) = &first[0];
    assert_eq!((method, path.as_str()), (&Method::POST, "/purge-hook"));
    assert_eq!(header(headers, "authorization"), "Bearer hook-token");
    assert_eq!(body, &json!({ "keys": ["regions"], "soft": false }));
    // The same keys again once the delay has passed (a fetch that raced the first purge).
    let mut repeated = Vec::new();
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        app.run_jobs().await;
        repeated = received.take();
        if !repeated.is_empty() {
            break;
        }
    }
    assert_eq!(repeated.len(), 1);
    assert_eq!(repeated[0].3, json!({ "keys": ["regions"], "soft": false }));
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let done: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM jobs WHERE kind = 'cdn.purge' AND state = 'done' AND key LIKE 'repeat:%'",
    )
    .get_result(&mut app.db.conn().await)
    .await
    .unwrap();
    assert_eq!(done.n, 1, "one repeat, and the repeat is not repeated");
}
