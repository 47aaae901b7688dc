//! SIGTERM drills against the real binary (`techpotli serve`): requests in flight finish,
//! WebSockets get a clean close, the process exits by itself within the drain timeout.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::subscriptions::Client;
use crate::support::TestApp;

/// `techpotli serve` on a free loopback port against the test app's database (no Redis: the
/// in-process cache, unless `env` says otherwise), ready.
pub(crate) async fn spawn_server(
    app: &TestApp,
    drain_secs: u32,
    env: &[(&str, &str)],
) -> (Server, SocketAddr) {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    // The log goes to a file: a pipe nobody reads would fill and stall the server.
    let log = std::env::temp_dir().join(format!("techpotli-drill-{}.log", addr.port()));
    let file = std::fs::File::create(&log).expect("a log file");
    let child = Command::new(env!("CARGO_BIN_EXE_techpotli"))
        .arg("serve")
        .env("DATABASE_URL", &app.db.url)
        .env("BIND_ADDR", addr.to_string())
        .env("SHUTDOWN_TIMEOUT_SECS", drain_secs.to_string())
        .env("JOBS_CONCURRENCY", "1")
        .env("RUST_LOG", "info")
        .env("LOG_FORMAT", "json")
        .env_remove("REDIS_URL")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::from(file))
        .spawn()
        .expect("spawn techpotli serve");
    let child = Server { child, log };
    for _ in 0..300 {
        if let Ok((status, _)) = raw(addr, &get("/readyz")).await
            && status == 200
        {
            return (child, addr);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not become ready");
}

pub(crate) fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n").into_bytes()
}

