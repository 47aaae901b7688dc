//! Automatic persisted queries, Apollo's protocol: a client sends
//! `extensions.persistedQuery = { version: 1, sha256Hash }` and no document; an unknown hash
//! answers `PersistedQueryNotFound`, and the client retries with the document, which is stored
//! once it has parsed within the limits (Redis, shared by every instance, 30 days; a bounded
//! in-process map in front). The hash is the SHA-256 of the document exactly as received.
//!
//! Registered operations (`techpotli register-queries`, from a storefront's manifest) are kept
//! in PostgreSQL (`registered_operations`): Redis and the in-process map only cache them, so the
//! allow-list survives a flushed or unreachable Redis, restarts and new instances. In allow-list
//! mode (`PERSISTED_QUERIES_ONLY`) only they run, and anything else — text or a hash alone — is
//! refused with `PERSISTED_QUERY_NOT_ALLOWED`.

use std::sync::Arc;

use async_graphql::Request;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::cache::bounded::BoundedMap;
use crate::cache::{Cache, keys};
use crate::db::schema::registered_operations;
use crate::state::App;

/// Documents remembered in-process (oldest dropped first).
const LOCAL_DOCUMENTS: usize = 2048;
/// Bytes of documents remembered in-process.
const LOCAL_BYTES: usize = 8 * 1024 * 1024;
/// How long an instance keeps a document in memory. An operation removed from the allow-list
/// stops running everywhere within this time plus the hit path's memory of a request that ran it
/// (`hot_path::TTL_SECS`): five minutes in all.
const LOCAL_TTL: std::time::Duration =
    std::time::Duration::from_secs(300 - crate::graphql::hot_path::TTL_SECS);

/// Why a persisted-query request cannot run; each maps to one `extensions.code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApqError {
    /// The hash is not registered: the client should retry with the document.
    NotFound,
    /// The document does not hash to the given SHA-256.
    HashMismatch,
    /// A version other than 1, or a malformed extension.
    Unsupported(String),
    /// Allow-list mode: the document was not registered beforehand.
    NotAllowed,
    /// The allow-list cannot be read (PostgreSQL unreachable); retrying later may succeed.
    Unavailable,
    /// The client's cost bucket cannot pay for looking the document up; retry later.
    Throttled,
}

impl ApqError {
    /// The error message (Apollo clients match `PersistedQueryNotFound` literally).
    pub fn message(&self) -> String {
        match self {
            Self::NotFound => "PersistedQueryNotFound".into(),
            Self::HashMismatch => "provided sha256Hash does not match the query document".into(),
            Self::Unsupported(why) => format!("unsupported persisted query: {why}"),
            Self::NotAllowed => "only registered persisted queries may run on this server".into(),
            Self::Unavailable => "the persisted-query allow-list cannot be read; retry later".into(),
            Self::Throttled => {
                "throttled: looking this persisted query up costs more points than are available; retry later".into()
            }
        }
    }

    /// `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "PERSISTED_QUERY_NOT_FOUND",
            Self::HashMismatch => "PERSISTED_QUERY_HASH_MISMATCH",
            Self::Unsupported(_) => "PERSISTED_QUERY_NOT_SUPPORTED",
            Self::NotAllowed => "PERSISTED_QUERY_NOT_ALLOWED",
            Self::Unavailable => "SERVICE_UNAVAILABLE",
            Self::Throttled => "THROTTLED",
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PersistedQueryExt {
    version: i64,
    sha256_hash: String,
}

/// Lowercase hex SHA-256 of a document's bytes.
pub fn sha256_hex(document: &str) -> String {
    keys::hex(&Sha256::digest(document.as_bytes()))
}

/// The persisted-query store: what clients registered (Redis, behind a bounded in-process map)
/// and, apart from it, the allow-list (PostgreSQL, cached in Redis and in-process).
pub struct PersistedQueries {
    local: BoundedMap<String, Arc<str>>,
    registered: BoundedMap<String, Arc<str>>,
}

impl Default for PersistedQueries {
    fn default() -> Self {
        Self {
            local: BoundedMap::new(LOCAL_DOCUMENTS, LOCAL_BYTES),
            registered: BoundedMap::new(LOCAL_DOCUMENTS, LOCAL_BYTES),
        }
    }
}

impl PersistedQueries {
    fn remember(map: &BoundedMap<String, Arc<str>>, hash: &str, document: Arc<str>) {
        let weight = hash.len() + document.len();
        let expires = std::time::Instant::now() + LOCAL_TTL;
        map.insert(hash.to_owned(), document, weight, Some(expires));
    }

