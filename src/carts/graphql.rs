//! The storefront's cart API. Everything here is private (`private, no-store`): never in a shared
//! cache, never in an APQ-cached GET response.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};

use super::model::PricedLine;
use super::service::{self, CartView};
pub use super::types::{PostalAddress, Totals};
use crate::auth::Viewer;
use crate::catalog::money::Money;
use crate::customers::graphql::CustomerAddressInput;
use crate::customers::model::AddressFields;
use crate::graphql::context::{app, request_context};
use crate::graphql::ids::{expect_global, to_global};
use crate::graphql::response_cache::{Reads, RootReads};
use crate::payments::model::Payment;
use crate::shipping::admin::ShippingOption;

/// What the root fields below read, for the response cache (see `Reads`).
pub const READS: RootReads = &[
    ("cart", Reads::Private),
    ("shippingOptions", Reads::Private),
];

/// A cart line, priced now.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(cache_control(private))]
pub struct CartLine {
    /// Line id (for update and remove).
    pub id: ID,
    /// The variant (`ProductVariant` global ID).
    pub variant_id: ID,
    pub product_handle: String,
    pub product_title: String,
    pub variant_title: String,
    pub sku: Option<String>,
    pub quantity: i32,
    /// Current price per unit before tax; null when the variant is no longer sold in the cart's
    /// currency.
    pub unit_price: Option<Money>,
    /// `unitPrice × quantity`.
    pub subtotal: Option<Money>,
    /// Whether the quantity can be had now.
    pub in_stock: bool,
    /// Whether the variant is still for sale (published, not deleted, priced).
    pub available: bool,
}

fn line(l: PricedLine, currency: &str) -> CartLine {
    CartLine {
        id: to_global("CartLine", l.id),
        variant_id: to_global("ProductVariant", l.variant_id),
        in_stock: l.in_stock(),
        available: l.available && l.unit_price.is_some(),
        unit_price: l.unit_price.map(|p| Money::new(p, currency)),
        subtotal: l
            .unit_price
            .map(|p| Money::new(p.saturating_mul(i64::from(l.quantity)), currency)),
        product_handle: l.product_handle,
        product_title: l.product_title,
        variant_title: l.variant_title,
        sku: l.sku,
        quantity: l.quantity,
    }
}

/// A cart.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(cache_control(private))]
pub struct Cart {
    /// The cart's unguessable id: whoever holds it can use an anonymous cart.
    pub id: ID,
    /// The region (`Region` global ID) whose currency, tax and shipping apply.
    pub region_id: ID,
    pub currency_code: String,
    pub email: Option<String>,
    pub lines: Vec<CartLine>,
    pub shipping_address: Option<PostalAddress>,
    pub billing_address: Option<PostalAddress>,
    /// The chosen shipping option, if still offered.
    pub shipping_method: Option<ShippingOption>,
    pub totals: Totals,
    /// Whether the cart belongs to a signed-in customer.
    pub owned: bool,
    /// Whether it became an order.
    pub completed: bool,
}

impl From<CartView> for Cart {
    fn from(v: CartView) -> Self {
        let currency = v.region.currency_code.clone();
        Self {
            id: ID(v.cart.token.clone()),
            region_id: to_global("Region", v.region.id),
            email: v.cart.email.clone(),
            shipping_address: PostalAddress::from_json(v.cart.shipping_address.as_ref()),
            billing_address: PostalAddress::from_json(v.cart.billing_address.as_ref()),
            shipping_method: v.shipping.map(|s| ShippingOption::new(s, &currency)),
            totals: Totals::new(v.totals, &currency, v.region.tax_rate_bps),
            owned: v.cart.customer_id.is_some(),
            completed: v.cart.completed_at.is_some(),
            lines: v.lines.into_iter().map(|l| line(l, &currency)).collect(),
            currency_code: currency,
        }
    }
}

/// A payment session.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(cache_control(private))]
pub struct PaymentSession {
    /// Global ID.
    pub id: ID,
    /// `manual` (today), `razorpay` (next).
    pub provider: String,
    /// `PENDING`, `AUTHORIZED`, `CAPTURED`, `CANCELED`, `REFUNDED` or `FAILED`.
    pub status: String,
    /// The amount the session covers (the cart's total when it was made).
    pub amount: Money,
}

impl From<Payment> for PaymentSession {
    fn from(p: Payment) -> Self {
        Self {
            id: to_global("Payment", p.id),
            amount: Money::new(p.amount, &p.currency_code),
            provider: p.provider,
            status: p.status.to_uppercase(),
        }
    }
}

/// A new cart.
#[derive(InputObject, Debug)]
pub struct CreateCartInput {
    /// The region to buy in (currency, tax, shipping).
    pub region_id: ID,
    /// Contact email.
    pub email: Option<String>,
}

/// Cart contact and addresses (omitted fields stay).
#[derive(InputObject, Debug, Default)]
pub struct UpdateCartInput {
    pub email: Option<String>,
    pub shipping_address: Option<CustomerAddressInput>,
    pub billing_address: Option<CustomerAddressInput>,
}

