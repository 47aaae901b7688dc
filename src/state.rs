//! The application state: the services every request shares (pool, cache, event bus, files,
//! keys, throttle, configuration), cheaply cloneable as [`AppState`]. It imports only shared
//! machinery; the router (`app`) and the GraphQL wiring sit on top of it and nothing here imports
//! them, so `src/` has no import cycle (checked by `tests/module_cycles.py`).

use std::ops::Deref;
use std::sync::Arc;

use diesel_async::AsyncPgConnection;
use futures_util::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::jwt::JwtKeys;
use crate::auth::sessions::{Principal, Sessions};
use crate::cache::{Cache, Family, ResourceKey};
use crate::cdn::{PurgeMetrics, Purger};
use crate::config::Config;
use crate::db::{self, DbPool, PoolOptions, StatementCounter};
use crate::error::AppResult;
use crate::events::{DomainEvent, EventBus};
use crate::jobs::metrics::JobMetrics;
use crate::locales::registry::LocaleRegistry;
use crate::mail::Mailer;
use crate::storage::FileStore;
use crate::throttle::Throttle;

/// Services shared by every request.
pub struct App {
    /// Configuration read at start-up.
    pub config: Arc<Config>,
    /// PostgreSQL pool.
    pub db: DbPool,
    /// SQL statements sent through `db` since start-up.
    pub statements: StatementCounter,
    /// Cache-first reads (Redis or in-process).
    pub cache: Cache,
    /// Signs and verifies access tokens.
    pub jwt: JwtKeys,
    /// Where uploads go.
    pub files: FileStore,
    /// Domain events for admin subscribers (Redis pub/sub across instances, or in-process).
    pub events: EventBus,
    /// Leaky buckets of query-cost points.
    pub throttle: Throttle,
    /// Bounds the password hashes computed at once (argon2 takes 19 MiB and a core each).
    pub password_slots: Arc<tokio::sync::Semaphore>,
    /// Whether tokens are still good (account active, token version current).
    pub sessions: Sessions,
    /// Sends mail (from jobs only).
    pub mailer: Mailer,
    /// Woken after a commit that enqueued jobs, so this process's workers start at once.
    pub jobs_wake: Arc<tokio::sync::Notify>,
    /// What this process's workers did.
    pub job_metrics: JobMetrics,
    /// The Razorpay API client, when configured.
    pub razorpay: Option<crate::payments::razorpay::Razorpay>,
    /// Purges the CDN after writes, when `CDN_PURGER` names one.
    pub purger: Option<Purger>,
    /// What this process's CDN purges did.
    pub cdn_metrics: PurgeMetrics,
    /// This instance's copy of the store's locales (negotiated against on every request).
    pub locales: Arc<LocaleRegistry>,
    /// Draining on SIGTERM (see `http::shutdown`).
    pub shutdown: crate::http::shutdown::Shutdown,
}

/// `Arc<App>`: what handlers and resolvers hold.
#[derive(Clone)]
pub struct AppState(pub Arc<App>);

impl Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.0
    }
}

