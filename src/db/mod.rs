//! PostgreSQL access: the diesel-async connection pool, embedded migrations, and the statement
//! counter that tests and `/metrics` read. Query functions live in each domain's `model.rs`.

pub mod pagination;
pub mod schema;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel_async::pooled_connection::bb8::{Pool, PooledConnection};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

/// The application's PostgreSQL pool (bb8 over diesel-async, pure Rust: no libpq).
pub type DbPool = Pool<AsyncPgConnection>;
/// A connection checked out of [`DbPool`].
pub type DbConn = PooledConnection<'static, AsyncPgConnection>;

/// A `LIKE`/`ILIKE` pattern matching `text` anywhere, its `%`, `_` and `\` taken literally (the
/// one escape every search filter uses).
pub fn contains_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Every migration in `migrations/`, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Counts the SQL statements sent by every connection of one pool; cheaply cloneable.
///
/// Fed by diesel's instrumentation hook, so it sees every statement (including `BEGIN`/`COMMIT`)
/// exactly as the server receives it. Tests assert on it; `/metrics` exports it.
#[derive(Clone, Debug, Default)]
pub struct StatementCounter(Arc<AtomicU64>);

impl StatementCounter {
    /// Statements sent so far through the pool this counter is attached to.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Counts every statement and records its latency: from the statement's start until diesel-async
/// reports it finished — for a `load`, when the first reply arrives (rows streamed after it are
/// not timed) — including any wait for this task to be polled again. A statement whose
/// future was dropped before it finished records nothing (the next one overwrites its start).
struct CountStatements(StatementCounter, Option<std::time::Instant>, tracing::Span);

/// A statement that takes this long (as [`CountStatements`] times it) is logged with its text.
const SLOW_STATEMENT: Duration = Duration::from_millis(500);

/// A statement's SQL without the `-- binds: [...]` diesel's debug form appends.
fn sql_text(query: &dyn diesel::connection::DebugQuery) -> String {
    let text = query.to_string();
    match text.find(" -- binds: ") {
        Some(end) => text[..end].to_owned(),
        None => text,
    }
}

impl Instrumentation for CountStatements {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { query, .. } => {
                self.0.0.fetch_add(1, Ordering::Relaxed);
                crate::http::request_id::count_statement();
                self.1 = Some(std::time::Instant::now());
                // A trace span per statement of a request (only built when traces are
                // exported): the SQL text without its bind values, which may hold customer data.
                self.2 = crate::telemetry::child_span(|| {
                    tracing::debug_span!(
                        parent: None,
                        "sql",
                        otel.name = "sql",
                        otel.kind = "client",
                        db.system = "postgresql",
                        db.statement = %sql_text(query),
                    )
                });
            }
            InstrumentationEvent::FinishQuery { query, error, .. } => {
                // Closing the span ends it.
                self.2 = tracing::Span::none();
                if let Some(started) = self.1.take() {
                    let took = started.elapsed();
                    metrics::histogram!("techpotli_sql_statement_duration_seconds")
                        .record(took.as_secs_f64());
                    if took >= SLOW_STATEMENT {
                        // The text without its bind values (they may hold customer data).
                        tracing::warn!(
                            took_ms = took.as_millis() as u64,
                            failed = error.is_some(),
                            statement = %sql_text(query),
                            "slow SQL statement"
                        );
                    }
                }
            }
            _ => {}
        }
    }
}

/// Pool sizing and timeouts.
#[derive(Clone, Debug)]
pub struct PoolOptions {
    /// Maximum open connections.
    pub max_size: u32,
    /// How long a checkout may wait before the request fails with `SERVICE_UNAVAILABLE`.
    pub connection_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 16,
            connection_timeout: Duration::from_secs(5),
        }
    }
}

/// Logs connection errors that bb8 would otherwise hide behind "timed out" (its pool reports only
/// that it waited, not why connecting failed).
#[derive(Debug, Clone, Copy)]
struct LogErrors;

impl<E: std::fmt::Display> bb8::ErrorSink<E> for LogErrors {
    fn sink(&self, error: E) {
        tracing::warn!(%error, "database connection error");
    }

    fn boxed_clone(&self) -> Box<dyn bb8::ErrorSink<E>> {
        Box::new(*self)
    }
}

/// Builds the pool lazily: the server starts (and `/readyz` reports) even while PostgreSQL is down,
/// and connections are re-established by themselves when it returns.
pub fn connect(url: &str, options: &PoolOptions, counter: StatementCounter) -> DbPool {
    let mut config = ManagerConfig::<AsyncPgConnection>::default();
    // A broken connection is detected by tokio-postgres closing it (its backend was killed, the
    // network cut): checked at every checkout without a query, so a connection that died idle in
    // the pool is dropped there instead of failing its next statement. The default `Verified`
    // method's `SELECT 1` would add a round trip to every request; `Fast` checks nothing.
    config.recycling_method = RecyclingMethod::CustomFunction(Box::new(|conn| {
        let broken = diesel_async::pooled_connection::PoolableConnection::is_broken(conn);
        Box::pin(async move {
            if broken {
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::ClosedConnection,
                    Box::new("connection closed while idle in the pool".to_owned()),
                ))
            } else {
                Ok(())
            }
        })
    }));
    config.custom_setup = Box::new(move |url| {
        let counter = counter.clone();
        let url = url.to_owned();
        async move {
            let mut conn = AsyncPgConnection::establish(&url).await?;
            conn.set_instrumentation(CountStatements(counter, None, tracing::Span::none()));
            Ok(conn)
        }
        .boxed()
    });
    let manager = AsyncDieselConnectionManager::new_with_config(url, config);
    Pool::builder()
        .max_size(options.max_size)
        .min_idle(Some(0))
        .connection_timeout(options.connection_timeout)
        .error_sink(Box::new(LogErrors))
        .build_unchecked(manager)
}

