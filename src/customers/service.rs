//! Customer use cases. Answers never tell whether an email has an account: registration,
//! verification requests and reset requests answer the same either way (the difference goes by
//! mail to the address's owner), and sign-in fails with one message.

use std::collections::BTreeMap;
use std::str::FromStr;

use diesel_async::AsyncConnection;

use super::model::{self, Address, AddressFields, Customer, Registration, TokenPurpose};
use super::tokens;
use crate::auth::jwt::Claims;
use crate::auth::sessions::Principal;
use crate::auth::{password, sign_in};
use crate::error::{AppError, AppResult};
use crate::events::DomainEvent;
use crate::graphql::context::RequestContext;
use crate::jobs::{self, NewJob};
use crate::mail::{MailRequest, Template};
use crate::state::{App, AppState};

/// Shortest customer password.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest customer password (argon2 takes any length; this bounds the work per request).
pub const MAX_PASSWORD_CHARS: usize = 128;
/// Longest name.
const MAX_NAME_CHARS: usize = 100;

/// Passwords refused whatever their length (the most common ones that pass the length rule).
const COMMON_PASSWORDS: &[&str] = &[
    "1234567890",
    "12345678910",
    "123456789012",
    "0123456789",
    "1111111111",
    "0000000000",
    "qwertyuiop",
    "password123",
    "password1234",
    "passwordpassword",
    "iloveyou123",
    "qwerty12345",
    "qwerty123456",
    "abcdefghij",
    "abc1234567",
    "letmein123",
    "welcome123",
    "techpotli123",
];

/// What `customerRegister` takes.
#[derive(Debug, Clone)]
pub struct Registering {
    pub email: String,
    pub password: String,
    pub first_name: String,
    pub last_name: String,
}

/// A signed-in customer: the token and its claims.
pub struct SignedIn {
    pub token: String,
    pub claims: Claims,
    pub customer: Customer,
}

/// Characters that render as nothing or reorder text (zero-width, bidi controls, soft hyphen,
/// BOM): refused in emails and names, where they make lookalikes.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Trims and lower-cases an email and checks its syntax.
pub fn normalize_email(raw: &str) -> AppResult<String> {
    let email = raw.trim().to_lowercase();
    if email.len() > 254
        || email
            .chars()
            .any(|c| is_invisible(c) || c.is_whitespace() || c.is_control())
        || lettre::Address::from_str(&email).is_err()
    {
        return Err(AppError::bad_input("`email` is not a valid email address"));
    }
    Ok(email)
}

/// Refuses weak or over-long passwords.
pub fn check_password(password: &str, email: &str) -> AppResult<()> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(AppError::bad_input(format!(
            "the password must have at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(AppError::bad_input(format!(
            "the password must have at most {MAX_PASSWORD_CHARS} characters"
        )));
    }
    let lower = password.to_lowercase();
    let one_char = password.chars().all(|c| password.starts_with(c));
    let local = email.split('@').next().unwrap_or_default();
    if one_char || COMMON_PASSWORDS.contains(&lower.as_str()) || lower == email || lower == local {
        return Err(AppError::bad_input(
            "the password is too easy to guess; choose another",
        ));
    }
    Ok(())
}

/// Trims a name and checks its length and characters.
pub fn check_name(field: &str, value: &str) -> AppResult<String> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::bad_input(format!(
            "`{field}` must have 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    if value.chars().any(|c| c.is_control() || is_invisible(c)) {
        return Err(AppError::bad_input(format!(
            "`{field}` must not contain control or invisible characters"
        )));
    }
    Ok(value.to_owned())
}

fn link(app: &App, path: &str, token: Option<&str>) -> String {
    let base = &app.config.mail.storefront_url;
    match token {
        Some(token) => format!("{base}{path}?token={token}"),
        None => format!("{base}{path}"),
    }
}

fn hours_text(d: chrono::Duration) -> String {
    match d.num_minutes() {
        m if m % 60 != 0 || m < 60 => format!("{m} minutes"),
        60 => "1 hour".into(),
        m => format!("{} hours", m / 60),
    }
}

