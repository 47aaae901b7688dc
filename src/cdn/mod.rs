//! The CDN in front of `GET /graphql`. Every public response names the cache families and single
//! entities it depends on as surrogate keys ([`tags`]); every write that bumps their versions in
//! the cache also purges the same keys at the CDN with a [`Purger`] for Varnish, Fastly,
//! Cloudflare or a webhook: recorded on the durable job queue and tried at once ([`dispatch`]),
//! retried and coalesced by the workers when that fails ([`queue`], [`job`]). The keys are the cache's own names
//! (`products`, `banners`, `product:id:139`, …), so what the origin's cache and the CDN forget
//! after a write cannot drift apart.

pub mod dispatch;
pub mod job;
pub mod purger;
pub mod queue;
pub mod tags;

pub use purger::{PurgeMetrics, Purger};
