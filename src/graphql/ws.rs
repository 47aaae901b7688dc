//! `/graphql/ws`: admin subscriptions over WebSocket, speaking `graphql-transport-ws` (the
//! `graphql-ws` library, GraphiQL) and the legacy `graphql-ws` (subscriptions-transport-ws).
//!
//! The connection is admin-only and authenticated in `connection_init`: the payload carries
//! `{"Authorization": "Bearer …"}` (or `authToken` / `token`). No init within 10 s closes with
//! 4408; no, invalid or expired token with 4401; a valid non-staff token with 4403. The token's
//! expiry closes a long-lived connection (4401), and the server pings every 15 s.

use std::time::Duration;

use async_graphql::Data;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};

use crate::auth::Viewer;
use crate::graphql::context::RequestContext;
use crate::graphql::http::GraphqlState;

/// Time a client has to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Interval of server pings (keeps proxies and load balancers from dropping idle sockets).
const PING_EVERY: Duration = Duration::from_secs(15);

/// `GET /graphql/ws` (upgrade).
pub async fn graphql_ws(
    State(state): State<GraphqlState>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| serve(state, protocol, socket))
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

async fn serve(state: GraphqlState, protocol: GraphQLProtocol, mut socket: WebSocket) {
    // 1. The first message must be `connection_init`, in time.
    let first = match tokio::time::timeout(INIT_TIMEOUT, socket.next()).await {
        Err(_) => return close(socket, 4408, "Connection initialisation timeout").await,
        Ok(Some(Ok(Message::Text(text)))) => text,
        Ok(_) => return,
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
    let viewer = state.app.jwt.viewer_from_token(&token);
    let expires = match (&viewer, state.app.jwt.verify(&token)) {
        (Viewer::Admin { .. }, Ok(claims)) => claims.exp,
        (Viewer::Customer { .. }, _) => return close(socket, 4403, "Forbidden").await,
        _ => return close(socket, 4401, "Unauthorized").await,
    };
    let until_expiry =
        Duration::from_secs(u64::try_from(expires - chrono::Utc::now().timestamp()).unwrap_or(0));

    // 3. Hand the connection (with its init message) to async-graphql; a writer task adds pings
    //    and closes the socket when the token expires.
    let (mut sink, stream) = socket.split();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Message>(64);
    let writer = tokio::spawn(async move {
        let expiry = tokio::time::sleep(until_expiry);
        tokio::pin!(expiry);
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        loop {
            tokio::select! {
                message = rx.recv() => match message {
                    Some(message) => {
                        let closing = matches!(message, Message::Close(_));
                        if sink.send(message).await.is_err() || closing {
                            break;
                        }
                    }
                    None => break,
                },
                _ = ping.tick() => {
                    if sink.send(Message::Ping(Vec::new().into())).await.is_err() {
                        break;
                    }
                }
                () = &mut expiry => {
                    let frame = CloseFrame { code: 4401, reason: "token expired".into() };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    break;
                }
            }
        }
    });
    let input = futures_util::stream::once(async move { Ok(Message::Text(first)) }).chain(stream);
    let output = futures_util::sink::unfold(tx, |tx, message: Message| async move {
        tx.send(message)
            .await
            .map(|()| tx)
            .map_err(|_| axum::Error::new("socket closed"))
    });
    let mut data = Data::default();
    data.insert(RequestContext {
        viewer,
        client: String::new(),
    });
    GraphQLWebSocket::new_with_pair(output, input, state.schema.clone(), protocol)
        .on_connection_init(move |_| async move { Ok(data) })
        .serve()
        .await;
    // The output channel is gone with the connection: the writer flushes what is left and ends.
    let _ = writer.await;
}
