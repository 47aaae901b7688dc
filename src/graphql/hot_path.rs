//! The memoised hit path of anonymous `GET /graphql` requests. A storefront sends the same few
//! URLs over and over (persisted queries over GET). For each exact request — query string,
//! response media type and `Accept-Language` — whose answer was public and came through the
//! response cache, this remembers what the full path worked out before it looked in the cache:
//! the planned cache key (its version counters' names), the locale, the operation's name and
//! the surrogate keys; and the ready-to-send form of the cached entry it served last: headers
//! built, body shared with the cache's own copy. A repeat then costs a version read (from memory,
//! as every read), one in-process lookup of the entry and the per-client cost block: no URL or
//! JSON decoding, no document lookup, no hashing of the request, no copy of the body.
//!
//! **Never staler than the full path.** The versions are read per request by the same call the
//! full path makes ([`Cache::versioned_key_of`]: from the instance's trusted memory, else from
//! Redis), and the entry is looked up under the key they make, in this process only
//! ([`Cache::get_local`]): a write that bumped a version sends the request to the full path. The
//! remembered ready form is used only when the cache hands back the very same stored entry (the
//! same allocation), so eviction and expiry stay the cache's. Everything else the full path does
//! before the lookup is a function of what the memo is keyed on — the limits, the operation, the
//! locale negotiation — and of the store's locales, compared by content: a reload that changed
//! them sends requests through the full path again. The persisted document is the exception: a
//! hash the memo knows is served for its lifetime even if the document store lost it meanwhile
//! (the full path would ask the client to send it again). Requests with
//! credentials, misses, entries whose fields change by themselves (a banner window) and
//! requests that registered a persisted document always take the full path, which is also the
//! only one that fills the memo. A request is remembered for [`TTL_SECS`] at most, which bounds
//! what the full path decides by time alone (the persisted-query allow-list's in-process copy).

use std::hash::BuildHasher;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;

use crate::cache::bounded::BoundedMap;
use crate::cache::{Family, KeyPlan};
use crate::config::CdnConfig;
use crate::graphql::cost;
use crate::graphql::media::Flavor;
use crate::graphql::response_cache::{self, CachedResponse};
use crate::locales::negotiate::RequestLocale;
use crate::locales::registry::Snapshot;
use crate::state::AppState;
use crate::throttle::BucketOwner;

/// How long a request is remembered: everything the full path checks that can change without a
/// write or a locale change — an operation removed from the allow-list — takes effect within
/// this time (the persisted-query map gives up its entries this much earlier, so a removal still
/// stops running everywhere within five minutes).
pub const TTL_SECS: u64 = 30;
/// Exact requests remembered at most.
const MAX_ENTRIES: usize = 4096;
/// Their weight at most: each request's text and the body it was first answered with (bodies
/// are shared with the response cache's entries, but an entry evicted there stays alive here
/// until its request is answered with a newer one or forgotten).
const MAX_WEIGHT: usize = 64 * 1024 * 1024;

/// How the full path heads a response served from the cache (status and headers, for a
/// body-less copy of the entry): `graphql::http` passes its own, so both paths send the same.
pub type Head =
    fn(Flavor, CachedResponse, Option<Vec<String>>, &CdnConfig, &RequestLocale) -> Response;

/// The memo; see the module documentation.
pub struct HotPaths {
    memo: BoundedMap<u64, Arc<Prepared>>,
    hasher: std::hash::RandomState,
}

impl Default for HotPaths {
    fn default() -> Self {
        Self {
            memo: BoundedMap::new(MAX_ENTRIES, MAX_WEIGHT),
            hasher: std::hash::RandomState::new(),
        }
    }
}

/// What the full path worked out for one exact request, up to the response cache's lookup.
pub struct Prepared {
    raw: Box<str>,
    accept_language: Option<Box<[u8]>>,
    flavor: Flavor,
    /// The store's locales the language was negotiated against.
    snapshot: Arc<Snapshot>,
    plan: KeyPlan,
    families: Vec<Family>,
    /// The operation's name (metrics and the request's log line).
    pub operation: Option<String>,
    /// The persisted query's hash (the request's log line).
    pq: Option<String>,
    locale: RequestLocale,
    tags: Option<Vec<String>>,
    ready: Mutex<Option<Arc<Ready>>>,
}

