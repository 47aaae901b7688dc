//! Test harness: a fresh PostgreSQL database per test (cloned from a migrated, seeded template),
//! the real router driven in-process, and helpers to send GraphQL and read results.

pub mod db;
pub mod fixtures;
pub mod mail;
pub mod proxy;
pub mod varnish;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use techpotli::app::build_router;
use techpotli::config::Config;
use techpotli::state::{App, AppState};
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
    /// The body as JSON, without the per-client `extensions.cost` block and the request's
    /// `extensions.locale` (so answers can be compared); panics with the body text when it is not
    /// JSON.
    pub fn json(&self) -> Value {
        let mut body = self.raw_json();
        if let Some(ext) = body.get_mut("extensions").and_then(Value::as_object_mut) {
            ext.remove("cost");
            ext.remove("locale");
            if ext.is_empty()
                && let Some(map) = body.as_object_mut()
            {
                map.remove("extensions");
            }
        }
        body
    }

    /// The body as JSON, exactly as sent.
    pub fn raw_json(&self) -> Value {
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

/// Which cache the app under test uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheMode {
    /// The real Redis, under a key prefix of this test's own.
    Redis,
    /// The in-process cache.
    Memory,
    /// No cache: every read goes to PostgreSQL.
    Disabled,
}

/// Where tests find Redis.
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// The application under test over its own database (and Redis prefix); dropped at the end of
/// the test, deleting its keys.
pub struct TestApp {
    pub app: AppState,
    router: Router,
    /// The environment the app was configured from (for sibling instances).
    vars: Vec<(String, String)>,
    pub prefix: String,
    redis_keys_owned: bool,
    /// Declared last: dropped after the app's pools.
    pub db: TestDatabase,
}

impl TestApp {
    /// An app over a fresh copy of the seeded catalog, caching in Redis.
    pub async fn new() -> Self {
        Self::with_cache(CacheMode::Redis).await
    }

    /// An app over a fresh copy of the seeded catalog with the given cache.
    pub async fn with_cache(mode: CacheMode) -> Self {
        let db = TestDatabase::seeded().await;
        let url = db.url.clone();
        Self::with_database_url(db, &url, mode, &[]).warmed().await
    }

    /// Loads the locales as `serve` does at start-up, so statement counts measure requests only
    /// (an app built by [`Self::with_database_url`] loads them on its first request).
    async fn warmed(self) -> Self {
        self.app.locales.reload_now(&self.app.db).await;
        self
    }

    /// A fresh seeded database, served with `settings` on top of the test defaults.
    pub async fn with_settings(mode: CacheMode, settings: &[(&str, &str)]) -> Self {
        let db = TestDatabase::seeded().await;
        let url = db.url.clone();
        Self::with_database_url(db, &url, mode, settings)
            .warmed()
            .await
    }

    /// An app whose pool talks to `url` (e.g. through a fault-injecting proxy) with extra env.
    pub fn with_database_url(
        db: TestDatabase,
        url: &str,
        mode: CacheMode,
        extra: &[(&str, &str)],
    ) -> Self {
        let prefix = format!("techpotli:test:{}:", db.name);
        let mut vars: Vec<(String, String)> = vec![
            ("DATABASE_URL".into(), url.into()),
            ("CACHE_PREFIX".into(), prefix.clone()),
            // Sibling instances must verify each other's tokens.
            (
                "JWT_SECRET".into(),
                "test-secret-test-secret-test-secret!".into(),
            ),
            // Tests read at machine speed from one address; the hostile suite sets real budgets.
            ("THROTTLE_PUBLIC_MAXIMUM".into(), "100000000".into()),
            ("THROTTLE_PUBLIC_RESTORE_RATE".into(), "100000000".into()),
            // Mail goes to the real SMTP server scripts/test starts; retries come quickly.
            ("SMTP_URL".into(), mail::smtp_url()),
            ("MAIL_FROM".into(), "Techpotli <shop@techpotli.test>".into()),
            (
                "STOREFRONT_URL".into(),
                "https://shop.techpotli.test".into(),
            ),
            ("JOBS_RETRY_BASE_MS".into(), "20".into()),
        ];
        match mode {
            CacheMode::Redis => vars.push(("REDIS_URL".into(), redis_url())),
            CacheMode::Memory => {}
            CacheMode::Disabled => vars.push(("CACHE_ENABLED".into(), "false".into())),
        }
        vars.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let config = Config::from_lookup(|k| {
            vars.iter()
                .rev()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        })
        .expect("test config");
        let app = App::build(config).expect("valid test config");
        let router = build_router(app.clone());
        Self {
            app,
            router,
            vars,
            prefix,
            redis_keys_owned: mode == CacheMode::Redis,
            db,
        }
    }

