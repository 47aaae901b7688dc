//! Surrogate keys: which keys a public response carries and which keys a write purges, and the
//! response headers that carry them.

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use crate::cache::Family;
use crate::config::CdnConfig;

/// Carried by every public response: purging it empties the CDN of this API.
pub const ALL: &str = "all";

/// Entity keys one response may carry; past this it carries [`MANY_PRODUCTS`] instead, keeping
/// the header far below the CDNs' limits (Cloudflare: 16 KB of tags in all; Fastly: 16 KB per
/// header).
pub const MAX_ENTITY_KEYS: usize = 32;

/// Carried by a response naming too many single products to list; purged by every write that
/// purges any product's own keys.
pub const MANY_PRODUCTS: &str = "product:many";

/// The keys a public response depends on: `all`, its families, and its single entities (or
/// [`MANY_PRODUCTS`] when it names too many).
pub fn of_response(families: &[Family], entities: &[String]) -> Vec<String> {
    let mut out = vec![ALL.to_owned()];
    if entities.len() > MAX_ENTITY_KEYS {
        out.push(MANY_PRODUCTS.to_owned());
    } else {
        out.extend(entities.iter().cloned());
    }
    let mut families = families.to_vec();
    families.sort();
    families.dedup();
    out.extend(families.iter().map(|f| f.name().to_owned()));
    out
}

/// The keys a committed write makes stale: the same names its cache version bumps use (and
/// [`MANY_PRODUCTS`] when it names a product).
pub fn of_write(families: &[Family], entities: &[String]) -> Vec<String> {
    let mut out: Vec<String> = families.iter().map(|f| f.name().to_owned()).collect();
    out.extend(entities.iter().cloned());
    if entities.iter().any(|e| e.starts_with("product:")) {
        out.push(MANY_PRODUCTS.to_owned());
    }
    out.sort();
    out.dedup();
    out
}

/// Adds the tag headers to a public response that may be kept `max_age` seconds by browsers:
/// `Surrogate-Key` (space-separated; Fastly and our Varnish VCL read it), `Cache-Tag`
/// (comma-separated, Cloudflare) and `xkey` when configured, and, when a purger keeps the CDN
/// fresh, `Surrogate-Control` letting the CDN keep it longer than browsers — but never past
/// `changes_in` seconds, when a field of it changes by itself (a banner window opens or closes:
/// no write, so no purge, marks that moment).
pub fn add_headers(
    headers: &mut HeaderMap,
    config: &CdnConfig,
    keys: &[String],
    max_age: u32,
    changes_in: u32,
) {
    let spaced = keys.join(" ");
    let mut put = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    put("surrogate-key", &spaced);
    if config.cache_tag_header {
        put("cache-tag", &keys.join(","));
    }
    if config.xkey_header {
        put("xkey", &spaced);
    }
    if config.target != crate::config::CdnTarget::None {
        // Stale copies only while the origin fails: after a (soft) purge the CDN must refetch.
        let edge = config.edge_max_age.max(max_age).min(changes_in);
        put(
            "surrogate-control",
            &format!("max-age={edge}, stale-while-revalidate=0, stale-if-error=86400"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::keys;

    /// Whether `key` is safe in every CDN's tag syntax (no separators, no spaces, ASCII).
    fn is_valid(key: &str) -> bool {
        !key.is_empty()
            && key.len() <= 128
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b':' || b == b'_')
    }

    fn product(id: i64, handle: &str) -> Vec<String> {
        let mut out = keys::product_entities(Some(id), None);
        out.extend(keys::product_entities(None, Some(handle)));
        out
    }

    #[test]
    fn responses_carry_their_families_and_entities_and_fall_back_when_too_many() {
        let one = product(139, "lamp");
        let keys = of_response(&[Family::Regions, Family::Collections], &one);
        assert_eq!(keys[0], ALL);
        assert!(keys.contains(&"product:id:139".to_owned()));
        assert!(keys.contains(&"regions".to_owned()) && keys.contains(&"collections".to_owned()));
        assert!(!keys.contains(&"products".to_owned()));
        assert!(keys.iter().all(|k| is_valid(k)), "{keys:?}");

        let many: Vec<String> = (0..40).flat_map(|i| product(i, &format!("h{i}"))).collect();
        let keys = of_response(&[Family::Regions], &many);
        assert_eq!(keys, vec!["all", MANY_PRODUCTS, "regions"]);
    }

    #[test]
    fn writes_purge_the_names_their_version_bumps_use() {
        let keys = of_write(&[Family::Products], &product(7, "mug"));
        assert_eq!(keys.len(), 4);
        assert!(keys.contains(&MANY_PRODUCTS.to_owned()));
        assert_eq!(of_write(&[Family::Banners], &[]), vec!["banners"]);
        assert!(keys.contains(&"products".to_owned()));
        assert!(keys.contains(&"product:id:7".to_owned()));
        assert!(keys.iter().all(|k| is_valid(k)));
    }
}
