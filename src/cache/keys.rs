//! Every cache key pattern and TTL, in one table. Keys are built only here.
//!
//! | key (after the prefix)              | holds                                   | TTL    | families                |
//! |-------------------------------------|-----------------------------------------|--------|-------------------------|
//! | `hero_banners:active`               | active banners (window filtered on read)| 300 s  | banners                 |
//! | `regions:list`                      | every region                            | 3600 s | regions                 |
//! | `locales:list`                      | every locale                            | 3600 s | locales                 |
//! | `collections:list:{hash}`           | a page of collections                   | 300 s  | collections             |
//! | `collection:handle:{hash(handle)}`  | one collection                          | 300 s  | collections             |
//! | `categories:top`                    | active top-level categories             | 300 s  | categories              |
//! | `category:handle:{hash(handle)}`    | one category                            | 300 s  | categories              |
//! | `products:{hash}`                   | one listing page (filter+sort+cursor)   | 120 s  | products, categories    |
//! | `products_count:{hash}`             | capped totalCount of a listing          | 120 s  | products, categories    |
//! | `product:id:{id}` / `product:handle:{hash(h)}` | one store-visible product row      | 300 s  | that product (entity)   |
//! | `resp:v2:{hash}`                    | a whole public GraphQL response         | its max-age | by root fields     |
//! | `apq:{sha256}`                      | a persisted query document              | 30 d   | none                    |
//! | `apq:registered:{sha256}`           | an allow-listed operation (from PG)     | 1 h    | none (deleted on removal) |
//! | `v:{family}`, `v:e:{entity}`        | family and entity version counters      | none   | —                       |
//! | `cache:leases`                      | instances' version-memory leases (hash) | 1 day after the last renewal | — |
//! | `cache:invalidations`, `cache:acks:{id}` | pub/sub channels (bumps, heartbeats; acks) | — | —                |
//!
//! The versions of a key's families are appended to it (`…@3.7`), so bumping a version makes every
//! dependent entry unreachable at once (see `cache::Cache::invalidate`).
//!
//! Reads that show text name their locale at the end of the key (`products:{hash}:hi-IN`); in
//! any locale but the default they also fold in the versions of their families and entities *in
//! that locale* (`v:e:products@hi-IN`, see [`scoped`]), which translation writes bump, so a
//! translation makes stale only its own locale's entries.

use std::borrow::Cow;
use std::time::Duration;

use sha2::{Digest, Sha256};

/// A group of cached reads invalidated together by one version counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// Hero banners.
    Banners,
    /// Products, their variants, prices, images and options.
    Products,
    /// Collections.
    Collections,
    /// The category tree and product membership.
    Categories,
    /// Regions.
    Regions,
    /// The store's locales.
    Locales,
}

impl Family {
    /// Every family.
    pub const ALL: [Family; 6] = [
        Family::Banners,
        Family::Products,
        Family::Collections,
        Family::Categories,
        Family::Regions,
        Family::Locales,
    ];
    /// Families any catalog read may touch.
    pub const CATALOG: [Family; 4] = [
        Family::Products,
        Family::Collections,
        Family::Categories,
        Family::Regions,
    ];

    /// Stable name used in keys.
    pub fn name(self) -> &'static str {
        match self {
            Self::Banners => "banners",
            Self::Products => "products",
            Self::Collections => "collections",
            Self::Categories => "categories",
            Self::Regions => "regions",
            Self::Locales => "locales",
        }
    }

    /// The version counter key of this family (without prefix).
    pub fn version_key(self) -> String {
        format!("v:{}", self.name())
    }
}

/// A cached resource: its key (without prefix and versions), TTL and the families it depends on.
#[derive(Debug, Clone)]
pub struct ResourceKey {
    /// Key body, e.g. `products:1a2b…`.
    pub name: String,
    /// Time to live.
    pub ttl: Duration,
    /// Families whose versions are folded into the key.
    pub families: Cow<'static, [Family]>,
    /// Single entities whose versions are folded in too (see [`product_entities`]).
    pub entities: Vec<String>,
    /// A locale whose translations the value shows: the versions of its families and entities
    /// *in that locale* ([`scoped`]) are folded in too, so a translation write makes stale only
    /// that locale's reads. `None` for the default locale (the catalog's own fields).
    pub scope: Option<String>,
}