impl App {
    /// The cache-first read every domain uses: the value stored under `key`, or on a miss `load`
    /// run on a pooled connection (and stored). `load` returns a boxed future because it
    /// borrows the connection: `move |conn| { let id = id.clone(); Box::pin(async move {
    /// Ok(Row::find(conn, id).await?) }) }`. It is a read, so a connection that breaks under it
    /// (a killed backend) costs a second try on a fresh one, not a failed request.
    pub async fn cached<T, F>(&self, key: &ResourceKey, load: F) -> AppResult<T>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: for<'c> Fn(&'c mut AsyncPgConnection) -> BoxFuture<'c, AppResult<T>>
            + Send
            + Sync
            + 'static,
    {
        let db = self.db.clone();
        self.cache
            .get_or_load(key, async move { db::read(&db, load).await })
            .await
    }

    /// An uncached read (see [`db::read`]): `load` runs on a pooled connection and, if that
    /// connection breaks under it, once more on a fresh one.
    pub async fn read<T, F>(&self, load: F) -> AppResult<T>
    where
        F: for<'c> Fn(&'c mut AsyncPgConnection) -> BoxFuture<'c, AppResult<T>>,
    {
        db::read(&self.db, load).await
    }

    /// After a committed write: every cached read of `families` and of the single `entities`
    /// goes stale in the cache at once and, when a purger is configured, at the CDN — a durable
    /// purge job of the same keys, sent before this returns when the CDN answers in time.
    pub async fn invalidate(&self, families: &[Family], entities: &[String]) {
        if !families.is_empty() {
            self.cache.invalidate(families).await;
        }
        if !entities.is_empty() {
            self.cache.invalidate_entities(entities).await;
        }
        self.purge_cdn(families, entities).await;
    }

    /// When a purger is configured: a durable purge job of these keys, sent before this returns
    /// when the CDN answers in time.
    async fn purge_cdn(&self, families: &[Family], entities: &[String]) {
        if let Some(purger) = &self.purger {
            let keys = crate::cdn::tags::of_write(families, entities);
            crate::cdn::dispatch::after_write(
                &self.db,
                purger,
                &self.cdn_metrics,
                &self.config.cdn,
                &self.jobs_wake,
                keys,
            )
            .await;
        }
    }

    /// After a committed translation write in `locale`: the reads of `families` and `entities`
    /// *in that locale* go stale (other locales' stay cached; see `cache::keys::scoped`), and the
    /// CDN purges the same keys (it keys languages apart by URL or `Vary`, not by tag, so every
    /// language's copy of those keys goes; they refill from the cache).
    pub async fn invalidate_translations(
        &self,
        locale: &str,
        families: &[Family],
        entities: &[String],
    ) {
        let scoped: Vec<String> = families
            .iter()
            .map(|f| f.name())
            .chain(entities.iter().map(String::as_str))
            .map(|name| crate::cache::keys::scoped(name, locale))
            .collect();
        self.cache.invalidate_entities(&scoped).await;
        self.purge_cdn(families, entities).await;
    }

    /// Builds the services from configuration. Connections are made lazily, so this succeeds
    /// while the database or Redis is down (`/readyz` tells); it fails only on invalid settings.
    pub fn build(config: Config) -> anyhow::Result<AppState> {
        let statements = StatementCounter::default();
        let options = PoolOptions {
            max_size: config.database.pool_size,
            connection_timeout: config.database.acquire_timeout,
        };
        let db = db::connect(&config.database.url, &options, statements.clone());
        let c = &config.cache;
        let cache = Cache::new(
            config.redis_url.as_deref(),
            &c.prefix,
            c.timeout,
            c.memory_bytes,
            c.enabled,
        )?;
        if config.jwt_secret_is_generated() {
            tracing::warn!(
                "JWT_SECRET not set: signing with a random secret (tokens end with the process)"
            );
        }
        let jwt = JwtKeys::new(config.jwt_secret.as_bytes(), config.jwt_lifetime);
        let files = FileStore::from_config(
            config.s3.as_ref(),
            &config.files_dir,
            &config.files_public_url,
        );
        let events = match &config.redis_url {
            Some(url) => EventBus::redis(url, &config.cache.prefix)?,
            None => EventBus::in_process(),
        };
        let throttle = Throttle::new(config.throttle);
        let sessions = Sessions::default();
        let locales = Arc::new(LocaleRegistry::default());
        // Another instance changed an account: forget it here too (open sockets re-check on the
        // same event); or changed the locales: reload them on the next request.
        let mut changes = events.subscribe();
        let forget = sessions.clone();
        let stale_locales = locales.clone();
        tokio::spawn(async move {
            loop {
                match changes.recv().await {
                    Ok(event) => match *event {
                        DomainEvent::StaffChanged { id } => forget.forget(Principal::Staff(id)),
                        DomainEvent::CustomerChanged { id } => {
                            forget.forget(Principal::Customer(id));
                        }
                        DomainEvent::LocalesChanged => stale_locales.mark_stale(),
                        _ => {}
                    },
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        let password_slots = Arc::new(tokio::sync::Semaphore::new(config.password_concurrency));
        let razorpay = config
            .razorpay
            .clone()
            .map(crate::payments::razorpay::Razorpay::new)
            .transpose()?;
        let mailer = Mailer::from_config(
            &config.mail,
            config.env == crate::config::AppEnv::Development,
        )?;
        let purger = Purger::new(&config.cdn)?;
        Ok(AppState(Arc::new(App {
            purger,
            cdn_metrics: PurgeMetrics::default(),
            locales,
            shutdown: crate::http::shutdown::Shutdown::default(),
            throttle,
            password_slots,
            sessions,
            mailer,
            jobs_wake: Arc::default(),
            job_metrics: JobMetrics::default(),
            razorpay,
            config: Arc::new(config),
            db,
            statements,
            cache,
            jwt,
            files,
            events,
        })))
    }
}