    /// A document clients registered (automatic persisted queries) or the allow-list holds:
    /// in-process, then Redis, then [`Self::get_registered`].
    pub async fn get(
        &self,
        app: &App,
        hash: &str,
        ask_database: bool,
    ) -> Result<Option<Arc<str>>, ApqError> {
        if let Some(doc) = self.local.get(hash) {
            return Ok(Some(doc));
        }
        let cached = app
            .cache
            .get_plain(&keys::persisted_query(hash))
            .await
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .map(Arc::<str>::from)
            // Never trust storage blindly: the document must still hash to its key.
            .filter(|doc| sha256_hex(doc) == hash);
        if let Some(doc) = cached {
            Self::remember(&self.local, hash, doc.clone());
            return Ok(Some(doc));
        }
        self.get_registered(app, hash, ask_database).await
    }

    /// An allow-listed document: in-process, then its Redis copy (written only from
    /// PostgreSQL), then, when `ask_database`, `registered_operations` itself. What clients
    /// register never counts here. `Err(Unavailable)` when PostgreSQL cannot be asked.
    pub async fn get_registered(
        &self,
        app: &App,
        hash: &str,
        ask_database: bool,
    ) -> Result<Option<Arc<str>>, ApqError> {
        if let Some(doc) = self.registered.get(hash) {
            return Ok(Some(doc));
        }
        let cached = app
            .cache
            .get_plain(&keys::registered_operation(hash))
            .await
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .map(Arc::<str>::from)
            .filter(|doc| sha256_hex(doc) == hash);
        let doc = match cached {
            Some(doc) => doc,
            None if !ask_database => return Ok(None),
            None => match registered(app, hash).await? {
                Some(doc) if sha256_hex(&doc) == hash => {
                    app.cache
                        .set_plain(
                            &keys::registered_operation(hash),
                            doc.as_bytes().to_vec(),
                            keys::REGISTERED_OPERATION_TTL,
                        )
                        .await;
                    Arc::from(doc)
                }
                _ => return Ok(None),
            },
        };
        Self::remember(&self.registered, hash, doc.clone());
        Ok(Some(doc))
    }

    /// Registers a document under its SHA-256.
    pub async fn put(&self, cache: &Cache, document: &str) -> String {
        let hash = sha256_hex(document);
        cache
            .set_plain(
                &keys::persisted_query(&hash),
                document.as_bytes().to_vec(),
                keys::PERSISTED_QUERY_TTL,
            )
            .await;
        Self::remember(&self.local, &hash, document.into());
        hash
    }

