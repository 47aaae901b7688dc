//! The public response cache and HTTP caching policy: a whole query operation sent without
//! credentials, whose every field is public by its cache hints, is stored as response bytes
//! (key: hash of document, operation name, variables and media type) and served without running
//! resolvers. Entries fold in the versions of the families the operation's root fields read, so
//! the same invalidation that refreshes resource keys refreshes whole responses. Which families
//! a root field reads is declared by its domain next to the field ([`Reads`], a `READS` list per
//! query object) and gathered by the schema assembly; a test fails on an undeclared root field.

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Positioned, Request};
use sha2::{Digest, Sha256};

use crate::cache::{Family, keys};

/// What a root query field's answer depends on, declared by the domain next to the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// These families: a write to any of them makes the answer stale.
    Families(&'static [Family]),
    /// One product by `id` or `handle`, shown with collections, categories and regions: the
    /// answer depends on that product's entity keys only, unless the selection reaches other
    /// products (a nested listing, `node`), when it depends on the whole catalog.
    OneProduct,
    /// Per viewer (staff fields): never stored in the response cache.
    Private,
}

/// A query object's declarations: `(root field name, what it reads)`.
pub type RootReads = &'static [(&'static str, Reads)];

/// How a response may be cached by browsers and CDNs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CachePolicy {
    /// Shared caches may keep it this many seconds.
    Public(u32),
    /// Depends on the viewer: never stored by a shared cache.
    Private,
    /// Not to be stored (errors, mutations, no hints).
    NoStore,
}

impl CachePolicy {
    /// The `Cache-Control` header value.
    pub fn header(self) -> String {
        match self {
            // Serving stale for as long again while revalidating keeps CDN hit rates high; origin
            // reads after a write are fresh at once, the CDN within max-age.
            Self::Public(age) => format!("public, max-age={age}, stale-while-revalidate={age}"),
            Self::Private => "private, no-store".into(),
            Self::NoStore => "no-store".into(),
        }
    }
}

/// A stored response: status, max-age, the bound a time-bound field put on it, requested cost,
/// ETag and body (without `extensions`: the cost block is per client and added when served).
pub struct CachedResponse {
    /// HTTP status.
    pub status: u16,
    /// Seconds it stays valid.
    pub max_age: u32,
    /// When a field of it changes by itself (a banner window opens or closes), in Unix seconds;
    /// `u32::MAX` when never: no cache, not even a purged CDN, may keep it past that.
    pub changes_at: u32,
    /// The query's requested cost.
    pub cost: u32,
    /// Strong ETag of the body, computed once when stored.
    pub etag: String,
    /// Response body (JSON).
    pub body: Vec<u8>,
}

impl CachedResponse {
    /// A response with its ETag.
    pub fn new(status: u16, max_age: u32, changes_at: u32, cost: u32, body: Vec<u8>) -> Self {
        Self {
            status,
            max_age,
            changes_at,
            cost,
            etag: etag(&body),
            body,
        }
    }

    /// `[status u16][max_age u32][changes_at u32][cost u32][etag len u8][etag][body]` (stored
    /// under `resp:v2:`; the earlier layout without `changes_at` was under `resp:`).
    pub fn encode(&self) -> Vec<u8> {
        let tag = self.etag.as_bytes();
        let len = u8::try_from(tag.len()).unwrap_or(0);
        let mut out = Vec::with_capacity(self.body.len() + HEAD + tag.len());
        out.extend(self.status.to_be_bytes());
        out.extend(self.max_age.to_be_bytes());
        out.extend(self.changes_at.to_be_bytes());
        out.extend(self.cost.to_be_bytes());
        out.push(len);
        out.extend(&tag[..usize::from(len)]);
        out.extend(&self.body);
        out
    }

    /// Seconds from now until [`Self::changes_at`] (`u32::MAX` when never).
    pub fn changes_in(&self) -> u32 {
        if self.changes_at == u32::MAX {
            return u32::MAX;
        }
        self.changes_at.saturating_sub(unix_now())
    }

