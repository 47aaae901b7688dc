//! A small in-process map with a hard bound on entries and on total weight (bytes, as the caller
//! measures them), evicting the oldest insertions first, with an optional expiry per entry. Every
//! in-process map that a stranger can grow (parsed documents, persisted queries, throttle state,
//! staff token checks) is one of these, so none can exhaust memory.
//!
//! The lock is held only for map operations, never while a value is computed.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

struct Entry<V> {
    value: V,
    weight: usize,
    expires: Option<Instant>,
    /// Insertion stamp; the order queue may hold stale stamps of replaced entries.
    stamp: u64,
}

struct Inner<K, V> {
    map: HashMap<K, Entry<V>>,
    order: VecDeque<(K, u64)>,
    weight: usize,
    next_stamp: u64,
}

/// A bounded map; see the module documentation.
pub struct BoundedMap<K, V> {
    inner: Mutex<Inner<K, V>>,
    max_entries: usize,
    max_weight: usize,
}

impl<K: Hash + Eq + Clone, V: Clone> BoundedMap<K, V> {
    /// A map of at most `max_entries` entries weighing at most `max_weight` together.
    pub fn new(max_entries: usize, max_weight: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                order: VecDeque::new(),
                weight: 0,
                next_stamp: 0,
            }),
            max_entries: max_entries.max(1),
            max_weight,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<K, V>> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The live value under `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut inner = self.lock();
        let expired = match inner.map.get(key) {
            None => return None,
            Some(e) => e.expires.is_some_and(|t| t <= Instant::now()),
        };
        if expired {
            if let Some(e) = inner.map.remove(key) {
                inner.weight -= e.weight;
            }
            return None;
        }
        inner.map.get(key).map(|e| e.value.clone())
    }

    /// Stores `value`; a value heavier than the whole budget is not stored.
    pub fn insert(&self, key: K, value: V, weight: usize, expires: Option<Instant>) {
        if weight > self.max_weight {
            return;
        }
        let mut inner = self.lock();
        let stamp = inner.next_stamp;
        inner.next_stamp += 1;
        if let Some(old) = inner.map.insert(
            key.clone(),
            Entry {
                value,
                weight,
                expires,
                stamp,
            },
        ) {
            inner.weight -= old.weight;
        }
        inner.weight += weight;
        inner.order.push_back((key, stamp));
        while inner.weight > self.max_weight || inner.map.len() > self.max_entries {
            let Some((old, old_stamp)) = inner.order.pop_front() else {
                break;
            };
            if inner.map.get(&old).is_some_and(|e| e.stamp == old_stamp)
                && let Some(e) = inner.map.remove(&old)
            {
                inner.weight -= e.weight;
            }
        }
        // Stale stamps of replaced entries must not grow the queue without bound.
        if inner.order.len() > 2 * inner.map.len() + 1024 {
            let Inner { map, order, .. } = &mut *inner;
            order.retain(|(k, s)| map.get(k).is_some_and(|e| e.stamp == *s));
        }
    }

    /// Updates the value under `key` in place (inserting `default()` first when absent or
    /// expired), returning what `update` returns. The entry keeps its weight and expiry.
    pub fn update<R>(
        &self,
        key: &K,
        weight: usize,
        expires: Option<Instant>,
        default: impl FnOnce() -> V,
        update: impl FnOnce(&mut V) -> R,
    ) -> R {
        {
            let mut inner = self.lock();
            let now = Instant::now();
            if let Some(e) = inner.map.get_mut(key)
                && e.expires.is_none_or(|t| t > now)
            {
                return update(&mut e.value);
            }
        }
        let mut value = default();
        let result = update(&mut value);
        self.insert(key.clone(), value, weight, expires);
        result
    }

    /// Removes `key`.
    pub fn remove<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut inner = self.lock();
        if let Some(e) = inner.map.remove(key) {
            inner.weight -= e.weight;
        }
    }

    /// Entries held now (expired ones included until touched).
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total weight held now.
    pub fn weight(&self) -> usize {
        self.lock().weight
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_and_weight_stay_bounded() {
        let map = BoundedMap::new(3, 100);
        for i in 0..10 {
            map.insert(i, i, 10, None);
        }
        assert_eq!(map.len(), 3);
        assert_eq!(map.get(&9), Some(9));
        assert_eq!(map.get(&0), None);
        map.insert(100, 100, 95, None);
        assert!(map.weight() <= 100);
        assert_eq!(map.get(&100), Some(100));
        map.insert(200, 200, 101, None);
        assert_eq!(map.get(&200), None, "heavier than the budget: not stored");
    }

    #[test]
    fn replaced_entries_do_not_grow_the_queue() {
        let map = BoundedMap::new(2, 1000);
        for i in 0..5000 {
            map.insert(1, i, 1, None);
        }
        assert_eq!(map.get(&1), Some(4999));
        // Stale stamps are dropped once they outnumber live entries by the slack.
        assert!(map.lock().order.len() <= 2 + 1024);
    }

    #[test]
    fn expired_entries_are_gone() {
        let map = BoundedMap::new(10, 1000);
        map.insert("a", 1, 1, Some(Instant::now()));
        assert_eq!(map.get("a"), None);
        let n = map.update(
            &"b",
            1,
            None,
            || 0,
            |v| {
                *v += 5;
                *v
            },
        );
        assert_eq!(n, 5);
        assert_eq!(map.update(&"b", 1, None, || 0, |v| *v), 5);
    }
}