impl ResourceKey {
    /// This key read in `locale` (its code ends the name); `scoped` when the value shows that
    /// locale's translations (any locale but the default).
    pub fn in_locale(mut self, locale: &str, scoped: bool) -> Self {
        if !locale.is_empty() {
            self.name = format!("{}:{locale}", self.name);
        }
        self.scope = scoped.then(|| locale.to_owned());
        self
    }
}

/// The name of a family's or entity's version *in one locale*, bumped by translation writes in
/// that locale (`products@hi-IN`, `product:id:7@hi-IN`); an entity version (see
/// [`entity_version_key`]).
pub fn scoped(name: &str, locale: &str) -> String {
    format!("{name}@{locale}")
}

const MIN: u64 = 60;

fn key(name: String, ttl_secs: u64, families: impl Into<Cow<'static, [Family]>>) -> ResourceKey {
    ResourceKey {
        name,
        ttl: Duration::from_secs(ttl_secs),
        families: families.into(),
        entities: Vec::new(),
        scope: None,
    }
}

/// The entity version keys of one product: by id and by handle (a read may address either).
/// Writes that change the product row or anything shown under it (variants, prices, images)
/// bump these, so reads of *other* products stay cached.
pub fn product_entities(id: Option<i64>, handle: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(id) = id {
        out.push(format!("product:id:{id}"));
    }
    if let Some(handle) = handle {
        out.push(format!("product:handle:{}", hash_of(&handle)));
    }
    out
}

/// A set of families as a metrics label (`products,categories`; `none` for entity-only reads).
pub fn families_label(families: &[Family]) -> String {
    if families.is_empty() {
        return "none".into();
    }
    families
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(",")
}

/// Counts one outcome of a cache read (`metric` is `techpotli_cache_reads_total` or
/// `techpotli_response_cache_total`) for the family set it reads, through a handle cached on the
/// worker thread (no label string built per request).
pub fn count_families(metric: &'static str, outcome: &'static str, families: &[Family]) {
    type Handles = std::collections::HashMap<(&'static str, &'static str, u64), metrics::Counter>;
    thread_local! {
        static HANDLES: std::cell::RefCell<Handles> = std::cell::RefCell::default();
    }
    let set = families
        .iter()
        .fold(0u64, |set, f| set | 1 << (*f as u32 % 64));
    HANDLES.with_borrow_mut(|handles| {
        handles
            .entry((metric, outcome, set))
            .or_insert_with(|| {
                metrics::counter!(metric, "outcome" => outcome, "families" => families_label(families))
            })
            .increment(1);
    });
}

/// The channel carrying version bumps and lease heartbeats (see `cache::mirror`).
pub const INVALIDATION_CHANNEL: &str = "cache:invalidations";
/// The hash of instances' leases (field: instance id, value: expiry in Redis ms) and, in field
/// `~born`, when the hash was created: while it is younger than a lease, writers wait out leases
/// that were lost with an earlier copy of it.
pub const LEASES: &str = "cache:leases";

/// The channel on which instances acknowledge a writer's bumps.
pub fn ack_channel(instance: &str) -> String {
    format!("cache:acks:{instance}")
}

/// The version counter key of an entity (without prefix).
pub fn entity_version_key(entity: &str) -> String {
    format!("v:e:{entity}")
}