    /// The moment `seconds` from now, as [`Self::changes_at`] wants it.
    pub fn changes_after(seconds: u32) -> u32 {
        if seconds == u32::MAX {
            u32::MAX
        } else {
            unix_now().saturating_add(seconds).min(u32::MAX - 1)
        }
    }

    /// Reverses [`Self::encode`].
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let (mut response, start) = Self::decode_head(bytes)?;
        // Room for the per-client `extensions.cost` added when served: no second copy.
        let body = &bytes[start..];
        response.body = Vec::with_capacity(body.len() + 256);
        response.body.extend_from_slice(body);
        Some(response)
    }

    /// [`Self::decode`] without the body (left empty), and where the body starts in `bytes`.
    pub fn decode_head(bytes: &[u8]) -> Option<(Self, usize)> {
        let status = u16::from_be_bytes(bytes.get(..2)?.try_into().ok()?);
        let max_age = u32::from_be_bytes(bytes.get(2..6)?.try_into().ok()?);
        let changes_at = u32::from_be_bytes(bytes.get(6..10)?.try_into().ok()?);
        let cost = u32::from_be_bytes(bytes.get(10..14)?.try_into().ok()?);
        let len = usize::from(*bytes.get(14)?);
        let etag = String::from_utf8(bytes.get(HEAD..HEAD + len)?.to_vec()).ok()?;
        let response = Self {
            status,
            max_age,
            changes_at,
            cost,
            etag,
            body: Vec::new(),
        };
        Some((response, HEAD + len))
    }
}

/// Where a stored body (a JSON object without `extensions`) takes the per-client extensions:
/// its closing brace; `None` when it has none (nothing is added then).
pub fn extensions_at(body: &[u8]) -> Option<usize> {
    body.iter().rposition(|b| *b == b'}')
}

/// What replaces that closing brace: `,"extensions":{"cost":…,"locale":…}}`.
pub fn extensions(cost: &[u8], locale: Option<&str>) -> Vec<u8> {
    let mut block = Vec::with_capacity(cost.len() + 48);
    block.extend_from_slice(b",\"extensions\":{\"cost\":");
    block.extend_from_slice(cost);
    if let Some(locale) = locale {
        block.extend_from_slice(b",\"locale\":");
        block.extend(serde_json::to_vec(locale).unwrap_or_default());
    }
    block.extend_from_slice(b"}}");
    block
}

/// Counts a response cache outcome (`hit`, `miss`, `bypass`) by the families read.
pub fn count(outcome: &'static str, families: &[Family]) {
    keys::count_families("techpotli_response_cache_total", outcome, families);
}

fn unix_now() -> u32 {
    u32::try_from(chrono::Utc::now().timestamp()).unwrap_or(u32::MAX - 1)
}

/// Bytes before the ETag in an encoded response.
const HEAD: usize = 15;

/// Hash of everything that changes the answer of an anonymous query.
pub fn request_hash(request: &Request, media_type: &str) -> String {
    let variables = serde_json::to_vec(&request.variables).unwrap_or_default();
    let mut hasher = Sha256::new();
    for part in [
        request.query.as_bytes(),
        request.operation_name.as_deref().unwrap_or("").as_bytes(),
        &variables,
        media_type.as_bytes(),
    ] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    keys::hex(&hasher.finalize()[..16])
}