fn viewer<'a>(ctx: &Context<'a>) -> Result<&'a Viewer> {
    Ok(&request_context(ctx)?.viewer)
}

/// Cart queries.
#[derive(Default)]
pub struct CartsQuery;

#[Object]
impl CartsQuery {
    /// A cart by its id (a customer's cart only for that customer).
    #[graphql(cache_control(private))]
    async fn cart(&self, ctx: &Context<'_>, id: ID) -> Result<Cart> {
        let app = app(ctx)?;
        let cart = service::reach(app, viewer(ctx)?, &id).await?;
        let view = app
            .read(move |conn| {
                let cart = cart.clone();
                Box::pin(async move { service::view(conn, cart).await })
            })
            .await?;
        Ok(view.into())
    }

    /// The shipping options a cart can choose from (its region's active ones).
    #[graphql(cache_control(private))]
    async fn shipping_options(
        &self,
        ctx: &Context<'_>,
        cart_id: ID,
    ) -> Result<Vec<ShippingOption>> {
        let (rows, currency) = service::shipping_options(app(ctx)?, viewer(ctx)?, &cart_id).await?;
        Ok(rows
            .into_iter()
            .map(|r| ShippingOption::new(r, &currency))
            .collect())
    }
}

/// Cart mutations.
#[derive(Default)]
pub struct CartsMutation;

#[Object]
impl CartsMutation {
    /// Creates a cart; when signed in as a customer, it is theirs alone.
    async fn create_cart(&self, ctx: &Context<'_>, input: CreateCartInput) -> Result<Cart> {
        let region = expect_global(&input.region_id, "Region")?;
        Ok(
            service::create(app(ctx)?, viewer(ctx)?, region, input.email.as_deref())
                .await?
                .into(),
        )
    }

    /// Adds a variant (1-100; merged with its line). Refused for variants not for sale, not priced
    /// in the cart's currency or out of stock (`CONFLICT`).
    async fn add_cart_line_item(
        &self,
        ctx: &Context<'_>,
        cart_id: ID,
        variant_id: ID,
        quantity: i32,
    ) -> Result<Cart> {
        let variant = expect_global(&variant_id, "ProductVariant")?;
        Ok(
            service::add_line(app(ctx)?, viewer(ctx)?, &cart_id, variant, quantity)
                .await?
                .into(),
        )
    }

    /// Sets a line's quantity (0 removes it).
    async fn update_cart_line_item(
        &self,
        ctx: &Context<'_>,
        cart_id: ID,
        line_id: ID,
        quantity: i32,
    ) -> Result<Cart> {
        let line = expect_global(&line_id, "CartLine")?;
        Ok(
            service::update_line(app(ctx)?, viewer(ctx)?, &cart_id, line, quantity)
                .await?
                .into(),
        )
    }

    /// Removes a line.
    async fn remove_cart_line_item(
        &self,
        ctx: &Context<'_>,
        cart_id: ID,
        line_id: ID,
    ) -> Result<Cart> {
        let line = expect_global(&line_id, "CartLine")?;
        Ok(
            service::remove_line(app(ctx)?, viewer(ctx)?, &cart_id, line)
                .await?
                .into(),
        )
    }

    /// Sets the contact email and addresses (the shipping country must be in the cart's region).
    async fn update_cart(
        &self,
        ctx: &Context<'_>,
        cart_id: ID,
        input: UpdateCartInput,
    ) -> Result<Cart> {
        Ok(service::update_details(
            app(ctx)?,
            viewer(ctx)?,
            &cart_id,
            input.email.as_deref(),
            input.shipping_address.map(AddressFields::from),
            input.billing_address.map(AddressFields::from),
        )
        .await?
        .into())
    }

    /// Chooses one of `shippingOptions(cartId)`.
    async fn set_cart_shipping_method(
        &self,
        ctx: &Context<'_>,
        cart_id: ID,
        shipping_option_id: ID,
    ) -> Result<Cart> {
        let option = expect_global(&shipping_option_id, "ShippingOption")?;
        Ok(
            service::set_shipping(app(ctx)?, viewer(ctx)?, &cart_id, option)
                .await?
                .into(),
        )
    }

    /// Makes an anonymous cart the signed-in customer's (call it after `customerLogin`).
    async fn claim_cart(&self, ctx: &Context<'_>, cart_id: ID) -> Result<Cart> {
        Ok(service::claim(app(ctx)?, viewer(ctx)?, &cart_id)
            .await?
            .into())
    }

    /// Starts a payment session for the cart's current total with its region's provider.
    async fn create_payment_session(
        &self,
        ctx: &Context<'_>,
        cart_id: ID,
    ) -> Result<PaymentSession> {
        Ok(service::start_payment(app(ctx)?, viewer(ctx)?, &cart_id)
            .await?
            .into())
    }
}
