//! Cache-first reads shared by every instance: one [`Cache`] over Redis (when configured) or an
//! in-process store, with race-free invalidation by family versions and single-flight loads.
//!
//! Invalidation: each [`Family`] has a version counter. A read first fetches the versions of the
//! families it depends on (one round trip), *then* reads the cache or the database, and stores
//! under a key that ends in those versions. A writer commits, then bumps the versions. A reader
//! that loaded old rows before the commit therefore stores them under the old version, which no
//! later read asks for: it is unreachable at once and expires by TTL. Other families' keys are
//! untouched. Counters start at a random value so a Redis restart cannot revive old keys.
//!
//! Faults: a Redis error or timeout (tens of milliseconds) never fails a read; it is counted,
//! logged at most once per interval, and the read goes to the database.

pub mod bounded;
pub mod keys;
pub mod memory;
pub mod mirror;
pub mod redis_store;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use self::keys::{Family, ResourceKey};
use self::memory::MemoryStore;
use self::mirror::Mirror;
use self::redis_store::{CacheError, RedisStore};
use crate::error::{AppError, AppResult};

/// Values larger than this are stored LZ4-compressed.
const COMPRESS_ABOVE: usize = 2048;
/// How long the in-process L1 keeps a value (its key never changes meaning; this bounds memory
/// churn, not staleness).
const L1_TTL: Duration = Duration::from_secs(60);
/// How long an entity's version counter lives without a bump (see `Cache::init_versions`).
const ENTITY_VERSION_TTL: Duration = Duration::from_secs(24 * 3600);
/// At most one cache-fault log line per this interval.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Where cached bytes live.
pub enum Store {
    /// Caching switched off: every read loads.
    Disabled,
    /// Shared by every instance, with this instance's memory of the version counters.
    Redis(Arc<RedisStore>, Arc<Mirror>),
    /// This process only.
    Memory(MemoryStore),
}

/// A resource key's full name and the full names of its version counters (see [`Cache::plan`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPlan {
    name: String,
    counters: Vec<String>,
}

impl KeyPlan {
    /// Bytes it holds (names).
    pub fn weight(&self) -> usize {
        self.name.len() + self.counters.iter().map(String::len).sum::<usize>()
    }
}

/// Counters exported on `/metrics`.
#[derive(Default)]
pub struct CacheMetrics {
    /// Reads answered from the cache.
    pub hits: AtomicU64,
    /// Of those, whole responses served by the memoised hit path (`graphql::hot_path`).
    pub hot_hits: AtomicU64,
    /// Reads that went to the database (not cached yet, or expired, or invalidated).
    pub misses: AtomicU64,
    /// Cache operations that failed (the read fell back to the database).
    pub faults: AtomicU64,
    /// Version reads answered from memory under the lease (no Redis round trip).
    pub versions_from_memory: AtomicU64,
    /// Version reads that asked Redis (memory not trusted, or not holding every counter).
    pub versions_from_redis: AtomicU64,
}

type Flight = Shared<BoxFuture<'static, Result<Arc<Vec<u8>>, Arc<AppError>>>>;
/// A coalesced read of version counters: each key read and its value (or the error text).
type VersionRead = Arc<Result<HashMap<String, Option<u64>>, String>>;
type VersionFlight = Shared<BoxFuture<'static, VersionRead>>;

/// The version read being assembled: the keys its joiners asked for, and the read itself.
struct VersionBatch {
    keys: Vec<String>,
    asked: std::collections::HashSet<String>,
    flight: VersionFlight,
}

/// The cache: cheaply shareable through `App`.
pub struct Cache {
    store: Store,
    /// In front of Redis: decoded values by full key. Keys are versioned (or content-addressed),
    /// so an entry never changes meaning and needs no invalidation; this saves the Redis `GET` and
    /// the decompression of hot entries, leaving one round trip (the versions) per read.
    l1: Option<MemoryStore>,
    /// Counters of this instance when there is no shared store (throttles keep working).
    local_counters: MemoryStore,
    /// The version read being assembled, if any (see `batched_counters`).
    version_batch: Arc<Mutex<Option<VersionBatch>>>,
    prefix: String,
    flights: Mutex<HashMap<String, Flight>>,
    /// Hit/miss/fault counters.
    pub metrics: CacheMetrics,
    last_log: Mutex<Option<Instant>>,
}