/// Retries that may hold a connection outside the pool at once (per process; more wait for one):
/// a storm of broken connections must not multiply the backends an instance opens.
const RETRY_CONNECTIONS: usize = 8;
/// How long a retry waits for its fresh connection.
const RETRY_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection outside the pool while it is used, for the one retry of a read whose pooled
/// connection broke under it: after backends are killed, the pool's other idle connections may be
/// dead too, so the retry must not take one of them. At most [`RETRY_CONNECTIONS`] at once (the
/// rest wait their turn), all within [`RETRY_CONNECT_TIMEOUT`]; otherwise the read fails as
/// unavailable (the caller has already released the broken connection).
pub struct RetryConnection {
    conn: AsyncPgConnection,
    _slot: tokio::sync::SemaphorePermit<'static>,
}

impl std::ops::Deref for RetryConnection {
    type Target = AsyncPgConnection;
    fn deref(&self) -> &AsyncPgConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for RetryConnection {
    fn deref_mut(&mut self) -> &mut AsyncPgConnection {
        &mut self.conn
    }
}

/// See [`RetryConnection`].
pub async fn fresh_connection(pool: &DbPool) -> Result<RetryConnection, crate::error::AppError> {
    static SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(RETRY_CONNECTIONS);
    let unavailable = || crate::error::AppError::Unavailable;
    let connect = async {
        let slot = SLOTS.acquire().await.map_err(|_| unavailable())?;
        let conn = pool.dedicated_connection().await.map_err(|e| {
            tracing::warn!(error = %e, "no fresh database connection for a retry");
            unavailable()
        })?;
        Ok(RetryConnection { conn, _slot: slot })
    };
    tokio::time::timeout(RETRY_CONNECT_TIMEOUT, connect)
        .await
        .map_err(|_| {
            tracing::warn!("no fresh database connection for a retry in time");
            unavailable()
        })?
}

/// What [`read`] needs of its error type: to be made from an [`AppError`](crate::error::AppError)
/// and to tell a connection that broke under a statement.
pub trait ReadError: From<crate::error::AppError> {
    /// Whether the connection broke under the statement (see
    /// [`AppError::is_connection_loss`](crate::error::AppError::is_connection_loss)).
    fn is_connection_loss(&self) -> bool;
}

impl ReadError for crate::error::AppError {
    fn is_connection_loss(&self) -> bool {
        crate::error::AppError::is_connection_loss(self)
    }
}

/// Loader errors (async-graphql wants them `Clone`).
impl ReadError for Arc<crate::error::AppError> {
    fn is_connection_loss(&self) -> bool {
        crate::error::AppError::is_connection_loss(self)
    }
}

/// Every read goes through here: `load` runs on a pooled connection and, if that connection
/// broke under it (a killed backend, a cut network), once more on a [`fresh_connection`] after
/// the broken one went back to the pool (which drops it). Only for reads: a write whose
/// connection broke may or may not have committed, so it fails as unavailable instead. `load`
/// returns a boxed future because it borrows the connection, so it owns (or clones) what it
/// needs: `move |conn| { let id = id.clone(); Box::pin(async move { Ok(Row::find(conn, id).await?) }) }`.
pub async fn read<T, E, F>(pool: &DbPool, load: F) -> Result<T, E>
where
    E: ReadError,
    F: for<'c> Fn(&'c mut AsyncPgConnection) -> BoxFuture<'c, Result<T, E>>,
{
    let first = {
        let mut conn = pool
            .get()
            .await
            .map_err(|e| E::from(crate::error::AppError::from(e)))?;
        load(&mut conn).await
        // The connection goes back (and, broken, is dropped) before the retry.
    };
    match first {
        Err(e) if e.is_connection_loss() => {
            metrics::counter!("techpotli_db_read_retries_total").increment(1);
            tracing::warn!("connection lost under a read; retrying once on a fresh connection");
            let mut fresh = fresh_connection(pool).await?;
            load(&mut fresh).await
        }
        other => other,
    }
}

/// Runs pending embedded migrations on a dedicated connection (diesel's migration harness is
/// synchronous, so it runs on a blocking thread).
pub async fn run_migrations(url: &str) -> anyhow::Result<()> {
    use diesel::Connection;
    use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let mut conn = <AsyncConnectionWrapper<AsyncPgConnection> as Connection>::establish(&url)?;
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(|e| anyhow::anyhow!(e))?;
        for migration in applied {
            tracing::info!(%migration, "applied migration");
        }
        Ok(())
    })
    .await?
}

/// Maps a unique-constraint violation to `CONFLICT` naming the field (`constraints` pairs a
/// constraint name with the GraphQL field it guards); any other error passes through.
pub fn conflict_on(
    error: diesel::result::Error,
    constraints: &[(&str, &str)],
) -> crate::error::AppError {
    use diesel::result::{DatabaseErrorKind, Error};
    if let Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) = &error
        && let Some(name) = info.constraint_name()
        && let Some((_, field)) = constraints.iter().find(|(c, _)| *c == name)
    {
        return crate::error::AppError::Conflict(format!("`{field}` is already taken"));
    }
    if let Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) = &error {
        return crate::error::AppError::Conflict(
            "the change refers to, or is referred to by, other records".into(),
        );
    }
    crate::error::AppError::Database(error)
}
