//! Customers: registration with a real verification mail, sign-in, password reset, profile and
//! addresses, tokens that never cross between staff and customers, and the staff side. Mail goes
//! through the real job queue to the real SMTP server scripts/test starts.

use serde_json::{Value, json};
use techpotli::auth::Role;

use crate::support::mail::{address, inbox};
use crate::support::{TestApp, code, customer_token, staff_token};

const REGISTER: &str = "mutation($i: CustomerRegisterInput!) { customerRegister(input: $i) }";
const LOGIN: &str = "mutation($e: String!, $p: String!) { customerLogin(email: $e, password: $p) { token expiresAt customer { id email firstName emailVerified } } }";
const VERIFY: &str = "mutation($t: String!) { verifyCustomerEmail(token: $t) }";
const ME: &str =
    "{ me { id email firstName lastName emailVerified addresses { id city isDefault } } }";
const PASSWORD: &str = "mango-tree-river-7";

fn registration(email: &str, first: &str, password: &str) -> Value {
    json!({ "i": { "email": email, "password": password, "firstName": first, "lastName": "Rao" } })
}

async fn login(app: &TestApp, email: &str, password: &str) -> Value {
    app.post_as(None, LOGIN, json!({ "e": email, "p": password }))
        .await
}

async fn db_count(app: &TestApp, sql: &str) -> i64 {
    use diesel::QueryableByName;
    use diesel::sql_types::BigInt;
    use diesel_async::RunQueryDsl;
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut conn = app.db.conn().await;
    diesel::sql_query(sql)
        .get_result::<N>(&mut conn)
        .await
        .unwrap()
        .n
}