/// A value's cached form (JSON).
fn encode<T: Serialize>(value: &T) -> AppResult<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| AppError::Internal(e.into()))
}

/// Frames bytes for Redis: a tag byte (0 raw, 1 LZ4) then the payload, compressed when large.
fn encode_bytes(json: Vec<u8>) -> Vec<u8> {
    if json.len() > COMPRESS_ABOVE {
        let mut out = vec![1];
        out.extend(lz4_flex::compress_prepend_size(&json));
        out
    } else {
        let mut out = Vec::with_capacity(json.len() + 1);
        out.push(0);
        out.extend(json);
        out
    }
}

/// Reverses [`encode_bytes`]; `None` for bytes not written by it.
fn decode_bytes(bytes: &[u8]) -> Option<Vec<u8>> {
    match bytes.split_first()? {
        (0, rest) => Some(rest.to_vec()),
        (1, rest) => lz4_flex::decompress_size_prepended(rest).ok(),
        _ => None,
    }
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    serde_json::from_slice(bytes).ok()
}

impl Cache {
    /// A cache over Redis at `url`, or in-process (bounded to `memory_bytes`) without one.
    pub fn new(
        redis_url: Option<&str>,
        prefix: &str,
        timeout: Duration,
        memory_bytes: usize,
        enabled: bool,
    ) -> anyhow::Result<Self> {
        let store = match redis_url {
            _ if !enabled => Store::Disabled,
            Some(url) => {
                let (r, mirror) = (
                    Arc::new(RedisStore::new(url, timeout)?),
                    Arc::new(Mirror::new(prefix)),
                );
                // Outside a runtime (tools) the mirror stays untrusted: versions come from Redis.
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    runtime.spawn(mirror::run(
                        Arc::downgrade(&mirror),
                        Arc::downgrade(&r),
                        redis::Client::open(url)?,
                    ));
                }
                Store::Redis(r, mirror)
            }
            None => Store::Memory(MemoryStore::new(memory_bytes)),
        };
        let l1 = matches!(store, Store::Redis(..)).then(|| MemoryStore::new(memory_bytes));
        Ok(Self {
            store,
            l1,
            local_counters: MemoryStore::new(1024 * 1024),
            version_batch: Arc::new(Mutex::new(None)),
            prefix: prefix.to_owned(),
            flights: Mutex::new(HashMap::new()),
            metrics: CacheMetrics::default(),
            last_log: Mutex::new(None),
        })
    }

    /// False when caching is switched off (`CACHE_ENABLED=false`).
    pub fn is_enabled(&self) -> bool {
        !matches!(self.store, Store::Disabled)
    }

    /// `"redis"`, `"memory"` or `"disabled"`.
    pub fn backend(&self) -> &'static str {
        match self.store {
            Store::Redis(..) => "redis",
            Store::Memory(_) => "memory",
            Store::Disabled => "disabled",
        }
    }

    /// Redis round trips so far (0 for the in-process store).
    pub fn round_trips(&self) -> u64 {
        match &self.store {
            Store::Redis(r, _) => r.round_trips.load(Ordering::Relaxed),
            Store::Memory(_) | Store::Disabled => 0,
        }
    }

    /// Gives up this instance's version lease (on shutdown, after the last request and job), so
    /// other instances' writes stop waiting for it.
    pub async fn release(&self) {
        if let Store::Redis(r, mirror) = &self.store {
            mirror.release(r).await;
        }
    }

    /// The in-memory version counters (with Redis), for readiness and tests.
    pub fn mirror(&self) -> Option<&Mirror> {
        match &self.store {
            Store::Redis(_, mirror) => Some(mirror),
            Store::Memory(_) | Store::Disabled => None,
        }
    }

    /// Readiness of the backend: `Some(true/false)` for Redis, `None` in-process.
    pub async fn redis_ready(&self) -> Option<bool> {
        match &self.store {
            Store::Redis(r, _) => Some(r.ping().await),
            Store::Memory(_) | Store::Disabled => None,
        }
    }

    fn fault(&self, error: &CacheError) {
        self.metrics.faults.fetch_add(1, Ordering::Relaxed);
        let mut last = self
            .last_log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.is_none_or(|at| at.elapsed() >= LOG_INTERVAL) {
            *last = Some(Instant::now());
            tracing::warn!(%error, "cache unavailable; reading from the database");
        }
    }

    fn full(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Current versions of `families`; `None` when the cache is unreachable (then do not cache).
    pub async fn versions(&self, families: &[Family]) -> Option<Vec<u64>> {
        let names: Vec<String> = families
            .iter()
            .map(|f| self.full(&f.version_key()))
            .collect();
        self.counters_at(&names).await
    }

    /// Version counters from Redis in one `MGET`, coalesced: requests that arrive while a read is
    /// being assembled add their keys to it and share it, and it is sent only after all of them
    /// arrived, so each still sees every bump that finished before it began. A burst of
    /// thousands of requests makes a handful of Redis calls instead of thousands (which, on a
    /// saturated machine, would time out and stampede PostgreSQL), whatever mix of families,
    /// entities and locales they read.
    async fn batched_counters(
        &self,
        r: &Arc<RedisStore>,
        mirror: &Arc<Mirror>,
        keys: &[String],
    ) -> Option<Vec<u64>> {
        let flight = {
            let mut pending = self
                .version_batch
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match pending.as_mut() {
                Some(batch) => {
                    for key in keys {
                        if batch.asked.insert(key.clone()) {
                            batch.keys.push(key.clone());
                        }
                    }
                    batch.flight.clone()
                }
                None => {
                    let (r, batch) = (r.clone(), self.version_batch.clone());
                    let mirror = mirror.clone();
                    let flight = async move {
                        // Let the requests that are runnable now join before the read is sent.
                        tokio::task::yield_now().await;
                        let keys = batch
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .take()
                            .map(|b| b.keys)
                            .unwrap_or_default();
                        let token = mirror.fill_token();
                        let read = r.counters(&keys).await;
                        if let Ok(values) = &read {
                            mirror.install(token, &keys, values);
                        }
                        Arc::new(
                            read.map_err(|e| e.to_string())
                                .map(|values| keys.into_iter().zip(values).collect()),
                        )
                    }
                    .boxed()
                    .shared();
                    *pending = Some(VersionBatch {
                        keys: keys.to_vec(),
                        asked: keys.iter().cloned().collect(),
                        flight: flight.clone(),
                    });
                    flight
                }
            }
        };
        match &*flight.await {
            Ok(values) => {
                let read: Vec<Option<u64>> = keys
                    .iter()
                    .map(|k| values.get(k).copied().flatten())
                    .collect();
                self.complete_versions(r, mirror, keys, read).await
            }
            Err(e) => {
                self.fault(&CacheError::Pool(e.clone()));
                None
            }
        }
    }

    /// Fills counters that do not exist yet (first use, or Redis restarted) with random starts,
    /// and remembers the started values like any other read (so the next request for a new
    /// product costs no round trip).
    async fn complete_versions(
        &self,
        r: &RedisStore,
        mirror: &Mirror,
        keys: &[String],
        read: Vec<Option<u64>>,
    ) -> Option<Vec<u64>> {
        let missing: Vec<&String> = keys
            .iter()
            .zip(&read)
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k)
            .collect();
        if missing.is_empty() {
            return read.into_iter().collect();
        }
        // Taken before the round trip: a bump that lands meanwhile keeps its key out of memory.
        let token = mirror.fill_token();
        let started = self.init_versions(r, &missing).await?;
        let owned: Vec<String> = missing.iter().map(|k| (*k).clone()).collect();
        let values: Vec<Option<u64>> = started.iter().copied().map(Some).collect();
        mirror.install(token, &owned, &values);
        let mut started = started.into_iter();
        read.into_iter()
            .map(|v| v.or_else(|| started.next()))
            .collect()
    }

    /// Starts missing counters at random values (`SET NX`, then one `MGET`), all in one round
    /// trip, so counters recreated after a Redis restart never meet keys written under an
    /// earlier life of the same number. Single-entity counters (`v:e:product:id:7`, one per
    /// product or handle a client ever asked for, in any locale) expire about
    /// [`ENTITY_VERSION_TTL`] after they were started, at spread-out times (a counter that
    /// restarts at a new random value only makes old entries unreachable); family counters,
    /// locale ones included (`v:e:products@hi-IN`), never do.
    async fn init_versions(&self, r: &RedisStore, keys: &[&String]) -> Option<Vec<u64>> {
        let entity_prefix = self.full("v:e:");
        let is_entity = |key: &str| {
            key.strip_prefix(&entity_prefix)
                .is_some_and(|name| name.split('@').next().is_some_and(|n| n.contains(':')))
        };
        let result = r
            .run(async |c| {
                let mut pipe = redis::pipe();
                for key in keys {
                    let cmd = pipe.cmd("SET").arg(*key).arg(random_u32()).arg("NX");
                    if is_entity(key) {
                        let jitter = crate::random::u64() % 3600;
                        cmd.arg("EX").arg(ENTITY_VERSION_TTL.as_secs() + jitter);
                    }
                    cmd.ignore();
                }
                pipe.cmd("MGET");
                for key in keys {
                    pipe.arg(*key);
                }
                pipe.query_async::<(Vec<Option<u64>>,)>(c).await
            })
            .await;
        match result {
            Ok((values,)) => values.into_iter().collect(),
            Err(e) => {
                self.fault(&e);
                None
            }
        }
    }

    /// The versioned key of a resource, or `None` when the cache is unreachable.
    pub async fn versioned_key(&self, key: &ResourceKey) -> Option<String> {
        self.versioned_key_of(&self.plan(key)).await
    }

    /// The full names of a resource key's version counters, worked out once for a key that is
    /// read again and again (the memoised hit path).
    pub fn plan(&self, key: &ResourceKey) -> KeyPlan {
        // Families, entities and (in a locale) their locale versions: one coalesced read.
        let mut names: Vec<String> = key.families.iter().map(|f| f.version_key()).collect();
        names.extend(key.entities.iter().map(|e| keys::entity_version_key(e)));
        if let Some(locale) = &key.scope {
            let scoped = key
                .families
                .iter()
                .map(|f| f.name())
                .chain(key.entities.iter().map(String::as_str))
                .map(|name| keys::entity_version_key(&keys::scoped(name, locale)));
            names.extend(scoped.collect::<Vec<_>>());
        }
        KeyPlan {
            name: self.full(&key.name),
            counters: names.iter().map(|n| self.full(n)).collect(),
        }
    }

    /// [`Self::versioned_key`] of a planned key.
    pub async fn versioned_key_of(&self, plan: &KeyPlan) -> Option<String> {
        let versions = self.counters_at(&plan.counters).await?;
        let mut key = String::with_capacity(plan.name.len() + 1 + versions.len() * 21);
        key.push_str(&plan.name);
        key.push('@');
        for (i, version) in versions.iter().enumerate() {
            if i > 0 {
                key.push('.');
            }
            let _ = write!(key, "{version}");
        }
        Some(key)
    }

    /// Current values of version counters by their full names (one coalesced `MGET`; missing
    /// counters start at random).
    async fn counters_at(&self, keys: &[String]) -> Option<Vec<u64>> {
        match &self.store {
            Store::Disabled => None,
            Store::Memory(m) => Some(m.counters(keys)),
            Store::Redis(..) if keys.is_empty() => Some(Vec::new()),
            Store::Redis(r, mirror) => match mirror.lookup(keys) {
                Some(values) => {
                    self.metrics
                        .versions_from_memory
                        .fetch_add(1, Ordering::Relaxed);
                    Some(values)
                }
                None => {
                    self.metrics
                        .versions_from_redis
                        .fetch_add(1, Ordering::Relaxed);
                    self.batched_counters(r, mirror, keys).await
                }
            },
        }
    }

    /// Makes every cached read of these single entities unreachable (after the write committed);
    /// reads of other entities of the same family stay cached.
    pub async fn invalidate_entities(&self, entities: &[String]) {
        let keys: Vec<String> = entities
            .iter()
            .map(|e| keys::entity_version_key(e))
            .collect();
        self.bump(&keys).await;
    }

    /// The value under a full key if this process holds it (the in-process store, or Redis's
    /// L1): never a round trip. The same allocation comes back until the entry is replaced,
    /// evicted or expires.
    pub fn get_local(&self, full_key: &str) -> Option<Arc<Vec<u8>>> {
        match &self.store {
            Store::Disabled => None,
            Store::Memory(m) => m.get(full_key),
            Store::Redis(..) => self.l1.as_ref()?.get(full_key),
        }
    }

    /// The value under a full key (decoded), from the in-process L1 or the store.
    pub async fn get_bytes(&self, full_key: &str) -> Option<Arc<Vec<u8>>> {
        match &self.store {
            Store::Disabled => None,
            Store::Memory(m) => m.get(full_key),
            Store::Redis(r, _) => {
                if let Some(hit) = self.l1.as_ref().and_then(|l1| l1.get(full_key)) {
                    return Some(hit);
                }
                let read = r
                    .run(async |c| {
                        redis::cmd("GET")
                            .arg(full_key)
                            .query_async::<Option<Vec<u8>>>(c)
                            .await
                    })
                    .await;
                match read {
                    Ok(v) => {
                        let value = decode_bytes(&v?)?;
                        if let Some(l1) = &self.l1 {
                            l1.set(full_key, value.clone(), L1_TTL);
                        }
                        Some(Arc::new(value))
                    }
                    Err(e) => {
                        self.fault(&e);
                        None
                    }
                }
            }
        }
    }

    /// Stores a value under a full key for `ttl`; a failure is only counted.
    pub async fn set_bytes(&self, full_key: &str, value: Vec<u8>, ttl: Duration) {
        match &self.store {
            Store::Disabled => {}
            Store::Memory(m) => m.set(full_key, value, ttl),
            Store::Redis(r, _) => {
                if let Some(l1) = &self.l1 {
                    l1.set(full_key, value.clone(), ttl.min(L1_TTL));
                }
                let framed = encode_bytes(value);
                let secs = ttl.as_secs().max(1);
                let result = r
                    .run(async |c| {
                        redis::cmd("SET")
                            .arg(full_key)
                            .arg(&framed)
                            .arg("EX")
                            .arg(secs)
                            .query_async::<()>(c)
                            .await
                    })
                    .await;
                if let Err(e) = result {
                    self.fault(&e);
                }
            }
        }
    }

    /// Reads an unversioned entry (persisted queries, addressed by content).
    pub async fn get_plain(&self, name: &str) -> Option<Vec<u8>> {
        self.get_bytes(&self.full(name)).await.map(|b| b.to_vec())
    }

    /// Deletes a key in Redis; a failure is only counted.
    async fn redis_del(&self, r: &RedisStore, key: &str) {
        let result = r
            .run(async |c| redis::cmd("DEL").arg(key).query_async::<u64>(c).await)
            .await;
        if let Err(e) = result {
            self.fault(&e);
        }
    }

    /// Deletes an unversioned entry (a persisted query taken off the allow-list).
    pub async fn remove_plain(&self, name: &str) {
        let key = self.full(name);
        if let Some(l1) = &self.l1 {
            l1.del(std::slice::from_ref(&key));
        }
        match &self.store {
            Store::Redis(r, _) => self.redis_del(r, &key).await,
            Store::Memory(m) => m.del(&[key]),
            Store::Disabled => {}
        }
    }

    /// Stores an unversioned entry (persisted queries).
    pub async fn set_plain(&self, name: &str, value: Vec<u8>, ttl: Duration) {
        self.set_bytes(&self.full(name), value, ttl).await;
    }

    /// Cache-first read of a resource: on a miss, `load` runs once however many callers miss the
    /// same key at once (single flight), and its result is stored under the versions read before
    /// it started. When the cache is unreachable, `load` runs directly.
    pub async fn get_or_load<T, F>(&self, key: &ResourceKey, load: F) -> AppResult<T>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: Future<Output = AppResult<T>> + Send + 'static,
    {
        let outcome = |outcome: &'static str| {
            keys::count_families("techpotli_cache_reads_total", outcome, &key.families);
        };
        let Some(full_key) = self.versioned_key(key).await else {
            // Cache unreachable: load without storing, but still once per burst of callers.
            self.metrics.misses.fetch_add(1, Ordering::Relaxed);
            outcome("bypass");
            if !self.is_enabled() {
                return load.await;
            }
            let name = format!("unversioned:{}", key.name);
            let bytes = self
                .single_flight(&name, async move { encode(&load.await?) })
                .await?;
            return decode(&bytes)
                .ok_or_else(|| AppError::Internal(anyhow::anyhow!("value does not round-trip")));
        };
        if let Some(value) = self
            .get_bytes(&full_key)
            .await
            .and_then(|b| decode::<T>(&b))
        {
            self.metrics.hits.fetch_add(1, Ordering::Relaxed);
            outcome("hit");
            return Ok(value);
        }
        self.metrics.misses.fetch_add(1, Ordering::Relaxed);
        outcome("miss");
        let bytes = self
            .single_flight(&full_key, async move { encode(&load.await?) })
            .await?;
        self.set_bytes(&full_key, bytes.to_vec(), key.ttl).await;
        decode(&bytes)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("cache value does not round-trip")))
    }

    /// Runs `work` once per key among concurrent callers in this process.
    pub async fn single_flight<F>(&self, key: &str, work: F) -> AppResult<Arc<Vec<u8>>>
    where
        F: Future<Output = AppResult<Vec<u8>>> + Send + 'static,
    {
        let flight = {
            let mut flights = self
                .flights
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            flights
                .entry(key.to_owned())
                .or_insert_with(|| {
                    work.map(|r| r.map(Arc::new).map_err(Arc::new))
                        .boxed()
                        .shared()
                })
                .clone()
        };
        let result = flight.clone().await;
        {
            let mut flights = self
                .flights
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if flights.get(key).is_some_and(|f| f.ptr_eq(&flight)) {
                flights.remove(key);
            }
        }
        result.map_err(|e| e.shared())
    }

    /// A windowed counter's value (0 when absent or unreachable).
    pub async fn counter(&self, name: &str) -> u64 {
        let key = self.full(name);
        match &self.store {
            Store::Redis(r, _) => {
                match r
                    .run(async |c| {
                        redis::cmd("GET")
                            .arg(&key)
                            .query_async::<Option<u64>>(c)
                            .await
                    })
                    .await
                {
                    Ok(v) => v.unwrap_or(0),
                    Err(e) => {
                        self.fault(&e);
                        self.local_counters.counters(&[key])[0]
                    }
                }
            }
            Store::Memory(m) => m.counters(&[key])[0],
            Store::Disabled => self.local_counters.counters(&[key])[0],
        }
    }

    /// Deletes a windowed counter (a sign-in that succeeded clears its attempts).
    pub async fn forget(&self, name: &str) {
        let key = self.full(name);
        match &self.store {
            Store::Redis(r, _) => {
                self.redis_del(r, &key).await;
                self.local_counters.reset_counter(&key);
            }
            Store::Memory(m) => m.reset_counter(&key),
            Store::Disabled => self.local_counters.reset_counter(&key),
        }
    }

    /// Increments a counter that expires `window` after its first increment. Shared by every
    /// instance with Redis; per instance otherwise (or while Redis is down).
    pub async fn increment(&self, name: &str, window: Duration) -> u64 {
        let key = self.full(name);
        match &self.store {
            Store::Redis(r, _) => {
                let secs = window.as_secs().max(1);
                let result = r
                    .run(async |c| {
                        redis::pipe()
                            .cmd("INCR")
                            .arg(&key)
                            .cmd("EXPIRE")
                            .arg(&key)
                            .arg(secs)
                            .arg("NX")
                            .ignore()
                            .query_async::<(u64,)>(c)
                            .await
                    })
                    .await;
                match result {
                    Ok((n,)) => n,
                    Err(e) => {
                        self.fault(&e);
                        self.local_counters.incr_within(&key, Some(window))
                    }
                }
            }
            Store::Memory(m) => m.incr_within(&key, Some(window)),
            Store::Disabled => self.local_counters.incr_within(&key, Some(window)),
        }
    }

    /// Runs a Lua script (`EVAL`) on Redis over the prefixed keys `names`; `None` without Redis
    /// (in-process or disabled cache) or on a fault, so callers keep a local fallback.
    pub async fn eval_on_redis(
        &self,
        script: &'static str,
        names: &[&str],
        args: &[i64],
    ) -> Option<Vec<i64>> {
        let Store::Redis(r, _) = &self.store else {
            return None;
        };
        let keys: Vec<String> = names.iter().map(|n| self.full(n)).collect();
        let result = r
            .run(async |c| {
                let mut cmd = redis::cmd("EVAL");
                cmd.arg(script).arg(keys.len());
                for key in &keys {
                    cmd.arg(key);
                }
                for arg in args {
                    cmd.arg(*arg);
                }
                cmd.query_async::<Vec<i64>>(c).await
            })
            .await;
        match result {
            Ok(values) => Some(values),
            Err(e) => {
                self.fault(&e);
                None
            }
        }
    }

    /// Makes every cached read of `families` unreachable (call after the writing transaction
    /// commits). Retried a few times; if it still fails, TTLs bound the staleness.
    pub async fn invalidate(&self, families: &[Family]) {
        let keys: Vec<String> = families.iter().map(|f| f.version_key()).collect();
        self.bump(&keys).await;
    }

    /// Increments version counters, retried a few times; if it still fails, TTLs bound staleness.
    /// With Redis, returns once every instance applied the new values or stopped trusting its
    /// memory (see [`mirror`]).
    async fn bump(&self, names: &[String]) {
        let keys: Vec<String> = names.iter().map(|n| self.full(n)).collect();
        match &self.store {
            Store::Disabled => {}
            Store::Memory(m) => {
                for key in &keys {
                    m.incr(key);
                }
            }
            Store::Redis(..) if keys.is_empty() => {}
            Store::Redis(r, mirror) => {
                let starts: Vec<u32> = keys.iter().map(|_| random_u32()).collect();
                // When the last attempt that may have run (no reply) was given up: it ran by
                // then, or Redis holds it unexecuted (which no client can bound).
                let mut maybe_ran: Option<Instant> = None;
                let mut attempt = 0;
                loop {
                    match mirror.bump(r, &keys, &starts).await {
                        Ok(()) => break,
                        Err(e) => {
                            if e.maybe_applied() {
                                maybe_ran = Some(Instant::now());
                            }
                            if attempt < 3 {
                                attempt += 1;
                                tracing::warn!(error = %e, keys = ?names, attempt, "cache invalidation failed; retrying");
                                tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
                                continue;
                            }
                            self.fault(&e);
                            tracing::error!(error = %e, keys = ?names, "cache invalidation failed; TTL bounds staleness");
                            // A bump that ran unacknowledged: no instance may still trust the
                            // old versions when this write returns (their leases run out).
                            if let Some(given_up) = maybe_ran {
                                tokio::time::sleep_until((given_up + mirror::LEASE).into()).await;
                            }
                            break;
                        }
                    }
                }
            }
        }
    }
}

fn random_u32() -> u32 {
    // Keep well below 2^32 so increments never overflow a client's integer parsing.
    (crate::random::u64() as u32) >> 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_values_are_compressed_and_round_trip() {
        let big: Vec<String> = (0..500).map(|i| format!("product-{i}")).collect();
        let bytes = encode_bytes(encode(&big).unwrap());
        assert_eq!(bytes[0], 1);
        assert!(bytes.len() < serde_json::to_vec(&big).unwrap().len());
        assert_eq!(
            decode::<Vec<String>>(&decode_bytes(&bytes).unwrap()).unwrap(),
            big
        );
        let small = encode_bytes(encode(&"x").unwrap());
        assert_eq!(small[0], 0);
        assert_eq!(
            decode::<String>(&decode_bytes(&small).unwrap()).unwrap(),
            "x"
        );
    }
}
