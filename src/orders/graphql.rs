//! `OrdersSubscription`: order status changes for staff with the orders permission.

use async_graphql::{Context, ID, Result, SimpleObject, Subscription};

use crate::auth::{Permission, RequirePermission};
use crate::events::DomainEvent;
use crate::graphql::context::app;
use crate::graphql::ids::to_global;

/// An order change, as admin subscribers receive it.
#[derive(SimpleObject, Clone)]
pub struct OrderUpdatedEvent {
    /// The order.
    pub id: ID,
    /// Its new status.
    pub status: String,
}

/// Live order changes for staff (orders permission).
#[derive(Default)]
pub struct OrdersSubscription;

#[Subscription]
impl OrdersSubscription {
    /// Every order status change on any instance.
    #[graphql(guard = "RequirePermission(Permission::Orders)")]
    async fn order_updated(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl futures_util::Stream<Item = Result<OrderUpdatedEvent>> + use<>> {
        let rx = app(ctx)?.events.subscribe();
        Ok(crate::events::stream(rx, |event| match event {
            DomainEvent::Order { id, status } => Some(OrderUpdatedEvent {
                id: to_global("Order", *id),
                status: status.clone(),
            }),
            _ => None,
        }))
    }
}
