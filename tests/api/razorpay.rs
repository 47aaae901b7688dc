//! Razorpay against a fake Razorpay API on loopback (the endpoints we call, answering like the real
//! API, with a switch to make it fail): the browser flow with Checkout's signature, webhook-only
//! completion, the two racing, replayed and out-of-order webhooks, tampering, an API outage, a paid
//! amount that does not match, and a refund on cancel.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use techpotli::auth::Role;
use techpotli::payments::razorpay::sign;

use crate::checkout::{ORDER, count, gql, prepared_cart, shipping, stocked};
use crate::support::{CacheMode, TestApp, code, staff_token};

const KEY_ID: &str = "rzp_test_techpotli";
const KEY_SECRET: &str = "razorpay-key-secret";
const HOOK_SECRET: &str = "razorpay-webhook-secret";

/// The fake API's memory.
#[derive(Default)]
struct Fake {
    down: AtomicBool,
    /// Answer order creation only after two seconds.
    slow: AtomicBool,
    /// Make refunds, but answer only after two seconds (the answer is lost to a timeout).
    slow_refunds: AtomicBool,
    /// Payment ids captured by the server.
    captures: Mutex<Vec<String>>,
    orders: AtomicUsize,
    /// `(payment id, amount)` of every refund asked for.
    refunds: Mutex<Vec<(String, i64)>>,
}

fn authorized(headers: &HeaderMap) -> bool {
    use base64::Engine;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{KEY_ID}:{KEY_SECRET}"))
    );
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str())
}

async fn create_order(
    State(fake): State<Arc<Fake>>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    if fake.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "{}".into());
    }
    if fake.slow.load(Ordering::SeqCst) {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
    if !authorized(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            json!({ "error": { "code": "BAD_REQUEST_ERROR" } }).to_string(),
        );
    }
    let req: Value = serde_json::from_str(&body).unwrap();
    let n = fake.orders.fetch_add(1, Ordering::SeqCst) + 1;
    let order = json!({
        "id": format!("order_T{n:012}"), "entity": "order", "amount": req["amount"], "amount_paid": 0,
        "currency": req["currency"], "receipt": req["receipt"], "status": "created", "notes": req["notes"],
    });
    (StatusCode::OK, order.to_string())
}

async fn refund(
    State(fake): State<Arc<Fake>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    if fake.down.load(Ordering::SeqCst) || !authorized(&headers) {
        return (StatusCode::SERVICE_UNAVAILABLE, "{}".into());
    }
    let amount = serde_json::from_str::<Value>(&body).unwrap()["amount"]
        .as_i64()
        .unwrap();
    let n = {
        let mut refunds = fake.refunds.lock().unwrap();
        refunds.push((id.clone(), amount));
        refunds.len()
    };
    if fake.slow_refunds.load(Ordering::SeqCst) {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
    // Like the real API for most methods: accepted now, `refund.processed` later.
    let refund = json!({ "id": format!("rfnd_T{n}"), "entity": "refund", "amount": amount, "payment_id": id, "status": "pending" });
    (StatusCode::OK, refund.to_string())
}

async fn capture(
    State(fake): State<Arc<Fake>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> (StatusCode, String) {
    if fake.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "{}".into());
    }
    if !authorized(&headers) {
        return (StatusCode::UNAUTHORIZED, "{}".into());
    }
    let mut captures = fake.captures.lock().unwrap();
    // Like Razorpay: a payment is captured once; a second capture is a 400.
    if captures.contains(&id) {
        return (StatusCode::BAD_REQUEST, json!({ "error": { "code": "BAD_REQUEST_ERROR", "description": "This payment has already been captured" } }).to_string());
    }
    captures.push(id.clone());
    (
        StatusCode::OK,
        json!({ "id": id, "entity": "payment", "status": "captured" }).to_string(),
    )
}

