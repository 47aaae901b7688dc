//! Version counters held in memory and kept exact across instances by invalidation with leases
//! (Chubby's scheme over Redis), so a cache hit costs no Redis round trip.
//!
//! * **Lease.** Every `RENEW_EVERY` an instance runs a script that sets its lease in the hash
//!   `cache:leases` to *Redis's* now + [`LEASE`] and publishes a heartbeat on the
//!   invalidation channel. When the instance receives its own heartbeat back, it trusts its
//!   memory until the moment it *sent* that renewal + `LEASE − MARGIN`, by its own monotonic
//!   clock (which keeps running while the process is stopped). It sends the next renewal only
//!   after the previous heartbeat came back, so a stuck channel stops renewing.
//! * **Write.** A writer's bump runs one script: it increments the counters, publishes their new
//!   values on the channel and returns the live leases (and Redis's clock). The write returns
//!   only when every live lease holder acknowledged the message (it publishes an ack after
//!   applying it) or that holder's lease has expired, measured from the script's reply.
//! * **Read.** Versions come from memory while trusted and complete; otherwise from Redis
//!   (`MGET`), whose answer is remembered only if no invalidation arrived since the read was
//!   sent and the channel was subscribed before it.
//!
//! Why no read is stale: one channel carries both invalidations and heartbeats, in Redis's
//! execution order. Take a bump executed at time t and an instance B. If B's current trust
//! comes from a heartbeat published after t, B received (and applied) the bump's message before
//! that heartbeat, so its memory is current. Otherwise B's trust comes from a renewal executed
//! before t, so it ends by that renewal's lease expiry − MARGIN, and that expiry is at most what
//! the script saw for B at t; the writer waits for B's ack or until that expiry. Either way a
//! read on B that starts after the write returned uses the new version or asks Redis. Leases
//! lost with the hash (Redis restarted without persistence, `FLUSHALL`, the key evicted or
//! deleted) are covered by the hash's `~born` field, which is lost with them: while a recreated
//! hash is younger than a lease every write waits a whole lease. A bump whose reply was lost may
//! have run: the writer then waits a lease from when it sent it. Waits are capped at one lease
//! from the reply. The margin absorbs clock *rate* differences between Redis's host and ours
//! (16 % of the lease); a step of Redis's wall clock, or a failover to a replica holding an old
//! copy of the hash, is not covered.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::mpsc;

use super::keys;
use super::redis_store::{CacheError, Duty, RedisStore};

/// How long a renewal keeps an instance's lease alive in Redis.
pub const LEASE: Duration = Duration::from_millis(1500);
/// How early, by its own clock, an instance stops trusting memory before its lease ends.
pub const MARGIN: Duration = Duration::from_millis(250);
/// How often a lease is renewed.
const RENEW_EVERY: Duration = Duration::from_millis(300);
/// A write that waits this long for acknowledgements is logged (with its bump's round trip).
const SLOW_ACKNOWLEDGEMENTS: Duration = Duration::from_millis(250);
/// A heartbeat not back within this long means the channel is stuck: reconnect.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_millis(1000);
/// How long connecting and subscribing may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Counters remembered at most (memory is cleared when full).
const MAX_COUNTERS: usize = 200_000;

/// Renews this instance's lease and publishes its heartbeat. The hash lives a day past its last
/// renewal, so a deployment's leases outlive it by a day at most.
/// KEYS: leases. ARGV: channel, instance id, heartbeat sequence, lease ms.
const RENEW: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSETNX', KEYS[1], '~born', now)
redis.call('HSET', KEYS[1], ARGV[2], now + tonumber(ARGV[4]))
redis.call('PEXPIRE', KEYS[1], 86400000)
redis.call('PUBLISH', ARGV[1], cjson.encode({h = ARGV[2], s = tonumber(ARGV[3])}))
return 1
";