/// Short hex SHA-256 of a value's JSON form: keys stay short whatever the query.
pub fn hash_of<T: serde::Serialize>(value: &T) -> String {
    let json = serde_json::to_vec(value).unwrap_or_default();
    hex(&Sha256::digest(&json)[..16])
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Active hero banners.
pub fn hero_banners_active() -> ResourceKey {
    key("hero_banners:active".into(), 5 * MIN, &[Family::Banners])
}

/// Every region.
pub fn regions_list() -> ResourceKey {
    key("regions:list".into(), 60 * MIN, &[Family::Regions])
}

/// A page of collections.
pub fn collections_page<T: serde::Serialize>(page: &T) -> ResourceKey {
    key(
        format!("collections:list:{}", hash_of(page)),
        5 * MIN,
        &[Family::Collections],
    )
}

/// One collection by handle.
pub fn collection_by_handle(handle: &str) -> ResourceKey {
    key(
        format!("collection:handle:{}", hash_of(&handle)),
        5 * MIN,
        &[Family::Collections],
    )
}

/// The store's locales.
pub fn locales_list() -> ResourceKey {
    key("locales:list".into(), 60 * MIN, &[Family::Locales])
}

/// Active top-level categories.
pub fn categories_top() -> ResourceKey {
    key("categories:top".into(), 5 * MIN, &[Family::Categories])
}

/// One category by handle.
pub fn category_by_handle(handle: &str) -> ResourceKey {
    key(
        format!("category:handle:{}", hash_of(&handle)),
        5 * MIN,
        &[Family::Categories],
    )
}

/// One page of a product listing (the hash covers filter, sort, currency and page arguments).
pub fn products_page<T: serde::Serialize>(query_and_page: &T) -> ResourceKey {
    key(
        format!("products:{}", hash_of(query_and_page)),
        2 * MIN,
        &[Family::Products, Family::Categories],
    )
}

/// The capped count of a product listing.
pub fn products_count<T: serde::Serialize>(query: &T) -> ResourceKey {
    key(
        format!("products_count:{}", hash_of(query)),
        2 * MIN,
        &[Family::Products, Family::Categories],
    )
}

/// One store-visible product by id.
pub fn product_by_id(id: i64) -> ResourceKey {
    ResourceKey {
        entities: product_entities(Some(id), None),
        ..key(format!("product:id:{id}"), 5 * MIN, &[])
    }
}

/// One store-visible product by handle.
pub fn product_by_handle(handle: &str) -> ResourceKey {
    let name = format!("product:handle:{}", hash_of(&handle));
    ResourceKey {
        entities: product_entities(None, Some(handle)),
        ..key(name, 5 * MIN, &[])
    }
}

/// A whole public response. Its TTL is the response's own max-age, known only after execution,
/// so the caller stores it with that (see `graphql::http`).
pub fn response(hash: &str, families: Vec<Family>, entities: Vec<String>) -> ResourceKey {
    ResourceKey {
        entities,
        ..key(format!("resp:v2:{hash}"), 0, families)
    }
}

/// Attempts of `scope` (`login`, `customer-login`, `register`, …) for one email from one client
/// (hashed: no emails in Redis key names).
pub fn login_attempts(scope: &str, email: &str, client: &str) -> String {
    format!("throttle:{scope}:pair:{}", hash_of(&(email, client)))
}

/// Attempts of `scope` from one client, whatever the email.
pub fn login_client_attempts(scope: &str, client: &str) -> String {
    format!("throttle:{scope}:client:{}", hash_of(&client))
}

/// Failed attempts of `scope` for one email from every client.
pub fn login_account_failures(scope: &str, email: &str) -> String {
    format!("throttle:{scope}:account:{}", hash_of(&email))
}

/// New persisted-query documents registered by one client.
pub fn apq_registrations(client: &str) -> String {
    format!("throttle:apq:{}", hash_of(&client))
}

/// The leaky bucket of query-cost points of one client (`client:<address>`) or staff member
/// (`staff:<id>`).
pub fn cost_bucket(owner: &str) -> String {
    format!("throttle:cost:{owner}")
}

/// How long persisted documents are kept.
pub const PERSISTED_QUERY_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// A persisted query document by its SHA-256 (hex).
pub fn persisted_query(sha256: &str) -> String {
    format!("apq:{sha256}")
}

/// A registered (allow-listed) operation by its SHA-256: a cache of `registered_operations`,
/// written only from PostgreSQL, never by clients.
pub fn registered_operation(sha256: &str) -> String {
    format!("apq:registered:{sha256}")
}

/// How long Redis caches a registered operation (removal deletes it at once).
pub const REGISTERED_OPERATION_TTL: Duration = Duration::from_secs(3600);