async fn fetch_payment(
    State(fake): State<Arc<Fake>>,
    Path(id): Path<String>,
) -> (StatusCode, String) {
    let captured = fake.captures.lock().unwrap().contains(&id);
    let status = if captured { "captured" } else { "authorized" };
    (
        StatusCode::OK,
        json!({ "id": id, "entity": "payment", "status": status }).to_string(),
    )
}

/// An app configured for Razorpay (manual payment off), its fake API, a stocked variant and a
/// shipping option.
async fn setup() -> (TestApp, Arc<Fake>, String, String) {
    setup_with(&[]).await
}

/// As [`setup`], with more settings.
async fn setup_with(extra: &[(&str, &str)]) -> (TestApp, Arc<Fake>, String, String) {
    let fake = Arc::new(Fake::default());
    let api = Router::new()
        .route("/v1/orders", post(create_order))
        .route("/v1/payments/{id}/refund", post(refund))
        .route("/v1/payments/{id}/capture", post(capture))
        .route("/v1/payments/{id}", axum::routing::get(fetch_payment))
        .with_state(fake.clone());
    let addr = crate::support::serve(api).await;
    let url = format!("http://{addr}");
    let app = TestApp::with_settings(
        CacheMode::Memory,
        &[
            ("RAZORPAY_KEY_ID", KEY_ID),
            ("RAZORPAY_KEY_SECRET", KEY_SECRET),
            ("RAZORPAY_WEBHOOK_SECRET", HOOK_SECRET),
            ("RAZORPAY_API_URL", &url),
            ("PAYMENTS_MANUAL", "false"),
            ("RAZORPAY_API_TIMEOUT_MS", "500"),
        ]
        .into_iter()
        .chain(extra.iter().copied())
        .collect::<Vec<_>>(),
    )
    .await;
    let (_, variant) = stocked(&app, "rz-kurta", 10, Some(149_900)).await;
    let option = shipping(&app, 1, 10_000).await;
    (app, fake, variant, option)
}

async fn initiate(app: &TestApp, cart: &str) -> Value {
    gql(app, None, "mutation($c: ID!) { initiatePayment(cartId: $c) { keyId razorpayOrderId amount { amount currencyCode } } }", json!({ "c": cart })).await
}

/// The Razorpay order id `initiatePayment` gives for a cart.
async fn razorpay_order(app: &TestApp, cart: &str) -> String {
    initiate(app, cart).await["data"]["initiatePayment"]["razorpayOrderId"]
        .as_str()
        .unwrap_or_else(|| panic!("no Razorpay order for {cart}"))
        .to_owned()
}

async fn verify(app: &TestApp, cart: &str, order: &str, payment: &str, signature: &str) -> Value {
    gql(
        app,
        None,
        &format!("mutation($c: ID!, $o: String!, $p: String!, $s: String!) {{ verifyRazorpayPayment(cartId: $c, razorpayOrderId: $o, razorpayPaymentId: $p, razorpaySignature: $s) {{ {ORDER} }} }}"),
        json!({ "c": cart, "o": order, "p": payment, "s": signature }),
    )
    .await
}

/// A Razorpay webhook as Razorpay sends it (signed unless `signature` is given).
async fn webhook(
    app: &TestApp,
    event_id: &str,
    body: &Value,
    signature: Option<&str>,
) -> StatusCode {
    let text = body.to_string();
    let signature = signature.map_or_else(|| sign(HOOK_SECRET, text.as_bytes()), str::to_owned);
    let request = Request::post("/webhooks/razorpay")
        .header("content-type", "application/json")
        .header("x-razorpay-signature", signature)
        .header("x-razorpay-event-id", event_id)
        .body(Body::from(text))
        .unwrap();
    app.send(request).await.status
}

