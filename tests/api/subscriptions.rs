//! Live admin: graphql-transport-ws over a real socket, admin-only, events fanned out across two
//! instances through Redis, the in-process bus, and a Redis restart mid-subscription.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use techpotli::auth::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::{
    CacheMode, OwnRedis, TestApp, customer_token, gid, signed_token, staff_token,
};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A client speaking graphql-transport-ws exactly as the `graphql-ws` library does.
pub(crate) struct Client {
    socket: Socket,
}

impl Client {
    pub(crate) async fn connect(addr: SocketAddr) -> Self {
        let mut request = format!("ws://{addr}/graphql/ws")
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let (socket, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket handshake");
        assert_eq!(
            response.headers().get("sec-websocket-protocol").unwrap(),
            "graphql-transport-ws"
        );
        Self { socket }
    }

    pub(crate) async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }

    /// The next protocol message (pings answered), or the close code.
    pub(crate) async fn next(&mut self, within: Duration) -> Result<Value, u16> {
        loop {
            let message = tokio::time::timeout(within, self.socket.next())
                .await
                .map_err(|_| 0u16)?;
            match message {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(text.as_str()).unwrap();
                    if value["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return Ok(value);
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(frame.map_or(1005, |f| u16::from(f.code)));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Err(1006),
            }
        }
    }

    pub(crate) async fn init(addr: SocketAddr, payload: Value) -> Result<Self, u16> {
        let mut client = Self::connect(addr).await;
        client
            .send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        match client.next(Duration::from_secs(5)).await? {
            ack if ack["type"] == "connection_ack" => Ok(client),
            other => panic!("unexpected {other}"),
        }
    }

    pub(crate) async fn subscribe(&mut self, id: &str, query: &str) {
        self.send(json!({ "id": id, "type": "subscribe", "payload": { "query": query } }))
            .await;
    }

    /// The next `next` payload of subscription `id`, within one second.
    pub(crate) async fn event(&mut self, id: &str) -> Value {
        loop {
            let message = self
                .next(Duration::from_secs(1))
                .await
                .unwrap_or_else(|code| panic!("no event within 1 s (close {code})"));
            if message["id"] == id && message["type"] == "next" {
                return message["payload"].clone();
            }
        }
    }
}

async fn mutate(app: &TestApp, token: &str, query: &str) -> Value {
    let request = axum::http::Request::post("/graphql")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::from(
            json!({ "query": query }).to_string(),
        ))
        .unwrap();
    let body = app.send(request).await.json();
    assert!(body.get("errors").is_none(), "{body}");
    body
}

const BANNERS: &str = "subscription { bannerUpdated { bannerId ids action } }";
const PRODUCTS: &str = "subscription { productUpdated { productId action } }";