/// Registers and verifies `email` through the real flow; returns a customer token.
pub async fn registered(app: &TestApp, email: &str) -> String {
    let body = app
        .post_as(None, REGISTER, registration(email, "Asha", PASSWORD))
        .await;
    assert_eq!(body["data"]["customerRegister"], true, "{body}");
    app.run_jobs().await;
    let mail = inbox(email).pop().expect("verification mail");
    let body = app
        .post_as(None, VERIFY, json!({ "t": mail.token() }))
        .await;
    assert_eq!(body["data"]["verifyCustomerEmail"], true, "{body}");
    let body = login(app, email, PASSWORD).await;
    body["data"]["customerLogin"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn register_mails_one_working_link_then_sign_in() {
    let app = TestApp::new().await;
    let email = address("asha");
    let body = app
        .post_as(
            None,
            REGISTER,
            registration(&email.to_uppercase(), "Asha", PASSWORD),
        )
        .await;
    assert_eq!(body["data"]["customerRegister"], true, "{body}");
    // Mail is only sent from a job, after the commit.
    assert!(inbox(&email).is_empty());
    assert_eq!(
        db_count(
            &app,
            "SELECT count(*) AS n FROM jobs WHERE state = 'queued'"
        )
        .await,
        1
    );
    assert_eq!(app.run_jobs().await, 1);
    let mails = inbox(&email);
    assert_eq!(mails.len(), 1, "exactly one verification mail");
    let mail = &mails[0];
    assert!(
        mail.subject.contains("Confirm your email"),
        "{}",
        mail.subject
    );
    assert!(mail.from.contains("shop@techpotli.test"));
    assert_eq!(mail.to, email);
    assert!(mail.message_id.starts_with("<job-"), "{}", mail.message_id);
    assert!(mail.text.contains("Hello Asha"));
    assert!(
        mail.text
            .contains("https://shop.techpotli.test/account/verify-email?token=")
    );
    assert!(
        mail.html
            .contains("<a href=\"https://shop.techpotli.test/account/verify-email?token=")
    );
    let token = mail.token();
    assert_eq!(token.len(), 43);
    // Only a hash of the token is stored, and the delivered job keeps no link.
    assert_eq!(
        db_count(
            &app,
            &format!("SELECT count(*) AS n FROM customer_tokens WHERE token_hash = '{token}'")
        )
        .await,
        0
    );
    assert_eq!(
        db_count(
            &app,
            "SELECT count(*) AS n FROM jobs WHERE state = 'done' AND payload = '{}'::jsonb"
        )
        .await,
        1
    );
    // Running the workers again sends nothing more.
    assert_eq!(app.run_jobs().await, 0);
    assert_eq!(inbox(&email).len(), 1);

    // Unverified accounts cannot sign in (the default); the right password is needed to learn it.
    let early = login(&app, &email, PASSWORD).await;
    assert_eq!(code(&early), "FORBIDDEN", "{early}");
    let wrong = login(&app, &email, "not-the-password").await;
    assert_eq!(code(&wrong), "UNAUTHENTICATED");

    let ok = app.post_as(None, VERIFY, json!({ "t": token })).await;
    assert_eq!(ok["data"]["verifyCustomerEmail"], true, "{ok}");
    for spent in [token.as_str(), "x", &"A".repeat(43)] {
        let again = app.post_as(None, VERIFY, json!({ "t": spent })).await;
        assert_eq!(code(&again), "BAD_USER_INPUT", "{spent}: {again}");
    }
    let signed_in = login(&app, &email, PASSWORD).await;
    let payload = &signed_in["data"]["customerLogin"];
    assert_eq!(payload["customer"]["email"], email.as_str(), "{signed_in}");
    assert_eq!(payload["customer"]["emailVerified"], true);
    let jwt = payload["token"].as_str().unwrap();
    let me = app.send_as(Some(jwt), ME).await;
    assert_eq!(me.json()["data"]["me"]["firstName"], "Asha");
    assert_eq!(me.header("cache-control"), Some("private, no-store"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_duplicate_registration_mails_the_owner_and_reveals_nothing() {
    let app = TestApp::new().await;
    let owner = address("owner");
    registered(&app, &owner).await;
    let before_jobs = db_count(&app, "SELECT count(*) AS n FROM jobs").await;

    // The same answer, the same SQL statement count, for a taken and a fresh address.
    let fresh = address("fresh");
    let mut answers = Vec::new();
    let mut statements = Vec::new();
    for (email, first) in [(&owner, "Mallory"), (&fresh, "Ravi")] {
        let before = app.statements();
        let response = app
            .post(
                "mutation($i: CustomerRegisterInput!) { customerRegister(input: $i) }",
                registration(email, first, "another-password-9"),
            )
            .await;
        statements.push(app.statements() - before);
        answers.push((response.status, response.json()));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(statements[0], statements[1], "same round trips either way");
    assert_eq!(
        db_count(&app, "SELECT count(*) AS n FROM jobs").await,
        before_jobs + 2
    );

    app.run_jobs().await;
    let mails = inbox(&owner);
    assert_eq!(mails.len(), 2, "the verification mail, then the notice");
    let notice = &mails[1];
    assert!(
        notice.subject.contains("already have"),
        "{}",
        notice.subject
    );
    // Addressed with the owner's own name, never the stranger's text.
    assert!(notice.text.contains("Hello Asha") && !notice.text.contains("Mallory"));
    assert!(
        notice
            .text
            .contains("https://shop.techpotli.test/account/forgot-password")
    );
    // Nothing changed: the owner's password still works, the stranger's does not.
    assert!(login(&app, &owner, PASSWORD).await["data"]["customerLogin"]["token"].is_string());
    assert_eq!(
        code(&login(&app, &owner, "another-password-9").await),
        "UNAUTHENTICATED"
    );
    // At most one such notice per address and hour.
    app.post_as(
        None,
        REGISTER,
        registration(&owner, "Mallory", "another-password-9"),
    )
    .await;
    app.run_jobs().await;
    assert_eq!(inbox(&owner).len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn password_reset_is_single_use_and_ends_old_sessions() {
    let app = TestApp::new().await;
    let email = address("reset");
    let old_session = registered(&app, &email).await;
    let request = "mutation($e: String!) { requestPasswordReset(email: $e) }";
    let reset = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }";

    // The same answer after the same work (one job insert) for an unknown and a known address.
    let ghost = address("ghost");
    let mut answers = Vec::new();
    for e in [&ghost, &email] {
        let before = app.statements();
        let response = app.post(request, json!({ "e": e })).await;
        answers.push((response.json(), app.statements() - before));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[1].0["data"]["requestPasswordReset"], true);
    // A second request within ten minutes makes no second mail.
    app.post(request, json!({ "e": email })).await;
    app.run_jobs().await;
    assert!(inbox(&ghost).is_empty());
    assert_eq!(
        inbox(&email).len(),
        2,
        "the verification mail, then one reset mail"
    );
    let mail = inbox(&email).pop().unwrap();
    assert!(mail.subject.contains("Reset your"), "{}", mail.subject);
    assert!(
        mail.text
            .contains("https://shop.techpotli.test/account/reset-password?token=")
    );
    assert!(mail.text.contains("expires in 1 hour"), "{}", mail.text);
    let token = mail.token();

    // A weak password is refused and spends nothing.
    let weak = app
        .post_as(None, reset, json!({ "t": token, "p": "short" }))
        .await;
    assert_eq!(code(&weak), "BAD_USER_INPUT");
    assert!(app.send_as(Some(&old_session), ME).await.json()["data"]["me"].is_object());

    let ok = app
        .post_as(
            None,
            reset,
            json!({ "t": token, "p": "a-brand-new-secret" }),
        )
        .await;
    assert_eq!(ok["data"]["resetPassword"], true, "{ok}");
    let again = app
        .post_as(
            None,
            reset,
            json!({ "t": token, "p": "yet-another-secret" }),
        )
        .await;
    assert_eq!(code(&again), "BAD_USER_INPUT", "single use");
    // Every token signed in before is void; the old password too.
    let stale = app.send_as(Some(&old_session), ME).await.json();
    assert_eq!(code(&stale), "UNAUTHENTICATED", "{stale}");
    assert_eq!(
        code(&login(&app, &email, PASSWORD).await),
        "UNAUTHENTICATED"
    );
    assert!(
        login(&app, &email, "a-brand-new-secret").await["data"]["customerLogin"]["token"]
            .is_string()
    );
    app.run_jobs().await;
    assert!(
        inbox(&email)
            .last()
            .unwrap()
            .subject
            .contains("password was changed")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn profile_password_and_addresses_belong_to_their_customer() {
    let app = TestApp::new().await;
    let (_, token) = customer_token(&app, "asha@shop.test").await;
    let (_, other) = customer_token(&app, "ravi@shop.test").await;
    let create = "mutation($i: CustomerAddressInput!) { createCustomerAddress(input: $i) { id city countryCode isDefault } }";
    let input = |city: &str| json!({ "i": { "firstName": "Asha", "lastName": "Rao", "address1": "12 MG Road", "city": city, "postalCode": "560001", "countryCode": "in" } });

    let first = app.post_as(Some(&token), create, input("Bengaluru")).await;
    let first = &first["data"]["createCustomerAddress"];
    assert_eq!(first["isDefault"], true, "the first address is the default");
    assert_eq!(first["countryCode"], "IN");
    let second = app.post_as(Some(&token), create, input("Mysuru")).await;
    let second_id = second["data"]["createCustomerAddress"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(second["data"]["createCustomerAddress"]["isDefault"], false);
    let bad = app
        .post_as(Some(&token), create, json!({ "i": { "firstName": "A", "lastName": "R", "address1": "x", "city": "y", "postalCode": "1", "countryCode": "India" } }))
        .await;
    assert_eq!(code(&bad), "BAD_USER_INPUT");

    // Another customer cannot see, change or delete them.
    let update = "mutation($id: ID!, $i: CustomerAddressInput!) { updateCustomerAddress(id: $id, input: $i) { id } }";
    let delete = "mutation($id: ID!) { deleteCustomerAddress(id: $id) }";
    let default = "mutation($id: ID!) { setDefaultCustomerAddress(id: $id) { addresses { city isDefault } } }";
    let mut vars = input("Hacked");
    vars["id"] = json!(second_id);
    for (query, vars) in [
        (update, vars.clone()),
        (delete, json!({ "id": second_id })),
        (default, json!({ "id": second_id })),
    ] {
        let body = app.post_as(Some(&other), query, vars).await;
        assert_eq!(code(&body), "NOT_FOUND", "{body}");
    }
    let me = app.post_as(Some(&other), ME, json!({})).await;
    assert_eq!(me["data"]["me"]["addresses"], json!([]));

    let changed = app
        .post_as(Some(&token), default, json!({ "id": second_id }))
        .await;
    assert_eq!(
        changed["data"]["setDefaultCustomerAddress"]["addresses"],
        json!([{ "city": "Mysuru", "isDefault": true }, { "city": "Bengaluru", "isDefault": false }])
    );
    let deleted = app
        .post_as(Some(&token), delete, json!({ "id": second_id }))
        .await;
    assert_eq!(deleted["data"]["deleteCustomerAddress"], second_id.as_str());
    let me = app.post_as(Some(&token), ME, json!({})).await;
    assert_eq!(
        me["data"]["me"]["addresses"][0]["isDefault"], true,
        "the other became default"
    );

    let renamed = app
        .post_as(
            Some(&token),
            "mutation { updateMe(input: { firstName: \" Asha Devi \" }) { firstName lastName } }",
            json!({}),
        )
        .await;
    assert_eq!(
        renamed["data"]["updateMe"],
        json!({ "firstName": "Asha Devi", "lastName": "Customer" })
    );

    let change = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { token } }";
    let wrong = app
        .post_as(
            Some(&token),
            change,
            json!({ "c": "wrong-password-1", "n": "a-better-password" }),
        )
        .await;
    assert_eq!(code(&wrong), "BAD_USER_INPUT");
    let ok = app
        .post_as(
            Some(&token),
            change,
            json!({ "c": PASSWORD, "n": "a-better-password" }),
        )
        .await;
    let fresh = ok["data"]["changePassword"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{ok}"));
    assert_eq!(
        code(&app.post_as(Some(&token), ME, json!({})).await),
        "UNAUTHENTICATED",
        "old token ends"
    );
    assert!(app.post_as(Some(fresh), ME, json!({})).await["data"]["me"].is_object());
}

#[tokio::test(flavor = "multi_thread")]
async fn staff_and_customer_tokens_never_stand_in_for_each_other() {
    let app = TestApp::new().await;
    let (_, customer) = customer_token(&app, "asha@shop.test").await;
    let owner = staff_token(&app, Role::Owner).await;
    assert_eq!(
        code(
            &app.post_as(Some(&customer), "{ adminMe { email } }", json!({}))
                .await
        ),
        "FORBIDDEN"
    );
    assert_eq!(
        code(
            &app.post_as(
                Some(&customer),
                "{ adminCustomers { edges { node { id } } } }",
                json!({})
            )
            .await
        ),
        "FORBIDDEN"
    );
    assert_eq!(
        code(&app.post_as(Some(&owner), ME, json!({})).await),
        "FORBIDDEN"
    );
    assert_eq!(
        code(&app.post_as(None, ME, json!({})).await),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        code(&app.post_as(Some("garbage"), ME, json!({})).await),
        "UNAUTHENTICATED"
    );
    // A token claiming to be a customer's without the storefront audience is nobody's.
    let no_audience = app
        .app
        .jwt
        .sign(&techpotli::auth::jwt::Claims {
            sub: "customer:1".into(),
            role: "customer".into(),
            iat: chrono::Utc::now().timestamp(),
            exp: chrono::Utc::now().timestamp() + 600,
            iss: techpotli::auth::jwt::ISSUER.into(),
            ver: 1,
            aud: Some("admin".into()),
        })
        .unwrap();
    assert_eq!(
        code(&app.post_as(Some(&no_audience), ME, json!({})).await),
        "UNAUTHENTICATED"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn staff_find_and_disable_customers_whose_tokens_die_at_once() {
    let app = TestApp::new().await;
    let (id, customer) = customer_token(&app, "asha.rao@shop.test").await;
    customer_token(&app, "ravi@shop.test").await;
    let orders = staff_token(&app, Role::Orders).await;
    let catalog = staff_token(&app, Role::Catalog).await;
    let list = "query($f: AdminCustomerFilter) { adminCustomers(first: 10, filter: $f) { edges { node { id email isActive emailVerified } } } }";
    assert_eq!(
        code(&app.post_as(Some(&catalog), list, json!({})).await),
        "FORBIDDEN"
    );
    let found = app
        .post_as(Some(&orders), list, json!({ "f": { "search": "RAO" } }))
        .await;
    let edges = found["data"]["adminCustomers"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{found}"));
    assert_eq!(edges.len(), 1);
    let gid = edges[0]["node"]["id"].as_str().unwrap().to_owned();
    let none = app
        .post_as(Some(&orders), list, json!({ "f": { "verified": false } }))
        .await;
    assert_eq!(none["data"]["adminCustomers"]["edges"], json!([]));
    let wild = app
        .post_as(Some(&orders), list, json!({ "f": { "search": "%" } }))
        .await;
    assert_eq!(
        wild["data"]["adminCustomers"]["edges"],
        json!([]),
        "LIKE wildcards are literal"
    );

    assert!(app.post_as(Some(&customer), ME, json!({})).await["data"]["me"].is_object());
    let disable =
        "mutation($id: ID!, $a: Boolean!) { setCustomerActive(id: $id, active: $a) { isActive } }";
    let off = app
        .post_as(Some(&orders), disable, json!({ "id": gid, "a": false }))
        .await;
    assert_eq!(off["data"]["setCustomerActive"]["isActive"], false, "{off}");
    assert_eq!(
        code(&app.post_as(Some(&customer), ME, json!({})).await),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        code(&login(&app, "asha.rao@shop.test", PASSWORD).await),
        "UNAUTHENTICATED"
    );
    let one = app
        .post_as(
            Some(&orders),
            "query($id: ID!) { adminCustomer(id: $id) { email isActive } }",
            json!({ "id": gid }),
        )
        .await;
    assert_eq!(
        one["data"]["adminCustomer"],
        json!({ "email": "asha.rao@shop.test", "isActive": false })
    );
    let on = app
        .post_as(Some(&orders), disable, json!({ "id": gid, "a": true }))
        .await;
    assert_eq!(on["data"]["setCustomerActive"]["isActive"], true);
    assert!(
        login(&app, "asha.rao@shop.test", PASSWORD).await["data"]["customerLogin"]["token"]
            .is_string()
    );
    let _ = id;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_registrations_change_nothing() {
    let app = TestApp::new().await;
    for (email, password, first) in [
        ("not-an-email", PASSWORD, "Asha"),
        ("a@b@c.test", PASSWORD, "Asha"),
        ("asha@shop.test", "short", "Asha"),
        ("asha@shop.test", "passwordpassword", "Asha"),
        ("asha@shop.test", &"x1".repeat(65), "Asha"),
        ("asha@shop.test", PASSWORD, " "),
        ("asha@shop.test", PASSWORD, "A\u{0007}sha"),
    ] {
        let body = app
            .post_as(None, REGISTER, registration(email, first, password))
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{email} {password}: {body}");
    }
    assert_eq!(
        db_count(&app, "SELECT count(*) AS n FROM customers").await,
        0
    );
    assert_eq!(db_count(&app, "SELECT count(*) AS n FROM jobs").await, 0);
}
