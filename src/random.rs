//! Unpredictable numbers without a dependency: the standard library's per-process random hash
//! keys, mixed with the clock. Good for ids, jitter and throwaway development secrets; not a
//! cryptographic generator for anything that must stay secret in production.

use std::hash::{BuildHasher, Hasher};

/// A fresh unpredictable 64-bit number (each call draws new hash keys).
pub fn u64() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}

#[cfg(test)]
mod tests {
    #[test]
    fn draws_differ() {
        assert_ne!(super::u64(), super::u64());
    }
}