#[tokio::test(flavor = "multi_thread")]
async fn events_on_one_instance_reach_subscribers_on_another() {
    let a = TestApp::new().await;
    let token = staff_token(&a, Role::Owner).await;
    let (_b, b_addr) = a.sibling(&[]).await;
    let mut client = Client::init(
        b_addr,
        json!({ "Authorization": format!("Bearer {token}") }),
    )
    .await
    .unwrap();
    client.subscribe("b", BANNERS).await;
    client.subscribe("p", PRODUCTS).await;
    tokio::time::sleep(Duration::from_millis(200)).await; // subscriptions registered

    let created = mutate(
        &a,
        &token,
        r#"mutation { createHeroBanner(input: { title: "Live", imageUrl: "/x.png" }) { id } }"#,
    )
    .await;
    let id = created["data"]["createHeroBanner"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let event = client.event("b").await;
    assert_eq!(
        event["data"]["bannerUpdated"],
        json!({ "bannerId": id, "ids": [id], "action": "CREATED" })
    );

    mutate(
        &a,
        &token,
        &format!(
            r#"mutation {{ updateHeroBanner(id: "{id}", input: {{ title: "Live 2" }}) {{ id }} }}"#
        ),
    )
    .await;
    assert_eq!(
        client.event("b").await["data"]["bannerUpdated"]["action"],
        "UPDATED"
    );
    mutate(&a, &token, &format!(r#"mutation {{ updateHeroBanners(changes: [{{ id: "{id}", sortOrder: 3 }}, {{ id: "SGVyb0Jhbm5lcjox", sortOrder: 4 }}]) {{ id }} }}"#)).await;
    let batch = client.event("b").await;
    assert_eq!(batch["data"]["bannerUpdated"]["action"], "REORDERED");
    assert_eq!(
        batch["data"]["bannerUpdated"]["ids"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    mutate(
        &a,
        &token,
        &format!(r#"mutation {{ deleteHeroBanner(id: "{id}") }}"#),
    )
    .await;
    assert_eq!(
        client.event("b").await["data"]["bannerUpdated"]["action"],
        "DELETED"
    );

    mutate(&a, &token, r#"mutation { updateProduct(id: "UHJvZHVjdDox", input: { title: "Live product" }) { id } }"#).await;
    assert_eq!(
        client.event("p").await["data"]["productUpdated"],
        json!({ "productId": gid("AdminProduct", 1), "action": "UPDATED" })
    );
    mutate(
        &a,
        &token,
        r#"mutation { deleteProduct(id: "UHJvZHVjdDox") { id } }"#,
    )
    .await;
    assert_eq!(
        client.event("p").await["data"]["productUpdated"]["action"],
        "DELETED"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_staff_may_connect() {
    let app = TestApp::new().await;
    let addr = app.serve().await;
    let (_, customer) = customer_token(&app, "watcher@techpotli.test").await;
    let expired = signed_token(&app, "admin:1", "owner", -900, -600);
    for (payload, code) in [
        (json!({}), 4401),
        (json!({ "Authorization": "Bearer not-a-token" }), 4401),
        (json!({ "authToken": expired }), 4401),
        (json!({ "token": customer }), 4403),
    ] {
        assert_eq!(
            Client::init(addr, payload.clone()).await.err(),
            Some(code),
            "{payload}"
        );
    }
    // A subscribe before connection_init is refused too.
    let mut early = Client::connect(addr).await;
    early.subscribe("1", BANNERS).await;
    assert_eq!(early.next(Duration::from_secs(2)).await.err(), Some(4401));
    // A content editor may watch banners but not products.
    let editor = staff_token(&app, Role::Content).await;
    let mut client = Client::init(addr, json!({ "authToken": editor }))
        .await
        .unwrap();
    client.subscribe("p", PRODUCTS).await;
    // The guard's refusal arrives as the operation's (only) result, then `complete`.
    let refused = client.next(Duration::from_secs(2)).await.unwrap();
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
    assert_eq!(refused["payload"]["data"], Value::Null);
    assert_eq!(
        client.next(Duration::from_secs(2)).await.unwrap()["type"],
        "complete"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_in_process_bus_delivers_on_a_single_instance() {
    let app = TestApp::with_cache(CacheMode::Memory).await;
    let token = staff_token(&app, Role::Owner).await;
    let addr = app.serve().await;
    let mut client = Client::init(addr, json!({ "Authorization": format!("Bearer {token}") }))
        .await
        .unwrap();
    client.subscribe("b", BANNERS).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    mutate(
        &app,
        &token,
        r#"mutation { setHeroBannerActive(id: "SGVyb0Jhbm5lcjox", active: false) { id } }"#,
    )
    .await;
    assert_eq!(
        client.event("b").await["data"]["bannerUpdated"]["bannerId"],
        gid("AdminHeroBanner", 1)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn subscriptions_survive_a_redis_restart() {
    let own = OwnRedis::start(7_500).await;
    let redis = own.url();
    let a = TestApp::with_settings(CacheMode::Memory, &[("REDIS_URL", &redis)]).await;
    let token = staff_token(&a, Role::Content).await;
    let (_b, b_addr) = a.sibling(&[]).await;
    let mut client = Client::init(
        b_addr,
        json!({ "Authorization": format!("Bearer {token}") }),
    )
    .await
    .unwrap();
    client.subscribe("b", BANNERS).await;
    // B's relay joins the Redis channel in the background: write until B hears of it (a loaded
    // CI box may take longer than any fixed pause).
    let mut heard = false;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        mutate(
            &a,
            &token,
            r#"mutation { setHeroBannerActive(id: "SGVyb0Jhbm5lcjox", active: false) { id } }"#,
        )
        .await;
        if let Ok(message) = client.next(Duration::from_millis(500)).await
            && message["type"] == "next"
        {
            assert_eq!(
                message["payload"]["data"]["bannerUpdated"]["action"],
                "UPDATED"
            );
            heard = true;
            break;
        }
    }
    assert!(heard, "instance B never heard of a write made on A");

    own.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    own.up().await;
    // The relay reconnects with backoff (at most 2 s); then events flow again.
    let mut delivered = false;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        mutate(
            &a,
            &token,
            r#"mutation { setHeroBannerActive(id: "SGVyb0Jhbm5lcjox", active: true) { id } }"#,
        )
        .await;
        if let Ok(Ok(message)) = tokio::time::timeout(
            Duration::from_millis(500),
            client.next(Duration::from_millis(500)),
        )
        .await
            && message["type"] == "next"
        {
            delivered = true;
            break;
        }
    }
    assert!(delivered, "no event after the Redis restart");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_connection_is_closed_after_the_init_timeout() {
    let app = TestApp::new().await;
    let addr = app.serve().await;
    let mut silent = Client::connect(addr).await;
    // The server allows 10 s for `connection_init`.
    assert_eq!(silent.next(Duration::from_secs(15)).await.err(), Some(4408));
}
