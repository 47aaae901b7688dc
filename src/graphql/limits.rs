//! Bounds on what a stranger may send, checked before any expensive or recursive work: the text
//! of a document (bytes, bracket nesting) by a byte scan before the recursive parser sees it, the
//! parsed document (operations, aliases, root fields, selections after fragment expansion) by
//! iterative counting before validation expands fragments, and variables (bytes, nesting, NUL).
//!
//! Every check names the measured value and the limit, under a stable `extensions.code`.

use std::collections::HashMap;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned, ServerError, Value};

/// Whether any literal among an argument list holds U+0000 (variables stand in as null). A macro:
/// the parser's non-constant value type is not exported by name.
macro_rules! arguments_have_nul {
    ($arguments:expr) => {
        $arguments.iter().any(|(_, value)| {
            let literal = value
                .node
                .clone()
                .into_const_with(|_| Ok::<_, ()>(Value::Null))
                .unwrap_or(Value::Null);
            value_has_nul(&literal)
        })
    };
}

/// The limits in force; every field is a documented setting (README, "Limits and abuse").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest JSON request body (`GRAPHQL_MAX_BODY_BYTES`); multipart bodies get the upload size on top.
    pub max_body_bytes: usize,
    /// Largest document text (`GRAPHQL_MAX_DOCUMENT_BYTES`).
    pub max_document_bytes: usize,
    /// Deepest nesting of `{`, `[` and `(` in a document (`GRAPHQL_MAX_NESTING`).
    pub max_nesting: usize,
    /// Largest `variables` object, in bytes of JSON (`GRAPHQL_MAX_VARIABLES_BYTES`).
    pub max_variables_bytes: usize,
    /// Deepest nesting of lists and objects in `variables` (`GRAPHQL_MAX_VARIABLES_NESTING`).
    pub max_variables_nesting: usize,
    /// Operations in one document (`GRAPHQL_MAX_OPERATIONS`).
    pub max_operations: usize,
    /// Aliased fields in one document (`GRAPHQL_MAX_ALIASES`).
    pub max_aliases: usize,
    /// Root fields of the operation, after fragment expansion (`GRAPHQL_MAX_ROOT_FIELDS`).
    pub max_root_fields: usize,
    /// Selections of the operation after fragment expansion (`GRAPHQL_MAX_SELECTIONS`).
    pub max_selections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            max_document_bytes: 16 * 1024,
            max_nesting: 48,
            max_variables_bytes: 32 * 1024,
            max_variables_nesting: 16,
            max_operations: 10,
            max_aliases: 30,
            max_root_fields: 30,
            max_selections: 1_500,
        }
    }
}

/// A bound that was exceeded or an input that can never be valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitError {
    /// `extensions.code`: `QUERY_TOO_LARGE`, `QUERY_TOO_COMPLEX`, `BAD_USER_INPUT`.
    pub code: &'static str,
    /// Names the measured value and the limit.
    pub message: String,
}

impl LimitError {
    fn too_large(what: &str, measured: usize, limit: usize) -> Self {
        Self {
            code: "QUERY_TOO_LARGE",
            message: format!("{what} is {measured}, over the limit of {limit}"),
        }
    }

    fn too_complex(what: &str, measured: usize, limit: usize) -> Self {
        Self {
            code: "QUERY_TOO_COMPLEX",
            message: format!("{what} is {measured}, over the limit of {limit}"),
        }
    }

    /// A string input containing U+0000, which no text column can store.
    pub fn nul() -> Self {
        Self {
            code: "BAD_USER_INPUT",
            message: "string inputs must not contain the NUL character (U+0000)".into(),
        }
    }

    /// The error as GraphQL reports it.
    pub fn to_server_error(&self) -> ServerError {
        let mut error = ServerError::new(self.message.clone(), None);
        let mut ext = async_graphql::ErrorExtensionValues::default();
        ext.set("code", self.code);
        error.extensions = Some(ext);
        error
    }

