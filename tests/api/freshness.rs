//! Version counters held in memory (`cache::mirror`): a cache hit costs no Redis round trip, and
//! still no instance serves a stale read after a write returned — with the invalidation channel
//! delayed, stalled or cut, an instance stopped with SIGSTOP, Redis restarted mid-write, and the
//! lease's clock margin checked against Redis's own clock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};
use techpotli::auth::Role;
use techpotli::state::AppState;

use crate::support::proxy::ChannelProxy;
use crate::support::{self, CacheMode, TestApp};

const READ: &str = r#"query($id: ID!) { product(id: $id) { title } }"#;
const RENAME: &str =
    r#"mutation($id: ID!, $t: String!) { updateProduct(id: $id, input: { title: $t }) { title } }"#;

fn product() -> String {
    support::gid("Product", 5)
}

/// Waits (bounded: 15 s) until `state`'s memory is trusted or not, as asked. Generous: after a
/// Redis restart the channel reconnects with backoff, and on a CI machine running the suite in
/// parallel 5 s was once not enough (the test asserts that trust comes back, not how fast).
async fn trusted_becomes(state: &AppState, wanted: bool) {
    let mirror = state.cache.mirror().expect("a Redis cache has a mirror");
    for _ in 0..300 {
        if mirror.trusted() == wanted {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the version memory never became trusted={wanted}");
}

/// The title another instance serves for the product (through its own router).
async fn title_on(router: &Router) -> String {
    let body = post(router, None, READ, json!({ "id": product() })).await;
    body["data"]["product"]["title"]
        .as_str()
        .unwrap_or_else(|| panic!("no title in {body}"))
        .to_owned()
}

/// Renames the product on `writer`; returns when the mutation returned.
async fn rename(writer: &TestApp, staff: &str, title: &str) {
    let body = writer
        .post_as(Some(staff), RENAME, json!({ "id": product(), "t": title }))
        .await;
    assert!(body.get("errors").is_none(), "the write failed: {body}");
}

/// Writes on A, then reads on B as soon as each write returned: every read shows its write.
async fn writes_show_at_once(a: &TestApp, staff: &str, b: &Router, label: &str, rounds: usize) {
    for round in 0..rounds {
        let title = format!("{label} {round}");
        rename(a, staff, &title).await;
        assert_eq!(
            title_on(b).await,
            title,
            "{label}: instance B served a stale title right after the write returned"
        );
    }
}

/// Instance A in process over `redis`, and a sibling B over `b_redis` (same prefix).
async fn two_instances(redis: &str, b_redis: &str) -> (TestApp, AppState, Router, String) {
    let a = TestApp::with_settings(CacheMode::Redis, &[("REDIS_URL", redis)]).await;
    let (b, _) = a.sibling(&[("REDIS_URL", b_redis)]).await;
    let b_router = techpotli::app::build_router(b.clone());
    let staff = support::staff_token(&a, Role::Catalog).await;
    trusted_becomes(&a.app, true).await;
    trusted_becomes(&b, true).await;
    (a, b, b_router, staff)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cached_read_costs_no_redis_round_trip_and_a_write_still_shows_everywhere() {
    let redis = support::redis_url();
    let (a, b, b_router, staff) = two_instances(&redis, &redis).await;
    let original = title_on(&b_router).await;
    title_on(&b_router).await;
    let (trips, sql) = (b.cache.round_trips(), b.statements.get());
    for _ in 0..20 {
        assert_eq!(title_on(&b_router).await, original);
    }
    assert_eq!(
        b.cache.round_trips() - trips,
        0,
        "cache hits asked Redis for versions"
    );
    assert_eq!(b.statements.get() - sql, 0, "cache hits ran SQL");
    let scrape = metrics_text(&b_router).await;
    let from_memory = scrape
        .lines()
        .find_map(|l| l.strip_prefix(r#"techpotli_cache_version_reads_total{source="memory"} "#))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(
        from_memory >= 20.0,
        "version reads from memory not counted: {from_memory}"
    );
    assert!(
        scrape.contains("techpotli_cache_version_memory_trusted 1"),
        "{scrape}"
    );
    writes_show_at_once(&a, &staff, &b_router, "plain", 10).await;
    // And the other way round: writes on B show on A at once.
    let a_router = techpotli::app::build_router(a.app.clone());
    for round in 0..5 {
        let title = format!("from B {round}");
        let body = post(
            &b_router,
            Some(&staff),
            RENAME,
            json!({ "id": product(), "t": title }),
        )
        .await;
        assert!(body.get("errors").is_none(), "the write failed: {body}");
        assert_eq!(title_on(&a_router).await, title, "A served a stale title");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn counters_started_by_a_first_read_are_remembered() {
    let a = TestApp::with_settings(CacheMode::Redis, &[]).await;
    trusted_becomes(&a.app, true).await;
    let router = techpotli::app::build_router(a.app.clone());
    // The first read of this prefix starts every counter it needs (none exist yet)...
    let title = title_on(&router).await;
    // ...and the second, a cache hit, finds them all in memory: no round trip at all.
    let trips = a.app.cache.round_trips();
    assert_eq!(title_on(&router).await, title);
    assert_eq!(
        a.app.cache.round_trips() - trips,
        0,
        "a hit right after the counters were started read them again from Redis"
    );
}

/// Stops a process with SIGSTOP until dropped (then SIGCONT).
struct Stopped(u32);

impl Stopped {
    fn new(pid: u32) -> Self {
        crate::shutdown::signal(pid, "-STOP");
        Self(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        crate::shutdown::signal(self.0, "-CONT");
    }
}

/// A real second instance (its own process), stopped with SIGSTOP while A writes: stopped past
/// its lease, or only briefly (the write then waits for its acknowledgement), it never serves
/// the old title once the write returned.
#[tokio::test(flavor = "multi_thread")]
async fn an_instance_paused_with_sigstop_never_serves_a_stale_read() {
    let a = Arc::new(TestApp::new().await);
    let staff = support::staff_token(&a, Role::Catalog).await;
    // B's channel goes through a proxy, so its invalidations can be held while it is stopped.
    let proxy = ChannelProxy::start(redis_addr()).await;
    let (b, addr) = crate::shutdown::spawn_server(
        &a,
        5,
        &[
            ("REDIS_URL", &proxy.url()),
            ("CACHE_PREFIX", &a.prefix),
            ("JWT_SECRET", "test-secret-test-secret-test-secret!"),
        ],
    )
    .await;
    let body = json!({ "query": READ, "variables": { "id": product() } }).to_string();
    let request = crate::shutdown::post(&body);
    let versions_in_memory = || async {
        let (_, text) = crate::shutdown::raw(addr, &crate::shutdown::get("/readyz"))
            .await
            .expect("B answers");
        text.contains(r#""versions":"memory""#)
    };
    let fresh = |text: &str, title: &str| {
        assert!(
            text.contains(&format!(r#""title":"{title}""#)),
            "B served a stale title after a write returned: {text}"
        );
    };
    for (pause, held, title) in [
        (2500, false, "written while B was stopped"),
        (300, false, "written while B was stopped briefly"),
        (
            2500,
            true,
            "written while B was stopped and its channel held",
        ),
    ] {
        for _ in 0..100 {
            if versions_in_memory().await {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(versions_in_memory().await, "B never trusted its memory");
        crate::shutdown::raw(addr, &request)
            .await
            .expect("B answers");
        proxy.stall(held);
        let stopped = Stopped::new(b.pid());
        let write = {
            let (a, staff) = (a.clone(), staff.clone());
            tokio::spawn(async move { rename(&a, &staff, title).await })
        };
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let text = if held {
            // The write returned while B was stopped; B's next request is already waiting in its
            // socket when it resumes, and its invalidation is still held back: only the clock
            // tells B that its memory is no longer to be trusted.
            write.await.unwrap();
            let request = request.clone();
            let read = tokio::spawn(async move { crate::shutdown::raw(addr, &request).await });
            tokio::time::sleep(Duration::from_millis(100)).await;
            drop(stopped);
            read.await.unwrap().expect("B answers").1
        } else {
            drop(stopped);
            write.await.unwrap();
            crate::shutdown::raw(addr, &request)
                .await
                .expect("B answers")
                .1
        };
        fresh(&text, title);
        proxy.stall(false);
    }
    // Stopping gracefully gives B's lease up, so writes stop waiting for it at once.
    assert_eq!(lease_holders(&a.prefix).await, 2, "A and B hold leases");
    crate::shutdown::sigterm(&b);
    let (status, _) = crate::shutdown::exit_of(b, Duration::from_secs(20)).await;
    assert!(status.success());
    let mut holders = 0;
    for _ in 0..40 {
        holders = lease_holders(&a.prefix).await;
        if holders == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(holders, 1, "B's lease outlived it");
}

/// Instances holding a lease under `prefix` (fields of the leases hash but `~born`).
async fn lease_holders(prefix: &str) -> usize {
    let mut redis = support::redis_conn().await;
    let fields: Vec<String> = redis::cmd("HKEYS")
        .arg(format!("{prefix}cache:leases"))
        .query_async(&mut redis)
        .await
        .unwrap();
    fields.iter().filter(|f| *f != "~born").count()
}

/// The leases hash deleted (evicted, or a stray `DEL`) while B's channel is stalled: Redis no
/// longer knows B holds a lease, yet B still trusts its memory for a while. The hash's `~born`
/// went with it, so the next write waits out a whole lease and B's read after it is fresh.
#[tokio::test(flavor = "multi_thread")]
async fn losing_the_leases_hash_makes_writes_wait_out_a_lease() {
    let proxy = ChannelProxy::start(redis_addr()).await;
    let (a, b, b_router, staff) = two_instances(&support::redis_url(), &proxy.url()).await;
    title_on(&b_router).await;
    title_on(&b_router).await;
    proxy.stall(true);
    let mut redis = support::redis_conn().await;
    let _: () = redis::cmd("DEL")
        .arg(format!("{}cache:leases", a.prefix))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(
        b.cache.mirror().is_some_and(|m| m.trusted()),
        "B should still trust its memory"
    );
    writes_show_at_once(&a, &staff, &b_router, "leases lost", 2).await;
    proxy.stall(false);
}

/// The instance's `/metrics` text.
async fn metrics_text(router: &Router) -> String {
    let request = Request::get("/metrics").body(Body::empty()).unwrap();
    String::from_utf8_lossy(&support::body_through(router, request).await).into_owned()
}

/// POSTs a GraphQL request (with a staff token, if given) through an instance's router.
async fn post(router: &Router, token: Option<&str>, query: &str, variables: Value) -> Value {
    let body = json!({ "query": query, "variables": variables }).to_string();
    let mut request = Request::post("/graphql").header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request.body(Body::from(body)).unwrap();
    serde_json::from_slice(&support::body_through(router, request).await).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delayed_channel_delays_writes_not_freshness() {
    let proxy = ChannelProxy::start(redis_addr()).await;
    let (a, b, b_router, staff) = two_instances(&support::redis_url(), &proxy.url()).await;
    title_on(&b_router).await;
    // Invalidations reach B 150 ms late; its heartbeats too, so it keeps its lease.
    proxy.delay(Duration::from_millis(150));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let started = Instant::now();
    writes_show_at_once(&a, &staff, &b_router, "delayed", 5).await;
    assert!(
        b.cache.mirror().is_some_and(|m| m.trusted()),
        "B should keep trusting a slow but working channel"
    );
    // Each write waited for B's acknowledgement, which cannot come sooner than the delay.
    assert!(
        started.elapsed() >= Duration::from_millis(5 * 150),
        "writes returned before B could have applied them"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_or_cut_channel_never_serves_stale_reads() {
    let proxy = ChannelProxy::start(redis_addr()).await;
    let (a, b, b_router, staff) = two_instances(&support::redis_url(), &proxy.url()).await;
    title_on(&b_router).await;
    // Messages to B are held (the connection stays open): writes wait out B's lease at most.
    proxy.stall(true);
    writes_show_at_once(&a, &staff, &b_router, "stalled", 3).await;
    trusted_becomes(&b, false).await;
    writes_show_at_once(&a, &staff, &b_router, "untrusted", 3).await;
    proxy.stall(false);
    trusted_becomes(&b, true).await;
    title_on(&b_router).await;
    writes_show_at_once(&a, &staff, &b_router, "released", 3).await;
    // Dropped: the channel closes (Redis does this to a subscriber that falls behind).
    proxy.cut();
    writes_show_at_once(&a, &staff, &b_router, "cut", 3).await;
    trusted_becomes(&b, true).await;
    writes_show_at_once(&a, &staff, &b_router, "resubscribed", 3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_restarted_mid_write_serves_no_stale_read() {
    let own = support::OwnRedis::start(5_000).await;
    let proxy = ChannelProxy::start(addr_of(&own.url())).await;
    let (a, b, b_router, staff) = two_instances(&own.url(), &proxy.url()).await;
    title_on(&b_router).await;
    writes_show_at_once(&a, &staff, &b_router, "before", 2).await;
    // B's channel is slow, so the next write is still waiting for B when Redis restarts empty.
    proxy.delay(Duration::from_millis(400));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let a = Arc::new(a);
    let write = {
        let (a, staff) = (a.clone(), staff.clone());
        tokio::spawn(async move { rename(&a, &staff, "during the restart").await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    own.stop();
    own.up().await;
    write.await.unwrap();
    assert_eq!(title_on(&b_router).await, "during the restart");
    proxy.delay(Duration::ZERO);
    // Redis forgot every lease and counter: writes wait out the first lease, then B catches up.
    writes_show_at_once(&a, &staff, &b_router, "after the restart", 3).await;
    trusted_becomes(&b, true).await;
    writes_show_at_once(&a, &staff, &b_router, "trusted again", 3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_is_trusted_only_within_the_lease_redis_holds() {
    let app = TestApp::new().await;
    trusted_becomes(&app.app, true).await;
    let mirror = app.app.cache.mirror().unwrap();
    let mut redis = support::redis_conn().await;
    let leases = format!("{}cache:leases", app.prefix);
    for _ in 0..20 {
        let asked = Instant::now();
        let trusted_for = mirror.trusted_for();
        let (score, (secs, micros)): (Option<u64>, (u64, u64)) = redis::pipe()
            .cmd("HGET")
            .arg(&leases)
            .arg(mirror.id())
            .cmd("TIME")
            .query_async(&mut redis)
            .await
            .unwrap();
        let elapsed = asked.elapsed();
        let redis_now = secs * 1000 + micros / 1000;
        let held = Duration::from_millis(score.expect("a live lease").saturating_sub(redis_now));
        // Memory is trusted at least MARGIN less than Redis holds the lease (ms rounding aside).
        assert!(
            trusted_for + techpotli::cache::mirror::MARGIN
                <= held + elapsed + Duration::from_millis(2),
            "trusted for {trusted_for:?} while Redis holds the lease {held:?}"
        );
        tokio::time::sleep(Duration::from_millis(70)).await;
    }
}

fn redis_addr() -> std::net::SocketAddr {
    addr_of(&support::redis_url())
}

/// `host:port` of a `redis://host:port` URL.
fn addr_of(url: &str) -> std::net::SocketAddr {
    url.trim_start_matches("redis://")
        .trim_end_matches('/')
        .parse()
        .expect("a redis://host:port URL")
}