fn mail(template: Template, to: &str, vars: &[(&str, String)]) -> MailRequest {
    MailRequest {
        template,
        to: to.to_owned(),
        vars: vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// A random job key (mail jobs that must each be sent).
fn fresh_key() -> AppResult<String> {
    Ok(tokens::digest(&tokens::generate()?)[..32].to_owned())
}

/// Wakes this process's workers after a commit that enqueued jobs.
fn jobs_enqueued(app: &App) {
    app.jobs_wake.notify_one();
}

/// Registers a customer and mails a verification link — or, when the email already has an
/// account, mails its owner instead (at most once an hour). The caller sees the same either way:
/// the same answer, a password hash and one SQL statement in both cases.
pub async fn register(
    app: &AppState,
    request: &RequestContext,
    input: Registering,
) -> AppResult<()> {
    let email = normalize_email(&input.email)?;
    check_password(&input.password, &email)?;
    let first_name = check_name("firstName", &input.first_name)?;
    let last_name = check_name("lastName", &input.last_name)?;
    sign_in::attempt(app, request, "register", &email).await?;
    let hash = password::hash(password::slot(&app.password_slots).await?, input.password).await?;
    let token = tokens::generate()?;
    let ttl = app.config.customers.verify_token_ttl;
    let verify = mail(
        Template::VerifyEmail,
        &email,
        &[
            ("first_name", first_name.clone()),
            ("link", link(app, "/account/verify-email", Some(&token))),
            ("expires_in", hours_text(ttl)),
        ],
    );
    let hour = chrono::Utc::now().timestamp() / 3600;
    let exists_key = format!("account-exists:{}:{hour}", &tokens::digest(&email)[..32]);
    let registration = Registration {
        email: &email,
        password_hash: &hash,
        first_name: &first_name,
        last_name: &last_name,
        token_hash: &tokens::digest(&token),
        token_ttl_secs: ttl.num_seconds() as f64,
        verify_job_key: &format!("verify:{}", fresh_key()?),
        verify_job_payload: serde_json::to_value(&verify)
            .map_err(|e| AppError::Internal(e.into()))?,
        exists_job_key: &exists_key,
        exists_link: &link(app, "/account/forgot-password", None),
        max_attempts: app.config.jobs.max_attempts,
    };
    model::register(&mut *app.db.get().await?, &registration).await?;
    jobs_enqueued(app);
    Ok(())
}

/// Spends a verification token and marks the email verified. A spent, expired or unknown token
/// gets one answer.
pub async fn verify_email(app: &AppState, token: &str) -> AppResult<()> {
    let invalid = || AppError::bad_input("this verification link is invalid or has expired");
    if !tokens::well_formed(token) {
        return Err(invalid());
    }
    let digest = tokens::digest(token);
    let mut conn = app.db.get().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        let id = model::spend_token(conn, TokenPurpose::VerifyEmail, &digest)
            .await?
            .ok_or_else(invalid)?;
        Customer::mark_verified(conn, id).await?;
        Ok(())
    })
    .await
}

/// Mails a fresh verification link if the email has an unverified, active account (at most one
/// such mail per address and hour). Answers the same whatever the email, after the same work:
/// one job insert, whose handler (`customers::jobs`) looks the address up later.
pub async fn request_verification(
    app: &AppState,
    request: &RequestContext,
    email: &str,
) -> AppResult<()> {
    let email = normalize_email(email)?;
    sign_in::attempt(app, request, "verify-request", &email).await?;
    enqueue_request(app, EmailRequest::Verify, &email).await
}

