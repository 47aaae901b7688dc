//! Cart use cases: who may reach a cart, adding and changing lines against the catalog as it is
//! now, contact and addresses, shipping, payment sessions — and the priced view every read and
//! checkout use.

use diesel_async::AsyncConnection;

use super::model::{self, Cart, MAX_QUANTITY, PricedLine};
use super::totals::Totals;
use crate::auth::Viewer;
use crate::catalog::regions::model::Region;
use crate::customers::model::AddressFields;
use crate::customers::{service::check_address, service::normalize_email, tokens};
use crate::error::{AppError, AppResult};
use crate::payments::{self, model::Payment};
use crate::shipping::model::ShippingOptionRow;
use crate::state::AppState;

/// A cart with everything a client or checkout needs, priced now.
pub struct CartView {
    pub cart: Cart,
    pub region: Region,
    pub lines: Vec<PricedLine>,
    pub shipping: Option<ShippingOptionRow>,
    /// Over the lines that can be bought (available and priced).
    pub totals: Totals,
}

fn not_found() -> AppError {
    AppError::not_found("cart")
}

/// The cart `token` names, if `viewer` may reach it: an anonymous cart by its token alone, a
/// customer's cart only with that customer's token. Anything else is `NOT_FOUND`, exactly as for
/// a token that does not exist (nothing tells a guessed token from a taken one).
pub async fn reach(app: &AppState, viewer: &Viewer, token: &str) -> AppResult<Cart> {
    if !tokens::well_formed(token) {
        return Err(not_found());
    }
    let token = token.to_owned();
    let cart = app
        .read(move |conn| {
            let token = token.clone();
            Box::pin(async move { Ok(Cart::by_token(conn, &token).await?) })
        })
        .await?
        .ok_or_else(not_found)?;
    match (cart.customer_id, viewer) {
        (None, _) => Ok(cart),
        (Some(owner), Viewer::Customer { id }) if owner == *id => Ok(cart),
        _ => Err(not_found()),
    }
}

/// The cart, if it may still change.
async fn reach_open(app: &AppState, viewer: &Viewer, token: &str) -> AppResult<Cart> {
    let cart = reach(app, viewer, token).await?;
    if cart.completed_at.is_some() {
        return Err(AppError::Conflict(
            "this cart is completed; create a new one".into(),
        ));
    }
    Ok(cart)
}

/// Prices a cart from the catalog as it is now.
pub async fn view(conn: &mut diesel_async::AsyncPgConnection, cart: Cart) -> AppResult<CartView> {
    let region = region_of(conn, &cart).await?;
    view_in(conn, cart, region).await
}

/// The cart's region (a foreign key: it always has one).
async fn region_of(conn: &mut diesel_async::AsyncPgConnection, cart: &Cart) -> AppResult<Region> {
    Region::find(conn, cart.region_id)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("cart {} lost its region", cart.id)))
}

/// [`view`] with the region already read.
async fn view_in(
    conn: &mut diesel_async::AsyncPgConnection,
    cart: Cart,
    region: Region,
) -> AppResult<CartView> {
    let lines = model::priced_lines(conn, cart.id, &region.currency_code).await?;
    let shipping = match cart.shipping_option_id {
        Some(id) => ShippingOptionRow::find(conn, id)
            .await?
            .filter(|o| o.is_active && o.region_id == region.id),
        None => None,
    };
    let totals = Totals::compute(
        lines
            .iter()
            .filter(|l| l.available)
            .filter_map(|l| l.unit_price.map(|p| (p, l.quantity))),
        shipping.as_ref().map_or(0, |s| s.amount),
        region.tax_rate_bps,
    );
    Ok(CartView {
        cart,
        region,
        lines,
        shipping,
        totals,
    })
}

/// A new cart in a region (owned by the signed-in customer, if any).
pub async fn create(
    app: &AppState,
    viewer: &Viewer,
    region_id: i64,
    email: Option<&str>,
) -> AppResult<CartView> {
    let email = email.map(normalize_email).transpose()?;
    let conn = &mut *app.db.get().await?;
    Region::find(conn, region_id)
        .await?
        .ok_or_else(|| AppError::not_found("region"))?;
    let owner = match viewer {
        Viewer::Customer { id } => Some(*id),
        _ => None,
    };
    let cart = Cart::create(
        conn,
        &tokens::generate()?,
        region_id,
        owner,
        email.as_deref(),
    )
    .await?;
    view(conn, cart).await
}

