//! Fault drills against the real servers: PostgreSQL backends killed (`pg_terminate_backend`)
//! under a read loop and under writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;

use crate::support::{CacheMode, TestApp};

/// Kills every backend of the app's database (not the killer's own) every `every` until `stop`;
/// returns how many it killed.
fn killer(
    url: String,
    every: std::time::Duration,
    spare_young: bool,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        use diesel_async::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Killed {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut conn = AsyncPgConnection::establish(&url)
            .await
            .expect("killer connects");
        let mut total = 0;
        while !AtomicBool::load(&stop, Ordering::Relaxed) {
            tokio::time::sleep(every).await;
            // With `spare_young`, backends younger than a second are spared: a read's retry (a
            // fresh connection) gets to finish; the pool's connections live longer and die.
            let killed: Killed = diesel::sql_query(
                "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid() \
                 AND (NOT $1 OR backend_start < now() - interval '1 second')",
            )
            .bind::<diesel::sql_types::Bool, _>(spare_young)
            .get_result(&mut conn)
            .await
            .expect("terminate");
            total += killed.n as u64;
        }
        total
    })
}

const READ: &str = r#"{ products(first: 10) { edges { node { title variants { sku prices { amount } }
    options { title values } categories { name } collection { title } } } } }"#;

/// Four readers send `query` (as `token`'s holder) for 3 s while the pool's backends are killed
/// every 250 ms: `(backends killed, the errors readers got)`.
async fn read_drill(
    app: &Arc<TestApp>,
    token: Option<String>,
    query: &'static str,
) -> (u64, Vec<serde_json::Value>) {
    let stop = Arc::new(AtomicBool::new(false));
    let kills = killer(
        app.db.url.clone(),
        std::time::Duration::from_millis(250),
        true,
        stop.clone(),
    );
    let mut readers = Vec::new();
    for _ in 0..4 {
        let (app, token) = (app.clone(), token.clone());
        readers.push(tokio::spawn(async move {
            let (mut answered, mut errors) = (0u32, Vec::new());
            // For a fixed time, not a count: the pool's connections must live long enough
            // (over a second) to be killed, however fast the machine reads.
            let until = std::time::Instant::now() + std::time::Duration::from_secs(3);
            while std::time::Instant::now() < until {
                let body = app.post_as(token.as_deref(), query, json!({})).await;
                match body["errors"][0]["extensions"]["code"].as_str() {
                    // Staff queries spend the principal's cost budget: wait, it is not a fault.
                    Some("THROTTLED") => {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await
                    }
                    Some(_) => errors.push(body["errors"][0].clone()),
                    None => answered += 1,
                }
            }
            (answered, errors)
        }));
    }
    let (mut answered, mut errors) = (0u32, Vec::new());
    for reader in readers {
        let (n, e) = reader.await.unwrap();
        answered += n;
        errors.extend(e);
    }
    // Not mostly throttled: the drill really read while backends died.
    assert!(answered >= 20, "only {answered} reads were answered");
    stop.store(true, Ordering::Relaxed);
    let killed = kills.await.unwrap();
    assert!(killed >= 5, "the drill killed {killed} backends");
    (killed, errors)
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_backends_cost_no_failed_reads() {
    // No cache: every read reaches PostgreSQL through the pool and the loaders.
    let app = Arc::new(TestApp::with_cache(CacheMode::Disabled).await);
    let (killed, errors) = read_drill(&app, None, READ).await;
    assert!(
        errors.is_empty(),
        "{} failed reads: {errors:?}",
        errors.len()
    );
    println!("killed {killed} backends under 3 s of reads by 4 readers; 0 failed");
}

/// Staff and customer reads (private, never cached) take their connection through the same
/// retrying read as the storefront's.
#[tokio::test(flavor = "multi_thread")]
async fn killed_backends_cost_staff_and_customer_reads_nothing() {
    let app = Arc::new(TestApp::with_cache(CacheMode::Disabled).await);
    let owner = crate::support::staff_token(&app, techpotli::auth::Role::Owner).await;
    let (_, customer) = crate::support::customer_token(&app, "drill@example.com").await;
    let staff_read: &'static str = format!(
        r#"{{ adminProducts(first: 20) {{ edges {{ node {{ title }} }} }}
        adminCustomers(first: 10) {{ edges {{ node {{ email }} }} }}
        adminOrders(first: 10) {{ edges {{ node {{ id }} }} }}
        adminHeroBanners(first: 10) {{ edges {{ node {{ title }} }} }}
        node(id: "{}") {{ id }} }}"#,
        crate::support::gid("AdminProduct", 5)
    )
    .leak();
    let data = app.ok_as(&owner, staff_read, json!({})).await;
    assert_eq!(data["node"]["id"], crate::support::gid("AdminProduct", 5));
    let (killed, errors) = read_drill(&app, Some(owner.clone()), staff_read).await;
    assert!(
        errors.is_empty(),
        "{} failed staff reads: {errors:?}",
        errors.len()
    );
    let customer_read =
        r#"{ me { email addresses { city } orders(first: 5) { edges { node { id } } } } }"#;
    let (killed_too, errors) = read_drill(&app, Some(customer), customer_read).await;
    assert!(
        errors.is_empty(),
        "{} failed customer reads: {errors:?}",
        errors.len()
    );
    println!("killed {killed} + {killed_too} backends under staff and customer reads; 0 failed");
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_backends_fail_a_write_cleanly_and_never_half_apply_it() {
    let app = Arc::new(TestApp::with_cache(CacheMode::Redis).await);
    let staff = crate::support::staff_token(&app, techpotli::auth::Role::Catalog).await;
    let stop = Arc::new(AtomicBool::new(false));
    let kills = killer(
        app.db.url.clone(),
        std::time::Duration::from_millis(40),
        false,
        stop.clone(),
    );
    let product = crate::support::gid("Product", 5);
    // Each write sets the title and the categories together (one transaction): title `k` goes with
    // category 20 for even `k` and 21 for odd.
    let category =
        |k: u32| crate::support::gid("Category", if k.is_multiple_of(2) { 20 } else { 21 });
    let (mut ok, mut unavailable) = (0, 0);
    let mut check = AsyncPgConnection::establish(&app.db.url).await.unwrap();
    for k in 0..150u32 {
        let body = app
            .post_as(
                Some(&staff),
                r#"mutation($id: ID!, $title: String!, $cat: ID!) {
                    updateProduct(id: $id, input: { title: $title, categoryIds: [$cat] }) { title } }"#,
                json!({ "id": product, "title": format!("Drill {k}"), "cat": category(k) }),
            )
            .await;
        match body["errors"][0]["extensions"]["code"].as_str() {
            None => ok += 1,
            Some("SERVICE_UNAVAILABLE") => unavailable += 1,
            Some(other) => panic!("write {k} failed with {other}: {body}"),
        }
        // After every write, applied or not, the title and the categories agree.
        let (title, categories) = stored(&mut check, &app.db.url).await;
        let n: u32 = title
            .trim_start_matches("Drill ")
            .parse()
            .unwrap_or(u32::MAX);
        if n != u32::MAX {
            let want = if n.is_multiple_of(2) { 20 } else { 21 };
            assert_eq!(
                categories,
                vec![want],
                "after write {k}: {title} with {categories:?}"
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    let killed = kills.await.unwrap();
    assert!(killed >= 5, "the drill killed {killed} backends");
    assert!(ok > 0, "some writes got through");
    // Whatever got through, title and categories were written together.
    let data = app
        .ok_as(
            &staff,
            r#"query($id: ID!) { adminProduct(id: $id) { title } }"#,
            json!({ "id": product }),
        )
        .await;
    let title = data["adminProduct"]["title"].as_str().unwrap().to_owned();
    let k: u32 = title.trim_start_matches("Drill ").parse().unwrap();
    let data = app
        .data(
            r#"query($id: ID!) { product(id: $id) { categories { id } } }"#,
            json!({ "id": product }),
        )
        .await;
    assert_eq!(
        data["product"]["categories"],
        json!([{ "id": category(k) }]),
        "{title}"
    );
    println!(
        "killed {killed} backends under 150 writes: {ok} applied, {unavailable} SERVICE_UNAVAILABLE, none half-applied"
    );
}

/// Product 5's title and category ids, read past the app (the drill's killer kills this
/// connection too, so it reconnects).
async fn stored(conn: &mut AsyncPgConnection, url: &str) -> (String, Vec<i64>) {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        title: String,
        #[diesel(sql_type = diesel::sql_types::Array<BigInt>)]
        categories: Vec<i64>,
    }
    let sql = "SELECT p.title, COALESCE(array_agg(pc.category_id ORDER BY pc.category_id) \
               FILTER (WHERE pc.category_id IS NOT NULL), '{}') AS categories FROM products p \
               LEFT JOIN product_categories pc ON pc.product_id = p.id WHERE p.id = 5 GROUP BY p.title";
    for _ in 0..20 {
        match diesel::sql_query(sql).get_result::<Row>(conn).await {
            Ok(row) => return (row.title, row.categories),
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                if let Ok(fresh) = AsyncPgConnection::establish(url).await {
                    *conn = fresh;
                }
            }
        }
    }
    panic!("the drill's checker could not read product 5");
}