/// The job behind [`request_verification`] and [`request_password_reset`], keyed by address and
/// time window: repeated requests inside the window make no second mail.
async fn enqueue_request(app: &AppState, purpose: EmailRequest, email: &str) -> AppResult<()> {
    let window = chrono::Utc::now().timestamp() / purpose.window_secs();
    let job = NewJob {
        kind: EMAIL_REQUEST_KIND.into(),
        key: format!(
            "{}:{}:{window}",
            purpose.as_str(),
            &tokens::digest(email)[..32]
        ),
        payload: serde_json::json!({ "purpose": purpose, "email": email }),
        max_attempts: app.config.jobs.max_attempts,
    };
    jobs::enqueue(&mut *app.db.get().await?, &job).await?;
    jobs_enqueued(app);
    Ok(())
}

/// The job kind of emailed requests (run by `customers::jobs::EmailRequestJob`).
pub const EMAIL_REQUEST_KIND: &str = "customer_email_request";

/// What an emailed request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailRequest {
    /// A new verification link.
    Verify,
    /// A password reset link.
    Reset,
}

impl EmailRequest {
    fn as_str(self) -> &'static str {
        match self {
            Self::Verify => "verify-request",
            Self::Reset => "reset-request",
        }
    }

    /// At most one mail per address in this many seconds.
    fn window_secs(self) -> i64 {
        match self {
            Self::Verify => 3600,
            Self::Reset => 600,
        }
    }
}

/// Runs an emailed request (from its job): when the address has an active account (unverified,
/// for a verification link), stores a fresh token and enqueues its mail — both at most once per
/// request job, however often the job runs.
pub async fn fulfil_request(
    app: &App,
    job_id: i64,
    purpose: EmailRequest,
    email: &str,
) -> AppResult<()> {
    let mut conn = app.db.get().await?;
    let Some(customer) = Customer::find_by_email(&mut conn, email).await? else {
        return Ok(());
    };
    let wanted = match purpose {
        EmailRequest::Verify => customer.email_verified_at.is_none(),
        EmailRequest::Reset => true,
    };
    if !customer.is_active || !wanted {
        return Ok(());
    }
    let token = tokens::generate()?;
    let (template, path, ttl, token_purpose) = match purpose {
        EmailRequest::Verify => (
            Template::VerifyEmail,
            "/account/verify-email",
            app.config.customers.verify_token_ttl,
            TokenPurpose::VerifyEmail,
        ),
        EmailRequest::Reset => (
            Template::ResetPassword,
            "/account/reset-password",
            app.config.customers.reset_token_ttl,
            TokenPurpose::ResetPassword,
        ),
    };
    let job = mail(
        template,
        email,
        &[
            ("first_name", customer.first_name.clone()),
            ("link", link(app, path, Some(&token))),
            ("expires_in", hours_text(ttl)),
        ],
    )
    .job(format!("for-job-{job_id}"), app.config.jobs.max_attempts);
    conn.transaction::<_, AppError, _>(async |conn| {
        // A repeat of this job finds its mail enqueued and stores no second token.
        if jobs::enqueue(conn, &job).await?.is_some() {
            model::insert_token(
                conn,
                customer.id,
                token_purpose,
                &tokens::digest(&token),
                ttl,
            )
            .await?;
        }
        Ok(())
    })
    .await?;
    jobs_enqueued(app);
    Ok(())
}

/// Checks a customer's credentials (throttled like staff sign-in) and issues a customer token.
pub async fn login(
    app: &AppState,
    request: &RequestContext,
    email: &str,
    password_text: String,
) -> AppResult<SignedIn> {
    let invalid = || AppError::Unauthenticated("invalid email or password".into());
    // A malformed email is answered like a wrong password (and still costs a hash).
    let email = normalize_email(email).unwrap_or_else(|_| email.trim().to_lowercase());
    if password_text.chars().count() > MAX_PASSWORD_CHARS {
        return Err(invalid());
    }
    let attempt = sign_in::attempt(app, request, "customer-login", &email).await?;
    let slot = password::slot(&app.password_slots).await?;
    let customer = Customer::find_by_email(&mut *app.db.get().await?, &email).await?;
    let stored = customer.as_ref().map_or_else(
        || password::dummy_hash().to_owned(),
        |c| c.password_hash.clone(),
    );
    let valid = password::verify(slot, password_text, stored).await;
    let customer = match customer {
        Some(c) if valid && c.is_active => c,
        _ => {
            attempt.failed(app).await;
            return Err(invalid());
        }
    };
    attempt.succeeded(app).await;
    if app.config.customers.require_verified_email && customer.email_verified_at.is_none() {
        return Err(AppError::Forbidden(
            "confirm your email address first: open the link we sent, or ask for a new one \
             with requestEmailVerification"
                .into(),
        ));
    }
    issue(app, customer)
}

