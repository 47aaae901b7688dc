//! A TCP proxy on loopback that can cut the line to PostgreSQL and restore it: a real network fault
//! (connections reset, new ones refused) without stopping the shared server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A running proxy; stops with the test's runtime.
pub struct FaultProxy {
    /// Address clients connect to.
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
}

impl FaultProxy {
    /// Proxies a fresh loopback port to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let up = Arc::new(AtomicBool::new(true));
        let (cut, _) = watch::channel(0u64);
        let (up2, cut2) = (up.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    drop(client); // refuse while down
                    continue;
                }
                let mut cut_rx = cut2.subscribe();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (mut client, mut server) = (client, server);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut_rx.changed() => {} // dropping both ends resets the connection
                    }
                });
            }
        });
        Self { addr, up, cut }
    }

    /// Cuts every open connection and refuses new ones.
    pub fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// A TCP proxy to Redis that can delay, stall or cut what Redis sends on pub/sub connections
/// (those whose client sent `SUBSCRIBE`), leaving ordinary commands alone: the faults of an
/// invalidation channel, on a real Redis.
pub struct ChannelProxy {
    /// Address clients connect to.
    pub addr: SocketAddr,
    delay_ms: Arc<std::sync::atomic::AtomicU64>,
    stalled: watch::Sender<bool>,
    cut: watch::Sender<u64>,
}

impl ChannelProxy {
    /// Proxies a fresh loopback port to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let delay_ms = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (stalled, _) = watch::channel(false);
        let (cut, _) = watch::channel(0u64);
        let (delay, stall, cut2) = (delay_ms.clone(), stalled.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(target).await else {
                    continue;
                };
                tokio::spawn(relay(
                    client,
                    server,
                    delay.clone(),
                    stall.subscribe(),
                    cut2.subscribe(),
                ));
            }
        });
        Self {
            addr,
            delay_ms,
            stalled,
            cut,
        }
    }

    /// `redis://` URL of the proxy.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Delays every later chunk Redis sends to subscribers by `delay` (order kept).
    pub fn delay(&self, delay: std::time::Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Holds (`true`) or releases what Redis sends to subscribers; the connections stay open.
    pub fn stall(&self, on: bool) {
        self.stalled.send_replace(on);
    }

    /// Closes every pub/sub connection (what Redis does when a subscriber falls too far behind).
    pub fn cut(&self) {
        self.cut.send_modify(|n| *n += 1);
    }
}

async fn relay(
    client: TcpStream,
    server: TcpStream,
    delay_ms: Arc<std::sync::atomic::AtomicU64>,
    mut stalled: watch::Receiver<bool>,
    mut cut: watch::Receiver<u64>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let channel = Arc::new(AtomicBool::new(false));
    let (seen, reading, writing, cutting) = (
        channel.clone(),
        channel.clone(),
        channel.clone(),
        channel.clone(),
    );
    let upstream = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if buf[..n]
                .windows(9)
                .any(|w| w.eq_ignore_ascii_case(b"SUBSCRIBE"))
            {
                seen.store(true, Ordering::SeqCst);
            }
            if server_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    // Reads go on while delivery waits, so a delay is latency, not a throughput limit.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let reader = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let delay = if reading.load(Ordering::SeqCst) {
                delay_ms.load(Ordering::SeqCst)
            } else {
                0
            };
            let due = tokio::time::Instant::now() + std::time::Duration::from_millis(delay);
            if tx.send((due, buf[..n].to_vec())).is_err() {
                return;
            }
        }
    };
    let writer = async move {
        while let Some((due, bytes)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            while writing.load(Ordering::SeqCst) && *stalled.borrow_and_update() {
                if stalled.changed().await.is_err() {
                    return;
                }
            }
            if client_write.write_all(&bytes).await.is_err() {
                return;
            }
        }
    };
    let cut = async move {
        loop {
            if cut.changed().await.is_err() {
                return std::future::pending().await;
            }
            if cutting.load(Ordering::SeqCst) {
                return;
            }
        }
    };
    // Whichever ends first drops both sockets.
    tokio::select! {
        () = upstream => {}
        () = reader => {}
        () = writer => {}
        () = cut => {}
    }
}