/// Redis stopped and started again under a running read loop: no read fails (they fall back to
/// PostgreSQL), an admin write made while it is down succeeds and shows at once, and the cache is
/// used again by itself when Redis returns. (The event bus's recovery across instances is drilled
/// by `subscriptions::subscriptions_survive_a_redis_restart`.)
#[tokio::test(flavor = "multi_thread")]
async fn redis_stopped_and_restarted_under_reads_fails_nothing() {
    let own = crate::support::OwnRedis::start(2_500).await;
    let redis = own.url();
    let app = Arc::new(
        TestApp::with_settings(
            CacheMode::Memory,
            &[("REDIS_URL", &redis), ("CACHE_TIMEOUT_MS", "50")],
        )
        .await,
    );
    let staff = crate::support::staff_token(&app, techpotli::auth::Role::Catalog).await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..4 {
        let (app, stop) = (app.clone(), stop.clone());
        readers.push(tokio::spawn(async move {
            let (mut reads, mut errors) = (0u32, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                let body = app.post(READ, json!({})).await.json();
                reads += 1;
                if body.get("errors").is_some() {
                    errors.push(body["errors"][0].clone());
                }
            }
            (reads, errors)
        }));
    }
    let hits = || crate::support::cache_hits(&app);
    let product = crate::support::gid("Product", 5);
    let rename = |title: &'static str| {
        let (app, staff, product) = (app.clone(), staff.clone(), product.clone());
        async move {
            let body = app
                .post_as(
                    Some(&staff),
                    r#"mutation($id: ID!, $t: String!) { updateProduct(id: $id, input: { title: $t }) { title } }"#,
                    json!({ "id": product, "t": title }),
                )
                .await;
            assert!(body.get("errors").is_none(), "the write failed: {body}");
            let data = app
                .data(
                    r#"query($id: ID!) { product(id: $id) { title } }"#,
                    json!({ "id": product }),
                )
                .await;
            assert_eq!(
                data["product"]["title"], title,
                "the storefront shows the write"
            );
        }
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    own.stop();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    rename("Written while Redis was down").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    own.up().await;
    // Used again by itself (bounded wait: the breaker and the reconnect take a moment).
    let mut recovered = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let before = hits();
        app.post(READ, json!({})).await;
        app.post(READ, json!({})).await;
        if hits() > before {
            recovered = true;
            break;
        }
    }
    assert!(
        recovered,
        "the cache was not used again after Redis returned"
    );
    rename("Written after Redis returned").await;
    stop.store(true, Ordering::Relaxed);
    let (mut reads, mut errors) = (0, Vec::new());
    for reader in readers {
        let (n, e) = reader.await.unwrap();
        reads += n;
        errors.extend(e);
    }
    assert!(
        errors.is_empty(),
        "{} failed reads: {errors:?}",
        errors.len()
    );
    println!(
        "{reads} reads across a Redis stop and restart, 0 failed; writes during and after applied and shown"
    );
}