fn issue(app: &App, customer: Customer) -> AppResult<SignedIn> {
    let (token, claims) = app
        .jwt
        .issue_customer(customer.id, customer.token_version)
        .map_err(AppError::Internal)?;
    Ok(SignedIn {
        token,
        claims,
        customer,
    })
}

/// Mails a password reset link if the email has an active account (at most one per address in
/// ten minutes). Answers the same whatever the email, after the same work (one job insert).
pub async fn request_password_reset(
    app: &AppState,
    request: &RequestContext,
    email: &str,
) -> AppResult<()> {
    let email = normalize_email(email)?;
    sign_in::attempt(app, request, "reset-request", &email).await?;
    enqueue_request(app, EmailRequest::Reset, &email).await
}

/// Sets a new password with a reset token: the token (and every other reset link of the
/// account) is spent, every token signed in before stops working, the email counts as verified,
/// and the owner is told by mail.
pub async fn reset_password(app: &AppState, token: &str, new_password: String) -> AppResult<()> {
    let invalid = || AppError::bad_input("this reset link is invalid or has expired");
    if !tokens::well_formed(token) {
        return Err(invalid());
    }
    let digest = tokens::digest(token);
    let owner = model::token_owner(
        &mut *app.db.get().await?,
        TokenPurpose::ResetPassword,
        &digest,
    )
    .await?
    .ok_or_else(invalid)?;
    let customer = Customer::find(&mut *app.db.get().await?, owner)
        .await?
        .ok_or_else(invalid)?;
    check_password(&new_password, &customer.email)?;
    let hash = password::hash(password::slot(&app.password_slots).await?, new_password).await?;
    let notice = password_changed_notice(app, &customer)?;
    let mut conn = app.db.get().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        // Spent here, conditionally: of two concurrent resets with one link, one wins.
        let id = model::spend_token(conn, TokenPurpose::ResetPassword, &digest)
            .await?
            .ok_or_else(invalid)?;
        model::spend_all_tokens(conn, id, TokenPurpose::ResetPassword).await?;
        Customer::set_password(conn, id, &hash, true).await?;
        jobs::enqueue(conn, &notice).await?;
        Ok(())
    })
    .await?;
    account_changed(app, owner).await;
    jobs_enqueued(app);
    Ok(())
}

/// The "your password was changed" mail job for `customer`.
fn password_changed_notice(app: &App, customer: &Customer) -> AppResult<NewJob> {
    Ok(mail(
        Template::PasswordChanged,
        &customer.email,
        &[("first_name", customer.first_name.clone())],
    )
    .job(
        format!("password-changed:{}", fresh_key()?),
        app.config.jobs.max_attempts,
    ))
}

/// Changes the signed-in customer's password after checking the current one; every other token
/// stops working, and the caller gets a new one.
pub async fn change_password(
    app: &AppState,
    request: &RequestContext,
    id: i64,
    current: String,
    new_password: String,
) -> AppResult<SignedIn> {
    let customer = Customer::find(&mut *app.db.get().await?, id)
        .await?
        .ok_or_else(|| AppError::Unauthenticated("account no longer exists".into()))?;
    check_password(&new_password, &customer.email)?;
    let attempt = sign_in::attempt(app, request, "customer-password", &customer.email).await?;
    let slot = password::slot(&app.password_slots).await?;
    if !password::verify(slot, current, customer.password_hash.clone()).await {
        attempt.failed(app).await;
        return Err(AppError::bad_input("the current password is not correct"));
    }
    attempt.succeeded(app).await;
    let hash = password::hash(password::slot(&app.password_slots).await?, new_password).await?;
    let notice = password_changed_notice(app, &customer)?;
    let mut conn = app.db.get().await?;
    let customer = conn
        .transaction::<_, AppError, _>(async |conn| {
            let customer = Customer::set_password(conn, id, &hash, false).await?;
            model::spend_all_tokens(conn, id, TokenPurpose::ResetPassword).await?;
            jobs::enqueue(conn, &notice).await?;
            Ok(customer)
        })
        .await?;
    account_changed(app, id).await;
    jobs_enqueued(app);
    issue(app, customer)
}

