//! Carts, checkout and orders through the real router: the whole flow with a real mail and a live
//! staff subscriber, oversell and idempotency under concurrency, privacy of carts and orders,
//! restocking, totals, and every refusal.

use std::sync::Arc;
use std::time::Duration;

use diesel::sql_types::{BigInt, Int4, Text};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};
use techpotli::auth::Role;
use techpotli::graphql::ids::to_global;

use crate::subscriptions::Client;
use crate::support::mail::{address, inbox};
use crate::support::{TestApp, code, customer_token, staff_token};

const CART: &str = "id email completed lines { id quantity unitPrice { amount } subtotal { amount } inStock available } totals { subtotal { amount } shipping { amount } tax { amount } total { amount } taxRateBps } shippingMethod { name }";
pub const ORDER: &str = "id displayNumber status paymentStatus fulfillmentStatus email lines { quantity unitPrice { amount } } totals { subtotal { amount } shipping { amount } tax { amount } total { amount } } events { kind actor } trackingNumber";

#[derive(diesel::QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// A published product with one variant: `stock` units (tracked), priced in INR (and, with
/// `eur`, in EUR only). Returns `(product handle, variant global ID)`.
pub async fn stocked(
    app: &TestApp,
    handle: &str,
    stock: i32,
    inr: Option<i64>,
) -> (String, String) {
    let mut conn = app.db.conn().await;
    let product: Id = diesel::sql_query(
        "INSERT INTO products (handle, title, status) VALUES ($1, $1, 'published') RETURNING id",
    )
    .bind::<Text, _>(handle)
    .get_result(&mut conn)
    .await
    .unwrap();
    let variant: Id = diesel::sql_query(
        "INSERT INTO product_variants (product_id, title, inventory_quantity) VALUES ($1, 'Default', $2) RETURNING id",
    )
    .bind::<BigInt, _>(product.id)
    .bind::<Int4, _>(stock)
    .get_result(&mut conn)
    .await
    .unwrap();
    let (currency, amount) = match inr {
        Some(a) => ("INR", a),
        None => ("EUR", 1_000),
    };
    diesel::sql_query("INSERT INTO prices (variant_id, currency_code, amount) VALUES ($1, $2, $3)")
        .bind::<BigInt, _>(variant.id)
        .bind::<Text, _>(currency)
        .bind::<BigInt, _>(amount)
        .execute(&mut conn)
        .await
        .unwrap();
    (handle.to_owned(), to_global("ProductVariant", variant.id).0)
}

/// A shipping option in `region` (1 = India) costing `amount`.
pub async fn shipping(app: &TestApp, region: i64, amount: i64) -> String {
    let mut conn = app.db.conn().await;
    let id: Id = diesel::sql_query(
        "INSERT INTO shipping_options (region_id, name, amount) VALUES ($1, 'Standard', $2) RETURNING id",
    )
    .bind::<BigInt, _>(region)
    .bind::<BigInt, _>(amount)
    .get_result(&mut conn)
    .await
    .unwrap();
    to_global("ShippingOption", id.id).0
}

pub fn india() -> String {
    to_global("Region", 1).0
}

fn address_input() -> Value {
    json!({ "firstName": "Asha", "lastName": "Rao", "address1": "12 MG Road", "city": "Bengaluru", "postalCode": "560001", "countryCode": "IN" })
}

pub async fn gql(app: &TestApp, token: Option<&str>, query: &str, vars: Value) -> Value {
    app.post_as(token, query, vars).await
}

/// A cart with `quantity` of `variant`, an email, an address, shipping and an authorized payment.
async fn ready_cart(
    app: &TestApp,
    token: Option<&str>,
    variant: &str,
    quantity: i32,
    option: &str,
) -> String {
    let cart = prepared_cart(app, token, variant, quantity, option).await;
    let paid = gql(
        app,
        token,
        "mutation($c: ID!) { createPaymentSession(cartId: $c) { status provider } }",
        json!({ "c": cart }),
    )
    .await;
    assert_eq!(
        paid["data"]["createPaymentSession"]["status"], "AUTHORIZED",
        "{paid}"
    );
    cart
}