/// What the full path learnt, handed over when it served a public answer from the cache.
pub struct Seed<'a> {
    /// The URL's query string.
    pub raw: &'a str,
    /// The request's `Accept-Language`.
    pub accept_language: Option<&'a [u8]>,
    /// The response media type.
    pub flavor: Flavor,
    /// The locales the language was negotiated against.
    pub snapshot: Arc<Snapshot>,
    /// The response cache key's plan.
    pub plan: KeyPlan,
    /// The families it depends on.
    pub families: Vec<Family>,
    /// The operation's name.
    pub operation: Option<String>,
    /// The persisted query's hash.
    pub pq: Option<String>,
    /// The negotiated locale.
    pub locale: RequestLocale,
    /// Surrogate keys.
    pub tags: Option<Vec<String>>,
    /// Size of the body served.
    pub body_len: usize,
}

/// A cached entry ready to send.
struct Ready {
    /// The response cache's entry it was built from.
    entry: Arc<Vec<u8>>,
    status: StatusCode,
    headers: HeaderMap,
    /// The body up to its closing brace, where the per-client extensions go (the whole body
    /// when it has none: nothing is added then).
    head: Bytes,
    /// Whether the extensions are added.
    extended: bool,
    /// The query's requested cost.
    cost: u32,
}

/// The response cache's entry as the owner of a body's bytes (no copy).
struct SharedEntry(Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedEntry {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl HotPaths {
    fn hash(&self, flavor: Flavor, accept_language: Option<&[u8]>, raw: &str) -> u64 {
        self.hasher.hash_one((flavor, accept_language, raw))
    }

    /// Answers a repeat of a remembered request from the cache, or says why the full path must.
    pub async fn serve(
        &self,
        app: &AppState,
        flavor: Flavor,
        headers: &HeaderMap,
        raw: &str,
        client: &str,
        head: Head,
    ) -> Served {
        if headers.contains_key(header::AUTHORIZATION) {
            return Served::No;
        }
        let accept_language = headers
            .get(header::ACCEPT_LANGUAGE)
            .map(HeaderValue::as_bytes);
        let hash = self.hash(flavor, accept_language, raw);
        let Some(prepared) = self
            .memo
            .get(&hash)
            .filter(|p| p.is_for(flavor, accept_language, raw))
        else {
            return Served::No;
        };
        let snapshot = app.locales.snapshot(&app.db).await;
        if !same_locales(&snapshot, &prepared.snapshot) {
            return Served::No;
        }
        let Some(full_key) = app.cache.versioned_key_of(&prepared.plan).await else {
            return Served::No;
        };
        let Some(entry) = app.cache.get_local(&full_key) else {
            // A write or an eviction: the full path reads or runs it, under these versions.
            return Served::Versioned(prepared.plan.clone(), full_key);
        };
        let Some(ready) = prepared.ready(entry, &app.config.cdn, head) else {
            // The entry is one the memo does not serve (it gained a time window): forget it.
            self.memo.remove(&hash);
            return Served::Versioned(prepared.plan.clone(), full_key);
        };
        let metrics = &app.cache.metrics;
        metrics.hits.fetch_add(1, Ordering::Relaxed);
        metrics.hot_hits.fetch_add(1, Ordering::Relaxed);
        response_cache::count("hit", &prepared.families);
        let span = tracing::Span::current();
        span.record("cache", "hit");
        if let Some(pq) = &prepared.pq {
            span.record("pq", pq.as_str());
        }
        let not_modified = ready.headers.get(header::ETAG).is_some_and(|tag| {
            headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .zip(tag.to_str().ok())
                .is_some_and(|(inm, tag)| response_cache::matches_etag(inm, tag))
        });
        let response = if not_modified {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            *response.headers_mut() = ready.headers.clone();
            response.headers_mut().remove(header::CONTENT_TYPE);
            response
        } else {
            // Served without work: it costs nothing, and says what it would have cost.
            let owner = BucketOwner::Client(client.to_owned());
            let tail = ready.extended.then(|| {
                let cost = cost::cost_bytes(u64::from(ready.cost), 0, app.throttle.peek(&owner));
                Bytes::from(response_cache::extensions(&cost, prepared.locale.named()))
            });
            let mut response = Response::new(Body::new(Chunks {
                head: Some(ready.head.clone()),
                tail,
            }));
            *response.status_mut() = ready.status;
            *response.headers_mut() = ready.headers.clone();
            response
        };
        Served::Yes(response, prepared)
    }

    /// Remembers a request the full path answered with a public entry of the response cache.
    pub fn remember(&self, seed: Seed<'_>) {
        let hash = self.hash(seed.flavor, seed.accept_language, seed.raw);
        // Already remembered (the full path ran because a write or an eviction made the entry
        // new): what it worked out has not changed.
        if self.memo.get(&hash).is_some_and(|p| {
            p.is_for(seed.flavor, seed.accept_language, seed.raw)
                && same_locales(&p.snapshot, &seed.snapshot)
        }) {
            return;
        }
        let accept_language = seed.accept_language.map(Box::<[u8]>::from);
        // The request, the body it shares, and what the headers repeat: the surrogate keys (up
        // to three headers of them) and the counters' names.
        let tags = seed
            .tags
            .as_deref()
            .map_or(0, |t| t.iter().map(String::len).sum());
        let weight = seed.raw.len()
            + accept_language.as_deref().map_or(0, <[u8]>::len)
            + seed.body_len
            + 3 * tags
            + seed.plan.weight()
            + 1024;
        let prepared = Prepared {
            raw: seed.raw.into(),
            accept_language,
            flavor: seed.flavor,
            snapshot: seed.snapshot,
            plan: seed.plan,
            families: seed.families,
            operation: seed.operation,
            pq: seed.pq,
            locale: seed.locale,
            tags: seed.tags,
            ready: Mutex::new(None),
        };
        let expires = std::time::Instant::now() + std::time::Duration::from_secs(TTL_SECS);
        self.memo
            .insert(hash, Arc::new(prepared), weight, Some(expires));
    }
}

/// What [`HotPaths::serve`] did.
pub enum Served {
    /// Answered, by the remembered request.
    Yes(Response, Arc<Prepared>),
    /// Not answered, after reading the versions of this plan: the full path uses the versioned
    /// key when its own plan is the same (the same read, not a second one).
    Versioned(KeyPlan, String),
    /// Not answered.
    No,
}

/// The same store locales: the same copy, or a reload that found them unchanged.
fn same_locales(a: &Arc<Snapshot>, b: &Arc<Snapshot>) -> bool {
    Arc::ptr_eq(a, b) || a.locales == b.locales
}

impl Prepared {
    /// Whether it was worked out for this exact request (the memo is keyed by a hash of it).
    fn is_for(&self, flavor: Flavor, accept_language: Option<&[u8]>, raw: &str) -> bool {
        self.flavor == flavor
            && self.accept_language.as_deref() == accept_language
            && &*self.raw == raw
    }

    /// The ready form of `entry`: the remembered one when it is the same entry, else built (and
    /// remembered) the way the full path serves a hit; `None` when the full path must serve it
    /// (not decodable, not public, or it has a field that changes by itself).
    fn ready(&self, entry: Arc<Vec<u8>>, cdn: &CdnConfig, head: Head) -> Option<Arc<Ready>> {
        let slot = self
            .ready
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(ready) = slot.as_ref()
            && Arc::ptr_eq(&ready.entry, &entry)
        {
            return Some(ready.clone());
        }
        drop(slot);
        let (hit, start) = CachedResponse::decode_head(&entry)?;
        if hit.changes_at != u32::MAX || hit.max_age == 0 {
            return None;
        }
        let cost = hit.cost;
        let built = head(self.flavor, hit, self.tags.clone(), cdn, &self.locale);
        let body = Bytes::from_owner(SharedEntry(entry.clone()));
        let end = response_cache::extensions_at(&body[start..]);
        let ready = Arc::new(Ready {
            entry,
            status: built.status(),
            headers: built.headers().clone(),
            head: body.slice(start..end.map_or(body.len(), |end| start + end)),
            extended: end.is_some(),
            cost,
        });
        *self
            .ready
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(ready.clone());
        Some(ready)
    }
}

/// A body of up to two shared chunks, of exact length (so hyper sends `Content-Length` and
/// writes both with one vectored write, without copying either).
struct Chunks {
    head: Option<Bytes>,
    tail: Option<Bytes>,
}

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let next = self.head.take().or_else(|| self.tail.take());
        Poll::Ready(next.map(|chunk| Ok(http_body::Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.head.is_none() && self.tail.is_none()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        let len = |c: &Option<Bytes>| c.as_ref().map_or(0, Bytes::len) as u64;
        http_body::SizeHint::with_exact(len(&self.head) + len(&self.tail))
    }
}