fn captured(event: &str, order: &str, payment: &str, amount: i64) -> Value {
    json!({
        "entity": "event", "account_id": "acc_T", "event": event, "contains": ["payment"],
        "payload": { "payment": { "entity": {
            "id": payment, "entity": "payment", "amount": amount, "currency": "INR",
            "status": if event == "payment.failed" { "failed" } else { "captured" }, "order_id": order,
        } } },
        "created_at": 1_764_000_000,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_browser_flow_with_checkouts_signature_makes_one_paid_order() {
    let (app, fake, variant, option) = setup().await;
    let cart = prepared_cart(&app, None, &variant, 2, &option).await;
    let started = initiate(&app, &cart).await;
    let session = &started["data"]["initiatePayment"];
    assert_eq!(session["keyId"], KEY_ID, "{started}");
    // 2 × 1,499.00 + 100.00 shipping, + 18 %.
    assert_eq!(
        session["amount"],
        json!({ "amount": 365_564, "currencyCode": "INR" })
    );
    let order_id = session["razorpayOrderId"].as_str().unwrap().to_owned();
    let again = initiate(&app, &cart).await;
    assert_eq!(
        again["data"]["initiatePayment"]["razorpayOrderId"],
        order_id.as_str(),
        "unchanged cart: same session"
    );
    assert_eq!(fake.orders.load(Ordering::SeqCst), 1);

    // A forged or missing signature records nothing.
    for bad in [
        sign(KEY_SECRET, b"order_X|pay_T1"),
        "00".repeat(32),
        String::new(),
    ] {
        let refused = verify(&app, &cart, &order_id, "pay_T1", &bad).await;
        assert_eq!(code(&refused), "BAD_USER_INPUT", "{refused}");
    }
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS id FROM payments WHERE status = 'pending'"
        )
        .await,
        1
    );
    assert_eq!(count(&app, "SELECT count(*) AS id FROM orders").await, 0);

    let signature = sign(KEY_SECRET, format!("{order_id}|pay_T1").as_bytes());
    let paid = verify(&app, &cart, &order_id, "pay_T1", &signature).await;
    let order = &paid["data"]["verifyRazorpayPayment"];
    assert_eq!(order["status"], "PAID", "{paid}");
    assert_eq!(order["paymentStatus"], "CAPTURED");
    assert_eq!(order["totals"]["total"]["amount"], 365_564);
    let retried = verify(&app, &cart, &order_id, "pay_T1", &signature).await;
    assert_eq!(
        retried["data"]["verifyRazorpayPayment"]["id"], order["id"],
        "a retry returns the order"
    );
    // The webhook arrives afterwards, twice: 2xx both times, no second order or effect.
    let event = captured("payment.captured", &order_id, "pay_T1", 365_564);
    assert_eq!(webhook(&app, "evt_T1", &event, None).await, StatusCode::OK);
    assert_eq!(webhook(&app, "evt_T1", &event, None).await, StatusCode::OK);
    app.run_jobs().await;
    assert_eq!(count(&app, "SELECT count(*) AS id FROM orders").await, 1);
    assert_eq!(
        count(&app, "SELECT count(*) AS id FROM webhook_events").await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS id FROM jobs WHERE kind = 'razorpay_webhook'"
        )
        .await,
        1
    );
    // A late `payment.authorized` (out of order) changes nothing.
    assert_eq!(
        webhook(
            &app,
            "evt_T0",
            &captured("payment.authorized", &order_id, "pay_T1", 365_564),
            None
        )
        .await,
        StatusCode::OK
    );
    app.run_jobs().await;
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS id FROM payments WHERE status = 'captured'"
        )
        .await,
        1
    );

    // Canceling refunds the whole capture through Razorpay.
    let staff = staff_token(&app, Role::Orders).await;
    let canceled = gql(
        &app,
        Some(&staff),
        "mutation($id: ID!) { cancelOrder(id: $id) { status paymentStatus } }",
        json!({ "id": order["id"] }),
    )
    .await;
    assert_eq!(
        canceled["data"]["cancelOrder"],
        json!({ "status": "CANCELED", "paymentStatus": "REFUNDED" }),
        "{canceled}"
    );
    assert_eq!(
        *fake.refunds.lock().unwrap(),
        vec![("pay_T1".to_owned(), 365_564)]
    );
    let refunds = gql(&app, Some(&staff), "query($id: ID!) { adminOrder(id: $id) { refunds { amount { amount } status providerRefundId } } }", json!({ "id": order["id"] })).await;
    assert_eq!(
        refunds["data"]["adminOrder"]["refunds"],
        json!([{ "amount": { "amount": 365_564 }, "status": "PENDING", "providerRefundId": "rfnd_T1" }]),
        "{refunds}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_alone_completes_the_order_and_tampering_is_refused() {
    let (app, _fake, variant, option) = setup().await;
    let cart = prepared_cart(&app, None, &variant, 1, &option).await;
    let order_id = razorpay_order(&app, &cart).await;
    let event = captured("order.paid", &order_id, "pay_T2", 188_682);
    // Signed with the wrong secret, or a body changed after signing: 400, nothing stored.
    assert_eq!(
        webhook(
            &app,
            "evt_X",
            &event,
            Some(&sign("wrong", event.to_string().as_bytes()))
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    let mut tampered = event.clone();
    tampered["payload"]["payment"]["entity"]["amount"] = json!(1);
    let genuine = sign(HOOK_SECRET, event.to_string().as_bytes());
    assert_eq!(
        webhook(&app, "evt_X", &tampered, Some(&genuine)).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        count(&app, "SELECT count(*) AS id FROM webhook_events").await,
        0
    );

    // The browser never comes back: the webhook places the order.
    assert_eq!(webhook(&app, "evt_T2", &event, None).await, StatusCode::OK);
    assert_eq!(
        count(&app, "SELECT count(*) AS id FROM orders").await,
        0,
        "processed as a job, after the answer"
    );
    app.run_jobs().await;
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS id FROM orders WHERE status = 'paid'"
        )
        .await,
        1
    );
    let completed = gql(
        &app,
        None,
        "query($c: ID!) { cart(id: $c) { completed } }",
        json!({ "c": cart }),
    )
    .await;
    assert_eq!(completed["data"]["cart"]["completed"], true);
    // Unknown events are recorded and ignored.
    let other = json!({ "event": "invoice.paid", "payload": {} });
    assert_eq!(webhook(&app, "evt_T3", &other, None).await, StatusCode::OK);
    app.run_jobs().await;
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS id FROM webhook_events WHERE processed_at IS NOT NULL"
        )
        .await,
        2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_browser_and_the_webhook_racing_make_one_order() {
    let (app, _fake, variant, option) = setup().await;
    let app = Arc::new(app);
    for round in 0..3 {
        let cart = prepared_cart(&app, None, &variant, 1, &option).await;
        let order_id = razorpay_order(&app, &cart).await;
        let payment = format!("pay_R{round}");
        let signature = sign(KEY_SECRET, format!("{order_id}|{payment}").as_bytes());
        let event = captured("payment.captured", &order_id, &payment, 188_682);
        let browser = {
            let (app, cart, order_id, payment) =
                (app.clone(), cart.clone(), order_id.clone(), payment.clone());
            tokio::spawn(async move { verify(&app, &cart, &order_id, &payment, &signature).await })
        };
        assert_eq!(
            webhook(&app, &format!("evt_R{round}"), &event, None).await,
            StatusCode::OK
        );
        app.run_jobs().await;
        let body = browser.await.unwrap();
        assert_eq!(
            body["data"]["verifyRazorpayPayment"]["status"], "PAID",
            "{body}"
        );
    }
    assert_eq!(
        count(&app, "SELECT count(*) AS id FROM orders").await,
        3,
        "one order per cart"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outage_or_a_wrong_amount_places_no_order() {
    let (app, fake, variant, option) = setup().await;
    let cart = prepared_cart(&app, None, &variant, 1, &option).await;
    fake.down.store(true, Ordering::SeqCst);
    let down = initiate(&app, &cart).await;
    assert_eq!(code(&down), "SERVICE_UNAVAILABLE", "{down}");
    assert_eq!(
        count(&app, "SELECT count(*) AS id FROM payments").await,
        0,
        "nothing half-done"
    );
    fake.down.store(false, Ordering::SeqCst);
    let order_id = razorpay_order(&app, &cart).await;

    // Razorpay reports a capture of another amount: flagged for review, no order.
    assert_eq!(
        webhook(
            &app,
            "evt_W",
            &captured("payment.captured", &order_id, "pay_W", 100),
            None
        )
        .await,
        StatusCode::OK
    );
    app.run_jobs().await;
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS id FROM payments WHERE status = 'review'"
        )
        .await,
        1
    );
    assert_eq!(count(&app, "SELECT count(*) AS id FROM orders").await, 0);

    // A failed payment leaves the cart usable: a new session, then a paid order.
    let cart = prepared_cart(&app, None, &variant, 1, &option).await;
    let first = razorpay_order(&app, &cart).await;
    assert_eq!(
        webhook(
            &app,
            "evt_F",
            &captured("payment.failed", &first, "pay_F", 188_682),
            None
        )
        .await,
        StatusCode::OK
    );
    app.run_jobs().await;
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS id FROM payments WHERE status = 'failed'"
        )
        .await,
        1
    );
    let second = razorpay_order(&app, &cart).await;
    assert_ne!(first, second, "a new Razorpay order after a failure");
    let signature = sign(KEY_SECRET, format!("{second}|pay_G").as_bytes());
    let paid = gql(
        &app,
        None,
        "mutation($c: ID!, $o: String!, $p: String!, $s: String!) { verifyRazorpayPayment(cartId: $c, razorpayOrderId: $o, razorpayPaymentId: $p, razorpaySignature: $s) { status paymentAttempts { status providerId } } }",
        json!({ "c": cart, "o": second, "p": "pay_G", "s": signature }),
    )
    .await;
    let order = &paid["data"]["verifyRazorpayPayment"];
    assert_eq!(order["status"], "PAID", "{paid}");
    // The staff see every attempt, newest first.
    assert_eq!(
        order["paymentAttempts"],
        json!([{ "status": "CAPTURED", "providerId": second }, { "status": "FAILED", "providerId": first }])
    );
}