/// A cart ready for payment: `quantity` of `variant`, an email, an address and shipping.
pub async fn prepared_cart(
    app: &TestApp,
    token: Option<&str>,
    variant: &str,
    quantity: i32,
    option: &str,
) -> String {
    let email = address("buyer");
    let made = gql(
        app,
        token,
        &format!("mutation($r: ID!) {{ createCart(input: {{ regionId: $r }}) {{ {CART} }} }}"),
        json!({ "r": india() }),
    )
    .await;
    let cart = made["data"]["createCart"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{made}"))
        .to_owned();
    let added = gql(app, token, "mutation($c: ID!, $v: ID!, $q: Int!) { addCartLineItem(cartId: $c, variantId: $v, quantity: $q) { id } }", json!({ "c": cart, "v": variant, "q": quantity })).await;
    assert!(added["data"]["addCartLineItem"].is_object(), "{added}");
    let updated = gql(app, token, "mutation($c: ID!, $e: String!, $a: CustomerAddressInput!) { updateCart(cartId: $c, input: { email: $e, shippingAddress: $a }) { id } }", json!({ "c": cart, "e": email, "a": address_input() })).await;
    assert!(updated["data"]["updateCart"].is_object(), "{updated}");
    let shipped = gql(app, token, "mutation($c: ID!, $o: ID!) { setCartShippingMethod(cartId: $c, shippingOptionId: $o) { id } }", json!({ "c": cart, "o": option })).await;
    assert!(
        shipped["data"]["setCartShippingMethod"].is_object(),
        "{shipped}"
    );
    cart
}

/// Completes every cart at the same moment (one task each); the answers in order.
async fn complete_all(app: &Arc<TestApp>, carts: Vec<String>) -> Vec<Value> {
    let tasks: Vec<_> = carts
        .into_iter()
        .map(|cart| {
            let app = app.clone();
            tokio::spawn(async move { complete(&app, None, &cart).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

async fn complete(app: &TestApp, token: Option<&str>, cart: &str) -> Value {
    gql(
        app,
        token,
        &format!("mutation($c: ID!) {{ completeCart(cartId: $c) {{ {ORDER} }} }}"),
        json!({ "c": cart }),
    )
    .await
}

/// The stock of a `stocked` product's variant.
pub async fn stock(app: &TestApp, handle: &str) -> i64 {
    count(app, &format!("SELECT v.inventory_quantity::int8 AS id FROM product_variants v JOIN products p ON p.id = v.product_id WHERE p.handle = '{handle}'")).await
}

pub async fn count(app: &TestApp, sql: &str) -> i64 {
    let mut conn = app.db.conn().await;
    let row: Id = diesel::sql_query(sql).get_result(&mut conn).await.unwrap();
    row.id
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_checks_out_and_staff_see_it_live() {
    let app = TestApp::new().await;
    let email = address("buyer");
    let token = crate::customers::registered(&app, &email).await;
    let (_, variant) = stocked(&app, "flow-mug", 5, Some(99_900)).await;
    let page = "{ product(handle: \"flow-mug\") { variants { inventoryQuantity } } }";
    let quantity =
        |body: Value| body["data"]["product"]["variants"][0]["inventoryQuantity"].clone();
    assert_eq!(quantity(app.get_query(page).await), 5, "cached now");
    let option = shipping(&app, 1, 5_000).await;
    let orders_staff = staff_token(&app, Role::Orders).await;
    let addr = app.serve().await;
    let mut watcher = Client::init(addr, json!({ "authToken": orders_staff }))
        .await
        .unwrap();
    watcher
        .subscribe("o", "subscription { orderUpdated { orderId status } }")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let cart = ready_cart(&app, Some(&token), &variant, 2, &option).await;
    let read = gql(
        &app,
        Some(&token),
        &format!("query($c: ID!) {{ cart(id: $c) {{ {CART} }} }}"),
        json!({ "c": cart }),
    )
    .await;
    let totals = &read["data"]["cart"]["totals"];
    assert_eq!(totals["subtotal"]["amount"], 199_800, "{read}");
    assert_eq!(totals["shipping"]["amount"], 5_000);
    assert_eq!(totals["tax"]["amount"], 36_864, "18 % of 2,048.00");
    assert_eq!(totals["total"]["amount"], 241_664);

    let done = complete(&app, Some(&token), &cart).await;
    let order = &done["data"]["completeCart"];
    assert_eq!(order["status"], "PAID", "{done}");
    assert_eq!(order["paymentStatus"], "CAPTURED");
    assert_eq!(order["fulfillmentStatus"], "NOT_FULFILLED");
    assert_eq!(order["totals"]["total"]["amount"], 241_664);
    assert_eq!(order["lines"][0]["quantity"], 2);
    assert_eq!(
        order["events"],
        json!([{ "kind": "placed", "actor": "customer" }, { "kind": "payment_captured", "actor": "system" }])
    );
    let order_id = order["id"].as_str().unwrap().to_owned();
    assert_eq!(
        quantity(app.get_query(page).await),
        3,
        "the product page is fresh at once"
    );
    let heard = watcher.event("o").await;
    assert_eq!(
        heard["data"]["orderUpdated"],
        json!({ "orderId": order_id, "status": "PAID" })
    );

    // The customer sees it; staff see it; the confirmation mail arrives once.
    let mine = gql(
        &app,
        Some(&token),
        "{ me { orders(first: 5) { edges { node { id displayNumber } } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        mine["data"]["me"]["orders"]["edges"][0]["node"]["id"],
        order_id.as_str(),
        "{mine}"
    );
    let desk = gql(
        &app,
        Some(&orders_staff),
        "query($id: ID!) { adminOrder(id: $id) { email status } }",
        json!({ "id": order_id }),
    )
    .await;
    assert_eq!(desk["data"]["adminOrder"]["status"], "PAID");
    assert_eq!(stock(&app, "flow-mug").await, 3);
    app.run_jobs().await;
    app.run_jobs().await;
    let buyer = order["email"].as_str().unwrap();
    let mails: Vec<_> = inbox(buyer)
        .into_iter()
        .filter(|m| m.subject.contains(&format!("#{}", order["displayNumber"])))
        .collect();
    assert_eq!(mails.len(), 1, "one confirmation");
    assert!(mails[0].text.contains("2416.64 INR"), "{}", mails[0].text);

    // The order desk moves it along; each step is heard live.
    let ship = "mutation($id: ID!) { markOrderShipped(id: $id, trackingNumber: \"TRK1\", carrier: \"Delhivery\") { status } }";
    assert_eq!(
        code(&gql(&app, Some(&orders_staff), ship, json!({ "id": order_id })).await),
        "CONFLICT",
        "not packed yet"
    );
    for (query, status) in [
        (
            "mutation($id: ID!) { fulfillOrder(id: $id) { status } }",
            "FULFILLED",
        ),
        (ship, "SHIPPED"),
        (
            "mutation($id: ID!) { markOrderDelivered(id: $id) { status } }",
            "DELIVERED",
        ),
    ] {
        let body = gql(&app, Some(&orders_staff), query, json!({ "id": order_id })).await;
        assert_eq!(
            body["data"].as_object().unwrap().values().next().unwrap()["status"],
            status,
            "{body}"
        );
        assert_eq!(
            watcher.event("o").await["data"]["orderUpdated"]["status"],
            status
        );
    }
    let cancel = gql(
        &app,
        Some(&orders_staff),
        "mutation($id: ID!) { cancelOrder(id: $id) { status } }",
        json!({ "id": order_id }),
    )
    .await;
    assert_eq!(code(&cancel), "CONFLICT", "not after shipping");
    let list = gql(&app, Some(&orders_staff), "{ adminOrders(first: 5, filter: { status: DELIVERED }) { edges { node { id trackingNumber } } } }", json!({})).await;
    assert_eq!(
        list["data"]["adminOrders"]["edges"][0]["node"]["trackingNumber"], "TRK1",
        "{list}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_checkouts_for_ten_units_make_ten_orders() {
    let app = Arc::new(TestApp::new().await);
    let (_, variant) = stocked(&app, "scarce", 10, Some(50_000)).await;
    let option = shipping(&app, 1, 0).await;
    let mut carts = Vec::new();
    for _ in 0..50 {
        carts.push(ready_cart(&app, None, &variant, 1, &option).await);
    }
    let mut placed = 0;
    let mut refused = 0;
    for body in complete_all(&app, carts).await {
        match code(&body) {
            "<none>" => placed += 1,
            "CONFLICT" => refused += 1,
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!((placed, refused), (10, 40));
    assert_eq!(count(&app, "SELECT count(*) AS id FROM orders").await, 10);
    assert_eq!(stock(&app, "scarce").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_checkouts_of_one_products_variants_all_succeed() {
    // Each checkout updates a different variant of one product at the same moment.
    let app = Arc::new(TestApp::new().await);
    let (handle, first) = stocked(&app, "two-sizes", 100, Some(1_000)).await;
    let mut conn = app.db.conn().await;
    let second: Id = diesel::sql_query(
        "INSERT INTO product_variants (product_id, title, inventory_quantity) \
         SELECT id, 'Large', 100 FROM products WHERE handle = $1 RETURNING id",
    )
    .bind::<Text, _>(&handle)
    .get_result(&mut conn)
    .await
    .unwrap();
    diesel::sql_query(
        "INSERT INTO prices (variant_id, currency_code, amount) VALUES ($1, 'INR', 1200)",
    )
    .bind::<BigInt, _>(second.id)
    .execute(&mut conn)
    .await
    .unwrap();
    let second = to_global("ProductVariant", second.id).0;
    let option = shipping(&app, 1, 0).await;
    let mut carts = Vec::new();
    for i in 0..16 {
        let variant = if i % 2 == 0 { &first } else { &second };
        carts.push(ready_cart(&app, None, variant, 1, &option).await);
    }
    for body in complete_all(&app, carts).await {
        assert_eq!(code(&body), "<none>", "{body}");
    }
    assert_eq!(count(&app, "SELECT count(*) AS id FROM orders").await, 16);
    // The listing's price sort still knows the product's lowest price.
    assert_eq!(
        count(&app, "SELECT m.amount AS id FROM product_min_prices m JOIN products p ON p.id = m.product_id WHERE p.handle = 'two-sizes' AND m.currency_code = 'INR'").await,
        1_000
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn completing_a_cart_twice_or_at_once_makes_one_order() {
    let app = Arc::new(TestApp::new().await);
    let (_, variant) = stocked(&app, "twice", 10, Some(1_000)).await;
    let option = shipping(&app, 1, 0).await;
    let cart = ready_cart(&app, None, &variant, 2, &option).await;
    let mut ids = std::collections::BTreeSet::new();
    for body in complete_all(&app, vec![cart.clone(); 6]).await {
        ids.insert(
            body["data"]["completeCart"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{body}"))
                .to_owned(),
        );
    }
    let again = complete(&app, None, &cart).await;
    ids.insert(
        again["data"]["completeCart"]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    assert_eq!(ids.len(), 1, "one order: {ids:?}");
    assert_eq!(count(&app, "SELECT count(*) AS id FROM orders").await, 1);
    assert_eq!(stock(&app, "twice").await, 8, "reserved once");
    // A completed cart cannot change.
    let add = gql(&app, None, "mutation($c: ID!, $v: ID!) { addCartLineItem(cartId: $c, variantId: $v, quantity: 1) { id } }", json!({ "c": cart, "v": variant })).await;
    assert_eq!(code(&add), "CONFLICT");
}

#[tokio::test(flavor = "multi_thread")]
async fn carts_and_orders_belong_to_their_customer() {
    let app = TestApp::new().await;
    let (_, variant) = stocked(&app, "private", 10, Some(1_000)).await;
    let option = shipping(&app, 1, 0).await;
    let (_, asha) = customer_token(&app, "asha@shop.test").await;
    let (_, ravi) = customer_token(&app, "ravi@shop.test").await;
    let owner = staff_token(&app, Role::Owner).await;
    let cart = ready_cart(&app, Some(&asha), &variant, 1, &option).await;
    let read = format!("query($c: ID!) {{ cart(id: $c) {{ {CART} }} }}");
    for token in [Some(ravi.as_str()), None, Some(owner.as_str())] {
        assert_eq!(
            code(&gql(&app, token, &read, json!({ "c": cart })).await),
            "NOT_FOUND"
        );
        let add = gql(&app, token, "mutation($c: ID!, $v: ID!) { addCartLineItem(cartId: $c, variantId: $v, quantity: 1) { id } }", json!({ "c": cart, "v": variant })).await;
        assert_eq!(code(&add), "NOT_FOUND");
        assert_eq!(code(&complete(&app, token, &cart).await), "NOT_FOUND");
    }
    // A guessed id reads exactly like a taken one.
    for guess in ["A".repeat(43), "nope".into()] {
        assert_eq!(
            code(&gql(&app, Some(&ravi), &read, json!({ "c": guess })).await),
            "NOT_FOUND"
        );
    }
    let response = app
        .send_as(Some(&asha), &format!("{{ cart(id: \"{cart}\") {{ id }} }}"))
        .await;
    assert_eq!(response.header("cache-control"), Some("private, no-store"));
    let order = complete(&app, Some(&asha), &cart).await["data"]["completeCart"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let theirs = gql(
        &app,
        Some(&ravi),
        "query($id: ID!) { order(id: $id) { id } }",
        json!({ "id": order }),
    )
    .await;
    assert_eq!(code(&theirs), "NOT_FOUND");
    let mine = gql(
        &app,
        Some(&asha),
        "query($id: ID!) { order(id: $id) { id } }",
        json!({ "id": order }),
    )
    .await;
    assert_eq!(mine["data"]["order"]["id"], order.as_str());
    assert_eq!(
        gql(
            &app,
            Some(&ravi),
            "{ me { orders { edges { node { id } } } } }",
            json!({})
        )
        .await["data"]["me"]["orders"]["edges"],
        json!([])
    );

    // Staff may place an order for a shopper (a phone order): the timeline says who.
    let phone = ready_cart(&app, Some(&owner), &variant, 1, &option).await;
    let placed = complete(&app, Some(&owner), &phone).await;
    let actor = placed["data"]["completeCart"]["events"][0]["actor"]
        .as_str()
        .unwrap_or_default();
    assert!(actor.starts_with("staff:"), "{placed}");
    // An anonymous cart is anyone's who holds its id, until a customer claims it.
    let guest = gql(
        &app,
        None,
        "mutation($r: ID!) { createCart(input: { regionId: $r }) { id owned } }",
        json!({ "r": india() }),
    )
    .await;
    let guest = guest["data"]["createCart"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(gql(&app, Some(&ravi), &read, json!({ "c": guest })).await["data"]["cart"].is_object());
    let claimed = gql(
        &app,
        Some(&ravi),
        "mutation($c: ID!) { claimCart(cartId: $c) { owned } }",
        json!({ "c": guest }),
    )
    .await;
    assert_eq!(claimed["data"]["claimCart"]["owned"], true);
    assert_eq!(
        code(&gql(&app, None, &read, json!({ "c": guest })).await),
        "NOT_FOUND"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn canceling_restocks_and_the_storefront_sees_it_at_once() {
    let app = TestApp::new().await;
    let (handle, variant) = stocked(&app, "last-one", 1, Some(2_000)).await;
    let option = shipping(&app, 1, 0).await;
    let orders_staff = staff_token(&app, Role::Orders).await;
    let product = format!(
        "{{ product(handle: \"{handle}\") {{ variants {{ inStock inventoryQuantity }} }} }}"
    );
    let in_stock = |body: Value| body["data"]["product"]["variants"][0]["inStock"].clone();
    assert_eq!(in_stock(app.get_query(&product).await), true, "cached now");
    let cart = ready_cart(&app, None, &variant, 1, &option).await;
    let order = complete(&app, None, &cart).await["data"]["completeCart"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        in_stock(app.get_query(&product).await),
        false,
        "sold out at once"
    );
    // A second shopper cannot add it now.
    let other = gql(
        &app,
        None,
        "mutation($r: ID!) { createCart(input: { regionId: $r }) { id } }",
        json!({ "r": india() }),
    )
    .await;
    let other = other["data"]["createCart"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let add = gql(&app, None, "mutation($c: ID!, $v: ID!) { addCartLineItem(cartId: $c, variantId: $v, quantity: 1) { id } }", json!({ "c": other, "v": variant })).await;
    assert_eq!(code(&add), "CONFLICT");

    let canceled = gql(
        &app,
        Some(&orders_staff),
        "mutation($id: ID!) { cancelOrder(id: $id) { status paymentStatus events { kind } } }",
        json!({ "id": order }),
    )
    .await;
    assert_eq!(
        canceled["data"]["cancelOrder"]["status"], "CANCELED",
        "{canceled}"
    );
    assert_eq!(canceled["data"]["cancelOrder"]["paymentStatus"], "REFUNDED");
    assert_eq!(
        in_stock(app.get_query(&product).await),
        true,
        "back in stock at once"
    );
    let again = gql(
        &app,
        Some(&orders_staff),
        "mutation($id: ID!) { fulfillOrder(id: $id) { status } }",
        json!({ "id": order }),
    )
    .await;
    assert_eq!(
        code(&again),
        "CONFLICT",
        "a canceled order cannot be fulfilled"
    );
    let page = app.get_query(&product).await;
    assert_eq!(
        page["data"]["product"]["variants"][0]["inventoryQuantity"], 1,
        "{page}"
    );
    let twice = gql(
        &app,
        Some(&orders_staff),
        "mutation($id: ID!) { cancelOrder(id: $id) { status } }",
        json!({ "id": order }),
    )
    .await;
    assert_eq!(code(&twice), "CONFLICT");
    assert_eq!(stock(&app, "last-one").await, 1, "restocked once");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_carts_are_refused_and_change_nothing() {
    let app = TestApp::new().await;
    let (_, variant) = stocked(&app, "plain", 3, Some(1_000)).await;
    let (_, euro_only) = stocked(&app, "euro-only", 3, None).await;
    let india_option = shipping(&app, 1, 0).await;
    let europe_option = shipping(&app, 2, 0).await;
    let made = gql(
        &app,
        None,
        "mutation($r: ID!) { createCart(input: { regionId: $r }) { id } }",
        json!({ "r": india() }),
    )
    .await;
    let cart = made["data"]["createCart"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let add = "mutation($c: ID!, $v: ID!, $q: Int!) { addCartLineItem(cartId: $c, variantId: $v, quantity: $q) { lines { quantity } } }";
    for (v, q, want) in [
        (&variant, 0, "BAD_USER_INPUT"),
        (&variant, 101, "BAD_USER_INPUT"),
        (&variant, -1, "BAD_USER_INPUT"),
        (&variant, 4, "CONFLICT"),
        (&euro_only, 1, "BAD_USER_INPUT"),
    ] {
        assert_eq!(
            code(&gql(&app, None, add, json!({ "c": cart, "v": v, "q": q })).await),
            want,
            "{v} × {q}"
        );
    }
    assert_eq!(
        code(&complete(&app, None, &cart).await),
        "BAD_USER_INPUT",
        "empty cart"
    );
    let ok = gql(&app, None, add, json!({ "c": cart, "v": variant, "q": 2 })).await;
    assert_eq!(
        ok["data"]["addCartLineItem"]["lines"],
        json!([{ "quantity": 2 }])
    );
    let merged = gql(&app, None, add, json!({ "c": cart, "v": variant, "q": 2 })).await;
    assert_eq!(code(&merged), "CONFLICT", "2 + 2 > 3 in stock");
    assert_eq!(
        code(&complete(&app, None, &cart).await),
        "BAD_USER_INPUT",
        "no email"
    );
    let foreign = gql(&app, None, "mutation($c: ID!, $o: ID!) { setCartShippingMethod(cartId: $c, shippingOptionId: $o) { id } }", json!({ "c": cart, "o": europe_option })).await;
    assert_eq!(code(&foreign), "BAD_USER_INPUT");
    let mut abroad = address_input();
    abroad["countryCode"] = json!("US");
    let wrong_country = gql(&app, None, "mutation($c: ID!, $a: CustomerAddressInput!) { updateCart(cartId: $c, input: { shippingAddress: $a }) { id } }", json!({ "c": cart, "a": abroad })).await;
    assert_eq!(code(&wrong_country), "BAD_USER_INPUT");
    let bad_email = gql(
        &app,
        None,
        "mutation($c: ID!) { updateCart(cartId: $c, input: { email: \"nope\" }) { id } }",
        json!({ "c": cart }),
    )
    .await;
    assert_eq!(code(&bad_email), "BAD_USER_INPUT");

    // A price change after adding shows on the next read, and voids the payment session.
    gql(&app, None, "mutation($c: ID!, $a: CustomerAddressInput!) { updateCart(cartId: $c, input: { email: \"x@shop.test\", shippingAddress: $a }) { id } }", json!({ "c": cart, "a": address_input() })).await;
    gql(&app, None, "mutation($c: ID!, $o: ID!) { setCartShippingMethod(cartId: $c, shippingOptionId: $o) { id } }", json!({ "c": cart, "o": india_option })).await;
    assert_eq!(
        code(&complete(&app, None, &cart).await),
        "BAD_USER_INPUT",
        "no payment"
    );
    gql(
        &app,
        None,
        "mutation($c: ID!) { createPaymentSession(cartId: $c) { status } }",
        json!({ "c": cart }),
    )
    .await;
    let mut conn = app.db.conn().await;
    diesel::sql_query("UPDATE prices SET amount = 1500 WHERE currency_code = 'INR' AND variant_id = (SELECT max(id) FROM product_variants WHERE title = 'Default' AND product_id = (SELECT id FROM products WHERE handle = 'plain'))")
        .execute(&mut conn)
        .await
        .unwrap();
    let read = gql(
        &app,
        None,
        &format!("query($c: ID!) {{ cart(id: $c) {{ {CART} }} }}"),
        json!({ "c": cart }),
    )
    .await;
    assert_eq!(
        read["data"]["cart"]["totals"]["subtotal"]["amount"], 3_000,
        "{read}"
    );
    assert_eq!(
        code(&complete(&app, None, &cart).await),
        "CONFLICT",
        "the payment no longer covers it"
    );
    assert_eq!(count(&app, "SELECT count(*) AS id FROM orders").await, 0);
    gql(
        &app,
        None,
        "mutation($c: ID!) { createPaymentSession(cartId: $c) { status } }",
        json!({ "c": cart }),
    )
    .await;
    assert_eq!(
        complete(&app, None, &cart).await["data"]["completeCart"]["totals"]["total"]["amount"],
        3_540,
        "3,000 + 18 %"
    );
    // A region with carts and orders cannot be deleted (and says so).
    let owner = staff_token(&app, Role::Owner).await;
    let delete = gql(
        &app,
        Some(&owner),
        "mutation($r: ID!) { deleteRegion(id: $r) }",
        json!({ "r": india() }),
    )
    .await;
    assert_eq!(code(&delete), "CONFLICT", "{delete}");
}

#[tokio::test(flavor = "multi_thread")]
async fn manual_payment_is_refused_unless_enabled() {
    // Production's default: the manual provider would mark orders paid without moving money.
    let app = TestApp::with_settings(
        crate::support::CacheMode::Memory,
        &[("PAYMENTS_MANUAL", "false")],
    )
    .await;
    let (_, variant) = stocked(&app, "no-manual", 3, Some(1_000)).await;
    let made = gql(
        &app,
        None,
        "mutation($r: ID!) { createCart(input: { regionId: $r }) { id } }",
        json!({ "r": india() }),
    )
    .await;
    let cart = made["data"]["createCart"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    gql(&app, None, "mutation($c: ID!, $v: ID!) { addCartLineItem(cartId: $c, variantId: $v, quantity: 1) { id } }", json!({ "c": cart, "v": variant })).await;
    let paid = gql(
        &app,
        None,
        "mutation($c: ID!) { createPaymentSession(cartId: $c) { status } }",
        json!({ "c": cart }),
    )
    .await;
    assert_eq!(code(&paid), "FORBIDDEN", "{paid}");
    assert_eq!(count(&app, "SELECT count(*) AS id FROM payments").await, 0);
}
