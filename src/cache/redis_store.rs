//! The Redis store: a bb8 pool of multiplexed connections, every command bounded by a short
//! timeout, and a breaker that skips Redis for a moment after a fault so a dead Redis costs
//! requests nothing. The caller falls back to the database on any error.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tracing::Instrument as _;

use bb8_redis::RedisConnectionManager;
use redis::aio::MultiplexedConnection;

/// How long Redis is skipped after the breaker opens.
const BREAKER_OPEN: Duration = Duration::from_millis(500);
/// The least time given to invalidations, lease renewals and acknowledgements.
const UPKEEP_TIMEOUT: Duration = Duration::from_millis(500);
/// Failures in a row that open the breaker.
const BREAKER_THRESHOLD: u32 = 3;

/// Why a cache operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// Redis answered with an error or the connection failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// No connection could be had in time.
    #[error("redis pool: {0}")]
    Pool(String),
    /// The command did not finish within the timeout.
    #[error("redis timeout")]
    Timeout,
    /// Skipped: a recent fault opened the breaker.
    #[error("redis skipped after a recent fault")]
    Skipped,
}

impl CacheError {
    /// A fault of the connection or of Redis (not an error reply, not a skip).
    pub fn is_fault(&self) -> bool {
        match self {
            Self::Pool(_) | Self::Timeout => true,
            Self::Redis(e) => e.is_io_error() || e.is_connection_dropped(),
            Self::Skipped => false,
        }
    }

    /// The command may have run though no reply came (so its effects must be assumed).
    pub fn maybe_applied(&self) -> bool {
        match self {
            Self::Timeout => true,
            Self::Redis(e) => e.is_io_error() || e.is_connection_dropped(),
            Self::Pool(_) | Self::Skipped => false,
        }
    }
}

/// What a command is for, which decides how it meets the breaker and the round-trip count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duty {
    /// A request's read or write: counted, skipped while the breaker is open, feeds it.
    Request,
    /// A version bump: counted and feeds the breaker, but always tried (an invalidation skipped
    /// because of earlier faults would be lost), with at least `UPKEEP_TIMEOUT`.
    Invalidation,
    /// Lease renewals and acknowledgements: not counted in [`RedisStore::round_trips`] (which
    /// measures what requests cost), always tried with at least `UPKEEP_TIMEOUT`, and never
    /// open or close the breaker.
    Background,
}

/// A pooled connection that remembers whether it failed, so the pool drops it (bb8-redis's
/// manager never reports a connection broken, which would keep dead connections after a restart).
/// The flag is shared with the clones handed to concurrent commands.
pub struct TrackedConnection {
    conn: MultiplexedConnection,
    broken: Arc<AtomicBool>,
}

/// bb8 manager: bb8-redis's connect and ping, plus broken-connection tracking.
pub struct Manager(RedisConnectionManager);

impl bb8::ManageConnection for Manager {
    type Connection = TrackedConnection;
    type Error = redis::RedisError;

    async fn connect(&self) -> Result<TrackedConnection, redis::RedisError> {
        Ok(TrackedConnection {
            conn: self.0.connect().await?,
            broken: Arc::new(AtomicBool::new(false)),
        })
    }

    async fn is_valid(&self, conn: &mut TrackedConnection) -> Result<(), redis::RedisError> {
        self.0.is_valid(&mut conn.conn).await
    }

    fn has_broken(&self, conn: &mut TrackedConnection) -> bool {
        conn.broken.load(Ordering::Relaxed)
    }
}

/// The Redis-backed store.
pub struct RedisStore {
    pool: bb8::Pool<Manager>,
    timeout: Duration,
    started: Instant,
    /// Milliseconds since `started` until which Redis is skipped.
    open_until: AtomicU64,
    /// Commands sent (one pipeline counts once: it is one round trip).
    pub round_trips: Arc<AtomicU64>,
    consecutive_failures: AtomicU32,
}

