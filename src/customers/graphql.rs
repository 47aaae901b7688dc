//! The storefront's account API: registration, verification, sign-in, password reset, profile
//! and addresses. Everything here is private (`private, no-store`), never in a shared cache.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::model::{Address, AddressFields, Customer};
use super::service::{self, Registering, SignedIn};
use super::types::PostalAddress;
use crate::auth::{RequireCustomer, Viewer};
use crate::error::AppError;
use crate::graphql::context::{app, request_context};
use crate::graphql::ids::{expect_global, to_global};
use crate::graphql::response_cache::{Reads, RootReads};

/// What the root fields below read, for the response cache (see `Reads`).
pub const READS: RootReads = &[("me", Reads::Private)];

/// The signed-in customer.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(cache_control(private), complex)]
pub struct CustomerAccount {
    /// `customers.id`.
    #[graphql(skip)]
    pub customer_id: i64,
    /// Global ID.
    pub id: ID,
    /// Email (lower case).
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Whether the email address has been confirmed.
    pub email_verified: bool,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
    /// Saved addresses, the default first.
    pub addresses: Vec<CustomerAddress>,
}

/// A saved address.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(cache_control(private))]
pub struct CustomerAddress {
    /// Global ID.
    pub id: ID,
    /// The address.
    #[graphql(flatten)]
    pub address: PostalAddress,
    /// Whether this is the default address.
    pub is_default: bool,
}

impl From<Address> for CustomerAddress {
    fn from(a: Address) -> Self {
        Self {
            id: to_global("CustomerAddress", a.id),
            address: a.fields.into(),
            is_default: a.is_default,
        }
    }
}

fn account(customer: Customer, addresses: Vec<Address>) -> CustomerAccount {
    CustomerAccount {
        customer_id: customer.id,
        id: to_global("Customer", customer.id),
        email: customer.email,
        first_name: customer.first_name,
        last_name: customer.last_name,
        email_verified: customer.email_verified_at.is_some(),
        created_at: customer.created_at,
        addresses: addresses.into_iter().map(CustomerAddress::from).collect(),
    }
}

#[async_graphql::ComplexObject]
impl CustomerAccount {
    /// The customer's orders, newest first.
    async fn orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<async_graphql::connection::Connection<String, crate::orders::graphql::Order>> {
        let filter = crate::orders::model::OrderFilter {
            customer_id: Some(self.customer_id),
            ..Default::default()
        };
        crate::orders::graphql::page(app(ctx)?, &filter, first, after).await
    }
}

/// The result of a successful sign-in (or password change).
#[derive(SimpleObject, Clone, Debug)]
#[graphql(cache_control(private))]
pub struct CustomerLoginPayload {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    /// When the token stops working.
    pub expires_at: DateTime<Utc>,
    /// Who signed in.
    pub customer: CustomerAccount,
}

/// A new account.
#[derive(InputObject, Debug)]
pub struct CustomerRegisterInput {
    /// Email address (also the sign-in name).
    pub email: String,
    /// At least 10 characters, not a common password.
    pub password: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
}

/// Profile changes (omitted fields stay).
#[derive(InputObject, Debug, Default)]
pub struct UpdateMeInput {
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
}

/// An address.
#[derive(InputObject, Debug)]
pub struct CustomerAddressInput {
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Company.
    pub company: Option<String>,
    /// Street address.
    pub address1: String,
    /// Apartment, suite, etc.
    pub address2: Option<String>,
    /// City.
    pub city: String,
    /// State or province.
    pub province: Option<String>,
    /// Postal code.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code, e.g. `IN`.
    pub country_code: String,
    /// Phone.
    pub phone: Option<String>,
}

impl From<CustomerAddressInput> for AddressFields {
    fn from(i: CustomerAddressInput) -> Self {
        Self {
            first_name: i.first_name,
            last_name: i.last_name,
            company: i.company,
            address1: i.address1,
            address2: i.address2,
            city: i.city,
            province: i.province,
            postal_code: i.postal_code,
            country_code: i.country_code,
            phone: i.phone,
        }
    }
}

/// The signed-in customer's id (the guard has checked there is one).
fn customer_id(ctx: &Context<'_>) -> Result<i64> {
    match request_context(ctx)?.viewer {
        Viewer::Customer { id } => Ok(id),
        _ => Err(AppError::Unauthenticated("sign in as a customer".into()).into()),
    }
}

async fn addresses_of(app: &crate::state::App, id: i64) -> crate::error::AppResult<Vec<Address>> {
    app.read(move |conn| Box::pin(async move { Ok(Address::of_customer(conn, id).await?) }))
        .await
}

async fn load_account(ctx: &Context<'_>, id: i64) -> Result<CustomerAccount> {
    let (customer, addresses) = app(ctx)?
        .read(move |conn| {
            Box::pin(async move {
                let customer = Customer::find(conn, id).await?;
                let addresses = Address::of_customer(conn, id).await?;
                Ok((customer, addresses))
            })
        })
        .await?;
    let customer =
        customer.ok_or_else(|| AppError::Unauthenticated("account no longer exists".into()))?;
    Ok(account(customer, addresses))
}

