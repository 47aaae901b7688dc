//! Staff view of customers (orders permission): search, look up, disable and enable.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::model::Customer;
use super::service;
use crate::auth::{Permission, RequirePermission};
use crate::db::pagination::PageRequest;
use crate::error::AppError;
use crate::graphql::context::app;
use crate::graphql::ids::{expect_global, to_global};
use crate::graphql::response_cache::{Reads, RootReads};

/// What the root fields below read, for the response cache (see `Reads`).
pub const READS: RootReads = &[
    ("adminCustomers", Reads::Private),
    ("adminCustomer", Reads::Private),
];

/// Longest search text.
const MAX_SEARCH_CHARS: usize = 100;

/// A customer account as staff see it.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(cache_control(private))]
pub struct AdminCustomer {
    /// Global ID (its own; arguments also take the customer's `me.id`).
    pub id: ID,
    /// Email (lower case).
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Whether the email address has been confirmed.
    pub email_verified: bool,
    /// When it was confirmed.
    pub email_verified_at: Option<DateTime<Utc>>,
    /// `false` when staff disabled the account (it cannot sign in).
    pub is_active: bool,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
}

impl From<Customer> for AdminCustomer {
    fn from(c: Customer) -> Self {
        Self {
            id: to_global("AdminCustomer", c.id),
            email: c.email,
            first_name: c.first_name,
            last_name: c.last_name,
            email_verified: c.email_verified_at.is_some(),
            email_verified_at: c.email_verified_at,
            is_active: c.is_active,
            created_at: c.created_at,
        }
    }
}

/// Filters of `adminCustomers`.
#[derive(InputObject, Debug, Default)]
pub struct AdminCustomerFilter {
    /// A substring of the email, first or last name (case-insensitive).
    pub search: Option<String>,
    /// Only verified (`true`) or unverified (`false`) accounts.
    pub verified: Option<bool>,
}

/// Staff customer queries.
#[derive(Default)]
pub struct CustomersAdminQuery;

#[Object]
impl CustomersAdminQuery {
    /// Customers, newest first.
    #[graphql(
        guard = "RequirePermission(Permission::Customers)",
        cache_control(private)
    )]
    async fn admin_customers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<AdminCustomerFilter>,
    ) -> Result<Connection<String, AdminCustomer>> {
        let page = PageRequest::new(first, after, None, None)?;
        let after: Option<(DateTime<Utc>, i64)> = page.after_key()?;
        let filter = filter.unwrap_or_default();
        let search = filter
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        if search.is_some_and(|s| s.chars().count() > MAX_SEARCH_CHARS) {
            return Err(AppError::bad_input(format!(
                "`search` must have at most {MAX_SEARCH_CHARS} characters"
            ))
            .into());
        }
        let search: Option<std::sync::Arc<str>> = search.map(Into::into);
        let (verified, limit) = (filter.verified, page.limit as i64 + 1);
        let rows = app(ctx)?
            .read(move |conn| {
                let search = search.clone();
                Box::pin(async move {
                    Ok(Customer::search(conn, search.as_deref(), verified, after, limit).await?)
                })
            })
            .await?;
        Ok(page.connection(rows, |c| (c.created_at, c.id), AdminCustomer::from))
    }

    /// One customer.
    #[graphql(
        guard = "RequirePermission(Permission::Customers)",
        cache_control(private)
    )]
    async fn admin_customer(&self, ctx: &Context<'_>, id: ID) -> Result<AdminCustomer> {
        let id = expect_global(&id, "Customer")?;
        let customer = app(ctx)?
            .read(move |conn| Box::pin(async move { Ok(Customer::find(conn, id).await?) }))
            .await?
            .ok_or_else(|| AppError::not_found("customer"))?;
        Ok(customer.into())
    }
}

/// Staff customer mutations.
#[derive(Default)]
pub struct CustomersAdminMutation;

#[Object]
impl CustomersAdminMutation {
    /// Disables (`active: false`) or enables a customer account. Either way every token of the
    /// account stops working at once, on every instance.
    #[graphql(guard = "RequirePermission(Permission::Customers)")]
    async fn set_customer_active(
        &self,
        ctx: &Context<'_>,
        id: ID,
        active: bool,
    ) -> Result<AdminCustomer> {
        let id = expect_global(&id, "Customer")?;
        Ok(service::set_active(app(ctx)?, id, active).await?.into())
    }
}
