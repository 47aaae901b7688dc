//! Leaky buckets of query-cost points, one per client address (public traffic) and one per staff
//! member, shared by every instance through Redis (an atomic Lua script on the server's clock) and
//! kept in-process without Redis or while it is unreachable. A request may run when its requested
//! cost fits what is available; over budget it is refused at once, never queued.
//!
//! Every answer also refreshes a local snapshot of the bucket, so a response served without any
//! work (the public response cache) reports a throttle status without a Redis round trip.

use std::time::Instant;

use crate::cache::bounded::BoundedMap;
use crate::cache::{Cache, keys};

/// Size and refill of one kind of bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketLimits {
    /// Points a full bucket holds.
    pub maximum: u64,
    /// Points restored per second.
    pub restore_rate: u64,
}

/// Throttle settings (see README, "Limits and abuse").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThrottleConfig {
    /// Highest cost one request may ask for (`QUERY_MAX_COST`).
    pub max_query_cost: u64,
    /// Anonymous and customer traffic, per client address (`THROTTLE_PUBLIC_*`).
    pub public: BucketLimits,
    /// Staff, per account (`THROTTLE_STAFF_*`).
    pub staff: BucketLimits,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            max_query_cost: 5_000,
            public: BucketLimits {
                maximum: 10_000,
                restore_rate: 2_000,
            },
            staff: BucketLimits {
                maximum: 50_000,
                restore_rate: 10_000,
            },
        }
    }
}

/// Whose bucket a request draws from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketOwner {
    /// A client address (anonymous and customer traffic).
    Client(String),
    /// A staff account.
    Staff(i64),
}

impl BucketOwner {
    fn key(&self) -> String {
        match self {
            Self::Client(address) => keys::cost_bucket(&format!("client:{address}")),
            Self::Staff(id) => keys::cost_bucket(&format!("staff:{id}")),
        }
    }
}

/// What a bucket holds after a decision (Shopify's `throttleStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleStatus {
    /// Points a full bucket holds.
    pub maximum_available: u64,
    /// Points available now.
    pub currently_available: u64,
    /// Points restored per second.
    pub restore_rate: u64,
}

impl ThrottleStatus {
    /// Whole seconds until `cost` points are available.
    pub fn retry_after(&self, cost: u64) -> u64 {
        let missing = cost.saturating_sub(self.currently_available);
        missing.div_ceil(self.restore_rate.max(1)).max(1)
    }
}

/// `KEYS[1]` bucket; `ARGV`: maximum, restore rate (points/s), points to add (negative refunds),
/// 1 to refuse when they do not fit. Returns `{allowed, level}` on the server's clock.
const SCRIPT: &str = r"
local max = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local check = tonumber(ARGV[4])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local s = redis.call('HMGET', KEYS[1], 'l', 't')
local level = tonumber(s[1]) or 0
local t = tonumber(s[2]) or now
if now > t then level = math.max(0, level - (now - t) * rate / 1000) end
local ok = 1
if check == 1 and cost > max - level then ok = 0 else level = math.min(max, math.max(0, level + cost)) end
redis.call('HSET', KEYS[1], 'l', tostring(level), 't', tostring(math.max(now, t)))
redis.call('PEXPIRE', KEYS[1], math.ceil(max * 1000 / rate) + 1000)
return {ok, math.ceil(level)}
";

/// A bucket level at an instant (points used, leaking at the restore rate).
#[derive(Debug, Clone, Copy)]
struct Level {
    used: f64,
    at: Instant,
}

impl Level {
    fn now(self, limits: BucketLimits) -> f64 {
        let leaked = self.at.elapsed().as_secs_f64() * limits.restore_rate as f64;
        (self.used - leaked).max(0.0)
    }
}

/// Buckets kept in-process (fallback and snapshots).
const LOCAL_BUCKETS: usize = 100_000;

/// The buckets of every client; cheaply shareable through `App`.
pub struct Throttle {
    /// Settings.
    pub config: ThrottleConfig,
    local: BoundedMap<String, Level>,
}

impl Throttle {
    /// Buckets with `config`.
    pub fn new(config: ThrottleConfig) -> Self {
        Self {
            config,
            local: BoundedMap::new(LOCAL_BUCKETS, usize::MAX),
        }
    }

