//! This instance's copy of the store's locales, which every request negotiates against without
//! a database or Redis round trip. It is loaded at start-up, reloaded before a locale write
//! returns on the instance that made it, on every other instance when the write's
//! `LocalesChanged` event arrives (Redis pub/sub), and at the latest [`MAX_AGE`] after its last
//! load (the bound if an event is lost).

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::model::Locale;
use crate::db::DbPool;

/// The longest a copy is trusted without an event.
pub const MAX_AGE: Duration = Duration::from_secs(30);

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
    at: Option<Instant>,
}

/// The registry; cheaply shared through `App`.
pub struct LocaleRegistry {
    current: RwLock<Loaded>,
    /// One reload at a time.
    reloading: tokio::sync::Mutex<()>,
}

impl Default for LocaleRegistry {
    fn default() -> Self {
        Self {
            current: RwLock::new(Loaded {
                snapshot: Arc::default(),
                at: None,
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

    fn is_fresh(&self) -> bool {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .at
            .is_some_and(|at| at.elapsed() < MAX_AGE)
    }

    /// The current copy, reloaded first when it is missing, marked stale or older than
    /// [`MAX_AGE`]. If the database cannot be read, the last copy is kept.
    pub async fn snapshot(&self, db: &DbPool) -> Arc<Snapshot> {
        if !self.is_fresh() {
            self.reload_if_stale(db).await;
        }
        self.peek()
    }

    async fn reload_if_stale(&self, db: &DbPool) {
        let _one = self.reloading.lock().await;
        if self.is_fresh() {
            return;
        }
        self.reload_now(db).await;
    }

    /// Reads the locales now (after a write to them).
    pub async fn reload_now(&self, db: &DbPool) {
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
                };
            }
            Err(e) => {
                tracing::warn!(error = %e, "locales could not be read; keeping the last copy")
            }
        }
    }

    /// Marks the copy stale: the next request reloads it (another instance changed locales).
    pub fn mark_stale(&self) {
        self.current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .at = None;
    }
}