fn refund_processed(refund: &str, payment: &str, amount: i64) -> Value {
    json!({
        "entity": "event", "event": "refund.processed", "contains": ["refund", "payment"],
        "payload": { "refund": { "entity": {
            "id": refund, "entity": "refund", "amount": amount, "currency": "INR", "payment_id": payment, "status": "processed",
        } } },
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn partial_and_full_refunds_never_exceed_the_capture() {
    let (app, fake, variant, option) = setup().await;
    let cart = prepared_cart(&app, None, &variant, 2, &option).await;
    let order_id = razorpay_order(&app, &cart).await;
    let signature = sign(KEY_SECRET, format!("{order_id}|pay_P").as_bytes());
    let order =
        verify(&app, &cart, &order_id, "pay_P", &signature).await["data"]["verifyRazorpayPayment"]
            ["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let staff = staff_token(&app, Role::Orders).await;
    let refund = "mutation($id: ID!, $a: MinorUnits!) { refundOrder(id: $id, amount: $a) { paymentStatus refunds { amount { amount } status providerRefundId } payment { status providerId providerPaymentId } } }";

    let first = gql(
        &app,
        Some(&staff),
        refund,
        json!({ "id": order, "a": 100_000 }),
    )
    .await;
    let body = &first["data"]["refundOrder"];
    assert_eq!(
        body["paymentStatus"], "CAPTURED",
        "pending until Razorpay confirms: {first}"
    );
    assert_eq!(
        body["refunds"],
        json!([{ "amount": { "amount": 100_000 }, "status": "PENDING", "providerRefundId": "rfnd_T1" }])
    );
    assert_eq!(
        body["payment"],
        json!({ "status": "CAPTURED", "providerId": order_id, "providerPaymentId": "pay_P" })
    );
    // More than is left (365,564 − 100,000 pending) is refused and asks Razorpay nothing.
    let too_much = gql(
        &app,
        Some(&staff),
        refund,
        json!({ "id": order, "a": 265_565 }),
    )
    .await;
    assert_eq!(code(&too_much), "BAD_USER_INPUT", "{too_much}");
    for bad in [0, -5] {
        assert_eq!(
            code(&gql(&app, Some(&staff), refund, json!({ "id": order, "a": bad })).await),
            "BAD_USER_INPUT"
        );
    }
    assert_eq!(fake.refunds.lock().unwrap().len(), 1);

    assert_eq!(
        webhook(
            &app,
            "evt_RF1",
            &refund_processed("rfnd_T1", "pay_P", 100_000),
            None
        )
        .await,
        StatusCode::OK
    );
    app.run_jobs().await;
    let desk = "query($id: ID!) { adminOrder(id: $id) { paymentStatus refunds { status } } }";
    let partly = gql(&app, Some(&staff), desk, json!({ "id": order })).await;
    assert_eq!(
        partly["data"]["adminOrder"]["paymentStatus"], "PARTIALLY_REFUNDED",
        "{partly}"
    );

    let rest = gql(
        &app,
        Some(&staff),
        refund,
        json!({ "id": order, "a": 265_564 }),
    )
    .await;
    assert!(rest["data"]["refundOrder"].is_object(), "{rest}");
    assert_eq!(
        webhook(
            &app,
            "evt_RF2",
            &refund_processed("rfnd_T2", "pay_P", 265_564),
            None
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        webhook(
            &app,
            "evt_RF2",
            &refund_processed("rfnd_T2", "pay_P", 265_564),
            None
        )
        .await,
        StatusCode::OK
    );
    app.run_jobs().await;
    let all = gql(&app, Some(&staff), desk, json!({ "id": order })).await;
    assert_eq!(
        all["data"]["adminOrder"]["paymentStatus"], "REFUNDED",
        "{all}"
    );
    assert_eq!(
        all["data"]["adminOrder"]["refunds"],
        json!([{ "status": "PROCESSED" }, { "status": "PROCESSED" }])
    );
    let none_left = gql(&app, Some(&staff), refund, json!({ "id": order, "a": 1 })).await;
    assert_eq!(code(&none_left), "BAD_USER_INPUT");
    assert_eq!(
        *fake.refunds.lock().unwrap(),
        vec![("pay_P".to_owned(), 100_000), ("pay_P".to_owned(), 265_564)]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_api_times_out_and_nothing_is_recorded() {
    let (app, fake, variant, option) = setup().await;
    let cart = prepared_cart(&app, None, &variant, 1, &option).await;
    fake.slow.store(true, Ordering::SeqCst);
    let slow = initiate(&app, &cart).await;
    assert_eq!(code(&slow), "SERVICE_UNAVAILABLE", "{slow}");
    assert_eq!(count(&app, "SELECT count(*) AS id FROM payments").await, 0);
    fake.slow.store(false, Ordering::SeqCst);
    assert!(
        initiate(&app, &cart).await["data"]["initiatePayment"].is_object(),
        "retry works"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_auto_capture_the_server_captures_then_places_the_order() {
    let (app, fake, variant, option) = setup_with(&[("RAZORPAY_AUTO_CAPTURE", "false")]).await;
    // From the browser.
    let cart = prepared_cart(&app, None, &variant, 1, &option).await;
    let order_id = razorpay_order(&app, &cart).await;
    let signature = sign(KEY_SECRET, format!("{order_id}|pay_C1").as_bytes());
    let paid = verify(&app, &cart, &order_id, "pay_C1", &signature).await;
    assert_eq!(
        paid["data"]["verifyRazorpayPayment"]["status"], "PAID",
        "{paid}"
    );
    // From `payment.authorized` alone.
    let cart = prepared_cart(&app, None, &variant, 1, &option).await;
    let order_id = razorpay_order(&app, &cart).await;
    let authorized = captured("payment.authorized", &order_id, "pay_C2", 188_682);
    assert_eq!(
        webhook(&app, "evt_C2", &authorized, None).await,
        StatusCode::OK
    );
    app.run_jobs().await;
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS id FROM orders WHERE status = 'paid'"
        )
        .await,
        2
    );
    // The browser arriving after the webhook captured: Razorpay refuses a second capture, says the
    // payment is captured, and the customer gets the order.
    let signature = sign(KEY_SECRET, format!("{order_id}|pay_C2").as_bytes());
    let late = verify(&app, &cart, &order_id, "pay_C2", &signature).await;
    assert_eq!(
        late["data"]["verifyRazorpayPayment"]["status"], "PAID",
        "{late}"
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS id FROM orders WHERE status = 'paid'"
        )
        .await,
        2
    );
    assert_eq!(
        *fake.captures.lock().unwrap(),
        vec!["pay_C1".to_owned(), "pay_C2".to_owned()]
    );
    // Captured at Razorpay by the other path, not yet recorded here: our capture is refused, the
    // payment's status at Razorpay decides, and the order is placed once.
    let cart = prepared_cart(&app, None, &variant, 1, &option).await;
    let order_id = razorpay_order(&app, &cart).await;
    fake.captures.lock().unwrap().push("pay_C3".to_owned());
    let signature = sign(KEY_SECRET, format!("{order_id}|pay_C3").as_bytes());
    let raced = verify(&app, &cart, &order_id, "pay_C3", &signature).await;
    assert_eq!(
        raced["data"]["verifyRazorpayPayment"]["status"], "PAID",
        "{raced}"
    );
    // A payment Razorpay has not captured is not taken for paid.
    let cart = prepared_cart(&app, None, &variant, 1, &option).await;
    let order_id = razorpay_order(&app, &cart).await;
    let signature = sign(KEY_SECRET, format!("{order_id}|pay_C4").as_bytes());
    fake.down.store(true, Ordering::SeqCst);
    let down = verify(&app, &cart, &order_id, "pay_C4", &signature).await;
    assert_eq!(code(&down), "SERVICE_UNAVAILABLE", "{down}");
    fake.down.store(false, Ordering::SeqCst);
    assert_eq!(count(&app, "SELECT count(*) AS id FROM orders").await, 3);
}

fn refund_processed_for(refund: &str, payment: &str, amount: i64, ours: i64) -> Value {
    let mut event = refund_processed(refund, payment, amount);
    event["payload"]["refund"]["entity"]["notes"] = json!({ "refund_id": ours });
    event
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refund_whose_answer_is_lost_stays_pending_until_razorpay_confirms_it() {
    let (app, fake, variant, option) = setup().await;
    let cart = prepared_cart(&app, None, &variant, 1, &option).await;
    let order_id = razorpay_order(&app, &cart).await;
    let signature = sign(KEY_SECRET, format!("{order_id}|pay_L").as_bytes());
    let order =
        verify(&app, &cart, &order_id, "pay_L", &signature).await["data"]["verifyRazorpayPayment"]
            ["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let staff = staff_token(&app, Role::Orders).await;
    let refund = "mutation($id: ID!, $a: MinorUnits!) { refundOrder(id: $id, amount: $a) { paymentStatus } }";
    fake.slow_refunds.store(true, Ordering::SeqCst);
    let lost = gql(
        &app,
        Some(&staff),
        refund,
        json!({ "id": order, "a": 188_682 }),
    )
    .await;
    assert_eq!(code(&lost), "SERVICE_UNAVAILABLE", "{lost}");
    fake.slow_refunds.store(false, Ordering::SeqCst);
    // Razorpay made it; ours stays pending and blocks a second refund of the same money.
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS id FROM refunds WHERE status = 'pending'"
        )
        .await,
        1
    );
    let again = gql(
        &app,
        Some(&staff),
        refund,
        json!({ "id": order, "a": 188_682 }),
    )
    .await;
    assert_eq!(code(&again), "BAD_USER_INPUT", "{again}");
    assert_eq!(
        fake.refunds.lock().unwrap().len(),
        1,
        "Razorpay was asked once"
    );
    let ours = count(&app, "SELECT id FROM refunds").await;
    let event = refund_processed_for("rfnd_T1", "pay_L", 188_682, ours);
    assert_eq!(webhook(&app, "evt_L", &event, None).await, StatusCode::OK);
    app.run_jobs().await;
    let desk = gql(&app, Some(&staff), "query($id: ID!) { adminOrder(id: $id) { paymentStatus refunds { status providerRefundId } } }", json!({ "id": order })).await;
    assert_eq!(
        desk["data"]["adminOrder"]["paymentStatus"], "REFUNDED",
        "{desk}"
    );
    assert_eq!(
        desk["data"]["adminOrder"]["refunds"],
        json!([{ "status": "PROCESSED", "providerRefundId": "rfnd_T1" }])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn money_on_a_replaced_session_is_flagged_not_lost() {
    let (app, _fake, variant, option) = setup().await;
    let cart = prepared_cart(&app, None, &variant, 1, &option).await;
    let first = razorpay_order(&app, &cart).await;
    // The cart changes: a new session replaces the first.
    gql(&app, None, "mutation($c: ID!, $v: ID!) { addCartLineItem(cartId: $c, variantId: $v, quantity: 1) { id } }", json!({ "c": cart, "v": variant })).await;
    let second = razorpay_order(&app, &cart).await;
    assert_ne!(first, second);
    let signature = sign(KEY_SECRET, format!("{second}|pay_N").as_bytes());
    assert_eq!(
        verify(&app, &cart, &second, "pay_N", &signature).await["data"]["verifyRazorpayPayment"]["status"],
        "PAID"
    );
    // The shopper had also paid the first session in another tab.
    assert_eq!(
        webhook(
            &app,
            "evt_O",
            &captured("payment.captured", &first, "pay_O", 188_682),
            None
        )
        .await,
        StatusCode::OK
    );
    app.run_jobs().await;
    assert_eq!(count(&app, "SELECT count(*) AS id FROM orders").await, 1);
    assert_eq!(count(&app, "SELECT count(*) AS id FROM payments WHERE status = 'review' AND provider_payment_id = 'pay_O'").await, 1);
    // And the order's own payment stays captured.
    assert_eq!(count(&app, "SELECT count(*) AS id FROM payments WHERE status = 'captured' AND provider_payment_id = 'pay_N'").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_webhooks_are_refused_before_any_work() {
    let (app, _fake, _variant, _option) = setup().await;
    // A body over the 256 KiB bound is refused before its signature is even computed.
    let huge = "x".repeat(300 * 1024);
    let request = Request::post("/webhooks/razorpay")
        .header("content-type", "application/json")
        .header("x-razorpay-signature", sign(HOOK_SECRET, huge.as_bytes()))
        .header("x-razorpay-event-id", "evt_big")
        .body(Body::from(huge))
        .unwrap();
    assert_eq!(
        app.send(request).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // A signed event with an event id over 128 characters, or none, or no signature at all.
    let event = json!({ "event": "payment.captured", "payload": {} });
    assert_eq!(
        webhook(&app, &"e".repeat(129), &event, None).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        webhook(&app, "", &event, None).await,
        StatusCode::BAD_REQUEST
    );
    let unsigned = Request::post("/webhooks/razorpay")
        .header("x-razorpay-event-id", "evt_unsigned")
        .body(Body::from(event.to_string()))
        .unwrap();
    assert_eq!(app.send(unsigned).await.status, StatusCode::BAD_REQUEST);
    // A signed body that is not JSON.
    let request = Request::post("/webhooks/razorpay")
        .header("x-razorpay-signature", sign(HOOK_SECRET, b"not json"))
        .header("x-razorpay-event-id", "evt_text")
        .body(Body::from("not json"))
        .unwrap();
    assert_eq!(app.send(request).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        count(&app, "SELECT count(*) AS id FROM webhook_events").await,
        0
    );
    assert_eq!(count(&app, "SELECT count(*) AS id FROM jobs").await, 0);
}