    /// Another instance of the same deployment (same database, Redis and prefix), with `extra`
    /// settings on top, serving HTTP on a loopback port.
    pub async fn sibling(&self, extra: &[(&str, &str)]) -> (AppState, std::net::SocketAddr) {
        let mut vars = self.vars.clone();
        vars.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let config = Config::from_lookup(|k| {
            vars.iter()
                .rev()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        })
        .expect("config");
        let app = App::build(config).expect("valid test config");
        app.locales.reload_now(&app.db).await;
        let addr = serve(build_router(app.clone())).await;
        (app, addr)
    }

    /// This instance, serving HTTP on a loopback port (WebSocket tests need a real socket).
    pub async fn serve(&self) -> std::net::SocketAddr {
        serve(self.router.clone()).await
    }

    /// Keys under this test's prefix in Redis.
    pub async fn redis_keys(&self) -> Vec<String> {
        let mut conn = redis_conn().await;
        let mut keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query_async(&mut conn)
            .await
            .unwrap();
        keys.sort();
        keys
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

    /// POSTs any JSON body to `/graphql`; returns the body as sent (cost included).
    pub async fn post_raw(&self, body: Value) -> Value {
        let request = Request::post("/graphql")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        self.send(request).await.raw_json()
    }

    /// POSTs a GraphQL request with `Authorization: Bearer <token>`; returns the body.
    pub async fn post_as(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let response = self.send_with(token, query, variables).await;
        assert_eq!(response.status, StatusCode::OK);
        response.raw_json()
    }

    /// POSTs an operation as `token` that must succeed; returns `data`.
    pub async fn ok_as(&self, token: &str, query: &str, variables: Value) -> Value {
        let body = self.post_as(Some(token), query, variables).await;
        assert!(body["errors"].is_null(), "{body}");
        body["data"].clone()
    }

    /// POSTs a variable-free query with an optional bearer token; the whole response.
    pub async fn send_as(&self, token: Option<&str>, query: &str) -> TestResponse {
        self.send_with(token, query, json!({})).await
    }

    async fn send_with(&self, token: Option<&str>, query: &str, variables: Value) -> TestResponse {
        let mut builder = Request::post("/graphql").header("content-type", "application/json");
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let body = json!({ "query": query, "variables": variables }).to_string();
        self.send(builder.body(Body::from(body)).expect("request"))
            .await
    }

    /// GETs a query as an anonymous storefront would (the cacheable path); returns the body.
    pub async fn get_query(&self, query: &str) -> Value {
        let encoded = serde_urlencoded::to_string([("q", query)]).expect("encode");
        let uri = format!("/graphql?query={}", &encoded[2..]);
        self.send(Request::get(uri).body(Body::empty()).expect("request"))
            .await
            .json()
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

impl Drop for TestApp {
    fn drop(&mut self) {
        if !self.redis_keys_owned {
            return;
        }
        let pattern = format!("{}*", self.prefix);
        let _ = std::thread::spawn(move || {
            let Ok(client) = redis::Client::open(redis_url()) else {
                return;
            };
            let Ok(mut conn) = client.get_connection() else {
                return;
            };
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(&pattern)
                .query(&mut conn)
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: Result<(), _> = redis::cmd("DEL").arg(keys).query(&mut conn);
            }
        })
        .join();
    }
}

/// Sends a request through a router (another instance's, say); its whole body.
pub async fn body_through(router: &Router, request: Request<Body>) -> bytes::Bytes {
    let response = router.clone().oneshot(request).await.unwrap();
    response.into_body().collect().await.unwrap().to_bytes()
}

/// Serves a router on a fresh loopback port until the test's runtime ends.
pub async fn serve(router: Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });
    addr
}

/// A direct Redis connection for assertions.
pub async fn redis_conn() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("Redis is running")
}

/// The `extensions.code` of a response's first error (`<none>` without one).
pub fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<none>")
}

/// A token signed with the app's key for any subject and role, valid from `from` to `until`
/// seconds relative to now (negative: in the past), e.g. an expired or a customer token.
pub fn signed_token(app: &TestApp, sub: &str, role: &str, from: i64, until: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    app.app
        .jwt
        .sign(&techpotli::auth::jwt::Claims {
            sub: sub.into(),
            role: role.into(),
            iat: now + from,
            exp: now + until,
            iss: techpotli::auth::jwt::ISSUER.into(),
            ver: 0,
            aud: (role == "customer").then(|| "storefront".into()),
        })
        .expect("sign")
}