    /// The error as a response body (`{"errors": [...]}`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "errors": [{ "message": self.message, "extensions": { "code": self.code } }] })
    }
}

/// Checks a document's text without parsing it: its size, the nesting of brackets outside strings
/// and comments (the parser recurses once per level and would overflow the stack), and raw NUL
/// bytes. Linear and iterative.
pub fn scan_document(text: &str, limits: &Limits) -> Result<(), LimitError> {
    if text.len() > limits.max_document_bytes {
        return Err(LimitError::too_large(
            "document size in bytes",
            text.len(),
            limits.max_document_bytes,
        ));
    }
    let bytes = text.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            0 => return Err(LimitError::nul()),
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                // Block string: ends at an unescaped `"""`.
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    if bytes[i..].starts_with(b"\\\"\"\"") {
                        i += 4;
                    } else {
                        i += 1;
                    }
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > limits.max_nesting {
                    return Err(LimitError::too_complex(
                        "nesting depth",
                        depth,
                        limits.max_nesting,
                    ));
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// Checks the raw JSON of a request body (or of `variables`) for nesting of arrays and objects
/// outside strings, before serde builds values recursively. Linear and iterative.
pub fn scan_json(bytes: &[u8], max_nesting: usize) -> Result<(), LimitError> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max_nesting {
                    return Err(LimitError::too_complex(
                        "JSON nesting depth",
                        depth,
                        max_nesting,
                    ));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Checks parsed variables: size, nesting, and NUL in any string. Iterative.
pub fn check_variables(
    variables: &async_graphql::Variables,
    limits: &Limits,
) -> Result<(), LimitError> {
    let mut stack: Vec<(&Value, usize)> = variables.values().map(|v| (v, 1)).collect();
    let mut bytes = 0usize;
    while let Some((value, depth)) = stack.pop() {
        if depth > limits.max_variables_nesting {
            return Err(LimitError::too_complex(
                "variables nesting depth",
                depth,
                limits.max_variables_nesting,
            ));
        }
        bytes += 8;
        match value {
            Value::String(s) => {
                if s.contains('\0') {
                    return Err(LimitError::nul());
                }
                bytes += s.len();
            }
            Value::List(items) => stack.extend(items.iter().map(|v| (v, depth + 1))),
            Value::Object(map) => {
                for (k, v) in map {
                    bytes += k.len();
                    stack.push((v, depth + 1));
                }
            }
            _ => {}
        }
        if bytes > limits.max_variables_bytes {
            return Err(LimitError::too_large(
                "variables size in bytes",
                bytes,
                limits.max_variables_bytes,
            ));
        }
    }
    Ok(())
}

/// What [`analyze`] measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DocumentStats {
    /// Operations in the document.
    pub operations: usize,
    /// Aliased fields in the text.
    pub aliases: usize,
    /// Root fields of the largest operation after fragment expansion.
    pub root_fields: usize,
    /// Selections of the largest operation after fragment expansion.
    pub selections: usize,
}

/// Per selection set: fields counted after expansion, and fields at its own top level.
#[derive(Debug, Clone, Copy, Default)]
struct Size {
    total: usize,
    top: usize,
}

/// Measures a parsed document and checks it against `limits`: operations, aliases, root fields and
/// selections after fragment expansion (each fragment is measured once, so a fragment spread ten
/// times ten levels deep costs ten measurements, not 10¹⁰), and NUL in string literals. Recursion
/// follows only the selection nesting of the text, which [`scan_document`] bounded.
pub fn analyze(doc: &ExecutableDocument, limits: &Limits) -> Result<DocumentStats, LimitError> {
    let operations: Vec<&Positioned<SelectionSet>> = match &doc.operations {
        DocumentOperations::Single(op) => vec![&op.node.selection_set],
        DocumentOperations::Multiple(map) => {
            map.values().map(|op| &op.node.selection_set).collect()
        }
    };
    if operations.len() > limits.max_operations {
        return Err(LimitError::too_complex(
            "number of operations",
            operations.len(),
            limits.max_operations,
        ));
    }
    let mut aliases = 0usize;
    let mut literal_nul = false;
    let ops: Vec<_> = match &doc.operations {
        DocumentOperations::Single(op) => vec![op],
        DocumentOperations::Multiple(map) => map.values().collect(),
    };
    for op in ops {
        for var in &op.node.variable_definitions {
            if let Some(default) = &var.node.default_value {
                literal_nul |= value_has_nul(&default.node);
            }
        }
        for d in &op.node.directives {
            literal_nul |= arguments_have_nul!(d.node.arguments);
        }
    }
    for set in operations
        .iter()
        .copied()
        .chain(doc.fragments.values().map(|f| &f.node.selection_set))
    {
        scan_set(set, &mut aliases, &mut literal_nul);
    }
    if literal_nul {
        return Err(LimitError::nul());
    }
    if aliases > limits.max_aliases {
        return Err(LimitError::too_complex(
            "number of aliases",
            aliases,
            limits.max_aliases,
        ));
    }
    let sizes = fragment_sizes(doc, limits)?;
    for set in &operations {
        let mut spreads = Vec::new();
        direct_spreads(set, &mut spreads);
        if let Some(unknown) = spreads.iter().find(|s| !doc.fragments.contains_key(**s)) {
            return Err(LimitError {
                code: "GRAPHQL_VALIDATION_FAILED",
                message: format!("unknown fragment `{unknown}`"),
            });
        }
    }
    let mut stats = DocumentStats {
        operations: operations.len(),
        aliases,
        ..DocumentStats::default()
    };
    for set in operations {
        let size = measure(set, &sizes);
        stats.root_fields = stats.root_fields.max(size.top);
        stats.selections = stats.selections.max(size.total);
    }
    if stats.root_fields > limits.max_root_fields {
        return Err(LimitError::too_complex(
            "number of root fields",
            stats.root_fields,
            limits.max_root_fields,
        ));
    }
    if stats.selections > limits.max_selections {
        return Err(LimitError::too_complex(
            "number of selections after fragment expansion",
            stats.selections,
            limits.max_selections,
        ));
    }
    Ok(stats)
}

/// Counts aliases and looks for NUL in argument literals.
fn scan_set(set: &Positioned<SelectionSet>, aliases: &mut usize, nul: &mut bool) {
    for item in &set.node.items {
        match &item.node {
            Selection::Field(field) => {
                if field.node.alias.is_some() {
                    *aliases += 1;
                }
                *nul |= arguments_have_nul!(field.node.arguments);
                for d in &field.node.directives {
                    *nul |= arguments_have_nul!(d.node.arguments);
                }
                scan_set(&field.node.selection_set, aliases, nul);
            }
            Selection::InlineFragment(f) => scan_set(&f.node.selection_set, aliases, nul),
            Selection::FragmentSpread(_) => {}
        }
    }
}

fn value_has_nul(value: &Value) -> bool {
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::String(s) if s.contains('\0') => return true,
            Value::List(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    false
}

/// Fragments measured in dependency order (iterative depth-first order, cycles refused).
fn fragment_sizes<'a>(
    doc: &'a ExecutableDocument,
    limits: &Limits,
) -> Result<HashMap<&'a Name, Size>, LimitError> {
    let mut sizes: HashMap<&Name, Size> = HashMap::with_capacity(doc.fragments.len());
    let mut on_path: std::collections::HashSet<&Name> = std::collections::HashSet::new();
    for start in doc.fragments.keys() {
        if sizes.contains_key(start) {
            continue;
        }
        // (fragment, children pushed yet?)
        let mut stack: Vec<(&Name, bool)> = vec![(start, false)];
        while let Some((name, expanded)) = stack.pop() {
            let Some(fragment) = doc.fragments.get(name) else {
                return Err(LimitError {
                    code: "GRAPHQL_VALIDATION_FAILED",
                    message: format!("unknown fragment `{name}`"),
                });
            };
            if expanded {
                on_path.remove(name);
                let size = measure(&fragment.node.selection_set, &sizes);
                if size.total > limits.max_selections {
                    return Err(LimitError::too_complex(
                        "number of selections after fragment expansion",
                        size.total,
                        limits.max_selections,
                    ));
                }
                sizes.insert(name, size);
                continue;
            }
            if sizes.contains_key(name) {
                continue;
            }
            if !on_path.insert(name) {
                return Err(LimitError {
                    code: "GRAPHQL_VALIDATION_FAILED",
                    message: format!("fragment `{name}` spreads itself"),
                });
            }
            stack.push((name, true));
            let mut spreads = Vec::new();
            direct_spreads(&fragment.node.selection_set, &mut spreads);
            for spread in spreads {
                if on_path.contains(spread) {
                    return Err(LimitError {
                        code: "GRAPHQL_VALIDATION_FAILED",
                        message: format!("fragment `{spread}` spreads itself"),
                    });
                }
                if !sizes.contains_key(spread) {
                    stack.push((spread, false));
                }
            }
        }
    }
    Ok(sizes)
}

fn direct_spreads<'a>(set: &'a Positioned<SelectionSet>, out: &mut Vec<&'a Name>) {
    for item in &set.node.items {
        match &item.node {
            Selection::Field(field) => direct_spreads(&field.node.selection_set, out),
            Selection::InlineFragment(f) => direct_spreads(&f.node.selection_set, out),
            Selection::FragmentSpread(s) => out.push(&s.node.fragment_name.node),
        }
    }
}