fn check_quantity(quantity: i32, zero_ok: bool) -> AppResult<()> {
    let min = if zero_ok { 0 } else { 1 };
    if quantity < min || quantity > MAX_QUANTITY {
        return Err(AppError::bad_input(format!(
            "`quantity` must be between {min} and {MAX_QUANTITY}"
        )));
    }
    Ok(())
}

/// Checks that `quantity` of a variant may be in this cart now.
async fn check_offer(
    conn: &mut diesel_async::AsyncPgConnection,
    variant_id: i64,
    currency: &str,
    quantity: i32,
) -> AppResult<()> {
    let offer = model::offer(conn, variant_id, currency)
        .await?
        .ok_or_else(|| AppError::not_found("variant"))?;
    if !offer.available {
        return Err(AppError::bad_input("this variant is not for sale"));
    }
    if offer.unit_price.is_none() {
        return Err(AppError::bad_input(format!(
            "this variant has no price in {currency}, the cart's currency"
        )));
    }
    let tracked = offer.manage_inventory && !offer.allow_backorder;
    if tracked && offer.inventory_quantity < quantity {
        return Err(AppError::Conflict(if offer.inventory_quantity <= 0 {
            "this variant is out of stock".into()
        } else {
            format!("only {} left in stock", offer.inventory_quantity)
        }));
    }
    Ok(())
}

/// Contact and addresses to set (each `Some` replaces the stored value).
struct Details {
    email: Option<String>,
    shipping: Option<AddressFields>,
    billing: Option<AddressFields>,
}

/// A change to an open cart.
enum Change {
    AddLine { variant: i64, quantity: i32 },
    SetLine { line: i64, quantity: i32 },
    RemoveLine { line: i64 },
    Details(Box<Details>),
    ShippingOption { option: i64 },
}

/// Applies a change under the cart's row lock, as checkout and payment sessions take it: nothing
/// changes a cart while it is being completed, and a completed cart is `CONFLICT`. Returns the
/// cart priced after the change.
async fn change(
    app: &AppState,
    viewer: &Viewer,
    token: &str,
    change: Change,
) -> AppResult<CartView> {
    let cart = reach(app, viewer, token).await?;
    let mut conn = app.db.get().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        let cart = Cart::lock(conn, cart.id).await?;
        if cart.completed_at.is_some() {
            return Err(AppError::Conflict(
                "this cart is completed; create a new one".into(),
            ));
        }
        let region = region_of(conn, &cart).await?;
        let currency = &region.currency_code;
        match change {
            Change::AddLine { variant, quantity } => {
                let existing = Cart::line_quantity(conn, cart.id, variant).await?;
                check_offer(conn, variant, currency, existing + quantity).await?;
                if !Cart::add_line(conn, cart.id, variant, quantity).await? {
                    return Err(AppError::bad_input(format!(
                        "a line holds at most {MAX_QUANTITY} and a cart at most {} lines",
                        model::MAX_LINES
                    )));
                }
            }
            Change::SetLine { line, quantity } => {
                let variant = Cart::line_variant(conn, cart.id, line)
                    .await?
                    .ok_or_else(|| AppError::not_found("line"))?;
                check_offer(conn, variant, currency, quantity).await?;
                Cart::set_line_quantity(conn, cart.id, line, quantity).await?;
            }
            Change::RemoveLine { line } => {
                if !Cart::remove_line(conn, cart.id, line).await? {
                    return Err(AppError::not_found("line"));
                }
            }
            Change::Details(details) => {
                let Details {
                    email,
                    shipping,
                    billing,
                } = *details;
                if shipping
                    .as_ref()
                    .is_some_and(|a| !region.countries.contains(&a.country_code))
                {
                    return Err(AppError::bad_input(
                        "the cart's region does not ship to that country",
                    ));
                }
                let json = |a: Option<AddressFields>| a.and_then(|a| serde_json::to_value(a).ok());
                Cart::set_details(
                    conn,
                    cart.id,
                    email.as_deref(),
                    json(shipping),
                    json(billing),
                )
                .await?;
            }
            Change::ShippingOption { option } => {
                let option = ShippingOptionRow::find(conn, option)
                    .await?
                    .filter(|o| o.is_active)
                    .ok_or_else(|| AppError::not_found("shipping option"))?;
                if option.region_id != cart.region_id {
                    return Err(AppError::bad_input(
                        "that shipping option belongs to another region",
                    ));
                }
                Cart::set_shipping_option(conn, cart.id, option.id).await?;
            }
        }
        let cart = Cart::lock(conn, cart.id).await?;
        view_in(conn, cart, region).await
    })
    .await
}

