//! Staff authentication: uniform, throttled sign-in; guards that refuse missing, malformed,
//! expired, customer and wrong-role tokens; the `admin create` command.

use serde_json::json;
use techpotli::auth::Role;

use crate::banners::{CREATE, banner_count};
use crate::support::{TestApp, code, customer_token, signed_token, staff_token};

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_is_uniform_and_throttled() {
    let app = TestApp::new().await;
    staff_token(&app, Role::Owner).await;
    let login = "mutation($e: String!, $p: String!) { adminLogin(email: $e, password: $p) { token expiresAt admin { email role } } }";
    let ok = app
        .post_as(
            None,
            login,
            json!({ "e": "Owner@Techpotli.test", "p": "correct-horse-battery" }),
        )
        .await;
    let token = ok["data"]["adminLogin"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(ok["data"]["adminLogin"]["admin"]["role"], "OWNER");
    let me = app
        .post_as(Some(&token), "{ adminMe { email role } }", json!({}))
        .await;
    assert_eq!(me["data"]["adminMe"]["email"], "owner@techpotli.test");

    let wrong = app
        .post_as(
            None,
            login,
            json!({ "e": "owner@techpotli.test", "p": "nope-nope-nope" }),
        )
        .await;
    let unknown = app
        .post_as(
            None,
            login,
            json!({ "e": "ghost@techpotli.test", "p": "nope-nope-nope" }),
        )
        .await;
    assert_eq!(code(&wrong), "UNAUTHENTICATED");
    assert_eq!(
        wrong["errors"][0]["message"], unknown["errors"][0]["message"],
        "no user enumeration"
    );
    for _ in 0..4 {
        app.post_as(
            None,
            login,
            json!({ "e": "owner@techpotli.test", "p": "nope-nope-nope" }),
        )
        .await;
    }
    let throttled = app
        .post_as(
            None,
            login,
            json!({ "e": "owner@techpotli.test", "p": "correct-horse-battery" }),
        )
        .await;
    assert_eq!(code(&throttled), "TOO_MANY_REQUESTS", "{throttled}");
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_fields_refuse_missing_bad_expired_customer_and_wrong_role_tokens() {
    let app = TestApp::new().await;
    let catalog = staff_token(&app, Role::Catalog).await;
    let content = staff_token(&app, Role::Content).await;
    let expired = signed_token(&app, "admin:1", "owner", -7200, -3600);
    let (_, customer) = customer_token(&app, "shopper@techpotli.test").await;
    let input = json!({ "input": { "title": "Sneaky", "imageUrl": "https://x/y.jpg" } });
    let before = banner_count(&app).await;
    for (token, want) in [
        (None, "UNAUTHENTICATED"),
        (Some("garbage"), "UNAUTHENTICATED"),
        (Some(expired.as_str()), "UNAUTHENTICATED"),
        (Some(customer.as_str()), "FORBIDDEN"),
        (Some(catalog.as_str()), "FORBIDDEN"),
    ] {
        let body = app.post_as(token, CREATE, input.clone()).await;
        assert_eq!(code(&body), want, "{token:?}: {body}");
        let list = app
            .post_as(
                token,
                "{ adminHeroBanners { edges { node { id } } } }",
                json!({}),
            )
            .await;
        assert_eq!(code(&list), want);
    }
    assert_eq!(
        banner_count(&app).await,
        before,
        "refused calls changed nothing"
    );
    let ok = app.post_as(Some(&content), CREATE, input).await;
    assert_eq!(ok["data"]["createHeroBanner"]["title"], "Sneaky");
    // Store queries stay public, and a token does not break them.
    let store = app
        .post_as(Some(&content), "{ regions { name } }", json!({}))
        .await;
    assert!(store["data"]["regions"].is_array());
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_create_command_reads_the_password_from_stdin() {
    use std::io::Write;
    let app = TestApp::new().await;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_techpotli"))
        .args([
            "admin",
            "create",
            "--email",
            "Staff@Techpotli.test",
            "--role",
            "catalog",
        ])
        .env("DATABASE_URL", &app.db.url)
        .env_remove("ADMIN_PASSWORD")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a-long-staff-password\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("a-long-staff-password"),
        "never echoed"
    );
    let login = "mutation { adminLogin(email: \"staff@techpotli.test\", password: \"a-long-staff-password\") { admin { role } } }";
    let body = app.post_as(None, login, json!({})).await;
    assert_eq!(
        body["data"]["adminLogin"]["admin"]["role"], "CATALOG",
        "{body}"
    );
}
