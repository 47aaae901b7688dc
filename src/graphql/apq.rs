//! Automatic persisted queries, Apollo's protocol: a client sends
//! `extensions.persistedQuery = { version: 1, sha256Hash }` and no document; an unknown hash
//! answers `PersistedQueryNotFound`, and the client retries with the document, which is stored
//! once it has parsed within the limits (Redis, shared by every instance, 30 days; a bounded
//! in-process map in front). The hash is the SHA-256 of the document exactly as received. In
//! allow-list mode (`PERSISTED_QUERIES_ONLY`) only documents registered beforehand
//! (`techpotli register-queries`) run.

use std::sync::Arc;

use async_graphql::Request;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::cache::bounded::BoundedMap;
use crate::cache::{Cache, keys};

/// Documents remembered in-process (oldest dropped first).
const LOCAL_DOCUMENTS: usize = 2048;
/// Bytes of documents remembered in-process.
const LOCAL_BYTES: usize = 8 * 1024 * 1024;

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
}

impl ApqError {
    /// The error message (Apollo clients match `PersistedQueryNotFound` literally).
    pub fn message(&self) -> String {
        match self {
            Self::NotFound => "PersistedQueryNotFound".into(),
            Self::HashMismatch => "provided sha256Hash does not match the query document".into(),
            Self::Unsupported(why) => format!("unsupported persisted query: {why}"),
            Self::NotAllowed => "only registered persisted queries may run on this server".into(),
        }
    }

    /// `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "PERSISTED_QUERY_NOT_FOUND",
            Self::HashMismatch => "PERSISTED_QUERY_HASH_MISMATCH",
            Self::Unsupported(_) => "PERSISTED_QUERY_NOT_SUPPORTED",
            Self::NotAllowed => "PERSISTED_QUERY_NOT_ALLOWED",
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

/// The persisted-query store: Redis (through the cache) behind a bounded in-process map.
pub struct PersistedQueries {
    local: BoundedMap<String, Arc<str>>,
}

impl Default for PersistedQueries {
    fn default() -> Self {
        Self {
            local: BoundedMap::new(LOCAL_DOCUMENTS, LOCAL_BYTES),
        }
    }
}

impl PersistedQueries {
    fn remember(&self, hash: &str, document: Arc<str>) {
        let weight = hash.len() + document.len();
        self.local.insert(hash.to_owned(), document, weight, None);
    }

    /// Looks a document up: in-process first, then Redis.
    pub async fn get(&self, cache: &Cache, hash: &str) -> Option<Arc<str>> {
        if let Some(doc) = self.local.get(hash) {
            return Some(doc);
        }
        let bytes = cache.get_plain(&keys::persisted_query(hash)).await?;
        let doc: Arc<str> = String::from_utf8(bytes).ok()?.into();
        // Never trust storage blindly: the document must still hash to its key.
        if sha256_hex(&doc) != hash {
            return None;
        }
        self.remember(hash, doc.clone());
        Some(doc)
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
        self.remember(&hash, document.into());
        hash
    }

    /// Applies the protocol to a request: fills in the document for a known hash and enforces the
    /// allow-list. `Ok(true)` asks the caller to register the document ([`Self::put`]) once it
    /// has parsed within the limits; nothing is stored before.
    pub async fn resolve(
        &self,
        cache: &Cache,
        request: &mut Request,
        only_registered: bool,
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
                Some(ext.sha256_hash.to_ascii_lowercase())
            }
        };
        match (ext, request.query.is_empty()) {
            (Some(hash), true) => {
                let doc = self.get(cache, &hash).await.ok_or(ApqError::NotFound)?;
                request.query = doc.to_string();
                Ok(false)
            }
            (Some(hash), false) => {
                if sha256_hex(&request.query) != hash {
                    return Err(ApqError::HashMismatch);
                }
                if self.get(cache, &hash).await.is_some() {
                    return Ok(false);
                }
                if only_registered {
                    return Err(ApqError::NotAllowed);
                }
                Ok(true)
            }
            (None, _) if only_registered => {
                let hash = sha256_hex(&request.query);
                self.get(cache, &hash)
                    .await
                    .map(|_| false)
                    .ok_or(ApqError::NotAllowed)
            }
            (None, _) => Ok(false),
        }
    }
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
