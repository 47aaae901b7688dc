//! `/graphql/ws`: admin subscriptions over WebSocket, speaking `graphql-transport-ws` (the
//! `graphql-ws` library, GraphiQL) and the legacy `graphql-ws` (subscriptions-transport-ws).
//!
//! The connection is admin-only and authenticated in `connection_init`: the payload carries
//! `{"Authorization": "Bearer …"}` (or `authToken` / `token`). No init within 10 s closes with
//! 4408; no, invalid or expired token with 4401; a valid non-staff token with 4403. The token's
//! expiry closes a long-lived connection (4401), and so does a change to the staff account
//! (deactivated, new role or password: 4401 once the token no longer matches it). The server
//! pings every 15 s; a draining server (SIGTERM) closes every socket with 1001. Queries and mutations sent over the socket run exactly as over HTTP (the
//! same schema extensions: limits, cost, loaders); frames are bounded in size and a connection
//! holds at most `WS_MAX_SUBSCRIPTIONS` active operations.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::Data;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};

use crate::auth::Viewer;
use crate::events::DomainEvent;
use crate::graphql::context::RequestContext;
use crate::graphql::http::GraphqlState;
use crate::http::client::ClientAddr;

/// Read buffer reserved per WebSocket.
const WS_READ_BUFFER: usize = 4 * 1024;
/// Time a client has to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Interval of server pings (keeps proxies and load balancers from dropping idle sockets).
const PING_EVERY: Duration = Duration::from_secs(15);

/// `GET /graphql/ws` (upgrade).
pub async fn graphql_ws(
    State(state): State<GraphqlState>,
    ClientAddr(client): ClientAddr,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    // A frame carries one operation: the same bound as an HTTP body.
    let max = state.app.config.limits.max_body_bytes;
    upgrade
        .max_message_size(max)
        .max_frame_size(max)
        // tungstenite reserves its whole read buffer per socket (128 KiB by default): 10,000
        // staff sockets held 1.2 GiB. GraphQL frames are small; a larger one grows the buffer.
        .read_buffer_size(WS_READ_BUFFER)
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        // Counted from here, not once upgraded: a drain that begins between the two still waits
        // for this socket (and closes it with 1001).
        .on_upgrade({
            let counted = state.app.shutdown.socket();
            move |socket| serve(state, protocol, socket, client, counted)
        })
}

/// The ids of the operations a connection has running.
type Active = Arc<Mutex<HashSet<String>>>;

fn lock(active: &Active) -> std::sync::MutexGuard<'_, HashSet<String>> {
    active
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Tracks operations the client starts and stops; `Err` with the refusal to send when a start
/// would exceed `max`.
fn admit(active: &Active, text: &str, max: usize) -> Result<(), String> {
    let Ok(message) = serde_json::from_str::<serde_json::Value>(text) else {
        return Ok(());
    };
    let id = message.get("id").and_then(|v| v.as_str()).unwrap_or("");
    match message.get("type").and_then(|t| t.as_str()) {
        Some("subscribe" | "start") => {
            let mut ids = lock(active);
            if ids.len() >= max && !ids.contains(id) {
                let refusal = serde_json::json!({
                    "id": id,
                    "type": "error",
                    "payload": [{
                        "message": format!("at most {max} operations may run on one connection"),
                        "extensions": { "code": "TOO_MANY_REQUESTS" }
                    }]
                });
                return Err(refusal.to_string());
            }
            ids.insert(id.to_owned());
        }
        Some("complete" | "stop") => {
            lock(active).remove(id);
        }
        _ => {}
    }
    Ok(())
}

/// Forgets operations the server ended.
fn observe(active: &Active, message: &Message) {
    if let Message::Text(text) = message
        && let Ok(message) = serde_json::from_str::<serde_json::Value>(text.as_str())
        && matches!(
            message.get("type").and_then(|t| t.as_str()),
            Some("complete" | "error")
        )
        && let Some(id) = message.get("id").and_then(|v| v.as_str())
    {
        lock(active).remove(id);
    }
}

async fn close(mut socket: WebSocket, code: u16, reason: &'static str) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}

/// The token in a `connection_init` payload.
fn token_of(payload: &serde_json::Value) -> Option<String> {
    ["Authorization", "authorization", "authToken", "token"]
        .iter()
        .find_map(|k| payload.get(*k).and_then(|v| v.as_str()))
        .map(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .unwrap_or(v)
                .trim()
                .to_owned()
        })
}

/// The close code of a server going away (RFC 6455 §7.4.1): clients reconnect elsewhere.
const GOING_AWAY: u16 = 1001;
const SHUTTING_DOWN: &str = "server shutting down";
/// How long a draining server waits for a client to answer its close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Counts one open socket while it lives (`techpotli_ws_connections`).
struct OpenSocket;

impl OpenSocket {
    fn new() -> Self {
        metrics::gauge!("techpotli_ws_connections").increment(1.0);
        Self
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        metrics::gauge!("techpotli_ws_connections").decrement(1.0);
    }
}