    fn limits(&self, owner: &BucketOwner) -> BucketLimits {
        match owner {
            BucketOwner::Client(_) => self.config.public,
            BucketOwner::Staff(_) => self.config.staff,
        }
    }

    fn status(limits: BucketLimits, used: f64) -> ThrottleStatus {
        ThrottleStatus {
            maximum_available: limits.maximum,
            currently_available: limits.maximum.saturating_sub(used.ceil() as u64),
            restore_rate: limits.restore_rate,
        }
    }

    /// Takes `cost` points when they fit (`Ok`), or refuses without taking any (`Err`).
    pub async fn take(
        &self,
        cache: &Cache,
        owner: &BucketOwner,
        cost: u64,
    ) -> Result<ThrottleStatus, ThrottleStatus> {
        self.apply(cache, owner, cost as f64, true).await
    }

    /// Gives back points taken for work that turned out cheaper than requested.
    pub async fn refund(&self, cache: &Cache, owner: &BucketOwner, points: u64) -> ThrottleStatus {
        match self.apply(cache, owner, -(points as f64), false).await {
            Ok(status) | Err(status) => status,
        }
    }

    /// The bucket as this instance last saw it, leaked to now (no round trip).
    pub fn peek(&self, owner: &BucketOwner) -> ThrottleStatus {
        let limits = self.limits(owner);
        let used = self.local.get(&owner.key()).map_or(0.0, |l| l.now(limits));
        Self::status(limits, used)
    }

    async fn apply(
        &self,
        cache: &Cache,
        owner: &BucketOwner,
        points: f64,
        check: bool,
    ) -> Result<ThrottleStatus, ThrottleStatus> {
        let limits = self.limits(owner);
        let key = owner.key();
        let args = [
            i64::try_from(limits.maximum).unwrap_or(i64::MAX),
            i64::try_from(limits.restore_rate.max(1)).unwrap_or(i64::MAX),
            points as i64,
            i64::from(check),
        ];
        if let Some(reply) = cache.eval_on_redis(SCRIPT, &[&key], &args).await
            && let [allowed, level] = reply[..]
        {
            let used = level.max(0) as f64;
            self.local.insert(
                key,
                Level {
                    used,
                    at: Instant::now(),
                },
                1,
                None,
            );
            let status = Self::status(limits, used);
            return if allowed == 1 {
                Ok(status)
            } else {
                Err(status)
            };
        }
        // In-process: the same rule on this instance's clock.
        let (allowed, used) = self.local.update(
            &key,
            1,
            None,
            || Level {
                used: 0.0,
                at: Instant::now(),
            },
            |level| {
                let used = level.now(limits);
                let fits = !check || points <= limits.maximum as f64 - used;
                let used = if fits {
                    (used + points).clamp(0.0, limits.maximum as f64)
                } else {
                    used
                };
                *level = Level {
                    used,
                    at: Instant::now(),
                };
                (fits, used)
            },
        );
        let status = Self::status(limits, used);
        if allowed { Ok(status) } else { Err(status) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn in_process_buckets_refuse_over_budget_and_refund() {
        let cache = Cache::new(
            None,
            "t:",
            std::time::Duration::from_millis(50),
            1 << 20,
            true,
        )
        .unwrap();
        let throttle = Throttle::new(ThrottleConfig {
            max_query_cost: 100,
            public: BucketLimits {
                maximum: 100,
                restore_rate: 1,
            },
            staff: BucketLimits {
                maximum: 1000,
                restore_rate: 1,
            },
        });
        let me = BucketOwner::Client("192.0.2.1".into());
        let ok = throttle.take(&cache, &me, 80).await.unwrap();
        assert!(ok.currently_available <= 20);
        let refused = throttle.take(&cache, &me, 30).await.unwrap_err();
        assert!(refused.currently_available <= 20);
        assert!(refused.retry_after(30) >= 10);
        let after = throttle.refund(&cache, &me, 50).await;
        assert!(after.currently_available >= 70);
        assert!(throttle.take(&cache, &me, 30).await.is_ok());
        // Another client and staff have buckets of their own.
        assert!(
            throttle
                .take(&cache, &BucketOwner::Client("192.0.2.2".into()), 90)
                .await
                .is_ok()
        );
        assert_eq!(
            throttle.peek(&BucketOwner::Staff(1)).currently_available,
            1000
        );
    }
}