/// What an operation's cached response depends on: families, plus single products when the
/// operation only reads `product(id | handle)` roots that reach no other product. Product pages
/// then survive writes to *other* products.
pub fn dependencies(
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &async_graphql::Variables,
    reads: &dyn Fn(&str) -> Option<Reads>,
) -> (Vec<Family>, Vec<String>) {
    let Some(op) = find_operation(doc, operation_name) else {
        return (Family::ALL.to_vec(), Vec::new());
    };
    let mut entities = Vec::new();
    let mut narrowed = Vec::new();
    let mut fields = Vec::new();
    if !root_fields(doc, &op.node.selection_set, &mut fields, 0) {
        // A selection we could not follow (missing fragment, absurd nesting): assume everything.
        return (Family::ALL.to_vec(), Vec::new());
    }
    for field in fields {
        let name = field.node.name.node.as_str();
        let declared = match name {
            "__typename" | "__schema" | "__type" => Reads::Families(&[]),
            // Undeclared (a field the schema does not have fails validation anyway): assume all.
            _ => reads(name).unwrap_or(Reads::Families(&Family::ALL)),
        };
        if declared == Reads::OneProduct
            && !reaches_other_products(doc, &field.node.selection_set, 0)
        {
            let arg = |key: &str| -> Option<String> {
                let (_, value) = field
                    .node
                    .arguments
                    .iter()
                    .find(|(n, _)| n.node.as_str() == key)?;
                let resolved = value
                    .node
                    .clone()
                    .into_const_with(|var| variables.get(&var).cloned().ok_or(()));
                match resolved {
                    Ok(async_graphql::Value::String(s)) => Some(s),
                    _ => None,
                }
            };
            let id =
                arg("id").and_then(|gid| crate::graphql::ids::expect_global(&gid, "Product").ok());
            let handle = arg("handle");
            if id.is_some() || handle.is_some() {
                entities.extend(keys::product_entities(id, handle.as_deref()));
                narrowed.extend([Family::Collections, Family::Categories, Family::Regions]);
                continue;
            }
        }
        // Any other root field: its declared families (products included when it reads them).
        match declared {
            Reads::Families(families) => narrowed.extend_from_slice(families),
            Reads::OneProduct => narrowed.extend(Family::CATALOG),
            Reads::Private => {}
        }
    }
    narrowed.sort();
    narrowed.dedup();
    (narrowed, entities)
}

/// The operation a request runs: the one named, or the first (async-graphql's validation
/// reports a missing or ambiguous one).
pub fn find_operation<'a>(
    doc: &'a ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<&'a Positioned<async_graphql::parser::types::OperationDefinition>> {
    match operation_name {
        Some(name) => doc
            .operations
            .iter()
            .find(|(n, _)| n.is_some_and(|n| n.as_str() == name))
            .map(|(_, op)| op),
        None => doc.operations.iter().next().map(|(_, op)| op),
    }
}

/// Collects the operation's root fields through fragments; false when some could not be followed.
fn root_fields<'a>(
    doc: &'a ExecutableDocument,
    set: &'a Positioned<SelectionSet>,
    out: &mut Vec<&'a Positioned<async_graphql::parser::types::Field>>,
    depth: usize,
) -> bool {
    if depth > 8 {
        return false;
    }
    set.node.items.iter().all(|item| match &item.node {
        Selection::Field(field) => {
            out.push(field);
            true
        }
        Selection::InlineFragment(f) => root_fields(doc, &f.node.selection_set, out, depth + 1),
        Selection::FragmentSpread(spread) => {
            match doc.fragments.get(&spread.node.fragment_name.node) {
                Some(fragment) => root_fields(doc, &fragment.node.selection_set, out, depth + 1),
                None => false,
            }
        }
    })
}

/// Whether a selection (at any depth) may read products other than its root product.
fn reaches_other_products(
    doc: &ExecutableDocument,
    set: &Positioned<SelectionSet>,
    depth: usize,
) -> bool {
    if depth > 16 {
        return true;
    }
    set.node.items.iter().any(|item| match &item.node {
        Selection::Field(field) => {
            matches!(field.node.name.node.as_str(), "products" | "node" | "nodes")
                || reaches_other_products(doc, &field.node.selection_set, depth + 1)
        }
        Selection::InlineFragment(f) => {
            reaches_other_products(doc, &f.node.selection_set, depth + 1)
        }
        Selection::FragmentSpread(spread) => match doc
            .fragments
            .get(&spread.node.fragment_name.node)
        {
            Some(fragment) => reaches_other_products(doc, &fragment.node.selection_set, depth + 1),
            None => true,
        },
    })
}

