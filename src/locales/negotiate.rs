//! Which language a request is answered in. One rule, in priority order:
//!
//! 1. the operation's `@inContext(language: "hi-IN")` directive (Shopify's style);
//! 2. the `locale` URL argument (`/graphql?locale=hi-IN&query=…`, Medusa's and Vendure's style);
//! 3. the `Accept-Language` header, negotiated against the store's locales;
//! 4. the store's default locale.
//!
//! A code named by the directive or the argument must be one of the store's locales
//! (`BAD_USER_INPUT` otherwise); the header is only a preference, so unknown languages in it are
//! skipped, but a malformed or oversized header is refused, and parsing is bounded.

use std::sync::Arc;

use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Name, Value, Variables};

use super::registry::Snapshot;
use crate::cache::ResourceKey;

/// Longest `Accept-Language` header read.
pub const MAX_HEADER_BYTES: usize = 256;
/// Most language ranges read from it.
pub const MAX_RANGES: usize = 16;
/// The directive's name.
pub const DIRECTIVE: &str = "inContext";

/// What decided a request's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecidedBy {
    /// The operation's `@inContext(language:)`.
    Directive,
    /// The `locale` URL argument.
    Argument,
    /// The `Accept-Language` header.
    Header,
    /// Nothing asked: the store's default.
    Default,
}

/// The language a request is answered in (attached to the request; read by resolvers).
#[derive(Debug, Clone)]
pub struct RequestLocale {
    /// The locale's code (empty only before the store's locales could ever be read).
    pub code: Arc<str>,
    /// Whether it is the store's default (the catalog's own fields, no translation).
    pub is_default: bool,
    /// The default locale's code (where untranslated fields come from).
    pub default_code: Arc<str>,
    /// What chose it.
    pub decided_by: DecidedBy,
}

impl RequestLocale {
    /// The store's default locale, chosen because nothing asked for another.
    pub fn default_of(snapshot: &Snapshot) -> Self {
        let code: Arc<str> = Arc::from(snapshot.default_code());
        Self {
            code: code.clone(),
            is_default: true,
            default_code: code,
            decided_by: DecidedBy::Default,
        }
    }

    /// Whether the `Accept-Language` header could have changed the answer (so a shared cache
    /// must vary on it): true unless the directive or the argument fixed the language.
    pub fn varies_with_header(&self) -> bool {
        matches!(self.decided_by, DecidedBy::Header | DecidedBy::Default)
    }

    /// The code a response names (`Content-Language`, `extensions.locale`): none only before the
    /// store's locales could ever be read.
    pub fn named(&self) -> Option<&str> {
        (!self.code.is_empty()).then_some(&*self.code)
    }

    /// The cache-key scope of reads in this locale: `None` for the default (the catalog's own
    /// fields, invalidated by every write), the code otherwise (translations in it are
    /// invalidated on their own).
    pub fn scope(&self) -> Option<&str> {
        (!self.is_default && !self.code.is_empty()).then_some(&*self.code)
    }

    /// The locale whose translations reads join: this one, or none (`""`, which no translation
    /// has) in the default, whose text is the catalog's own (as the listing, which skips the
    /// join there, and the cache keys, which fold in no locale versions there).
    pub fn join_code(&self) -> &str {
        self.scope().unwrap_or("")
    }

    /// `key` read in this locale (see [`ResourceKey::in_locale`]).
    pub fn key(&self, key: ResourceKey) -> ResourceKey {
        key.in_locale(&self.code, self.scope().is_some())
    }
}

/// Why a request's language could not be chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocaleError {
    /// The request named no store locale or sent a malformed header (`BAD_USER_INPUT`).
    BadInput(String),
    /// The store's locales could never be read (database down since start-up), so a named
    /// locale cannot be checked (`SERVICE_UNAVAILABLE`).
    Unavailable,
}

impl LocaleError {
    /// The error's message for the client.
    pub fn message(&self) -> &str {
        match self {
            Self::BadInput(message) => message,
            Self::Unavailable => "the store's languages cannot be read right now; retry shortly",
        }
    }
}