    /// Applies the protocol to a request: fills in the document for a known hash and enforces the
    /// allow-list. `Ok(true)` asks the caller to register the document ([`Self::put`]) once it
    /// has parsed within the limits; nothing is stored before.
    ///
    /// `ask_database` says whether a document missing from the caches may be looked for in
    /// PostgreSQL (the caller withholds it from clients whose cost bucket is empty: every miss
    /// is a database lookup).
    pub async fn resolve(
        &self,
        app: &App,
        request: &mut Request,
        only_registered: bool,
        ask_database: bool,
    ) -> Result<bool, ApqError> {
        let ext = match request.extensions.get("persistedQuery") {
            None => None,
            Some(value) => {
                let json = value
                    .clone()
                    .into_json()
                    .map_err(|e| ApqError::Unsupported(e.to_string()))?;
                let ext: PersistedQueryExt = serde_json::from_value(json)
                    .map_err(|e| ApqError::Unsupported(e.to_string()))?;
                if ext.version != 1 {
                    return Err(ApqError::Unsupported(format!("version {}", ext.version)));
                }
                // Checked before any lookup: the hash becomes cache keys and a database key.
                let hash = ext.sha256_hash;
                if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(ApqError::Unsupported(
                        "`sha256Hash` must be 64 hexadecimal digits".into(),
                    ));
                }
                Some(hash.to_ascii_lowercase())
            }
        };
        // In allow-list mode only the allow-list counts (never what clients registered), an
        // unknown hash is refused like unknown text (resending the document would not help), and
        // a client that cannot pay for the lookup is told to retry rather than refused.
        let allowed = async |hash: &str| match self.get_registered(app, hash, ask_database).await? {
            Some(doc) => Ok(doc),
            None if ask_database => Err(ApqError::NotAllowed),
            None => Err(ApqError::Throttled),
        };
        match (ext, request.query.is_empty()) {
            (Some(hash), true) if only_registered => {
                request.query = allowed(&hash).await?.to_string();
                Ok(false)
            }
            (Some(hash), true) => {
                let doc = self
                    .get(app, &hash, ask_database)
                    .await?
                    .ok_or(ApqError::NotFound)?;
                request.query = doc.to_string();
                Ok(false)
            }
            (Some(hash), false) => {
                if sha256_hex(&request.query) != hash {
                    return Err(ApqError::HashMismatch);
                }
                if only_registered {
                    return allowed(&hash).await.map(|_| false);
                }
                // The text is here already: only the caches decide whether to store it.
                Ok(self.get(app, &hash, false).await?.is_none())
            }
            (None, _) if only_registered => {
                let hash = sha256_hex(&request.query);
                allowed(&hash).await.map(|_| false)
            }
            (None, _) => Ok(false),
        }
    }
}

/// A registered operation, as `techpotli persisted-queries list` shows it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = registered_operations, check_for_backend(diesel::pg::Pg))]
pub struct RegisteredOperation {
    /// SHA-256 of the document (lower-case hex).
    pub hash: String,
    /// The operation name from the manifest.
    pub name: Option<String>,
    /// The document.
    pub document: String,
    /// When it was (last) registered.
    pub registered_at: DateTime<Utc>,
}

/// A registered document by hash (`None` when unknown); `Unavailable` when PostgreSQL cannot be
/// asked, so an outage is not mistaken for "not registered".
async fn registered(app: &App, hash: &str) -> Result<Option<String>, ApqError> {
    if hash.len() != 64 {
        return Ok(None);
    }
    let hash = hash.to_owned();
    app.read(move |conn| {
        let hash = hash.clone();
        Box::pin(async move {
            Ok(registered_operations::table
                .find(hash)
                .select(registered_operations::document)
                .first::<String>(conn)
                .await
                .optional()?)
        })
    })
    .await
    .map_err(|e| {
        tracing::warn!(error = %e, "the persisted-query allow-list cannot be read");
        ApqError::Unavailable
    })
}

