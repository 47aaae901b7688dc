//! Opaque Relay global IDs: `base64url("Type:123")`, where `Type` is the GraphQL type that carries
//! the ID, so no two types share one (Relay's and Apollo's normalized stores key records by it):
//! a staff type has its own (`AdminProduct:139` beside the store's `Product:139`). Clients must
//! treat them as opaque; the type prefix lets `node(id)` route. An argument that names an entity
//! accepts the store's ID and the staff type's ID alike; a wrong-type or malformed ID is
//! `BAD_USER_INPUT`.

use async_graphql::ID;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{AppError, AppResult};

/// The global ID of a `type_name` row with primary key `id`.
pub fn to_global(type_name: &str, id: i64) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{type_name}:{id}")))
}

/// What a lookup root (`product`, `collection`, `category`) was asked for.
pub enum Lookup {
    /// The primary key behind the global `id`.
    Id(i64),
    /// The URL handle.
    Handle(String),
}

/// The `id` / `handle` pair of a lookup root: exactly one must be given, and `id` must name a
/// `type_name`.
pub fn id_or_handle(id: Option<ID>, handle: Option<String>, type_name: &str) -> AppResult<Lookup> {
    match (id, handle) {
        (Some(id), None) => Ok(Lookup::Id(expect_global(&id, type_name)?)),
        (None, Some(handle)) => Ok(Lookup::Handle(handle)),
        _ => Err(AppError::bad_input("give exactly one of `id` or `handle`")),
    }
}

/// Splits a global ID into its type name and primary key.
pub fn from_global(id: &str) -> AppResult<(String, i64)> {
    let malformed = || AppError::bad_input(format!("malformed ID `{}`", truncate(id)));
    let bytes = URL_SAFE_NO_PAD.decode(id).map_err(|_| malformed())?;
    let text = String::from_utf8(bytes).map_err(|_| malformed())?;
    let (kind, key) = text.split_once(':').ok_or_else(malformed)?;
    let key: i64 = key.parse().map_err(|_| malformed())?;
    Ok((kind.to_owned(), key))
}

/// The ID of an event delivered to subscribers: its own type and a random key, so each event is
/// a record of its own in a client's store.
pub fn event_id(type_name: &str) -> ID {
    to_global(
        type_name,
        i64::try_from(crate::random::u64() >> 1).unwrap_or_default(),
    )
}

/// The primary key of a global ID that must name a `type_name` (or its staff type,
/// `Admin{type_name}`).
pub fn expect_global(id: &str, type_name: &str) -> AppResult<i64> {
    match from_global(id)? {
        (kind, key) if kind == type_name || kind.strip_prefix("Admin") == Some(type_name) => {
            Ok(key)
        }
        _ => Err(AppError::bad_input(format!(
            "ID `{}` is not a {type_name} ID",
            truncate(id)
        ))),
    }
}

/// Decodes a list of global IDs of one type.
pub fn expect_globals(ids: &[ID], type_name: &str) -> AppResult<Vec<i64>> {
    ids.iter().map(|id| expect_global(id, type_name)).collect()
}

fn truncate(id: &str) -> &str {
    // Echo at most a short prefix of hostile input back to the client.
    id.char_indices().nth(64).map_or(id, |(i, _)| &id[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_ids_round_trip_and_check_their_type() {
        let id = to_global("Product", 42);
        assert_eq!(from_global(&id).unwrap(), ("Product".to_owned(), 42));
        assert_eq!(expect_global(&id, "Product").unwrap(), 42);
        assert!(expect_global(&id, "Region").is_err());
        assert_eq!(
            expect_global(&to_global("AdminProduct", 42), "Product").unwrap(),
            42
        );
        assert!(expect_global(&to_global("AdminRegion", 42), "Product").is_err());
        assert!(from_global("%%%").is_err());
        assert!(from_global(&URL_SAFE_NO_PAD.encode("Product:x")).is_err());
    }
}
