//! Many idle-ish keep-alive connections (S6, run by `bench/run`, not by the tests): opens
//! `--connections N` HTTP/1.1 connections to `--addr`, spread evenly over `--ramp S` seconds; each
//! sends `GET --path` at once (its first request) and then once every `--every S` seconds (the
//! connections' turns spread evenly) until `--duration S` after the ramp. Prints one JSON line:
//! the first requests' latencies (the ramp: a connection's first request includes its
//! handshake), the steady-state latencies (requests after the ramp), request and error counts.
//!
//! Latency here is from writing a request to having read its whole response; a connection that
//! fails is counted (and not reopened).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark driver")]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Args {
    addr: SocketAddr,
    path: String,
    connections: usize,
    ramp: f64,
    every: f64,
    duration: f64,
}

fn args() -> Args {
    let mut a = Args {
        addr: "127.0.0.1:18181".parse().unwrap(),
        path: "/healthz".into(),
        connections: 10_000,
        ramp: 20.0,
        every: 5.0,
        duration: 20.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().expect("a value after each flag");
        match flag.as_str() {
            "--addr" => a.addr = value.parse().expect("--addr host:port"),
            "--path" => a.path = value,
            "--connections" => a.connections = value.parse().expect("--connections N"),
            "--ramp" => a.ramp = value.parse().expect("--ramp S"),
            "--every" => a.every = value.parse().expect("--every S"),
            "--duration" => a.duration = value.parse().expect("--duration S"),
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

#[derive(Default)]
struct Tally {
    first: Vec<f64>,
    steady: Vec<f64>,
    errors: usize,
    connected: usize,
}

/// One request on the connection: write it, read the head and a `content-length` body.
async fn exchange(
    stream: &mut TcpStream,
    request: &[u8],
    buf: &mut Vec<u8>,
) -> std::io::Result<()> {
    stream.write_all(request).await?;
    buf.clear();
    let mut chunk = [0u8; 16 * 1024];
    let (head_end, length) = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::other("closed"));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            if !head.starts_with("http/1.1 200") {
                return Err(std::io::Error::other(
                    head.lines().next().unwrap_or("").to_owned(),
                ));
            }
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| std::io::Error::other("no content-length"))?;
            break (end + 4, length);
        }
    };
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::other("closed mid-body"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(())
}

fn percentiles(mut v: Vec<f64>) -> serde_json::Value {
    if v.is_empty() {
        return serde_json::json!(null);
    }
    v.sort_by(f64::total_cmp);
    let p = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)];
    serde_json::json!({
        "count": v.len(), "p50_ms": p(0.5), "p90_ms": p(0.9), "p99_ms": p(0.99),
        "max_ms": v[v.len() - 1],
    })
}

#[tokio::main]
async fn main() {
    let a = args();
    let request: Arc<[u8]> = format!(
        "GET {} HTTP/1.1\r\nhost: {}\r\naccept-encoding: identity\r\n\r\n",
        a.path, a.addr
    )
    .into_bytes()
    .into();
    let tally = Arc::new(Mutex::new(Tally::default()));
    let start = Instant::now();
    let ramp = Duration::from_secs_f64(a.ramp);
    let end = start + ramp + Duration::from_secs_f64(a.duration);
    let every = Duration::from_secs_f64(a.every);
    let mut tasks = Vec::with_capacity(a.connections);
    for i in 0..a.connections {
        let (request, tally) = (request.clone(), tally.clone());
        let addr = a.addr;
        let open_at = start + ramp.mul_f64(i as f64 / a.connections as f64);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(open_at.into()).await;
            let mut stream = match TcpStream::connect(addr).await {
                Ok(s) => s,
                Err(_) => {
                    tally.lock().unwrap().errors += 1;
                    return;
                }
            };
            tally.lock().unwrap().connected += 1;
            let mut buf = Vec::new();
            let mut next = Instant::now();
            let mut first = true;
            while next < end {
                tokio::time::sleep_until(next.into()).await;
                let sent = Instant::now();
                if exchange(&mut stream, &request, &mut buf).await.is_err() {
                    tally.lock().unwrap().errors += 1;
                    return;
                }
                let ms = sent.elapsed().as_secs_f64() * 1000.0;
                let mut t = tally.lock().unwrap();
                if first {
                    t.first.push(ms);
                } else if sent >= start + ramp {
                    t.steady.push(ms);
                }
                drop(t);
                first = false;
                next += every;
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let t = std::mem::take(&mut *tally.lock().unwrap());
    let steady_rps = t.steady.len() as f64 / a.duration;
    println!(
        "{}",
        serde_json::json!({
            "connections": a.connections, "connected": t.connected, "errors": t.errors,
            "ramp_s": a.ramp, "every_s": a.every, "steady_s": a.duration,
            "steady_rps": steady_rps,
            "first": percentiles(t.first), "steady": percentiles(t.steady),
        })
    );
}