impl RedisStore {
    /// A lazily connecting store; `timeout` bounds every operation including the checkout.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, redis::RedisError> {
        let manager = Manager(RedisConnectionManager::new(url)?);
        let pool = bb8::Pool::builder()
            // Few connections suffice: each multiplexes every concurrent command sent on it.
            .max_size(4)
            .min_idle(Some(0))
            // Multiplexed connections are checked by use; a PING per checkout would double the
            // round trips of every read.
            .test_on_check_out(false)
            .connection_timeout(timeout)
            .build_unchecked(manager);
        Ok(Self {
            pool,
            timeout,
            started: Instant::now(),
            open_until: AtomicU64::new(0),
            round_trips: Arc::new(AtomicU64::new(0)),
            consecutive_failures: AtomicU32::new(0),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A multiplexed connection to send on. The pool guard is released at once: a multiplexed
    /// connection pipelines any number of concurrent commands, so commands share a few
    /// connections instead of queueing for exclusive ones. A connection marked broken is dropped
    /// from the pool when its guard is returned, and the next one is tried.
    async fn connection(&self) -> Result<(MultiplexedConnection, Arc<AtomicBool>), CacheError> {
        for _ in 0..4 {
            let pooled = self
                .pool
                .get()
                .await
                .map_err(|e| CacheError::Pool(e.to_string()))?;
            if !pooled.broken.load(Ordering::Relaxed) {
                return Ok((pooled.conn.clone(), pooled.broken.clone()));
            }
        }
        Err(CacheError::Pool("no healthy connection".into()))
    }

    /// Reads counters (family and entity versions) in one `MGET`; absent ones are `None`.
    pub async fn counters(&self, keys: &[String]) -> Result<Vec<Option<u64>>, CacheError> {
        self.run(async |c| {
            redis::cmd("MGET")
                .arg(keys)
                .query_async::<Vec<Option<u64>>>(c)
                .await
        })
        .await
    }

    /// Runs one command or pipeline with the timeout and breaker.
    pub async fn run<T, F>(&self, op: F) -> Result<T, CacheError>
    where
        F: AsyncFnOnce(&mut MultiplexedConnection) -> redis::RedisResult<T>,
    {
        self.run_as(op, Duty::Request).await
    }

    /// Runs one command or pipeline as `duty` says (see [`Duty`]).
    pub async fn run_as<T, F>(&self, op: F, duty: Duty) -> Result<T, CacheError>
    where
        F: AsyncFnOnce(&mut MultiplexedConnection) -> redis::RedisResult<T>,
    {
        if duty == Duty::Request && self.now_ms() < self.open_until.load(Ordering::Relaxed) {
            return Err(CacheError::Skipped);
        }
        // A read that waits is worse than one that goes to PostgreSQL; an invalidation, a renewal
        // or an acknowledgement that gives up too soon costs a write a lease or makes it stale.
        let timeout = match duty {
            Duty::Request => self.timeout,
            Duty::Invalidation | Duty::Background => self.timeout.max(UPKEEP_TIMEOUT),
        };
        let counted = duty != Duty::Background;
        // Timed around the timeout, so commands that time out count as slow as they were.
        let started = std::time::Instant::now();
        // A trace span per round trip (only built when traces are exported).
        let span = crate::telemetry::child_span(
            || tracing::debug_span!(parent: None, "redis", otel.name = "redis", otel.kind = "client"),
        );
        let result = tokio::time::timeout(
            timeout,
            async {
                let (mut conn, broken) = self.connection().await?;
                if counted {
                    self.round_trips.fetch_add(1, Ordering::Relaxed);
                }
                let result = op(&mut conn).await;
                // Anything but an error reply from the server (which has a code, e.g. WRONGTYPE)
                // means the connection itself is suspect: drop it and dial a fresh one next time.
                if let Err(e) = &result
                    && e.code().is_none()
                {
                    broken.store(true, Ordering::Relaxed);
                }
                result.map_err(CacheError::from)
            }
            .instrument(span),
        )
        .await
        .unwrap_or(Err(CacheError::Timeout));
        metrics::histogram!("techpotli_redis_command_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        let failed = result.as_ref().err().is_some_and(CacheError::is_fault);
        if duty == Duty::Background {
            // Renewals and acknowledgements neither open nor close the breaker.
        } else if failed {
            // One slow command under a CPU spike is not an outage: open the breaker only after a
            // few failures in a row, so a loaded server keeps its cache.
            if self.consecutive_failures.fetch_add(1, Ordering::Relaxed) + 1 >= BREAKER_THRESHOLD {
                self.open_until.store(
                    self.now_ms() + BREAKER_OPEN.as_millis() as u64,
                    Ordering::Relaxed,
                );
            }
        } else {
            self.consecutive_failures.store(0, Ordering::Relaxed);
        }
        result
    }

    /// PING, for readiness.
    pub async fn ping(&self) -> bool {
        self.open_until.store(0, Ordering::Relaxed);
        self.run(async |c| redis::cmd("PING").query_async::<String>(c).await)
            .await
            .is_ok()
    }
}