/// Registers every operation of a manifest in one transaction (re-registering one is harmless),
/// then puts them in the cache. Nothing is registered unless all are.
pub async fn register_manifest(
    app: &App,
    conn: &mut AsyncPgConnection,
    manifest: &Manifest,
) -> QueryResult<Vec<String>> {
    // `Manifest::parse` checks every id; a manifest built another way is checked here too.
    if let Some(op) = manifest
        .operations
        .iter()
        .find(|op| sha256_hex(&op.body) != op.id.to_ascii_lowercase())
    {
        return Err(diesel::result::Error::QueryBuilderError(
            format!("operation {} has an id that is not its SHA-256", op.id).into(),
        ));
    }
    conn.transaction(async |conn| {
        for op in &manifest.operations {
            diesel::insert_into(registered_operations::table)
                .values((
                    registered_operations::hash.eq(op.id.to_ascii_lowercase()),
                    registered_operations::name.eq(&op.name),
                    registered_operations::document.eq(&op.body),
                ))
                .on_conflict(registered_operations::hash)
                .do_update()
                .set((
                    registered_operations::name.eq(&op.name),
                    registered_operations::registered_at.eq(diesel::dsl::now),
                ))
                .execute(conn)
                .await?;
        }
        Ok::<_, diesel::result::Error>(())
    })
    .await?;
    let mut hashes = Vec::new();
    for op in &manifest.operations {
        let hash = sha256_hex(&op.body);
        app.cache
            .set_plain(
                &keys::registered_operation(&hash),
                op.body.as_bytes().to_vec(),
                keys::REGISTERED_OPERATION_TTL,
            )
            .await;
        hashes.push(hash);
    }
    Ok(hashes)
}

/// Every registered operation, by name then hash.
pub async fn list_registered(
    conn: &mut AsyncPgConnection,
) -> QueryResult<Vec<RegisteredOperation>> {
    registered_operations::table
        .select(RegisteredOperation::as_select())
        .order((registered_operations::name, registered_operations::hash))
        .load(conn)
        .await
}

/// Removes an operation from the allow-list (and from the shared cache); false when unknown.
/// Instances that hold it in memory stop running it within five minutes.
pub async fn remove_registered(
    app: &App,
    conn: &mut AsyncPgConnection,
    hash: &str,
) -> QueryResult<bool> {
    let hash = hash.to_ascii_lowercase();
    let removed = diesel::delete(registered_operations::table.find(&hash))
        .execute(conn)
        .await?;
    app.cache
        .remove_plain(&keys::registered_operation(&hash))
        .await;
    Ok(removed == 1)
}

/// An Apollo persisted-query manifest (`persisted-query-manifest.json`), as generated by
/// `@apollo/generate-persisted-query-manifest`.
#[derive(Debug, Deserialize)]
pub struct Manifest {
    /// Must be `apollo-persisted-query-manifest`.
    pub format: String,
    /// Must be 1.
    pub version: i64,
    /// The operations.
    pub operations: Vec<ManifestOperation>,
}

/// One operation of a [`Manifest`].
#[derive(Debug, Deserialize)]
pub struct ManifestOperation {
    /// SHA-256 of `body`.
    pub id: String,
    /// Operation name (informational).
    #[serde(default)]
    pub name: Option<String>,
    /// The document.
    pub body: String,
}

impl Manifest {
    /// Parses and checks a manifest: format, version, and every id against its body.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let manifest: Manifest = serde_json::from_str(text)?;
        anyhow::ensure!(
            manifest.format == "apollo-persisted-query-manifest",
            "unknown manifest format"
        );
        anyhow::ensure!(
            manifest.version == 1,
            "unsupported manifest version {}",
            manifest.version
        );
        for op in &manifest.operations {
            anyhow::ensure!(
                sha256_hex(&op.body) == op.id.to_ascii_lowercase(),
                "operation {} has an id that is not the SHA-256 of its body",
                op.name.as_deref().unwrap_or(&op.id)
            );
        }
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_of_the_exact_bytes() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(sha256_hex("{ a }"), sha256_hex("{a}"));
    }

    #[test]
    fn manifests_are_checked() {
        let body = "query A { regions { name } }";
        let good = format!(
            r#"{{"format":"apollo-persisted-query-manifest","version":1,"operations":[{{"id":"{}","name":"A","type":"query","body":"{body}"}}]}}"#,
            sha256_hex(body)
        );
        assert_eq!(Manifest::parse(&good).unwrap().operations.len(), 1);
        let bad = good.replace(&sha256_hex(body), &sha256_hex("other"));
        assert!(Manifest::parse(&bad).is_err());
    }
}