fn payload(signed_in: SignedIn, addresses: Vec<Address>) -> CustomerLoginPayload {
    CustomerLoginPayload {
        token: signed_in.token,
        expires_at: DateTime::from_timestamp(signed_in.claims.exp, 0).unwrap_or_default(),
        customer: account(signed_in.customer, addresses),
    }
}

/// Customer queries.
#[derive(Default)]
pub struct CustomersQuery;

#[Object]
impl CustomersQuery {
    /// The signed-in customer, with their addresses.
    #[graphql(guard = "RequireCustomer", cache_control(private))]
    async fn me(&self, ctx: &Context<'_>) -> Result<CustomerAccount> {
        load_account(ctx, customer_id(ctx)?).await
    }
}

/// Customer mutations.
#[derive(Default)]
pub struct CustomersMutation;

#[Object]
impl CustomersMutation {
    /// Creates an account and mails a verification link. The answer is `true` whether or not the
    /// email already has an account (its owner gets a mail instead): nothing here tells who is a
    /// customer.
    async fn customer_register(
        &self,
        ctx: &Context<'_>,
        input: CustomerRegisterInput,
    ) -> Result<bool> {
        let registering = Registering {
            email: input.email,
            password: input.password,
            first_name: input.first_name,
            last_name: input.last_name,
        };
        service::register(app(ctx)?, request_context(ctx)?, registering).await?;
        Ok(true)
    }

    /// Confirms an email address with the token from the verification mail (single use).
    async fn verify_customer_email(&self, ctx: &Context<'_>, token: String) -> Result<bool> {
        service::verify_email(app(ctx)?, &token).await?;
        Ok(true)
    }

    /// Mails a new verification link if the email has an unconfirmed account; always `true`.
    async fn request_email_verification(&self, ctx: &Context<'_>, email: String) -> Result<bool> {
        service::request_verification(app(ctx)?, request_context(ctx)?, &email).await?;
        Ok(true)
    }

    /// Exchanges customer credentials for a customer token. Every failure reads the same; repeated
    /// failures are throttled as for staff.
    async fn customer_login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> Result<CustomerLoginPayload> {
        let app = app(ctx)?;
        let signed_in = service::login(app, request_context(ctx)?, &email, password).await?;
        let addresses = addresses_of(app, signed_in.customer.id).await?;
        Ok(payload(signed_in, addresses))
    }

    /// Mails a password reset link if the email has an account; always `true`.
    async fn request_password_reset(&self, ctx: &Context<'_>, email: String) -> Result<bool> {
        service::request_password_reset(app(ctx)?, request_context(ctx)?, &email).await?;
        Ok(true)
    }

    /// Sets a new password with the token from the reset mail (single use, expiring). Every
    /// token signed in before stops working; sign in again with the new password.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        token: String,
        new_password: String,
    ) -> Result<bool> {
        service::reset_password(app(ctx)?, &token, new_password).await?;
        Ok(true)
    }

    /// Changes the signed-in customer's names.
    #[graphql(guard = "RequireCustomer")]
    async fn update_me(&self, ctx: &Context<'_>, input: UpdateMeInput) -> Result<CustomerAccount> {
        let id = customer_id(ctx)?;
        service::update_profile(app(ctx)?, id, input.first_name, input.last_name).await?;
        load_account(ctx, id).await
    }

    /// Changes the signed-in customer's password. Every other session ends; the answer carries
    /// a new token.
    #[graphql(guard = "RequireCustomer")]
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> Result<CustomerLoginPayload> {
        let id = customer_id(ctx)?;
        let signed_in = service::change_password(
            app(ctx)?,
            request_context(ctx)?,
            id,
            current_password,
            new_password,
        )
        .await?;
        let addresses = addresses_of(app(ctx)?, id).await?;
        Ok(payload(signed_in, addresses))
    }

    /// Saves an address (an account keeps at most 20; the first becomes the default).
    #[graphql(guard = "RequireCustomer")]
    async fn create_customer_address(
        &self,
        ctx: &Context<'_>,
        input: CustomerAddressInput,
    ) -> Result<CustomerAddress> {
        let id = customer_id(ctx)?;
        Ok(service::add_address(app(ctx)?, id, input.into())
            .await?
            .into())
    }

    /// Replaces one of the signed-in customer's addresses.
    #[graphql(guard = "RequireCustomer")]
    async fn update_customer_address(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: CustomerAddressInput,
    ) -> Result<CustomerAddress> {
        let address = expect_global(&id, "CustomerAddress")?;
        let id = customer_id(ctx)?;
        Ok(
            service::update_address(app(ctx)?, id, address, input.into())
                .await?
                .into(),
        )
    }

    /// Deletes one of the signed-in customer's addresses; returns its id.
    #[graphql(guard = "RequireCustomer")]
    async fn delete_customer_address(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let address = expect_global(&id, "CustomerAddress")?;
        service::delete_address(app(ctx)?, customer_id(ctx)?, address).await?;
        Ok(id)
    }

    /// Makes one of the signed-in customer's addresses the default.
    #[graphql(guard = "RequireCustomer")]
    async fn set_default_customer_address(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<CustomerAccount> {
        let address = expect_global(&id, "CustomerAddress")?;
        let customer = customer_id(ctx)?;
        service::set_default_address(app(ctx)?, customer, address).await?;
        load_account(ctx, customer).await
    }
}
