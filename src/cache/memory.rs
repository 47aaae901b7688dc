//! In-process cache for a single instance without Redis: bounded by total bytes (oldest entries
//! evicted first), each entry with its TTL.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

struct Entry {
    value: Arc<Vec<u8>>,
    expires: Instant,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Insertion order, for eviction; may hold keys already replaced or removed.
    order: VecDeque<String>,
    bytes: usize,
    counters: HashMap<String, (u64, Option<Instant>)>,
}

/// Counters kept at most (each a key and two words).
const MAX_COUNTERS: usize = 100_000;

/// The in-process store.
pub struct MemoryStore {
    inner: Mutex<Inner>,
    max_bytes: usize,
}

impl MemoryStore {
    /// A store holding at most `max_bytes` of keys and values.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            max_bytes,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A live value.
    pub fn get(&self, key: &str) -> Option<Arc<Vec<u8>>> {
        let mut inner = self.lock();
        match inner.entries.get(key) {
            Some(e) if e.expires > Instant::now() => Some(e.value.clone()),
            Some(_) => {
                if let Some(e) = inner.entries.remove(key) {
                    inner.bytes -= key.len() + e.value.len();
                }
                None
            }
            None => None,
        }
    }

    /// Stores a value for `ttl`, evicting the oldest entries beyond the byte budget.
    pub fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) {
        let size = key.len() + value.len();
        if size > self.max_bytes {
            return;
        }
        let mut inner = self.lock();
        if let Some(old) = inner.entries.remove(key) {
            inner.bytes -= key.len() + old.value.len();
        }
        inner.entries.insert(
            key.to_owned(),
            Entry {
                value: Arc::new(value),
                expires: Instant::now() + ttl,
            },
        );
        inner.order.push_back(key.to_owned());
        inner.bytes += size;
        while inner.bytes > self.max_bytes {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if let Some(e) = inner.entries.remove(&oldest) {
                inner.bytes -= oldest.len() + e.value.len();
            }
        }
        // Keep the order queue from growing without bound under repeated overwrites.
        if inner.order.len() > 2 * inner.entries.len() + 1024 {
            let Inner { entries, order, .. } = &mut *inner;
            order.retain(|k| entries.contains_key(k));
        }
    }

    /// Removes keys.
    pub fn del(&self, keys: &[String]) {
        let mut inner = self.lock();
        for key in keys {
            if let Some(e) = inner.entries.remove(key) {
                inner.bytes -= key.len() + e.value.len();
            }
        }
    }

    /// Reads counters (0 when never bumped).
    pub fn counters(&self, keys: &[String]) -> Vec<u64> {
        let inner = self.lock();
        let now = Instant::now();
        keys.iter()
            .map(|k| match inner.counters.get(k) {
                Some((n, expires)) if expires.is_none_or(|e| e > now) => *n,
                _ => 0,
            })
            .collect()
    }

    /// Removes a counter.
    pub fn reset_counter(&self, key: &str) {
        self.lock().counters.remove(key);
    }

    /// Increments a counter that never expires (family versions).
    pub fn incr(&self, key: &str) -> u64 {
        self.incr_within(key, None)
    }

    /// Increments a counter; with a window, the count restarts once the window since the first
    /// increment has passed.
    pub fn incr_within(&self, key: &str, window: Option<Duration>) -> u64 {
        let mut inner = self.lock();
        let now = Instant::now();
        if inner.counters.len() >= MAX_COUNTERS && !inner.counters.contains_key(key) {
            // Windowed counters (throttles) are what strangers can multiply: drop the expired
            // ones, then, if still full, every windowed one (a throttle forgets early rather than
            // the process growing without bound). Version counters have no window and stay.
            inner.counters.retain(|_, (_, e)| e.is_none_or(|e| e > now));
            if inner.counters.len() >= MAX_COUNTERS {
                inner.counters.retain(|_, (_, e)| e.is_none());
            }
        }
        let counter = inner
            .counters
            .entry(key.to_owned())
            .or_insert((0, window.map(|w| now + w)));
        if counter.1.is_some_and(|e| e <= now) {
            *counter = (0, window.map(|w| now + w));
        }
        counter.0 += 1;
        counter.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_oldest_beyond_the_budget_and_honours_ttl() {
        let store = MemoryStore::new(100);
        store.set("a", vec![0; 40], Duration::from_secs(60));
        store.set("b", vec![0; 40], Duration::from_secs(60));
        store.set("c", vec![0; 40], Duration::from_secs(60));
        assert!(store.get("a").is_none(), "oldest evicted");
        assert!(store.get("b").is_some() && store.get("c").is_some());
        store.set("d", vec![1], Duration::ZERO);
        assert!(store.get("d").is_none(), "expired");
        assert_eq!(store.incr("v"), 1);
        assert_eq!(store.counters(&["v".into(), "w".into()]), vec![1, 0]);
    }
}