async fn serve(
    state: GraphqlState,
    protocol: GraphQLProtocol,
    mut socket: WebSocket,
    client: String,
    counted: crate::http::shutdown::OpenGuard,
) {
    let _open = OpenSocket::new();
    // Draining (SIGTERM) waits for this socket to close, and closes it (1001, "going away").
    let _counted = counted;
    let mut draining = Box::pin(state.app.shutdown.begun());
    // 1. The first message must be `connection_init`, in time.
    let first = tokio::select! {
        first = tokio::time::timeout(INIT_TIMEOUT, socket.next()) => match first {
            Err(_) => return close(socket, 4408, "Connection initialisation timeout").await,
            Ok(Some(Ok(Message::Text(text)))) => text,
            Ok(_) => return,
        },
        () = &mut draining => return close(socket, GOING_AWAY, SHUTTING_DOWN).await,
    };
    let init: serde_json::Value = serde_json::from_str(first.as_str()).unwrap_or_default();
    if init.get("type").and_then(|t| t.as_str()) != Some("connection_init") {
        return close(socket, 4401, "Unauthorized").await;
    }
    // 2. Only staff tokens open a connection.
    let payload = init.get("payload").cloned().unwrap_or_default();
    let Some(token) = token_of(&payload) else {
        return close(socket, 4401, "Unauthorized").await;
    };
    let app = state.app.clone();
    let Ok(claims) = app.jwt.verify(&token) else {
        return close(socket, 4401, "Unauthorized").await;
    };
    let viewer = app.sessions.viewer(&app.db, &claims).await;
    let (admin_id, expires) = match &viewer {
        Viewer::Admin { id, .. } => (*id, claims.exp),
        Viewer::Customer { .. } => return close(socket, 4403, "Forbidden").await,
        _ => return close(socket, 4401, "Unauthorized").await,
    };
    let until_expiry =
        Duration::from_secs(u64::try_from(expires - chrono::Utc::now().timestamp()).unwrap_or(0));

    // 3. Hand the connection (with its init message) to async-graphql; a writer task adds pings
    //    and closes the socket when the token expires.
    let (mut sink, stream) = socket.split();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Message>(64);
    let active: Active = Arc::default();
    let seen = active.clone();
    let mut account_changes = app.events.subscribe();
    let writer = tokio::spawn(async move {
        let expiry = tokio::time::sleep(until_expiry);
        tokio::pin!(expiry);
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        let mut recheck = tokio::time::interval(crate::auth::sessions::RECHECK_EVERY);
        recheck.tick().await;
        // Why the server closes the socket, when it does (sent once, after the loop).
        let close: Option<(u16, &'static str)> = loop {
            tokio::select! {
                message = rx.recv() => match message {
                    Some(message) => {
                        observe(&seen, &message);
                        let closing = matches!(message, Message::Close(_));
                        if sink.send(message).await.is_err() || closing {
                            break None;
                        }
                    }
                    None => break None,
                },
                _ = recheck.tick() => {
                    if !matches!(app.sessions.viewer(&app.db, &claims).await, Viewer::Admin { .. }) {
                        break Some((4401, "token revoked"));
                    }
                }
                event = account_changes.recv() => {
                    let changed = match event {
                        Ok(event) => matches!(*event, DomainEvent::StaffChanged { id } if id == admin_id),
                        // Missed events: check anyway rather than keep a revoked session.
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => true,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => false,
                    };
                    if changed {
                        app.sessions.forget(crate::auth::sessions::Principal::Staff(admin_id));
                        if !matches!(app.sessions.viewer(&app.db, &claims).await, Viewer::Admin { .. }) {
                            break Some((4401, "token revoked"));
                        }
                    }
                }
                _ = ping.tick() => {
                    if sink.send(Message::Ping(Vec::new().into())).await.is_err() {
                        break None;
                    }
                }
                () = &mut draining => {
                    break Some((GOING_AWAY, SHUTTING_DOWN));
                }
                () = &mut expiry => {
                    break Some((4401, "token expired"));
                }
            }
        };
        if let Some((code, reason)) = close {
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            let _ = sink.send(Message::Close(Some(frame))).await;
        }
    });
    let max_operations = state.app.config.ws_max_subscriptions;
    let refusals = tx.clone();
    let input = futures_util::stream::once(async move { Ok(Message::Text(first)) })
        .chain(stream)
        .filter_map(move |message| {
            let (active, refusals) = (active.clone(), refusals.clone());
            async move {
                if let Ok(Message::Text(text)) = &message
                    && let Err(refusal) = admit(&active, text.as_str(), max_operations)
                {
                    let _ = refusals.send(Message::Text(refusal.into())).await;
                    return None;
                }
                Some(message)
            }
        });
    let output = futures_util::sink::unfold(tx, |tx, message: Message| async move {
        tx.send(message)
            .await
            .map(|()| tx)
            .map_err(|_| axum::Error::new("socket closed"))
    });
    let mut data = Data::default();
    data.insert(RequestContext {
        viewer,
        client,
        sign_ins: Arc::default(),
    });
    let connection =
        GraphQLWebSocket::new_with_pair(output, input, state.schemas.full.clone(), protocol)
            .on_connection_init(move |_| async move { Ok(data) })
            .serve();
    // A draining server sent its close frame (the writer): a client that does not answer it in
    // time is cut off, so it cannot hold the process's exit.
    let cut_off = {
        let begun = state.app.shutdown.begun();
        async move {
            begun.await;
            tokio::time::sleep(CLOSE_GRACE).await;
        }
    };
    let mut writer = writer;
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        () = connection.as_mut() => {}
        () = cut_off => tracing::debug!("a WebSocket did not answer the close frame in time"),
        // The writer closed the socket (token revoked or expired): a client that ignores the
        // close frame is cut off after the same grace.
        _ = &mut writer => {
            if tokio::time::timeout(CLOSE_GRACE, connection).await.is_err() {
                tracing::debug!("a WebSocket did not answer the close frame in time");
            }
            return;
        }
    }
    // The output channel is gone with the connection: the writer flushes what is left and ends,
    // within the grace (a client that stopped reading cannot keep it, or the drain, waiting).
    if tokio::time::timeout(CLOSE_GRACE, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
}
