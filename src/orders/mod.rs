//! Orders. So far only the live `orderUpdated` feed for staff; the order flow (checkout, payment
//! webhooks) publishes `DomainEvent::Order` when it lands.

pub mod graphql;
