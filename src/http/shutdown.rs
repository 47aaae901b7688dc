//! Graceful shutdown. On SIGTERM (or Ctrl-C, or [`Shutdown::begin`]) the instance drains:
//! `/readyz` answers 503 so a load balancer stops sending it traffic, the listener closes, requests
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
    begun: watch::Sender<bool>,
    at: OnceLock<Instant>,
    sockets: watch::Sender<usize>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self(Arc::new(Inner {
            begun: watch::Sender::new(false),
            at: OnceLock::new(),
            sockets: watch::Sender::new(0),
        }))
    }
}

impl Shutdown {
    /// Starts draining (idempotent).
    pub fn begin(&self) {
        self.0.at.get_or_init(Instant::now);
        if !self.0.begun.send_replace(true) {
            tracing::info!("shutting down: draining requests and WebSockets");
        }
    }

    /// Whether the instance is draining.
    pub fn is_draining(&self) -> bool {
        *self.0.begun.borrow()
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
    pub fn socket(&self) -> SocketGuard {
        self.0.sockets.send_modify(|n| *n += 1);
        SocketGuard(self.0.clone())
    }

    /// Resolves when no WebSocket is open.
    pub async fn sockets_closed(&self) {
        let mut rx = self.0.sockets.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    /// When the drain must be over: `timeout` after it began (now, if it has not).
    pub fn deadline(&self, timeout: Duration) -> Instant {
        *self.0.at.get_or_init(Instant::now) + timeout
    }
}

/// See [`Shutdown::socket`].
pub struct SocketGuard(Arc<Inner>);

impl Drop for SocketGuard {
    fn drop(&mut self) {
        self.0.sockets.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Serves `router` on `listener` until SIGTERM, Ctrl-C or [`Shutdown::begin`], then drains as the
/// module says, within `timeout`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: Shutdown,
    timeout: Duration,
) -> std::io::Result<()> {
    let signal = {
        let shutdown = shutdown.clone();
        async move {
            tokio::select! {
                () = super::shutdown_signal() => {}
                () = shutdown.begun() => {}
            }
            shutdown.begin();
        }
    };
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(signal);
    let deadline = {
        let shutdown = shutdown.clone();
        async move {
            shutdown.begun().await;
            tokio::time::sleep_until(shutdown.deadline(timeout)).await;
        }
    };
    tokio::select! {
        result = std::future::IntoFuture::into_future(server) => result?,
        () = deadline => {
            tracing::warn!(?timeout, "drain timeout: exiting with requests still in flight");
            return Ok(());
        }
    }
    // Upgraded connections (WebSockets) are not the server's any more: they were told to close
    // when the drain began; wait for them to finish their closing handshake.
    if tokio::time::timeout_at(shutdown.deadline(timeout), shutdown.sockets_closed())
        .await
        .is_err()
    {
        tracing::warn!(
            ?timeout,
            "drain timeout: exiting with WebSockets still open"
        );
    }
    tracing::info!("drained");
    Ok(())
}