/// Changes the signed-in customer's names.
pub async fn update_profile(
    app: &AppState,
    id: i64,
    first_name: Option<String>,
    last_name: Option<String>,
) -> AppResult<Customer> {
    let mut conn = app.db.get().await?;
    let current = Customer::find(&mut conn, id)
        .await?
        .ok_or_else(|| AppError::Unauthenticated("account no longer exists".into()))?;
    let first = match first_name {
        Some(v) => check_name("firstName", &v)?,
        None => current.first_name,
    };
    let last = match last_name {
        Some(v) => check_name("lastName", &v)?,
        None => current.last_name,
    };
    Customer::rename(&mut conn, id, &first, &last)
        .await?
        .ok_or_else(|| AppError::Unauthenticated("account no longer exists".into()))
}

/// Staff: enables or disables an account. Either way, every token of the account stops working
/// at once, on every instance.
pub async fn set_active(app: &AppState, id: i64, active: bool) -> AppResult<Customer> {
    let customer = Customer::set_active(&mut *app.db.get().await?, id, active)
        .await?
        .ok_or_else(|| AppError::not_found("customer"))?;
    account_changed(app, id).await;
    Ok(customer)
}

/// Forgets the account here at once, then tells every instance.
async fn account_changed(app: &App, id: i64) {
    app.sessions.forget(Principal::Customer(id));
    app.events
        .publish(DomainEvent::CustomerChanged { id })
        .await;
}

/// Validates and trims address fields as a client sent them.
pub fn check_address(input: AddressFields) -> AppResult<AddressFields> {
    let required = |field: &str, v: &str, max: usize| -> AppResult<String> {
        let v = v.trim();
        if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
            return Err(AppError::bad_input(format!(
                "`{field}` must have 1 to {max} characters and no control characters"
            )));
        }
        Ok(v.to_owned())
    };
    let optional = |field: &str, v: Option<String>, max: usize| -> AppResult<Option<String>> {
        match v.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => required(field, v, max).map(Some),
        }
    };
    let country = input.country_code.trim().to_uppercase();
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(AppError::bad_input(
            "`countryCode` must be an ISO 3166-1 alpha-2 code such as IN",
        ));
    }
    let phone = optional("phone", input.phone, 32)?;
    if let Some(p) = &phone
        && !p
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.'))
    {
        return Err(AppError::bad_input(
            "`phone` may hold digits, spaces and + - ( ) . only",
        ));
    }
    Ok(AddressFields {
        first_name: required("firstName", &input.first_name, MAX_NAME_CHARS)?,
        last_name: required("lastName", &input.last_name, MAX_NAME_CHARS)?,
        company: optional("company", input.company, 200)?,
        address1: required("address1", &input.address1, 200)?,
        address2: optional("address2", input.address2, 200)?,
        city: required("city", &input.city, 100)?,
        province: optional("province", input.province, 100)?,
        postal_code: required("postalCode", &input.postal_code, 20)?,
        country_code: country,
        phone,
    })
}

fn address_not_found() -> AppError {
    AppError::not_found("address")
}

fn account_gone() -> AppError {
    AppError::Unauthenticated("account no longer exists".into())
}

