//! Graceful shutdown. On SIGTERM (or Ctrl-C, or [`Shutdown::begin`]) the instance drains:
//! `/readyz` answers 503 at once, and for `SHUTDOWN_DELAY_SECS` (default 0) it still serves so a
//! load balancer polling it moves traffic away; then the listener closes, requests
//! in flight finish (idle keep-alive connections are closed, busy ones answer with
//! `Connection: close`), every WebSocket gets a close frame `1001 server shutting down` (clients
//! reconnect to another instance), the job worker finishes the jobs in hand, and the process exits
//! as soon as all that is done, or when the drain timeout (`SHUTDOWN_TIMEOUT_SECS`) runs out,
//! whichever comes first.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// The instance's shutdown state, shared by the server, `/readyz`, WebSockets and the worker.
#[derive(Clone)]
pub struct Shutdown(Arc<Inner>);

struct Inner {
    /// Set first on a signal: `/readyz` answers 503 (the instance still serves).
    draining: std::sync::atomic::AtomicBool,
    /// Then: the listener closes and everything open is told to finish.
    begun: watch::Sender<bool>,
    at: OnceLock<Instant>,
    sockets: watch::Sender<usize>,
    connections: watch::Sender<usize>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self(Arc::new(Inner {
            draining: std::sync::atomic::AtomicBool::new(false),
            begun: watch::Sender::new(false),
            at: OnceLock::new(),
            sockets: watch::Sender::new(0),
            connections: watch::Sender::new(0),
        }))
    }
}

impl Shutdown {
    /// Starts draining (idempotent).
    pub fn begin(&self) {
        self.0
            .draining
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.0.at.get_or_init(Instant::now);
        if !self.0.begun.send_replace(true) {
            tracing::info!("shutting down: draining requests and WebSockets");
        }
    }

    /// Whether the instance is draining (not ready).
    pub fn is_draining(&self) -> bool {
        self.0.draining.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Resolves once draining has begun.
    pub fn begun(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.0.begun.subscribe();
        async move {
            // The sender lives as long as any `Shutdown`, so this only ends by draining.
            let _ = rx.wait_for(|begun| *begun).await;
        }
    }

    /// Counts an open WebSocket until the guard drops (see [`Shutdown::sockets_closed`]).
    pub fn socket(&self) -> OpenGuard {
        OpenGuard::new(&self.0.sockets)
    }

    /// Resolves when no WebSocket is open.
    pub async fn sockets_closed(&self) {
        let mut rx = self.0.sockets.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    /// Counts an open HTTP connection until the guard drops.
    fn connection(&self) -> OpenGuard {
        OpenGuard::new(&self.0.connections)
    }

    /// Resolves when no HTTP connection is open.
    async fn connections_closed(&self) {
        let mut rx = self.0.connections.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    /// When the drain must be over: `timeout` after it began (now, if it has not).
    pub fn deadline(&self, timeout: Duration) -> Instant {
        *self.0.at.get_or_init(Instant::now) + timeout
    }
}

/// Whether `done` finished before `deadline`; if not, says what was left open.
async fn within(deadline: Instant, done: impl Future<Output = ()>, left: &str) -> bool {
    let finished = tokio::time::timeout_at(deadline, done).await.is_ok();
    if !finished {
        tracing::warn!("drain timeout: exiting with {left}");
    }
    finished
}

/// Counts one open WebSocket or connection while it lives (see [`Shutdown::socket`]).
pub struct OpenGuard(watch::Sender<usize>);

impl OpenGuard {
    fn new(count: &watch::Sender<usize>) -> Self {
        count.send_modify(|n| *n += 1);
        Self(count.clone())
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Serves `router` on `listener` until SIGTERM, Ctrl-C or [`Shutdown::begin`], then drains as the
/// module says: `delay` reporting not ready while still serving, then at most `timeout`.
///
/// Connections are served by hyper's HTTP/1 connection directly (not `axum::serve`, whose
/// protocol-sniffing first read of 24 bytes makes hyper double every connection's read buffer to
/// 16 KiB: 8 KiB more per idle keep-alive connection, measured with heaptrack in S6).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: Shutdown,
    delay: Duration,
    timeout: Duration,
) -> std::io::Result<()> {
    let signal = {
        let shutdown = shutdown.clone();
        async move {
            tokio::select! {
                () = super::shutdown_signal() => {
                    // Not ready first, still serving, so a load balancer moves traffic away
                    // before the listener closes.
                    shutdown.0.draining.store(true, std::sync::atomic::Ordering::Relaxed);
                    if !delay.is_zero() {
                        tracing::info!(?delay, "draining: not ready, still serving");
                        tokio::time::sleep(delay).await;
                    }
                }
                () = shutdown.begun() => {}
            }
            shutdown.begin();
        }
    };
    tokio::pin!(signal);
    let mut http = hyper::server::conn::http1::Builder::new();
    // A request head must arrive within 75 s of the connection being ready for it: bounds a
    // slowloris and closes keep-alive connections idle that long. Longer than the usual load
    // balancer idle timeouts (60 s), so a balancer never reuses a connection this side just closed.
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(75));
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // A connection that died before it was accepted: the next one.
                Err(error) if matches!(
                    error.kind(),
                    std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::ConnectionRefused
                        | std::io::ErrorKind::ConnectionReset
                ) => continue,
                Err(error) => {
                    // Out of file descriptors, say: wait a second rather than spin (as axum).
                    tracing::error!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            () = &mut signal => break,
        };
        let _ = stream.set_nodelay(true);
        let (router, draining) = (router.clone(), shutdown.clone());
        let service = hyper::service::service_fn(
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                let response = tower_service::Service::call(&mut router.clone(), request);
                let draining = draining.clone();
                async move {
                    let mut response = response.await?;
                    // While draining, each connection retires after its next response, so none
                    // is left idle for a balancer to reuse as the listener closes.
                    if draining.is_draining() {
                        response.headers_mut().insert(
                            axum::http::header::CONNECTION,
                            axum::http::HeaderValue::from_static("close"),
                        );
                    }
                    Ok::<_, std::convert::Infallible>(response)
                }
            },
        );
        let connection = http
            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
            .with_upgrades();
        let (guard, begun) = (shutdown.connection(), shutdown.begun());
        tokio::spawn(async move {
            let _open = guard;
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                    return;
                }
                () = begun => connection.as_mut().graceful_shutdown(),
            }
            // Finishes the request in flight (answered with `Connection: close`), if any.
            let _ = connection.await;
        });
    }
    // New connections are refused from here on.
    drop(listener);
    let deadline = shutdown.deadline(timeout);
    // Upgraded connections (WebSockets) are not hyper's any more: they were told to close when
    // the drain began; they finish their closing handshake meanwhile.
    let drained = within(
        deadline,
        shutdown.connections_closed(),
        "requests still in flight",
    )
    .await
        && within(deadline, shutdown.sockets_closed(), "WebSockets still open").await;
    if !drained {
        return Ok(());
    }
    tracing::info!("drained");
    Ok(())
}
