//! In-process cache for a single instance without Redis: values bounded by total bytes (oldest
//! entries evicted first), each with its TTL, and the counters Redis would otherwise keep.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::bounded::BoundedMap;

/// The in-process store: values in a [`BoundedMap`] (bounded by bytes, oldest evicted first,
/// each with its TTL) and counters (family versions, throttle windows) beside them.
pub struct MemoryStore {
    values: BoundedMap<String, Arc<Vec<u8>>>,
    counters: Mutex<HashMap<String, (u64, Option<Instant>)>>,
}

/// Counters kept at most (each a key and two words).
const MAX_COUNTERS: usize = 100_000;

impl MemoryStore {
    /// A store holding at most `max_bytes` of keys and values.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            values: BoundedMap::new(usize::MAX, max_bytes),
            counters: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, (u64, Option<Instant>)>> {
        self.counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A live value.
    pub fn get(&self, key: &str) -> Option<Arc<Vec<u8>>> {
        self.values.get(key)
    }

    /// Stores a value for `ttl`, evicting the oldest entries beyond the byte budget.
    pub fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) {
        let weight = key.len() + value.len();
        self.values.insert(
            key.to_owned(),
            Arc::new(value),
            weight,
            Some(Instant::now() + ttl),
        );
    }

    /// Removes keys.
    pub fn del(&self, keys: &[String]) {
        for key in keys {
            self.values.remove(key.as_str());
        }
    }

    /// Reads counters (0 when never bumped).
    pub fn counters(&self, keys: &[String]) -> Vec<u64> {
        let inner = self.lock();
        let now = Instant::now();
        keys.iter()
            .map(|k| match inner.get(k) {
                Some((n, expires)) if expires.is_none_or(|e| e > now) => *n,
                _ => 0,
            })
            .collect()
    }

    /// Removes a counter.
    pub fn reset_counter(&self, key: &str) {
        self.lock().remove(key);
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
        if inner.len() >= MAX_COUNTERS && !inner.contains_key(key) {
            // Windowed counters (throttles) are what strangers can multiply: drop the expired
            // ones, then, if still full, every windowed one (a throttle forgets early rather than
            // the process growing without bound). Version counters have no window and stay.
            inner.retain(|_, (_, e)| e.is_none_or(|e| e > now));
            if inner.len() >= MAX_COUNTERS {
                inner.retain(|_, (_, e)| e.is_none());
            }
        }
        let counter = inner
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