pub(crate) fn post(body: &str) -> Vec<u8> {
    format!(
        "POST /graphql HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Sends one whole request on a new connection; `(status, whole response)`.
pub(crate) async fn raw(addr: SocketAddr, request: &[u8]) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(request).await?;
    read_response(&mut stream).await
}

pub(crate) async fn read_response(stream: &mut TcpStream) -> std::io::Result<(u16, String)> {
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line in {text:?}")))?;
    Ok((status, text))
}

/// The spawned server and its log file.
pub(crate) struct Server {
    child: Child,
    log: std::path::PathBuf,
}

/// `techpotli health --addr`'s exit code.
fn health(addr: SocketAddr) -> Option<i32> {
    Command::new(env!("CARGO_BIN_EXE_techpotli"))
        .args(["health", "--addr", &addr.to_string()])
        .stderr(Stdio::null())
        .status()
        .expect("run techpotli health")
        .code()
}

impl Server {
    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// A server a failed assertion left running is killed with its test.
impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub(crate) fn sigterm(server: &Server) {
    signal(server.pid(), "-TERM");
}

/// Sends a signal (`-TERM`, `-STOP`, `-CONT`) to a process.
pub(crate) fn signal(pid: u32, which: &str) {
    let status = Command::new("kill")
        .args([which, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Waits (bounded) for the process to exit; its exit status and its log.
pub(crate) async fn exit_of(
    mut server: Server,
    within: Duration,
) -> (std::process::ExitStatus, String) {
    let until = std::time::Instant::now() + within;
    loop {
        if let Some(status) = server.child.try_wait().expect("try_wait") {
            let log = std::fs::read_to_string(&server.log).unwrap_or_default();
            let _ = std::fs::remove_file(&server.log);
            return (status, log);
        }
        if std::time::Instant::now() > until {
            let _ = server.child.kill();
            panic!("the server did not exit within {within:?} of SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const LISTING: &str =
    r#"{"query":"{ products(first: 20) { edges { node { title variants { sku } } } } }"}"#;

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_under_load_finishes_requests_in_flight_and_closes_websockets_cleanly() {
    let app = TestApp::new().await;
    crate::support::staff_token(&app, techpotli::auth::Role::Owner).await;
    let (child, addr) = spawn_server(&app, 20, &[]).await;

    // A staff WebSocket with a live subscription.
    let login = r#"{"query":"mutation { adminLogin(email: \"owner@techpotli.test\", password: \"correct-horse-battery\") { token } }"}"#;
    let (status, text) = raw(addr, &post(login)).await.expect("login");
    assert_eq!(status, 200, "{text}");
    let token = text
        .split("\"token\":\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .expect("a token")
        .to_owned();
    let mut socket = Client::init(addr, json!({ "Authorization": format!("Bearer {token}") }))
        .await
        .expect("connection_ack");
    socket
        .subscribe("1", "subscription { productUpdated { productId action } }")
        .await;

    // Requests in flight when the signal lands: their headers and half their body are sent.
    let body = LISTING.as_bytes();
    let whole = post(LISTING);
    let head = whole.len() - body.len() / 2;
    let mut in_flight = Vec::new();
    for _ in 0..4 {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(&whole[..head]).await.expect("send half");
        in_flight.push(stream);
    }

    // And a read loop on four connections.
    let stop = Arc::new(AtomicBool::new(false));
    let (answered, refused) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut loaders = Vec::new();
    for _ in 0..4 {
        let (stop, answered, refused) = (stop.clone(), answered.clone(), refused.clone());
        loaders.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match raw(addr, &post(LISTING)).await {
                    // Every answer is a whole, successful one.
                    Ok((status, text)) => {
                        assert_eq!(status, 200, "{text}");
                        assert!(text.contains("\"edges\""), "{text}");
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                    // After the listener closed: refused (or reset before being accepted).
                    Err(_) => {
                        refused.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = answered.load(Ordering::Relaxed);
    assert!(before > 0, "the read loop is running");

    sigterm(&child);

    // The WebSocket is closed by the server with 1001 "going away".
    let code = loop {
        match socket.next(Duration::from_secs(5)).await {
            Ok(_) => continue,
            Err(code) => break code,
        }
    };
    if code != 1001 {
        let (_, log) = exit_of(child, Duration::from_secs(30)).await;
        panic!("the server's close code was {code}, not 1001; log:\n{log}");
    }

    // The requests in flight still complete, whole, telling the client to close.
    for mut stream in in_flight {
        stream
            .write_all(&whole[head..])
            .await
            .expect("send the rest");
        let (status, text) = read_response(&mut stream).await.expect("an answer");
        assert_eq!(status, 200, "{text}");
        assert!(text.contains("\"edges\""), "{text}");
        assert!(
            text.to_ascii_lowercase().contains("connection: close"),
            "{text}"
        );
    }
    // New connections are refused once the listener is closed.
    let mut refused_now = false;
    for _ in 0..50 {
        if TcpStream::connect(addr).await.is_err() {
            refused_now = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for loader in loaders {
        loader.await.expect("no loader saw a failed answer");
    }
    assert!(refused_now, "the listener closed");

    let (status, log) = exit_of(child, Duration::from_secs(15)).await;
    assert!(status.success(), "exit status {status}; log:\n{log}");
    assert!(log.contains("\"drained\""), "{log}");
    assert!(!log.contains("drain timeout"), "{log}");
    println!(
        "{} answers (all 200), {} refused after the listener closed; 4 in-flight requests finished; WebSocket closed 1001; exit 0",
        answered.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_that_never_finishes_cannot_hold_the_exit_past_the_drain_timeout() {
    let app = TestApp::new().await;
    let (child, addr) = spawn_server(&app, 1, &[]).await;
    // The container health check asks /readyz: ready now.
    assert_eq!(health(addr), Some(0));
    // A persisted query registered, then answered from the response cache; and a bad one.
    let document = "query Regions { regions { name } }";
    let hash = techpotli::graphql::apq::sha256_hex(document);
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let register = json!({ "query": document, "extensions": extensions }).to_string();
    assert_eq!(raw(addr, &post(&register)).await.expect("register").0, 200);
    let url = format!(
        "/graphql?{}",
        serde_urlencoded::to_string([("extensions", extensions.to_string())]).unwrap()
    );
    for _ in 0..2 {
        let (status, text) = raw(addr, &get(&url)).await.expect("get");
        assert_eq!(status, 200, "{text}");
    }
    let bad = json!({ "query": "{ regions { nope } }" }).to_string();
    raw(addr, &post(&bad)).await.expect("bad query");
    // Headers and half a body, and then nothing.
    let whole = post(LISTING);
    let mut stuck = TcpStream::connect(addr).await.expect("connect");
    stuck
        .write_all(&whole[..whole.len() - 10])
        .await
        .expect("send most");
    tokio::time::sleep(Duration::from_millis(200)).await;
    sigterm(&child);
    let (status, log) = exit_of(child, Duration::from_secs(15)).await;
    assert!(status.success(), "exit status {status}; log:\n{log}");
    assert!(log.contains("drain timeout"), "{log}");
    drop(stuck);
    // And not once it has gone.
    assert_eq!(health(addr), Some(1));
    // One JSON line per request, with its id, operation, persisted-query hash, cache outcome,
    // SQL statements and error codes.
    let served: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|l: &serde_json::Value| l["fields"]["message"] == "served")
        .collect();
    let hit = served
        .iter()
        .find(|l| l["span"]["pq"] == hash.as_str() && l["span"]["cache"] == "hit")
        .unwrap_or_else(|| panic!("no cached request logged: {served:?}"));
    assert_eq!(hit["fields"]["sql"], 0, "{hit}");
    assert_eq!(hit["span"]["operation"], "Regions", "{hit}");
    assert_eq!(hit["fields"]["status"], 200, "{hit}");
    assert_eq!(hit["span"]["id"].as_str().map(str::len), Some(32), "{hit}");
    let miss = served
        .iter()
        .find(|l| l["span"]["pq"] == hash.as_str() && l["span"]["cache"] == "miss")
        .unwrap_or_else(|| panic!("no uncached request logged: {served:?}"));
    assert!(miss["fields"]["sql"].as_u64() >= Some(1), "{miss}");
    let error = served
        .iter()
        .find(|l| l["span"]["errors"] == "GRAPHQL_VALIDATION_FAILED")
        .unwrap_or_else(|| panic!("no error logged: {served:?}"));
    println!("cached: {hit}\nerror: {error}");
}

/// A draining instance reports itself not ready, so a load balancer stops sending it requests.
#[tokio::test(flavor = "multi_thread")]
async fn a_draining_instance_is_not_ready() {
    let app = TestApp::new().await;
    let readyz = || {
        axum::http::Request::get("/readyz")
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let ready = app.send(readyz()).await;
    assert_eq!(ready.status, 200);
    app.app.shutdown.begin();
    let draining = app.send(readyz()).await;
    assert_eq!(draining.status, 503);
    assert_eq!(draining.json()["draining"], true);
    assert_eq!(draining.json()["database"], "ok");
}

/// With `SHUTDOWN_DELAY_SECS`, a SIGTERM'd instance reports itself not ready but still serves
/// for that long (the load balancer's time to notice), then drains and exits.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_reports_not_ready_while_still_serving_for_the_delay() {
    let app = TestApp::new().await;
    let (server, addr) = spawn_server(&app, 5, &[("SHUTDOWN_DELAY_SECS", "5")]).await;
    sigterm(&server);
    // Not ready at once (bounded wait for the signal to land)...
    let mut draining = None;
    for _ in 0..50 {
        let (status, text) = raw(addr, &get("/readyz")).await.expect("still accepting");
        if status == 503 {
            draining = Some(text);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let draining = draining.expect("/readyz turned 503");
    assert!(draining.contains("\"draining\":true"), "{draining}");
    // ...and still serving.
    let (status, text) = raw(addr, &post(LISTING))
        .await
        .expect("served while draining");
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"edges\""), "{text}");
    // Each connection retires after its response while draining.
    assert!(
        text.to_ascii_lowercase().contains("connection: close"),
        "{text}"
    );
    let (status, log) = exit_of(server, Duration::from_secs(25)).await;
    assert!(status.success(), "{log}");
    assert!(log.contains("\"drained\""), "{log}");
}

/// The serve loop hands each request its peer address (`ConnectInfo`): a trusted proxy's
/// `X-Forwarded-For` then names the client, and two clients behind it get two throttle buckets.
/// Without the peer address nothing is trusted and both would share one.
#[tokio::test(flavor = "multi_thread")]
async fn the_serve_loop_gives_requests_their_peer_address() {
    let app = TestApp::new().await;
    let (server, addr) = spawn_server(
        &app,
        5,
        &[
            ("TRUSTED_PROXIES", "127.0.0.1/32"),
            ("THROTTLE_PUBLIC_MAXIMUM", "60"),
            ("THROTTLE_PUBLIC_RESTORE_RATE", "1"),
        ],
    )
    .await;
    // Distinct searches: each one executes (no response-cache hit) and is charged.
    let from = |client: &str, i: usize| {
        let query = format!(
            r#"{{"query":"query($q: String) {{ products(first: 10, filter: {{ search: $q }}) {{ edges {{ node {{ title }} }} }} }}","variables":{{"q":"w{i}"}}}}"#
        );
        format!(
            "POST /graphql HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\n\
             x-forwarded-for: {client}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{query}",
            query.len()
        )
        .into_bytes()
    };
    // Client A spends its bucket.
    let mut throttled = false;
    for i in 0..50 {
        let (_, text) = raw(addr, &from("203.0.113.1", i)).await.expect("answer");
        if text.contains("THROTTLED") {
            throttled = true;
            break;
        }
    }
    assert!(throttled, "client A was never throttled");
    // Client B, behind the same proxy, still has its own.
    let (status, text) = raw(addr, &from("203.0.113.2", 99)).await.expect("answer");
    assert_eq!(status, 200, "{text}");
    assert!(
        !text.contains("THROTTLED"),
        "client B shares A's bucket: {text}"
    );
    assert!(text.contains("\"products\""), "{text}");
    sigterm(&server);
    let (status, log) = exit_of(server, Duration::from_secs(15)).await;
    assert!(status.success(), "{log}");
}
