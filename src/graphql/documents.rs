//! Parsed documents by text, so a hot query is scanned, parsed and measured once, not per request.
//! Bounded in bytes and entries; only documents that parse are kept (a stranger's junk is never
//! stored), and the lock is never held while parsing.

use std::sync::Arc;

use async_graphql::parser::types::ExecutableDocument;

use super::limits::{self, LimitError, Limits};
use crate::cache::bounded::BoundedMap;

/// Distinct documents kept.
const MAX_DOCUMENTS: usize = 4096;
/// Bytes of documents kept (text and parsed form, estimated at four times the text).
const MAX_BYTES: usize = 16 * 1024 * 1024;

/// A document that parsed: within the limits, or the limit it breaks.
pub type Checked = Result<Arc<ExecutableDocument>, LimitError>;

/// The parsed-document cache.
pub struct Documents {
    limits: Limits,
    parsed: BoundedMap<String, Checked>,
}

impl Documents {
    /// A cache checking documents against `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            parsed: BoundedMap::new(MAX_DOCUMENTS, MAX_BYTES),
        }
    }

    /// The document checked against the limits: `Ok(Some)` within them, `Ok(None)` when it does
    /// not parse (execution reports why), `Err` naming the limit it breaks.
    pub fn check(&self, query: &str) -> Result<Option<Arc<ExecutableDocument>>, LimitError> {
        if let Some(checked) = self.parsed.get(query) {
            return checked.map(Some);
        }
        limits::scan_document(query, &self.limits)?;
        let Ok(document) = async_graphql::parser::parse_query(query) else {
            return Ok(None);
        };
        let checked = limits::analyze(&document, &self.limits).map(|_| Arc::new(document));
        self.parsed.insert(
            query.to_owned(),
            checked.clone(),
            query.len() * 5 + 64,
            None,
        );
        checked.map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_parsable_documents_are_kept() {
        let docs = Documents::new(Limits::default());
        assert!(docs.check("{ __typename }").unwrap().is_some());
        assert!(docs.check("{ nope").unwrap().is_none());
        assert_eq!(docs.parsed.len(), 1);
        let deep = format!("{{ a(x: {}1{}) }}", "[".repeat(100), "]".repeat(100));
        assert!(docs.check(&deep).is_err());
        assert_eq!(docs.parsed.len(), 1, "refused before parsing: not stored");
    }
}