/// Chooses the request's locale by the rule above.
pub fn choose(
    snapshot: &Snapshot,
    directive: Option<String>,
    argument: Option<&str>,
    accept_language: Option<&[u8]>,
) -> Result<RequestLocale, LocaleError> {
    let default_code: Arc<str> = Arc::from(snapshot.default_code());
    let named = |code: &str, by: DecidedBy, what: &str| {
        if snapshot.locales.is_empty() {
            return Err(LocaleError::Unavailable);
        }
        let Some(locale) = snapshot.find(code) else {
            let known: Vec<&str> = snapshot.locales.iter().map(|l| l.code.as_str()).collect();
            return Err(LocaleError::BadInput(format!(
                "{what} names `{}`, which is not one of the store's locales ({})",
                truncate(code),
                known.join(", ")
            )));
        };
        Ok(RequestLocale {
            code: Arc::from(locale.code.as_str()),
            is_default: locale.is_default,
            default_code: default_code.clone(),
            decided_by: by,
        })
    };
    if let Some(code) = directive {
        return named(&code, DecidedBy::Directive, "`@inContext(language:)`");
    }
    if let Some(code) = argument {
        return named(code, DecidedBy::Argument, "the `locale` argument");
    }
    if let Some(header) = accept_language {
        let ranges = parse_accept_language(header)?;
        if let Some(locale) = negotiate(snapshot, &ranges) {
            return Ok(RequestLocale {
                code: Arc::from(locale),
                is_default: locale == &*default_code,
                default_code: default_code.clone(),
                decided_by: DecidedBy::Header,
            });
        }
    }
    Ok(RequestLocale::default_of(snapshot))
}

fn truncate(code: &str) -> String {
    code.chars().take(35).collect()
}

/// The operation's `@inContext(language:)` value, its variable resolved; `Err` when it is there
/// but not a string. `None` when the operation has no such directive (or cannot be found: the
/// schema's validation reports that).
pub fn directive_language(
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
) -> Result<Option<String>, LocaleError> {
    let Some(op) = crate::graphql::response_cache::find_operation(doc, operation_name) else {
        return Ok(None);
    };
    let Some(directive) = op
        .node
        .directives
        .iter()
        .find(|d| d.node.name.node.as_str() == DIRECTIVE)
    else {
        return Ok(None);
    };
    let Some(value) = directive.node.get_argument("language") else {
        return Ok(None);
    };
    // A variable the client did not send takes its declared default.
    let resolved = value.node.clone().into_const_with(|var: Name| {
        variables
            .get(&var)
            .cloned()
            .or_else(|| {
                op.node
                    .variable_definitions
                    .iter()
                    .find(|d| d.node.name.node == var)
                    .and_then(|d| d.node.default_value.as_ref())
                    .map(|v| v.node.clone())
            })
            .ok_or(())
    });
    match resolved {
        Ok(Value::String(code)) => Ok(Some(code)),
        Ok(Value::Null) | Err(()) => Ok(None),
        Ok(_) => Err(LocaleError::BadInput(
            "`@inContext(language:)` takes a locale code such as \"hi-IN\"".into(),
        )),
    }
}

/// One `Accept-Language` range with its weight (`q` in thousandths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    /// The range (`hi-IN`, `fr`, `*`), as sent.
    pub tag: String,
    /// Weight, 0 to 1000.
    pub q: u16,
}

/// Parses an `Accept-Language` value (RFC 9110 §12.5.4) within [`MAX_HEADER_BYTES`] and
/// [`MAX_RANGES`]; the ranges by descending weight, ties in the order sent, weight 0 dropped.
pub fn parse_accept_language(header: &[u8]) -> Result<Vec<Range>, LocaleError> {
    if header.len() > MAX_HEADER_BYTES {
        return Err(LocaleError::BadInput(format!(
            "`Accept-Language` is longer than {MAX_HEADER_BYTES} bytes"
        )));
    }
    let malformed =
        || LocaleError::BadInput("`Accept-Language` is malformed (e.g. `hi-IN, en;q=0.8`)".into());
    let text = std::str::from_utf8(header).map_err(|_| malformed())?;
    let mut ranges = Vec::new();
    let mut seen = 0;
    for item in text.split(',') {
        let item = item.trim_matches([' ', '\t']);
        if item.is_empty() {
            // Empty list elements are allowed by the list syntax.
            continue;
        }
        seen += 1;
        if seen > MAX_RANGES {
            return Err(LocaleError::BadInput(format!(
                "`Accept-Language` lists more than {MAX_RANGES} languages"
            )));
        }
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or_default().trim_matches([' ', '\t']);
        if !is_range(tag) {
            return Err(malformed());
        }
        let mut q = 1000;
        for param in parts {
            let param = param.trim_matches([' ', '\t']);
            let value = param
                .strip_prefix("q=")
                .or_else(|| param.strip_prefix("Q="))
                .ok_or_else(malformed)?;
            q = parse_q(value).ok_or_else(malformed)?;
        }
        if q > 0 {
            ranges.push(Range {
                tag: tag.to_owned(),
                q,
            });
        }
    }
    // Stable: equal weights keep the order the client sent.
    ranges.sort_by_key(|r| std::cmp::Reverse(r.q));
    Ok(ranges)
}

