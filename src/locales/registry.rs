//! This instance's copy of the store's locales, which every request negotiates against without
//! a database or Redis round trip. It is loaded at start-up, reloaded before a locale write
//! returns on the instance that made it, on every other instance when the write's
//! `LocalesChanged` event arrives (Redis pub/sub), and at the latest [`MAX_AGE`] after its last
//! load (the bound if an event is lost). A database outage never queues requests behind it: one
//! request reloads while the others get the last copy, and a failed reload waits [`RETRY_AFTER`].

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::model::Locale;
use crate::db::DbPool;

/// The longest a copy is trusted without an event.
pub const MAX_AGE: Duration = Duration::from_secs(30);
/// After a failed reload (database down), the last copy is served this long before the next try.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);

/// The store's locales as this instance knows them.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Every locale, the default first.
    pub locales: Vec<Locale>,
}

impl Snapshot {
    /// The default locale's code (empty when none is known yet: reads show the catalog's own
    /// fields and name no language).
    pub fn default_code(&self) -> &str {
        self.locales
            .iter()
            .find(|l| l.is_default)
            .map_or("", |l| l.code.as_str())
    }

    /// The locale with exactly this code (case-insensitive, as BCP 47 tags compare).
    pub fn find(&self, code: &str) -> Option<&Locale> {
        self.locales
            .iter()
            .find(|l| l.code.eq_ignore_ascii_case(code))
    }
}

struct Loaded {
    snapshot: Arc<Snapshot>,
    /// When it was read (`None`: never, or marked stale).
    at: Option<Instant>,
    /// When the last reload failed.
    failed_at: Option<Instant>,
}

/// The registry; cheaply shared through `App`.
pub struct LocaleRegistry {
    current: RwLock<Loaded>,
    /// One reload at a time; requests that find it taken serve the last copy.
    reloading: tokio::sync::Mutex<()>,
}

impl Default for LocaleRegistry {
    fn default() -> Self {
        Self {
            current: RwLock::new(Loaded {
                snapshot: Arc::default(),
                at: None,
                failed_at: None,
            }),
            reloading: tokio::sync::Mutex::new(()),
        }
    }
}

impl LocaleRegistry {
    /// The current copy without waiting (possibly empty before the first load).
    pub fn peek(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .snapshot
            .clone()
    }

    /// Whether the copy may be served without a reload: read within [`MAX_AGE`], or a reload
    /// failed within [`RETRY_AFTER`].
    fn is_fresh(&self) -> bool {
        let current = self
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        current.at.is_some_and(|at| at.elapsed() < MAX_AGE)
            || current
                .failed_at
                .is_some_and(|at| at.elapsed() < RETRY_AFTER)
    }

    /// The current copy, reloaded first when it is missing, marked stale or older than
    /// [`MAX_AGE`] (by this request, unless another is already reloading it).
    pub async fn snapshot(&self, db: &DbPool) -> Arc<Snapshot> {
        if !self.is_fresh()
            && let Ok(_one) = self.reloading.try_lock()
            && !self.is_fresh()
        {
            self.load(db).await;
        }
        self.peek()
    }

    /// Reads the locales now (at start-up, after a write to them), after any reload already
    /// under way: one that read before the write committed cannot overwrite this fresher copy.
    pub async fn reload_now(&self, db: &DbPool) {
        let _one = self.reloading.lock().await;
        self.load(db).await;
    }

    /// Reads the locales (the caller holds `reloading`); on failure the last copy is kept and the
    /// next try waits [`RETRY_AFTER`].
    async fn load(&self, db: &DbPool) {
        let read = async {
            Locale::all(&mut *db.get().await?)
                .await
                .map_err(crate::error::AppError::from)
        };
        match read.await {
            Ok(locales) => {
                *self
                    .current
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Loaded {
                    snapshot: Arc::new(Snapshot { locales }),
                    at: Some(Instant::now()),
                    failed_at: None,
                };
            }
            Err(e) => {
                self.current
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .failed_at = Some(Instant::now());
                tracing::warn!(error = %e, "locales could not be read; keeping the last copy");
            }
        }
    }

    /// Marks the copy stale: the next request reloads it (another instance changed locales).
    pub fn mark_stale(&self) {
        let mut current = self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        current.at = None;
        current.failed_at = None;
    }
}