/// A weak ETag over the body's data: the served bytes also carry a per-client
/// `extensions.cost`, so two answers are equivalent, not byte-identical.
pub fn etag(body: &[u8]) -> String {
    format!("W/\"{}\"", keys::hex(&Sha256::digest(body)[..16]))
}

/// Whether an `If-None-Match` header value matches `etag` (weak comparison, as for GET).
pub fn matches_etag(if_none_match: &str, etag: &str) -> bool {
    let opaque = |t: &str| t.strip_prefix("W/").unwrap_or(t).to_owned();
    let wanted = opaque(etag);
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || opaque(tag) == wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The store's declarations as the schema gathers them.
    fn reads(name: &str) -> Option<Reads> {
        match name {
            "heroBanners" => Some(Reads::Families(&[Family::Banners])),
            "regions" => Some(Reads::Families(&[Family::Regions])),
            "products" => Some(Reads::Families(&Family::CATALOG)),
            "product" => Some(Reads::OneProduct),
            _ => None,
        }
    }

    fn families(q: &str) -> Vec<Family> {
        let doc = async_graphql::parser::parse_query(q).unwrap();
        dependencies(&doc, None, &async_graphql::Variables::default(), &reads).0
    }

    #[test]
    fn families_follow_root_fields_and_fragments() {
        assert_eq!(families("{ heroBanners { id } }"), vec![Family::Banners]);
        assert_eq!(
            families("{ regions { id } __typename }"),
            vec![Family::Regions]
        );
        assert_eq!(
            families("query { ...F } fragment F on Query { heroBanners { id } regions { id } }"),
            vec![Family::Banners, Family::Regions]
        );
        assert_eq!(
            families("{ products { totalCount } }"),
            Family::CATALOG
                .iter()
                .copied()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
        );
        assert_eq!(
            families("{ node(id: \"x\") { id } }").len(),
            Family::ALL.len()
        );
    }

    #[test]
    fn product_pages_depend_on_their_product_only() {
        let vars = async_graphql::Variables::from_json(serde_json::json!({ "h": "lamp" }));
        let deps = |q: &str| {
            let doc = async_graphql::parser::parse_query(q).unwrap();
            dependencies(&doc, None, &vars, &reads)
        };
        let (families, entities) =
            deps("query($h: String) { product(handle: $h) { title variants { sku } } }");
        assert!(!families.contains(&Family::Products));
        assert_eq!(entities, keys::product_entities(None, Some("lamp")));
        let (families, entities) =
            deps("{ product(handle: \"x\") { collection { products { edges { cursor } } } } }");
        assert!(
            families.contains(&Family::Products) && entities.is_empty(),
            "nested listings read other products"
        );
        let (families, _) = deps("{ product(handle: \"x\") { title } products { totalCount } }");
        assert!(families.contains(&Family::Products));
    }

    #[test]
    fn etags_match_lists_and_wildcards() {
        let tag = etag(b"{}");
        assert!(matches_etag(&tag, &tag));
        assert!(matches_etag(&format!("\"other\", {tag}"), &tag));
        assert!(matches_etag(tag.trim_start_matches("W/"), &tag));
        assert!(matches_etag("*", &tag));
        assert!(!matches_etag("\"other\"", &tag));
    }

    #[test]
    fn cached_responses_round_trip() {
        let r = CachedResponse::new(200, 60, 45, 123, b"{}".to_vec());
        let back = CachedResponse::decode(&r.encode()).unwrap();
        assert_eq!(
            (
                back.status,
                back.max_age,
                back.changes_at,
                back.cost,
                &back.etag,
                &back.body
            ),
            (200, 60, 45, 123, &r.etag, &r.body)
        );
    }
}
