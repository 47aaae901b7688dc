//! `orderUpdated`'s source: every change of an order — checkout, a staff transition, a refund —
//! is announced once, after its commit, to staff subscribers on every instance.

use super::model::OrderRow;
use crate::events::DomainEvent;
use crate::state::App;

/// Announces `order`'s current status.
pub async fn order_changed(app: &App, order: &OrderRow) {
    app.events
        .publish(DomainEvent::Order {
            id: order.id,
            status: order.status.to_uppercase(),
        })
        .await;
}