/// Adds a variant (merging with its line).
pub async fn add_line(
    app: &AppState,
    viewer: &Viewer,
    token: &str,
    variant: i64,
    quantity: i32,
) -> AppResult<CartView> {
    check_quantity(quantity, false)?;
    change(app, viewer, token, Change::AddLine { variant, quantity }).await
}

/// Sets a line's quantity (0 removes it).
pub async fn update_line(
    app: &AppState,
    viewer: &Viewer,
    token: &str,
    line: i64,
    quantity: i32,
) -> AppResult<CartView> {
    check_quantity(quantity, true)?;
    let change_ = if quantity == 0 {
        Change::RemoveLine { line }
    } else {
        Change::SetLine { line, quantity }
    };
    change(app, viewer, token, change_).await
}

/// Removes a line.
pub async fn remove_line(
    app: &AppState,
    viewer: &Viewer,
    token: &str,
    line: i64,
) -> AppResult<CartView> {
    change(app, viewer, token, Change::RemoveLine { line }).await
}

/// Sets the contact email and addresses (omitted ones stay); the shipping country must be one of
/// the region's.
pub async fn update_details(
    app: &AppState,
    viewer: &Viewer,
    token: &str,
    email: Option<&str>,
    shipping: Option<AddressFields>,
    billing: Option<AddressFields>,
) -> AppResult<CartView> {
    let details = Change::Details(Box::new(Details {
        email: email.map(normalize_email).transpose()?,
        shipping: shipping.map(check_address).transpose()?,
        billing: billing.map(check_address).transpose()?,
    }));
    change(app, viewer, token, details).await
}

/// The shipping options a cart may choose from.
pub async fn shipping_options(
    app: &AppState,
    viewer: &Viewer,
    token: &str,
) -> AppResult<(Vec<ShippingOptionRow>, String)> {
    let cart = reach(app, viewer, token).await?;
    let conn = &mut *app.db.get().await?;
    let currency = Region::find(conn, cart.region_id)
        .await?
        .map(|r| r.currency_code)
        .unwrap_or_default();
    Ok((
        ShippingOptionRow::of_region(conn, cart.region_id, false).await?,
        currency,
    ))
}

/// Chooses a shipping option of the cart's region.
pub async fn set_shipping(
    app: &AppState,
    viewer: &Viewer,
    token: &str,
    option: i64,
) -> AppResult<CartView> {
    change(app, viewer, token, Change::ShippingOption { option }).await
}

/// Gives an anonymous cart to the signed-in customer (at sign-in, the storefront claims the cart
/// it was filling).
pub async fn claim(app: &AppState, viewer: &Viewer, token: &str) -> AppResult<CartView> {
    let Viewer::Customer { id } = viewer else {
        return Err(AppError::Unauthenticated("sign in as a customer".into()));
    };
    let cart = reach_open(app, viewer, token).await?;
    let conn = &mut *app.db.get().await?;
    if cart.customer_id.is_none() && !Cart::claim(conn, cart.id, *id).await? {
        // Another customer claimed it a moment ago.
        return Err(not_found());
    }
    let cart = Cart::by_token(conn, token).await?.ok_or_else(not_found)?;
    view(conn, cart).await
}

/// Starts a payment session for the cart's current total with its region's provider (earlier
/// open sessions are canceled). Checkout accepts only a session that covers the total exactly.
///
/// It runs under the cart's row lock, as checkout does: a session cannot be replaced while the cart
/// is being completed, nor made for a cart that has just been completed.
pub async fn start_payment(app: &AppState, viewer: &Viewer, token: &str) -> AppResult<Payment> {
    if !app.config.payments_manual {
        return Err(AppError::Forbidden(
            "manual payment is not enabled on this shop (PAYMENTS_MANUAL)".into(),
        ));
    }
    let cart = reach_open(app, viewer, token).await?;
    let mut conn = app.db.get().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        let cart = Cart::lock(conn, cart.id).await?;
        if cart.completed_at.is_some() {
            return Err(AppError::Conflict(
                "this cart is completed; create a new one".into(),
            ));
        }
        let view = view(conn, cart).await?;
        if view.lines.is_empty() {
            return Err(AppError::bad_input("the cart is empty"));
        }
        let provider = payments::provider_for(view.region.id);
        let payment = Payment::open(
            conn,
            view.cart.id,
            provider.name(),
            view.totals.total,
            &view.region.currency_code,
        )
        .await?;
        let outcome = provider.start(&payment).await?;
        Ok(Payment::set_status(
            conn,
            payment.id,
            outcome.status,
            outcome.provider_id.as_deref(),
        )
        .await?)
    })
    .await
}