/// A selection set's size, with already measured fragments looked up.
fn measure(set: &Positioned<SelectionSet>, sizes: &HashMap<&Name, Size>) -> Size {
    let mut size = Size::default();
    for item in &set.node.items {
        let inner = match &item.node {
            Selection::Field(field) => {
                let children = measure(&field.node.selection_set, sizes);
                Size {
                    total: children.total.saturating_add(1),
                    top: 1,
                }
            }
            // A spread or inline fragment costs at least itself, so chains of fragments that
            // select nothing still add up.
            Selection::InlineFragment(f) => {
                let inner = measure(&f.node.selection_set, sizes);
                Size {
                    total: inner.total.saturating_add(1),
                    top: inner.top,
                }
            }
            Selection::FragmentSpread(s) => {
                let inner = sizes
                    .get(&s.node.fragment_name.node)
                    .copied()
                    .unwrap_or_default();
                Size {
                    total: inner.total.saturating_add(1),
                    top: inner.top,
                }
            }
        };
        size.total = size.total.saturating_add(inner.total);
        size.top = size.top.saturating_add(inner.top);
    }
    size
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::default()
    }

    #[test]
    fn deep_literals_are_refused_before_parsing() {
        let deep = format!(
            "{{ __typename(x: {}1{}) }}",
            "[".repeat(2000),
            "]".repeat(2000)
        );
        let err = scan_document(&deep, &limits()).unwrap_err();
        assert_eq!(err.code, "QUERY_TOO_COMPLEX");
        assert!(
            err.message.contains("49") && err.message.contains("48"),
            "{}",
            err.message
        );
        // Brackets inside strings and comments do not count.
        let quoted = format!("{{ a(x: \"{}\") }} # {}", "[".repeat(500), "{".repeat(500));
        scan_document(&quoted, &limits()).unwrap();
        let block = format!("{{ a(x: \"\"\"{}\\\"\"\"{}\"\"\") }}", "[".repeat(500), "(");
        scan_document(&block, &limits()).unwrap();
    }

    #[test]
    fn big_documents_are_refused() {
        let big = format!("{{ {} }}", "a ".repeat(10_000));
        assert_eq!(
            scan_document(&big, &limits()).unwrap_err().code,
            "QUERY_TOO_LARGE"
        );
    }

    #[test]
    fn fragment_bombs_are_measured_without_expanding_them() {
        let mut text = String::from("query { ...F0 }\n");
        for i in 0..8 {
            let spreads = format!("...F{} ", i + 1).repeat(10);
            text.push_str(&format!("fragment F{i} on Query {{ {spreads} }}\n"));
        }
        text.push_str("fragment F8 on Query { __typename }\n");
        let doc = async_graphql::parser::parse_query(&text).unwrap();
        let err = analyze(&doc, &limits()).unwrap_err();
        assert_eq!(err.code, "QUERY_TOO_COMPLEX");
        assert!(err.message.contains("selections"), "{}", err.message);
    }

    #[test]
    fn ordinary_documents_pass_and_are_measured() {
        let doc = async_graphql::parser::parse_query(
            "query { a: products { edges { node { ...P } } } b: regions { id } }
             fragment P on Product { id title variants { id } }",
        )
        .unwrap();
        let stats = analyze(&doc, &limits()).unwrap();
        assert_eq!(
            (stats.aliases, stats.root_fields, stats.selections),
            (2, 2, 10)
        );
    }

    #[test]
    fn chains_of_empty_spreads_and_unknown_fragments_are_refused() {
        // Each fragment spreads the next twice: 2^60 walks for a recursive checker.
        let mut text = String::from("query { ...F0 }\n");
        for i in 0..60 {
            text.push_str(&format!(
                "fragment F{i} on Query {{ ...F{n} ...F{n} }}\n",
                n = i + 1
            ));
        }
        text.push_str("fragment F60 on Query { __typename }\n");
        let doc = async_graphql::parser::parse_query(&text).unwrap();
        assert_eq!(
            analyze(&doc, &limits()).unwrap_err().code,
            "QUERY_TOO_COMPLEX"
        );
        let doc = async_graphql::parser::parse_query(
            "query { ...A } fragment A on Query { ...B ...B } fragment B on Query { ...Nope }",
        )
        .unwrap();
        assert!(
            analyze(&doc, &limits())
                .unwrap_err()
                .message
                .contains("unknown fragment")
        );
        let doc = async_graphql::parser::parse_query(
            "query($h: String = \"a\\u0000\") { a @include(if: true) { b } }",
        )
        .unwrap();
        assert_eq!(analyze(&doc, &limits()).unwrap_err().code, "BAD_USER_INPUT");
    }

    #[test]
    fn cycles_and_aliases_are_refused() {
        let doc = async_graphql::parser::parse_query(
            "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
        )
        .unwrap();
        assert_eq!(
            analyze(&doc, &limits()).unwrap_err().code,
            "GRAPHQL_VALIDATION_FAILED"
        );
        let many = (0..40)
            .map(|i| format!("a{i}: __typename"))
            .collect::<Vec<_>>();
        let doc = async_graphql::parser::parse_query(format!("{{ {} }}", many.join(" "))).unwrap();
        assert!(
            analyze(&doc, &limits())
                .unwrap_err()
                .message
                .contains("aliases")
        );
    }

    #[test]
    fn json_nesting_and_nul_variables_are_refused() {
        assert!(scan_json(br#"{"a":[[[[1]]]]}"#, 5).is_ok());
        assert!(scan_json(br#"{"a":"[[[[[[[[[["}"#, 2).is_ok());
        assert!(scan_json(br#"{"a":[[[[1]]]]}"#, 4).is_err());
        let vars = async_graphql::Variables::from_json(serde_json::json!({ "s": "a\u{0}b" }));
        assert_eq!(
            check_variables(&vars, &limits()).unwrap_err().code,
            "BAD_USER_INPUT"
        );
    }
}