/// Gives up this instance's lease (it stopped trusting its memory first).
/// KEYS: leases. ARGV: instance id.
const RELEASE: &str = "return redis.call('HDEL', KEYS[1], ARGV[1])";

/// Increments counters (a missing one first starts at its random value), publishes the new
/// values and returns Redis's now, the end of the leases hash's first lease, and the live leases
/// (expired ones are removed).
/// KEYS: leases, counters... ARGV: channel, writer id, sequence, lease ms, starts...
const BUMP: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSETNX', KEYS[1], '~born', now)
local born = tonumber(redis.call('HGET', KEYS[1], '~born')) or now
local names, values = {}, {}
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then redis.call('SET', KEYS[i], ARGV[i + 3]) end
  names[#names + 1] = KEYS[i]
  values[#values + 1] = redis.call('INCR', KEYS[i])
end
local ids, ends = {}, {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if all[i] ~= '~born' then
    local expiry = tonumber(all[i + 1]) or 0
    if expiry <= now then
      redis.call('HDEL', KEYS[1], all[i])
    else
      ids[#ids + 1] = all[i]
      ends[#ends + 1] = expiry
    end
  end
end
redis.call('PUBLISH', ARGV[1], cjson.encode({w = ARGV[2], s = tonumber(ARGV[3]), k = names, v = values}))
return {now, born + tonumber(ARGV[4]), ids, ends}
";

/// A message on the invalidation channel: a heartbeat (`h`) or a bump (`w`, `k`, `v`).
#[derive(Deserialize)]
struct Wire {
    h: Option<String>,
    w: Option<String>,
    s: u64,
    #[serde(default)]
    k: Vec<String>,
    #[serde(default)]
    v: Vec<u64>,
}

struct State {
    counters: HashMap<String, u64>,
    /// Changes on every reset: fills read before one are dropped.
    generation: u64,
    /// Changes on every applied bump.
    epoch: u64,
    /// The epoch at which each key was last bumped: a fill read before that is dropped for it.
    bumped: HashMap<String, u64>,
    /// Subscribed (fills may be remembered).
    subscribed: bool,
}

/// Taken before a version read is sent (see [`Mirror::fill_token`]).
#[derive(Debug, Clone, Copy)]
pub struct FillToken {
    generation: u64,
    epoch: u64,
}

/// This instance's memory of version counters and its lease.
pub struct Mirror {
    id: String,
    started: Instant,
    /// Milliseconds since `started` until which memory is trusted (0: not trusted).
    trusted_until: AtomicU64,
    /// Set on shutdown: the lease is given up and never renewed again.
    released: AtomicBool,
    state: RwLock<State>,
    /// Writes of this instance waiting for acknowledgements, by sequence.
    waiters: Mutex<HashMap<u64, mpsc::UnboundedSender<String>>>,
    next_seq: AtomicU64,
    /// Times memory was forgotten (channel lost, stuck or unreadable; shutdown).
    pub resets: AtomicU64,
    /// Heartbeat sequence, unique for the process's life (across reconnects).
    heartbeat: AtomicU64,
    prefix: String,
    channel: String,
    ack_channel: String,
    leases: String,
}

impl Mirror {
    /// A mirror for the keys under `prefix` (not trusted until its first heartbeat returns).
    pub fn new(prefix: &str) -> Self {
        let id = format!("{:016x}", crate::random::u64());
        Self {
            ack_channel: format!("{prefix}{}", keys::ack_channel(&id)),
            id,
            started: Instant::now(),
            trusted_until: AtomicU64::new(0),
            released: AtomicBool::new(false),
            state: RwLock::new(State {
                counters: HashMap::new(),
                generation: 0,
                epoch: 0,
                bumped: HashMap::new(),
                subscribed: false,
            }),
            waiters: Mutex::new(HashMap::new()),
            next_seq: AtomicU64::new(1),
            heartbeat: AtomicU64::new(0),
            resets: AtomicU64::new(0),
            channel: format!("{prefix}{}", keys::INVALIDATION_CHANNEL),
            leases: format!("{prefix}{}", keys::LEASES),
            prefix: prefix.to_owned(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether memory may answer reads now.
    pub fn trusted(&self) -> bool {
        self.now_ms() < self.trusted_until.load(Ordering::Acquire)
    }

    /// How long memory stays trusted without another heartbeat (zero when not trusted).
    pub fn trusted_for(&self) -> Duration {
        Duration::from_millis(
            self.trusted_until
                .load(Ordering::Acquire)
                .saturating_sub(self.now_ms()),
        )
    }

    /// This instance's id (its lease's field in `cache:leases`).
    pub fn id(&self) -> &str {
        &self.id
    }

    fn state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn state_mut(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The counters at `keys` when memory is trusted and holds them all.
    pub fn lookup(&self, keys: &[String]) -> Option<Vec<u64>> {
        if !self.trusted() {
            return None;
        }
        let state = self.state();
        keys.iter()
            .map(|k| state.counters.get(k).copied())
            .collect()
    }

    /// Taken just before a version read is sent: `Some` when its answer may be remembered.
    pub fn fill_token(&self) -> Option<FillToken> {
        let state = self.state();
        state.subscribed.then_some(FillToken {
            generation: state.generation,
            epoch: state.epoch,
        })
    }

    /// Remembers counters read from Redis, except those bumped (or all, after a reset) since
    /// the read was sent.
    pub fn install(&self, token: Option<FillToken>, keys: &[String], values: &[Option<u64>]) {
        let Some(token) = token else { return };
        let mut state = self.state_mut();
        if !state.subscribed || state.generation != token.generation {
            return;
        }
        if state.counters.len() + keys.len() > MAX_COUNTERS {
            state.counters.clear();
        }
        for (key, value) in keys.iter().zip(values) {
            let bumped_since = state.bumped.get(key).is_some_and(|at| *at > token.epoch);
            if let (Some(value), false) = (value, bumped_since) {
                state.counters.insert(key.clone(), *value);
            }
        }
    }

    /// Forgets everything and stops trusting memory (channel lost or being replaced).
    fn reset(&self, subscribed: bool) {
        self.resets.fetch_add(1, Ordering::Relaxed);
        self.trusted_until.store(0, Ordering::Release);
        let mut state = self.state_mut();
        state.counters.clear();
        state.bumped.clear();
        state.generation += 1;
        state.subscribed = subscribed;
    }

    /// Applies a bump's new values (to the counters held; others are read when needed).
    fn apply(&self, keys: &[String], values: &[u64]) {
        let mut state = self.state_mut();
        if state.bumped.len() + keys.len() > MAX_COUNTERS {
            // Forgetting which keys were bumped: drop every fill in flight instead.
            state.bumped.clear();
            state.generation += 1;
        }
        state.epoch += 1;
        let epoch = state.epoch;
        for (key, value) in keys.iter().zip(values) {
            state.bumped.insert(key.clone(), epoch);
            if let Some(held) = state.counters.get_mut(key) {
                *held = *value;
            }
        }
    }

    fn acknowledged(&self, seq: u64, by: String) {
        let waiters = self
            .waiters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(waiter) = waiters.get(&seq) {
            let _ = waiter.send(by);
        }
    }

    /// Stops trusting memory and gives up the lease, so writers no longer wait for this
    /// instance (on shutdown, once nothing here reads or writes any more).
    pub async fn release(&self, store: &RedisStore) {
        self.released.store(true, Ordering::Release);
        self.reset(false);
        let _ = store
            .run_as(
                async |c| {
                    redis::cmd("EVAL")
                        .arg(RELEASE)
                        .arg(1)
                        .arg(&self.leases)
                        .arg(&self.id)
                        .query_async::<i64>(c)
                        .await
                },
                Duty::Background,
            )
            .await;
    }

    /// Increments `keys` (full names; `starts` are the values a missing counter starts at), then
    /// waits until every instance holding a lease applied the new values or its lease expired.
    pub async fn bump(
        &self,
        store: &RedisStore,
        keys: &[String],
        starts: &[u32],
    ) -> Result<(), CacheError> {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let (tx, mut acks) = mpsc::unbounded_channel();
        self.waiters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(seq, tx);
        let _unregister = Unregister(self, seq);
        let sent = Instant::now();
        let reply = store
            .run_as(
                async |c| {
                    let mut cmd = redis::cmd("EVAL");
                    cmd.arg(BUMP)
                        .arg(keys.len() + 1)
                        .arg(&self.leases)
                        .arg(keys)
                        .arg(&self.channel)
                        .arg(&self.id)
                        .arg(seq)
                        .arg(LEASE.as_millis() as u64)
                        .arg(starts);
                    cmd.query_async::<(i64, i64, Vec<String>, Vec<i64>)>(c)
                        .await
                },
                Duty::Invalidation,
            )
            .await?;
        let replied = Instant::now();
        let (now, life_end, ids, ends) = reply;
        // Redis's times as local instants, never more than a lease away (a clock step in Redis
        // must not stall writes).
        let after = |at: i64| {
            let ms = u64::try_from(at.saturating_sub(now)).unwrap_or(0);
            replied + Duration::from_millis(ms).min(LEASE)
        };
        let mut pending: HashMap<String, Instant> =
            ids.into_iter().zip(ends.into_iter().map(after)).collect();
        let life_end = after(life_end);
        let mut acked = HashSet::new();
        loop {
            while let Ok(id) = acks.try_recv() {
                acked.insert(id);
            }
            let now = Instant::now();
            pending.retain(|id, end| {
                if acked.contains(id) {
                    return false;
                }
                if *end <= now {
                    // Costly for the writer and a sign of a stuck or overloaded instance.
                    tracing::warn!(
                        holder = %id,
                        waited_ms = now.duration_since(replied).as_millis() as u64,
                        "cache write waited out an instance's lease: no acknowledgement"
                    );
                    return false;
                }
                true
            });
            // Wait for the next lease to run out (or an ack), then for the hash's first lease.
            let wake = match pending.values().copied().min() {
                Some(end) => end,
                None if life_end > now => life_end,
                None => {
                    let waited = now.duration_since(replied);
                    if waited >= SLOW_ACKNOWLEDGEMENTS {
                        // A young leases hash (Redis restarted or flushed) makes every write wait
                        // out its first lease: expected, and told apart from slow acknowledgements.
                        tracing::warn!(
                            waited_ms = waited.as_millis() as u64,
                            bump_ms = replied.duration_since(sent).as_millis() as u64,
                            young_leases = life_end > replied,
                            "cache write waited long for acknowledgements"
                        );
                    }
                    return Ok(());
                }
            };
            tokio::select! {
                id = acks.recv() => if let Some(id) = id { acked.insert(id); },
                () = tokio::time::sleep_until(wake.into()) => {}
            }
        }
    }
}

/// Removes a write's waiter when the write is done (or dropped).
struct Unregister<'a>(&'a Mirror, u64);

impl Drop for Unregister<'_> {
    fn drop(&mut self) {
        self.0
            .waiters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.1);
    }
}

/// Keeps the mirror subscribed and its lease renewed while the cache lives; reconnects after a
/// lost or stuck channel (forgetting everything first).
pub async fn run(mirror: Weak<Mirror>, store: Weak<RedisStore>, client: redis::Client) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let (Some(m), Some(s)) = (mirror.upgrade(), store.upgrade()) else {
            return;
        };
        if m.released.load(Ordering::Acquire) {
            return;
        }
        m.reset(false);
        match subscribe(&client, &m).await {
            Ok(pubsub) => {
                backoff = Duration::from_millis(100);
                serve_channel(&m, &s, pubsub).await;
                m.reset(false);
            }
            Err(error) => {
                tracing::warn!(%error, "cache invalidation channel unavailable; reading versions from Redis");
            }
        }
        drop((m, s));
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

async fn subscribe(client: &redis::Client, mirror: &Mirror) -> anyhow::Result<redis::aio::PubSub> {
    let mut pubsub = tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_pubsub()).await??;
    tokio::time::timeout(
        CONNECT_TIMEOUT,
        pubsub.subscribe(&[&mirror.channel, &mirror.ack_channel]),
    )
    .await??;
    Ok(pubsub)
}

/// Applies messages and renews the lease until the channel ends, sticks, or the cache is gone.
async fn serve_channel(
    mirror: &Arc<Mirror>,
    store: &Arc<RedisStore>,
    mut pubsub: redis::aio::PubSub,
) {
    mirror.reset(true);
    let mut messages = pubsub.on_message();
    let mut tick = tokio::time::interval(RENEW_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The renewal whose heartbeat is awaited: its sequence and when it was sent.
    let mut outstanding: Option<(u64, u64)> = None;
    // Renewals run beside the loop (messages keep flowing); a failed one reports back.
    let (failed_tx, mut failed) = mpsc::unbounded_channel::<u64>();
    loop {
        tokio::select! {
            message = messages.next() => {
                let Some(message) = message else {
                    tracing::warn!("cache invalidation channel closed; reconnecting");
                    return;
                };
                if let Some(seq) = receive(mirror, store, &message, outstanding) {
                    debug_assert_eq!(Some(seq), outstanding.map(|(s, _)| s));
                    outstanding = None;
                }
            }
            Some(seq) = failed.recv() => {
                // Perhaps never sent: renew again next tick (its late heartbeat is ignored).
                if outstanding.is_some_and(|(s, _)| s == seq) {
                    outstanding = None;
                }
            }
            _ = tick.tick() => {
                if Arc::strong_count(mirror) == 1 || mirror.released.load(Ordering::Acquire) {
                    return; // the cache is gone or shutting down
                }
                if let Some((_, sent)) = outstanding {
                    if mirror.now_ms().saturating_sub(sent) > HEARTBEAT_TIMEOUT.as_millis() as u64 {
                        tracing::warn!("cache heartbeat did not come back; resubscribing");
                        return;
                    }
                    continue;
                }
                let seq = mirror.heartbeat.fetch_add(1, Ordering::Relaxed) + 1;
                outstanding = Some((seq, mirror.now_ms()));
                let (mirror, store, failed) = (mirror.clone(), store.clone(), failed_tx.clone());
                tokio::spawn(async move {
                    let renewed = store
                        .run_as(
                            async |c| {
                                redis::cmd("EVAL")
                                    .arg(RENEW)
                                    .arg(1)
                                    .arg(&mirror.leases)
                                    .arg(&mirror.channel)
                                    .arg(&mirror.id)
                                    .arg(seq)
                                    .arg(LEASE.as_millis() as u64)
                                    .query_async::<i64>(c)
                                    .await
                            },
                            Duty::Background,
                        )
                        .await;
                    if renewed.is_err() {
                        let _ = failed.send(seq);
                    }
                });
            }
        }
    }
}

/// Handles one message; returns the sequence of this instance's heartbeat when it came back.
fn receive(
    mirror: &Mirror,
    store: &Arc<RedisStore>,
    message: &redis::Msg,
    outstanding: Option<(u64, u64)>,
) -> Option<u64> {
    let payload: &[u8] = message.get_payload_bytes();
    if message.get_channel_name() == mirror.ack_channel {
        let text = String::from_utf8_lossy(payload);
        if let Some((seq, by)) = text.split_once(' ')
            && let Ok(seq) = seq.parse()
        {
            mirror.acknowledged(seq, by.to_owned());
        }
        return None;
    }
    let Ok(wire) = serde_json::from_slice::<Wire>(payload) else {
        // Cannot tell what changed: forget everything (reads go to Redis meanwhile).
        tracing::warn!("unreadable cache invalidation; forgetting remembered versions");
        mirror.reset(true);
        return None;
    };
    if let Some(holder) = wire.h {
        let (seq, sent) = outstanding?;
        if holder != mirror.id || seq != wire.s {
            return None;
        }
        let until = sent + (LEASE - MARGIN).as_millis() as u64;
        mirror.trusted_until.fetch_max(until, Ordering::AcqRel);
        return Some(seq);
    }
    let writer = wire.w?;
    mirror.apply(&wire.k, &wire.v);
    if writer == mirror.id {
        mirror.acknowledged(wire.s, writer);
    } else {
        let channel = format!("{}{}", mirror.prefix, keys::ack_channel(&writer));
        let ack = format!("{} {}", wire.s, mirror.id);
        let store = store.clone();
        // A lost acknowledgement costs the writer the rest of this lease: try it a few times.
        tokio::spawn(async move {
            for _ in 0..3 {
                let sent = store
                    .run_as(
                        async |c| {
                            redis::cmd("PUBLISH")
                                .arg(&channel)
                                .arg(&ack)
                                .query_async::<i64>(c)
                                .await
                        },
                        Duty::Background,
                    )
                    .await;
                if sent.is_ok() {
                    break;
                }
            }
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_ends_by_the_clock_alone() {
        let mirror = Mirror::new("t:");
        assert!(!mirror.trusted(), "no heartbeat yet");
        mirror
            .trusted_until
            .store(mirror.now_ms() + 40, Ordering::Release);
        mirror.state.write().unwrap().subscribed = true;
        mirror.install(mirror.fill_token(), &["t:v:a".into()], &[Some(7)]);
        assert_eq!(mirror.lookup(&["t:v:a".into()]), Some(vec![7]));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(
            mirror.lookup(&["t:v:a".into()]),
            None,
            "trusted past its lease"
        );
    }

    #[test]
    fn a_fill_read_before_an_invalidation_is_not_remembered() {
        let mirror = Mirror::new("t:");
        mirror.trusted_until.store(u64::MAX, Ordering::Release);
        mirror.state.write().unwrap().subscribed = true;
        let keys = ["t:v:a".to_owned()];
        let token = mirror.fill_token();
        // The bump's message arrives while the read of the old value is in flight.
        mirror.apply(&keys, &[8]);
        mirror.install(token, &keys, &[Some(7)]);
        assert_eq!(mirror.lookup(&keys), None, "the old value was remembered");
        // Held values follow bumps; unsubscribed reads are never remembered.
        mirror.install(mirror.fill_token(), &keys, &[Some(8)]);
        mirror.apply(&keys, &[9]);
        assert_eq!(mirror.lookup(&keys), Some(vec![9]));
        mirror.reset(false);
        mirror.trusted_until.store(u64::MAX, Ordering::Release);
        mirror.install(mirror.fill_token(), &keys, &[Some(9)]);
        assert_eq!(mirror.lookup(&keys), None);
    }

    #[test]
    fn a_bump_of_another_key_keeps_a_fill() {
        let mirror = Mirror::new("t:");
        mirror.trusted_until.store(u64::MAX, Ordering::Release);
        mirror.state.write().unwrap().subscribed = true;
        let token = mirror.fill_token();
        mirror.apply(&["t:v:other".to_owned()], &[3]);
        let keys = ["t:v:a".to_owned(), "t:v:other".to_owned()];
        mirror.install(token, &keys, &[Some(7), Some(2)]);
        assert_eq!(
            mirror.lookup(&keys[..1]),
            Some(vec![7]),
            "an unrelated bump dropped the fill"
        );
        assert_eq!(
            mirror.lookup(&keys[1..]),
            None,
            "a bumped key's older read was kept"
        );
    }
}
