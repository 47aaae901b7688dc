//! Collection rows and their SQL.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};

use crate::db::schema::collections;
use crate::load_translated;
use crate::locales::fields::{EntityKind, Localized};

/// A curated collection of products.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize, Deserialize)]
#[diesel(table_name = collections, check_for_backend(diesel::pg::Pg))]
pub struct Collection {
    pub id: i64,
    pub handle: String,
    pub title: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// [`load_translated!`] for collections in `locale` as `Localized` rows, the query finished by
/// `|q| …`.
macro_rules! load_collections {
    ($conn:expr, $locale:expr, |$q:ident| $rest:expr) => {
        Localized::from_pairs(load_translated!(
            $conn,
            $locale,
            collections::table,
            (collections::id, EntityKind::Collection),
            Collection::as_select(),
            |$q| $rest
        ))
    };
}

impl Collection {
    /// A keyset page of collections ordered by `(title, id)`; `after` is exclusive. Reads one row
    /// more than `limit` so the caller can tell whether another page exists.
    pub async fn page(
        conn: &mut AsyncPgConnection,
        after: Option<(&str, i64)>,
        limit: usize,
        locale: &str,
    ) -> QueryResult<Vec<Localized<Collection>>> {
        Ok(load_collections!(conn, locale, |q| {
            let mut query = q.into_boxed();
            if let Some((title, id)) = after {
                query = query.filter(
                    collections::title
                        .gt(title.to_owned())
                        .or(collections::title
                            .eq(title.to_owned())
                            .and(collections::id.gt(id))),
                );
            }
            query
                .order((collections::title, collections::id))
                .limit(i64::try_from(limit + 1).unwrap_or(i64::MAX))
        }))
    }

    /// Collections by id (existence checks of writes).
    pub async fn exist(conn: &mut AsyncPgConnection, ids: &[i64]) -> QueryResult<Vec<i64>> {
        collections::table
            .filter(collections::id.eq_any(ids))
            .select(collections::id)
            .load(conn)
            .await
    }

    /// Collections by id, for loader batches.
    pub async fn by_ids(
        conn: &mut AsyncPgConnection,
        ids: &[i64],
        locale: &str,
    ) -> QueryResult<Vec<Localized<Collection>>> {
        Ok(load_collections!(conn, locale, |q| q.filter(collections::id.eq_any(ids))))
    }

    /// Collections by handle, for loader batches.
    pub async fn by_handles(
        conn: &mut AsyncPgConnection,
        handles: &[String],
        locale: &str,
    ) -> QueryResult<Vec<Localized<Collection>>> {
        Ok(load_collections!(conn, locale, |q| q
            .filter(collections::handle.eq_any(handles))))
    }

    /// Inserts a collection.
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        handle: &str,
        title: &str,
        description: &str,
    ) -> QueryResult<Collection> {
        diesel::insert_into(collections::table)
            .values((
                collections::handle.eq(handle),
                collections::title.eq(title),
                collections::description.eq(description),
            ))
            .returning(Collection::as_returning())
            .get_result(conn)
            .await
    }

    /// Updates a collection; `None` when it does not exist.
    pub async fn update(
        conn: &mut AsyncPgConnection,
        id: i64,
        handle: Option<&str>,
        title: Option<&str>,
        description: Option<&str>,
    ) -> QueryResult<Option<Collection>> {
        let current = collections::table
            .find(id)
            .select(Collection::as_select())
            .first(conn)
            .await
            .optional()?;
        let Some(c) = current else { return Ok(None) };
        diesel::update(collections::table.find(id))
            .set((
                collections::handle.eq(handle.unwrap_or(&c.handle)),
                collections::title.eq(title.unwrap_or(&c.title)),
                collections::description.eq(description.unwrap_or(&c.description)),
                collections::updated_at.eq(diesel::dsl::now),
            ))
            .returning(Collection::as_returning())
            .get_result(conn)
            .await
            .optional()
    }

    /// Deletes a collection (its products keep existing, without a collection).
    pub async fn delete(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<bool> {
        Ok(diesel::delete(collections::table.find(id))
            .execute(conn)
            .await?
            == 1)
    }
}