/// `language-range = (1*8ALPHA *("-" 1*8alphanum)) / "*"`.
fn is_range(tag: &str) -> bool {
    if tag == "*" {
        return true;
    }
    let mut subtags = tag.split('-');
    let first_ok = subtags
        .next()
        .is_some_and(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphabetic()));
    first_ok
        && subtags
            .all(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in thousandths.
fn parse_q(value: &str) -> Option<u16> {
    let (int, frac) = value.split_once('.').unwrap_or((value, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_value: u16 = format!("{frac:0<3}").parse().ok()?;
    match int {
        "0" => Some(frac_value),
        "1" if frac_value == 0 => Some(1000),
        _ => None,
    }
}

/// The store locale the ranges ask for first (RFC 4647 lookup): a range matches a locale with
/// the same tag, else (truncated subtag by subtag) a locale of the same language, the default
/// preferred; `*` matches the default.
pub fn negotiate<'a>(snapshot: &'a Snapshot, ranges: &[Range]) -> Option<&'a str> {
    let default = snapshot.default_code();
    for range in ranges {
        if range.tag == "*" {
            return (!default.is_empty()).then_some(default);
        }
        if let Some(exact) = snapshot.find(&range.tag) {
            return Some(&exact.code);
        }
        let mut prefix = range.tag.as_str();
        while !prefix.is_empty() {
            // A store locale that is exactly the truncated range (`fr` for `fr-CA`) first.
            if let Some(exact) = snapshot.find(prefix) {
                return Some(&exact.code);
            }
            let matching: Vec<&str> = snapshot
                .locales
                .iter()
                .map(|l| l.code.as_str())
                .filter(|code| {
                    code.len() > prefix.len()
                        && code.as_bytes()[prefix.len()] == b'-'
                        && code[..prefix.len()].eq_ignore_ascii_case(prefix)
                })
                .collect();
            if let Some(code) = matching
                .iter()
                .find(|c| **c == default)
                .or_else(|| matching.first())
            {
                return Some(code);
            }
            prefix = prefix.rsplit_once('-').map_or("", |(head, _)| head);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::locales::model::Locale;

    fn store() -> Snapshot {
        let l = |code: &str, is_default| Locale {
            code: code.into(),
            name: code.into(),
            is_default,
            dictionary: "simple".into(),
        };
        Snapshot {
            locales: vec![
                l("en-IN", true),
                l("en-US", false),
                l("fr-FR", false),
                l("hi-IN", false),
            ],
        }
    }

    fn pick(header: &str) -> Option<String> {
        let ranges = parse_accept_language(header.as_bytes()).unwrap();
        negotiate(&store(), &ranges).map(str::to_owned)
    }

    #[test]
    fn header_ranges_are_weighed_and_matched_by_language() {
        assert_eq!(pick("hi-IN, en;q=0.8").as_deref(), Some("hi-IN"));
        assert_eq!(pick("de-DE, fr;q=0.5, en;q=0.4").as_deref(), Some("fr-FR"));
        assert_eq!(
            pick("en").as_deref(),
            Some("en-IN"),
            "the default wins among same-language locales"
        );
        assert_eq!(pick("en-US").as_deref(), Some("en-US"));
        assert_eq!(pick("en-GB").as_deref(), Some("en-IN"), "truncated to `en`");
        assert_eq!(pick("fr;q=0.2, hi;q=0.9").as_deref(), Some("hi-IN"));
        assert_eq!(pick("de, ja").as_deref(), None);
        assert_eq!(pick("*").as_deref(), Some("en-IN"));
        assert_eq!(
            pick("hi;q=0, fr").as_deref(),
            Some("fr-FR"),
            "q=0 means not acceptable"
        );
        assert_eq!(
            pick("HI-in").as_deref(),
            Some("hi-IN"),
            "tags compare case-insensitively"
        );
        assert_eq!(pick("").as_deref(), None);
    }

    #[test]
    fn a_language_only_locale_matches_its_regional_ranges() {
        let mut s = store();
        s.locales.push(Locale {
            code: "de".into(),
            name: "Deutsch".into(),
            is_default: false,
            dictionary: "german".into(),
        });
        let ranges = parse_accept_language(b"de-CH, fr;q=0.5").unwrap();
        assert_eq!(negotiate(&s, &ranges), Some("de"));
        // Empty list elements do not count towards the limit.
        let padded = format!("{},,,", vec!["fr"; MAX_RANGES].join(","));
        assert!(parse_accept_language(padded.as_bytes()).is_ok());
    }

    #[test]
    fn the_directive_reads_variables_and_their_defaults() {
        let doc = async_graphql::parser::parse_query(
            r#"query H($l: String! = "fr-FR") @inContext(language: $l) { __typename }"#,
        )
        .unwrap();
        let none = Variables::default();
        assert_eq!(
            directive_language(&doc, None, &none).unwrap().as_deref(),
            Some("fr-FR")
        );
        let sent = Variables::from_json(serde_json::json!({ "l": "hi-IN" }));
        assert_eq!(
            directive_language(&doc, None, &sent).unwrap().as_deref(),
            Some("hi-IN")
        );
    }

    #[test]
    fn a_named_locale_before_any_could_be_read_is_unavailable() {
        let empty = Snapshot::default();
        assert_eq!(
            choose(&empty, Some("hi-IN".into()), None, None).unwrap_err(),
            LocaleError::Unavailable
        );
        let c = choose(&empty, None, None, Some(b"hi")).unwrap();
        assert_eq!(&*c.code, "", "nothing named: the catalog's own text");
    }

    #[test]
    fn malformed_and_oversized_headers_are_refused() {
        for bad in [
            "hi-IN;q=2",
            "hi-IN;q=0.1234",
            "hi_IN",
            "hi-IN;level=1",
            "toolonglanguage",
            "<script>",
            "hi-IN;q=",
        ] {
            assert!(parse_accept_language(bad.as_bytes()).is_err(), "{bad}");
        }
        let many = vec!["fr"; MAX_RANGES + 1].join(",");
        assert!(parse_accept_language(many.as_bytes()).is_err());
        let long = format!("fr-{}", "a".repeat(MAX_HEADER_BYTES));
        assert!(parse_accept_language(long.as_bytes()).is_err());
        assert!(parse_accept_language(b"\xff\xfe").is_err());
    }

    #[test]
    fn directive_then_argument_then_header_then_default() {
        let s = store();
        let c = choose(&s, Some("fr-FR".into()), Some("hi-IN"), Some(b"en-US")).unwrap();
        assert_eq!((&*c.code, c.decided_by), ("fr-FR", DecidedBy::Directive));
        let c = choose(&s, None, Some("hi-in"), Some(b"en-US")).unwrap();
        assert_eq!((&*c.code, c.decided_by), ("hi-IN", DecidedBy::Argument));
        let c = choose(&s, None, None, Some(b"en-US")).unwrap();
        assert_eq!(
            (&*c.code, c.decided_by, c.is_default),
            ("en-US", DecidedBy::Header, false)
        );
        let c = choose(&s, None, None, Some(b"ja")).unwrap();
        assert_eq!(
            (&*c.code, c.decided_by, c.is_default),
            ("en-IN", DecidedBy::Default, true)
        );
        assert!(choose(&s, Some("de-DE".into()), None, None).is_err());
        assert!(choose(&s, None, Some("xx"), None).is_err());
        assert!(choose(&s, None, None, Some(b"en;q=7")).is_err());
    }
}
