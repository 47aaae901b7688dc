//! Category rows (a tree by `parent_id`), their SQL, and the one recursive walk down the tree.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};

use crate::db::schema::{categories, product_categories};
use crate::load_translated;
use crate::locales::fields::{EntityKind, Localized, Translation};

/// The one walk down the category tree: a statement selecting `id` of the categories `roots`
/// selects (a `SELECT … AS id`) and all their descendants. With `active_only`, an inactive
/// category hides its whole subtree from the store.
pub fn subtree_sql(roots: &str, active_only: bool) -> String {
    let active = if active_only {
        " WHERE c.is_active"
    } else {
        ""
    };
    format!(
        "WITH RECURSIVE tree AS ({roots} UNION SELECT c.id FROM categories c \
         JOIN tree t ON c.parent_id = t.id{active}) SELECT id FROM tree"
    )
}

/// A node of the category tree.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize, Deserialize)]
#[diesel(table_name = categories, check_for_backend(diesel::pg::Pg))]
pub struct Category {
    pub id: i64,
    pub handle: String,
    pub name: String,
    pub description: String,
    pub parent_id: Option<i64>,
    pub rank: i32,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// [`load_translated!`] for categories in `locale` as `Localized` rows, the query finished by
/// `|q| …`.
macro_rules! load_categories {
    ($conn:expr, $locale:expr, |$q:ident| $rest:expr) => {
        Localized::from_pairs(load_translated!(
            $conn,
            $locale,
            categories::table,
            (categories::id, EntityKind::Category),
            Category::as_select(),
            |$q| $rest
        ))
    };
}

impl Category {
    /// Active top-level categories, by rank.
    pub async fn top_level(
        conn: &mut AsyncPgConnection,
        locale: &str,
    ) -> QueryResult<Vec<Localized<Category>>> {
        Ok(load_categories!(conn, locale, |q| q
            .filter(categories::parent_id.is_null().and(categories::is_active))
            .order((categories::rank, categories::id))))
    }

    /// Active children of the given parents, by rank, for loader batches.
    pub async fn children_of(
        conn: &mut AsyncPgConnection,
        parent_ids: &[i64],
        locale: &str,
    ) -> QueryResult<Vec<Localized<Category>>> {
        Ok(load_categories!(conn, locale, |q| q
            .filter(
                categories::parent_id
                    .eq_any(parent_ids)
                    .and(categories::is_active),
            )
            .order((categories::rank, categories::id))))
    }

    /// Active categories by id, for loader batches.
    pub async fn by_ids(
        conn: &mut AsyncPgConnection,
        ids: &[i64],
        locale: &str,
    ) -> QueryResult<Vec<Localized<Category>>> {
        Ok(load_categories!(conn, locale, |q| q.filter(
            categories::id.eq_any(ids).and(categories::is_active)
        )))
    }

    /// Active categories by handle, for loader batches.
    pub async fn by_handles(
        conn: &mut AsyncPgConnection,
        handles: &[String],
        locale: &str,
    ) -> QueryResult<Vec<Localized<Category>>> {
        Ok(load_categories!(conn, locale, |q| q.filter(
            categories::handle
                .eq_any(handles)
                .and(categories::is_active),
        )))
    }

    /// `(product_id, category)` pairs for the given products' active categories, for loader batches.
    pub async fn of_products(
        conn: &mut AsyncPgConnection,
        product_ids: &[i64],
        locale: &str,
    ) -> QueryResult<Vec<(i64, Localized<Category>)>> {
        let rows: Vec<((i64, Category), Option<serde_json::Value>)> = load_translated!(
            conn,
            locale,
            product_categories::table.inner_join(categories::table),
            (categories::id, EntityKind::Category),
            [product_categories::product_id, Category::as_select()] as (product, category),
            |q| q
                .filter(
                    product_categories::product_id
                        .eq_any(product_ids)
                        .and(categories::is_active),
                )
                .order((categories::rank, categories::id))
        );
        Ok(rows
            .into_iter()
            .map(|((product, row), fields)| {
                (
                    product,
                    Localized {
                        row,
                        translation: Translation::from_column(fields),
                    },
                )
            })
            .collect())
    }

    /// Any category (admin), inactive ones included.
    pub async fn find_any(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<Category>> {
        categories::table
            .find(id)
            .select(Category::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Whether `candidate_parent` is `id` itself or one of its descendants (moving `id` under it
    /// would make a loop).
    pub async fn is_self_or_descendant(
        conn: &mut AsyncPgConnection,
        id: i64,
        candidate_parent: i64,
    ) -> QueryResult<bool> {
        #[derive(QueryableByName)]
        struct Found {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            found: bool,
        }
        let found: Found = diesel::sql_query(format!(
            "SELECT EXISTS (SELECT 1 FROM ({}) tree WHERE id = $2) AS found",
            subtree_sql("SELECT id FROM categories WHERE id = $1", false)
        ))
        .bind::<diesel::sql_types::BigInt, _>(id)
        .bind::<diesel::sql_types::BigInt, _>(candidate_parent)
        .get_result(conn)
        .await?;
        Ok(found.found)
    }

    /// Inserts a category.
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        handle: &str,
        name: &str,
        parent_id: Option<i64>,
        rank: i32,
        is_active: bool,
    ) -> QueryResult<Category> {
        diesel::insert_into(categories::table)
            .values((
                categories::handle.eq(handle),
                categories::name.eq(name),
                categories::parent_id.eq(parent_id),
                categories::rank.eq(rank),
                categories::is_active.eq(is_active),
            ))
            .returning(Category::as_returning())
            .get_result(conn)
            .await
    }

    /// Writes a whole category row back (after the service merged the changes).
    pub async fn save(conn: &mut AsyncPgConnection, c: &Category) -> QueryResult<Category> {
        diesel::update(categories::table.find(c.id))
            .set((
                categories::handle.eq(&c.handle),
                categories::name.eq(&c.name),
                categories::description.eq(&c.description),
                categories::parent_id.eq(c.parent_id),
                categories::rank.eq(c.rank),
                categories::is_active.eq(c.is_active),
                categories::updated_at.eq(diesel::dsl::now),
            ))
            .returning(Category::as_returning())
            .get_result(conn)
            .await
    }

    /// Deletes a category without children.
    pub async fn delete(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<bool> {
        Ok(diesel::delete(categories::table.find(id))
            .execute(conn)
            .await?
            == 1)
    }
}
