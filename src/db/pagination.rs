//! Relay cursor pagination shared by every domain: argument validation and opaque cursors.
//!
//! Lists are keyset-paginated (never OFFSET): a cursor carries the sort key and id of an edge, and
//! a domain turns it into `(key, id) > (…)` in SQL. Each domain defines its own cursor payload.

use async_graphql::OutputType;
use async_graphql::connection::{Connection, Edge};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{AppError, AppResult};

/// Page size when the client gives neither `first` nor `last`.
pub const DEFAULT_PAGE_SIZE: usize = 20;
/// Largest `first`/`last` a client may ask for.
pub const MAX_PAGE_SIZE: usize = 100;

/// Which way a page is read from its cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Direction {
    /// `first`/`after`: rows after the cursor, in sort order.
    Forward,
    /// `last`/`before`: rows before the cursor, read in reverse and flipped back.
    Backward,
}

/// A validated page request; cursors are still encoded (the domain decodes its own payload).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct PageRequest {
    /// Read direction, from `first` (or the default) versus `last`.
    pub direction: Direction,
    /// Rows wanted on the page (1..=100).
    pub limit: usize,
    /// Exclusive lower bound in sort order.
    pub after: Option<String>,
    /// Exclusive upper bound in sort order.
    pub before: Option<String>,
}

impl PageRequest {
    /// Validates Relay arguments: `first` and `last` are exclusive, each within 0..=100.
    pub fn new(
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<Self> {
        let (direction, count) = match (first, last) {
            (Some(_), Some(_)) => {
                return Err(AppError::bad_input(
                    "`first` and `last` cannot be used together",
                ));
            }
            (Some(first), None) => (Direction::Forward, check_count("first", first)?),
            (None, Some(last)) => (Direction::Backward, check_count("last", last)?),
            (None, None) => (Direction::Forward, DEFAULT_PAGE_SIZE),
        };
        Ok(Self {
            direction,
            limit: count,
            after,
            before,
        })
    }

    /// The cursor that bounds the page on its reading side (`after` forward, `before` backward).
    pub fn leading_cursor(&self) -> Option<&str> {
        match self.direction {
            Direction::Forward => self.after.as_deref(),
            Direction::Backward => self.before.as_deref(),
        }
    }

    /// The cursor on the far side, if any (`before` forward, `after` backward).
    pub fn trailing_cursor(&self) -> Option<&str> {
        match self.direction {
            Direction::Forward => self.before.as_deref(),
            Direction::Backward => self.after.as_deref(),
        }
    }

    /// The payload of the `after` cursor (forward-only listings).
    pub fn after_key<C: DeserializeOwned>(&self) -> AppResult<Option<C>> {
        self.after.as_deref().map(decode_cursor::<C>).transpose()
    }

    /// A finished page (see [`Self::finish`]) as a Relay connection: each row becomes a node
    /// whose cursor encodes `key(row)`.
    pub fn connection<R, N, C>(
        &self,
        rows: Vec<R>,
        key: impl Fn(&R) -> C,
        node: impl Fn(R) -> N,
    ) -> Connection<String, N>
    where
        N: OutputType,
        C: Serialize,
    {
        let (rows, has_previous, has_next) = self.finish(rows);
        let mut connection = Connection::new(has_previous, has_next);
        connection.edges.extend(
            rows.into_iter()
                .map(|row| Edge::new(encode_cursor(&key(&row)), node(row))),
        );
        connection
    }

    /// Trims the `limit + 1` rows a query fetched to the page, in sort order, and derives
    /// `(has_previous_page, has_next_page)` as the Relay spec describes.
    pub fn finish<T>(&self, mut rows: Vec<T>) -> (Vec<T>, bool, bool) {
        let has_more = rows.len() > self.limit;
        rows.truncate(self.limit);
        match self.direction {
            Direction::Forward => (rows, self.after.is_some(), has_more),
            Direction::Backward => {
                rows.reverse();
                (rows, has_more, self.before.is_some())
            }
        }
    }
}

fn check_count(name: &str, value: i32) -> AppResult<usize> {
    match usize::try_from(value) {
        Ok(n) if n <= MAX_PAGE_SIZE => Ok(n),
        Ok(_) => Err(AppError::bad_input(format!(
            "`{name}` must be at most {MAX_PAGE_SIZE}"
        ))),
        Err(_) => Err(AppError::bad_input(format!(
            "`{name}` must not be negative"
        ))),
    }
}

/// Encodes a cursor payload as an opaque URL-safe string.
pub fn encode_cursor<T: Serialize>(payload: &T) -> String {
    // Serializing a plain struct of numbers and strings cannot fail; an empty cursor would only
    // make the next page request fail with BAD_USER_INPUT.
    let json = serde_json::to_vec(payload).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// Decodes a cursor made by [`encode_cursor`]; anything else is `BAD_USER_INPUT`.
pub fn decode_cursor<T: DeserializeOwned>(cursor: &str) -> AppResult<T> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| AppError::bad_input("malformed cursor"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Payload {
        k: i64,
        id: i64,
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = encode_cursor(&Payload { k: 5, id: 9 });
        assert_eq!(
            decode_cursor::<Payload>(&c).unwrap(),
            Payload { k: 5, id: 9 }
        );
        assert!(decode_cursor::<Payload>("not a cursor!").is_err());
        assert!(decode_cursor::<Payload>(&URL_SAFE_NO_PAD.encode("{}")).is_err());
    }

    #[test]
    fn page_arguments_are_validated() {
        assert!(PageRequest::new(Some(1), None, Some(1), None).is_err());
        assert!(PageRequest::new(Some(101), None, None, None).is_err());
        assert!(PageRequest::new(Some(-1), None, None, None).is_err());
        assert!(PageRequest::new(None, None, Some(-3), None).is_err());
        let page = PageRequest::new(None, None, None, None).unwrap();
        assert_eq!(
            (page.direction, page.limit),
            (Direction::Forward, DEFAULT_PAGE_SIZE)
        );
    }

    #[test]
    fn finish_flips_backward_pages_and_reports_more() {
        let page = PageRequest::new(None, None, Some(2), Some("c".into())).unwrap();
        let (rows, prev, next) = page.finish(vec![3, 2, 1]);
        assert_eq!(rows, vec![2, 3]);
        assert!(prev && next);
    }
}