/// A verified, active customer account with `email` (password `mango-tree-river-7`) in the
/// app's database, and a customer token for it: `(id, token)`.
pub async fn customer_token(app: &TestApp, email: &str) -> (i64, String) {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use techpotli::db::schema::customers;
    let hash = techpotli::auth::password::hash(
        techpotli::auth::password::slot(&app.app.password_slots)
            .await
            .unwrap(),
        "mango-tree-river-7".into(),
    )
    .await
    .unwrap();
    let mut conn = app.db.conn().await;
    let (id, version): (i64, i64) = diesel::insert_into(customers::table)
        .values((
            customers::email.eq(email.to_lowercase()),
            customers::password_hash.eq(hash),
            customers::first_name.eq("Test"),
            customers::last_name.eq("Customer"),
            customers::email_verified_at.eq(chrono::Utc::now()),
        ))
        .returning((customers::id, customers::token_version))
        .get_result(&mut conn)
        .await
        .unwrap();
    let (token, _) = app.app.jwt.issue_customer(id, version).unwrap();
    (id, token)
}

/// A staff account `<role>@techpotli.test` (password `correct-horse-battery`) in the app's
/// database, and a token for it.
pub async fn staff_token(app: &TestApp, role: techpotli::auth::Role) -> String {
    let email = format!("{}@techpotli.test", role.as_str());
    let admin = techpotli::auth::service::create_admin(
        &app.app,
        &email,
        "correct-horse-battery".into(),
        role.as_str(),
    )
    .await
    .expect("create staff account");
    app.app
        .jwt
        .issue_admin(admin.id, role, admin.token_version)
        .expect("issue token")
        .0
}

/// A Redis server of a test's own on a loopback port, to stop and restart mid-test.
pub struct OwnRedis {
    port: u16,
    dir: std::path::PathBuf,
}

impl OwnRedis {
    /// Starts `redis-server` on a port of this test process's own (stopping a leftover one
    /// first). The port is below the kernel's ephemeral range (32768–60999 here): a port in it
    /// can be taken by any client socket on the machine while the server is stopped mid-test,
    /// and the restarted server then fails to bind (seen as rare failures of the restart tests).
    /// `offset` keeps the tests that use one apart.
    pub async fn start(offset: u16) -> Self {
        let port = 20_000 + offset + (std::process::id() % 2_500) as u16;
        let dir = std::env::temp_dir().join(format!("techpotli-redis-{port}"));
        std::fs::create_dir_all(&dir).expect("redis dir");
        let redis = Self { port, dir };
        redis.stop();
        redis.up().await;
        redis
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server again (empty: it keeps nothing on disk).
    pub async fn up(&self) {
        let status = std::process::Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--daemonize", "yes", "--dir"])
            .arg(&self.dir)
            .status()
            .expect("redis-server is installed");
        assert!(status.success());
        // Daemonized before it binds: wait until it answers.
        for _ in 0..100 {
            if let Ok(client) = redis::Client::open(self.url())
                && let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .is_ok()
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("redis-server on port {} did not come up", self.port);
    }

    /// Shuts the server down.
    pub fn stop(&self) {
        let _ = std::process::Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "shutdown", "nosave"])
            .status();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What the catalog service does after writing product `id` behind the cache: the products family
/// (listings) and that product's own entity versions.
pub async fn invalidate_product(app: &TestApp, id: i64, handle: &str) {
    use techpotli::cache::{Family, keys};
    app.app.cache.invalidate(&[Family::Products]).await;
    app.app
        .cache
        .invalidate_entities(&keys::product_entities(Some(id), Some(handle)))
        .await;
}

/// Cache hits the app has counted so far.
pub fn cache_hits(app: &TestApp) -> u64 {
    app.app
        .cache
        .metrics
        .hits
        .load(std::sync::atomic::Ordering::Relaxed)
}

/// The global ID the API gives a row.
pub fn gid(type_name: &str, id: i64) -> String {
    techpotli::graphql::ids::to_global(type_name, id).0
}

/// The store's ID of the entity a staff ID (`AdminHeroBanner:7`) names (`HeroBanner:7`).
pub fn store_id(staff_id: &str) -> String {
    let (kind, key) = techpotli::graphql::ids::from_global(staff_id).expect("a global ID");
    gid(kind.strip_prefix("Admin").expect("a staff ID"), key)
}
