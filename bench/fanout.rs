//! Subscription fan-out (S7, run by `bench/run`, not by the tests): opens `--subscribers N` admin
//! WebSockets (graphql-transport-ws, `bannerUpdated`) spread evenly over the instances in
//! `--addrs a,b`, then makes `--mutations M` banner updates one after another on the first
//! instance and measures, for each, the time from the mutation's HTTP response to the *last*
//! subscriber receiving its event (on any instance). Prints one JSON line: lag percentiles,
//! deliveries missing (none may be), subscribers connected.
//!
//! The Python client this replaces measured itself: 1,000 sockets in one asyncio loop spent tens
//! of milliseconds decoding a fan-out. Here each socket is a task on a Tokio runtime.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark driver")]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

struct Args {
    addrs: Vec<SocketAddr>,
    token: String,
    subscribers: usize,
    mutations: usize,
}

fn args() -> Args {
    let mut a = Args {
        addrs: vec!["127.0.0.1:18181".parse().unwrap()],
        token: String::new(),
        subscribers: 1000,
        mutations: 30,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().expect("a value after each flag");
        match flag.as_str() {
            "--addrs" => {
                a.addrs = value
                    .split(',')
                    .map(|s| s.parse().expect("--addrs host:port,..."))
                    .collect();
            }
            "--token" => a.token = value,
            "--subscribers" => a.subscribers = value.parse().expect("--subscribers N"),
            "--mutations" => a.mutations = value.parse().expect("--mutations M"),
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

/// Per mutation: deliveries so far and the latest arrival (ns since `start`).
struct Tally {
    start: Instant,
    received: Vec<AtomicUsize>,
    last: Vec<AtomicU64>,
    ready: AtomicUsize,
    failed: AtomicUsize,
}

async fn subscriber(addr: SocketAddr, token: String, tally: Arc<Tally>) {
    let mut request = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let connected = async {
        let stream = TcpStream::connect(addr).await.ok()?;
        let (ws, _) = tokio_tungstenite::client_async(request, stream)
            .await
            .ok()?;
        Some(ws)
    };
    let Some(mut ws) = tokio::time::timeout(Duration::from_secs(60), connected)
        .await
        .ok()
        .flatten()
    else {
        tally.failed.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let init = serde_json::json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } });
    let subscribe = serde_json::json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { bannerUpdated { bannerId action } }" } });
    if ws.send(Message::text(init.to_string())).await.is_err() {
        tally.failed.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let mut seen = 0usize;
    while let Some(Ok(message)) = ws.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        match value["type"].as_str() {
            Some("connection_ack") => {
                if ws.send(Message::text(subscribe.to_string())).await.is_err() {
                    break;
                }
                tally.ready.fetch_add(1, Ordering::Relaxed);
            }
            Some("ping") => {
                let _ = ws.send(Message::text(r#"{"type":"pong"}"#)).await;
            }
            Some("next") => {
                let at = u64::try_from(tally.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
                if let (Some(received), Some(last)) =
                    (tally.received.get(seen), tally.last.get(seen))
                {
                    received.fetch_add(1, Ordering::Relaxed);
                    last.fetch_max(at, Ordering::Relaxed);
                }
                seen += 1;
            }
            _ => {}
        }
    }
}

/// One banner update over HTTP/1.1; returns when its whole response arrived.
async fn mutate(addr: SocketAddr, token: &str, i: usize) {
    let body = serde_json::json!({ "query": format!(r#"mutation {{ updateHeroBanner(id: "SGVyb0Jhbm5lcjoy", input: {{ subtitle: "fan-out {i}" }}) {{ id }} }}"#) }).to_string();
    let request = format!(
        "POST /graphql HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\nauthorization: Bearer {token}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    assert!(
        out.starts_with(b"HTTP/1.1 200"),
        "mutation failed: {}",
        String::from_utf8_lossy(&out)
    );
}

fn pick(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let a = args();
    let tally = Arc::new(Tally {
        start: Instant::now(),
        received: (0..a.mutations).map(|_| AtomicUsize::new(0)).collect(),
        last: (0..a.mutations).map(|_| AtomicU64::new(0)).collect(),
        ready: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
    });
    for i in 0..a.subscribers {
        let addr = a.addrs[i % a.addrs.len()];
        tokio::spawn(subscriber(addr, a.token.clone(), tally.clone()));
        if i % 200 == 199 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let until = Instant::now() + Duration::from_secs(120);
    while tally.ready.load(Ordering::Relaxed) + tally.failed.load(Ordering::Relaxed) < a.subscribers
        && Instant::now() < until
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ready = tally.ready.load(Ordering::Relaxed);
    // Let the last subscriptions register on the server.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut lags, mut missing) = (Vec::new(), 0usize);
    for m in 0..a.mutations {
        mutate(a.addrs[0], &a.token, m).await;
        let answered = u64::try_from(tally.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let deadline = Instant::now() + Duration::from_secs(5);
        while tally.received[m].load(Ordering::Relaxed) < ready && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        let got = tally.received[m].load(Ordering::Relaxed);
        missing += ready.saturating_sub(got);
        if got > 0 {
            let last = tally.last[m].load(Ordering::Relaxed);
            // Negative when every delivery beat the mutation's response: counted as 0.
            lags.push(last.saturating_sub(answered) as f64 / 1e6);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    lags.sort_by(f64::total_cmp);
    let json = serde_json::json!({
        "subscribers": a.subscribers,
        "instances": a.addrs.len(),
        "connected": ready,
        "failed": tally.failed.load(Ordering::Relaxed),
        "mutations": a.mutations,
        "missing": missing,
        "p50_ms": lags.first().map(|_| pick(&lags, 0.5)),
        "p99_ms": lags.first().map(|_| pick(&lags, 0.99)),
        "max_ms": lags.last(),
    });
    println!("{json}");
    std::process::exit(0);
}