/// Adds an address (the first becomes the default).
pub async fn add_address(app: &AppState, id: i64, input: AddressFields) -> AppResult<Address> {
    let fields = check_address(input)?;
    let mut conn = app.db.get().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        // Locked: two concurrent adds cannot both pass the limit or both become the default.
        if !model::lock_customer(conn, id).await? {
            return Err(account_gone());
        }
        Address::insert(conn, id, &fields).await?.ok_or_else(|| {
            AppError::bad_input(format!(
                "an account keeps at most {} addresses",
                model::MAX_ADDRESSES
            ))
        })
    })
    .await
}

/// Replaces an address of the customer's.
pub async fn update_address(
    app: &AppState,
    id: i64,
    address_id: i64,
    input: AddressFields,
) -> AppResult<Address> {
    let fields = check_address(input)?;
    Address::update(&mut *app.db.get().await?, id, address_id, &fields)
        .await?
        .ok_or_else(address_not_found)
}

/// Deletes an address of the customer's (the oldest other one becomes the default).
pub async fn delete_address(app: &AppState, id: i64, address_id: i64) -> AppResult<()> {
    change_address(app, id, address_id, AddressChange::Delete).await
}

/// Makes an address of the customer's the default.
pub async fn set_default_address(app: &AppState, id: i64, address_id: i64) -> AppResult<()> {
    change_address(app, id, address_id, AddressChange::MakeDefault).await
}

enum AddressChange {
    Delete,
    MakeDefault,
}

/// Applies `change` to an address of the customer's with the customer row locked (so the
/// default moves atomically); `NOT_FOUND` when the address is not theirs.
async fn change_address(
    app: &AppState,
    id: i64,
    address_id: i64,
    change: AddressChange,
) -> AppResult<()> {
    let mut conn = app.db.get().await?;
    let found = conn
        .transaction::<_, AppError, _>(async |conn| {
            if !model::lock_customer(conn, id).await? {
                return Err(account_gone());
            }
            Ok(match change {
                AddressChange::Delete => Address::delete(conn, id, address_id).await?,
                AddressChange::MakeDefault => Address::make_default(conn, id, address_id).await?,
            })
        })
        .await?;
    if found {
        Ok(())
    } else {
        Err(address_not_found())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalize_email("  Asha@Example.COM ").unwrap(),
            "asha@example.com"
        );
        for bad in [
            "",
            "asha",
            "@example.com",
            "asha@",
            "a b@example.com",
            "a@b@c",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
        assert!(normalize_email(&format!("{}@example.com", "a".repeat(250))).is_err());
        assert!(
            normalize_email("asha\u{200B}@example.com").is_err(),
            "lookalike"
        );
    }

    #[test]
    fn weak_and_overlong_passwords_are_refused() {
        let email = "asha@example.com";
        assert!(check_password("short", email).is_err());
        assert!(check_password("aaaaaaaaaaaa", email).is_err());
        assert!(check_password("Password123", email).is_err());
        assert!(check_password(email, email).is_err());
        assert!(check_password(&"x1".repeat(65), email).is_err());
        assert!(check_password("mango-tree-river-7", email).is_ok());
    }

    #[test]
    fn addresses_are_trimmed_and_checked() {
        let ok = AddressFields {
            first_name: " Asha ".into(),
            last_name: "Rao".into(),
            address1: "12 MG Road".into(),
            city: "Bengaluru".into(),
            postal_code: "560001".into(),
            country_code: "in".into(),
            phone: Some("+91 80 1234 5678".into()),
            company: None,
            address2: None,
            province: None,
        };
        let fields = check_address(ok.clone()).unwrap();
        assert_eq!(
            (fields.first_name.as_str(), fields.country_code.as_str()),
            ("Asha", "IN")
        );
        assert!(
            check_address(AddressFields {
                country_code: "IND".into(),
                ..ok.clone()
            })
            .is_err()
        );
        assert!(
            check_address(AddressFields {
                city: " ".into(),
                ..ok.clone()
            })
            .is_err()
        );
        assert!(
            check_address(AddressFields {
                phone: Some("call me".into()),
                ..ok
            })
            .is_err()
        );
    }
}
