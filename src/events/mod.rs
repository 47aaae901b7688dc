//! Domain events (ids and actions only) and the bus that fans them out to admin subscribers on
//! every instance: Redis pub/sub (one channel) when Redis is configured, an in-process broadcast
//! otherwise. Publishing never waits for subscribers: each instance relays into a bounded
//! broadcast, and a subscriber that falls behind is told to resync instead of slowing anyone.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// Events buffered per instance before a slow subscriber is cut off.
pub const BUFFER: usize = 4096;

/// What happened to a banner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
pub enum BannerAction {
    /// Created.
    Created,
    /// Changed (content or active flag).
    Updated,
    /// Deleted.
    Deleted,
    /// Several banners reordered or toggled in one batch.
    Reordered,
}

/// What happened to a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
pub enum ProductAction {
    /// Created.
    Created,
    /// Changed (fields, variants, prices, images, status).
    Updated,
    /// Soft-deleted.
    Deleted,
}

/// A change other staff should see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum DomainEvent {
    /// Banners changed (one id, or several for a batch).
    Banner {
        /// Affected banner ids.
        ids: Vec<i64>,
        /// What happened.
        action: BannerAction,
    },
    /// A product changed.
    Product {
        /// The product id.
        id: i64,
        /// What happened.
        action: ProductAction,
    },
    /// A staff account changed (deactivated, role or password): its tokens are void.
    StaffChanged {
        /// `admin_users.id`.
        id: i64,
    },
    /// A customer account changed (disabled, password): its tokens are void.
    CustomerChanged {
        /// `customers.id`.
        id: i64,
    },
    /// The store's locales changed: every instance reloads its copy.
    LocalesChanged,
    /// An order changed status.
    Order {
        /// The order id.
        id: i64,
        /// The new status.
        status: String,
    },
}

/// The event bus; cheaply shareable through `App`.
pub struct EventBus {
    local: broadcast::Sender<Arc<DomainEvent>>,
    redis: Option<RedisBus>,
}

struct RedisBus {
    client: redis::Client,
    channel: String,
    publisher: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
}

impl EventBus {
    /// An in-process bus (single instance).
    pub fn in_process() -> Self {
        Self {
            local: broadcast::channel(BUFFER).0,
            redis: None,
        }
    }

    /// A bus over Redis pub/sub on `{prefix}events`; starts the relay task (which reconnects by
    /// itself after a Redis restart). Needs a Tokio runtime.
    pub fn redis(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let channel = format!("{prefix}events");
        let local = broadcast::channel(BUFFER).0;
        tokio::spawn(relay(client.clone(), channel.clone(), local.clone()));
        let redis = RedisBus {
            client,
            channel,
            publisher: tokio::sync::Mutex::new(None),
        };
        Ok(Self {
            local,
            redis: Some(redis),
        })
    }

    /// Receives every event published from now on (on any instance).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<DomainEvent>> {
        self.local.subscribe()
    }

    /// Publishes an event after the change committed. With Redis, every instance (this one
    /// included) receives it through the channel; if Redis is unreachable, at least this
    /// instance's subscribers get it, and the failure is logged.
    pub async fn publish(&self, event: DomainEvent) {
        let Some(bus) = &self.redis else {
            let _ = self.local.send(Arc::new(event));
            return;
        };
        let Ok(payload) = serde_json::to_string(&event) else {
            return;
        };
        let mut publisher = bus.publisher.lock().await;
        for attempt in 0..2 {
            if publisher.is_none() {
                *publisher = tokio::time::timeout(
                    Duration::from_millis(500),
                    bus.client.get_multiplexed_async_connection(),
                )
                .await
                .ok()
                .and_then(Result::ok);
            }
            if let Some(conn) = publisher.as_mut() {
                let sent = tokio::time::timeout(
                    Duration::from_millis(500),
                    redis::cmd("PUBLISH")
                        .arg(&bus.channel)
                        .arg(&payload)
                        .query_async::<i64>(conn),
                )
                .await;
                if matches!(sent, Ok(Ok(_))) {
                    return;
                }
                *publisher = None;
            }
            tracing::warn!(attempt, "publishing an event to Redis failed");
        }
        tracing::error!(
            "event not fanned out to other instances (Redis unreachable); delivering locally"
        );
        let _ = self.local.send(Arc::new(event));
    }
}

/// Forwards the Redis channel into the local broadcast, reconnecting with backoff.
async fn relay(client: redis::Client, channel: String, local: broadcast::Sender<Arc<DomainEvent>>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if let Err(error) = pubsub.subscribe(&channel).await {
                    tracing::warn!(%error, "subscribing to the event channel failed");
                } else {
                    backoff = Duration::from_millis(100);
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let Ok(payload) = message.get_payload::<String>() else {
                            continue;
                        };
                        match serde_json::from_str::<DomainEvent>(&payload) {
                            Ok(event) => {
                                let _ = local.send(Arc::new(event));
                            }
                            Err(error) => tracing::warn!(%error, "ignoring a malformed event"),
                        }
                    }
                    tracing::warn!("event channel closed; reconnecting");
                }
            }
            Err(error) => tracing::warn!(%error, "event relay cannot reach Redis; retrying"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// The events a subscriber wants, as a stream that ends with an error telling the client to
/// resync if it fell more than [`BUFFER`] events behind (a lagging socket never slows others).
pub fn stream<T, F>(
    rx: broadcast::Receiver<Arc<DomainEvent>>,
    pick: F,
) -> impl futures_util::Stream<Item = async_graphql::Result<T>> + Send + use<T, F>
where
    T: Send + 'static,
    F: Fn(&DomainEvent) -> Option<T> + Send + Sync + 'static,
{
    use futures_util::StreamExt;
    // Counted while the subscription's stream lives (`techpotli_ws_subscriptions`).
    let live = LiveSubscription::new();
    futures_util::stream::unfold((Some(rx), pick), |(rx, pick)| async move {
        let mut rx = rx?;
        loop {
            match rx.recv().await {
                Ok(event) => {
                    if let Some(item) = pick(&event) {
                        return Some((Ok(item), (Some(rx), pick)));
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    metrics::counter!("techpotli_event_bus_lagged_events_total").increment(missed);
                    tracing::warn!(
                        missed,
                        "subscriber lagged behind the event stream; asking it to resync"
                    );
                    let error = crate::error::AppError::Conflict(format!(
                        "missed {missed} events: refetch what you show, then subscribe again"
                    ));
                    return Some((Err(error.into()), (None, pick)));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
    .map(move |item| {
        let _ = &live;
        item
    })
}

/// One live subscription while it lives.
struct LiveSubscription;

impl LiveSubscription {
    fn new() -> Self {
        metrics::gauge!("techpotli_ws_subscriptions").increment(1.0);
        Self
    }
}

impl Drop for LiveSubscription {
    fn drop(&mut self) {
        metrics::gauge!("techpotli_ws_subscriptions").decrement(1.0);
    }
}
