//! The store's product listing: filters, sorts and keyset pages in one SQL statement, plus the
//! capped `totalCount`. The SQL is assembled from fixed fragments; every value is a bind parameter.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Jsonb, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};

use super::model::{Product, STORE_VISIBLE_SQL};
use crate::catalog::categories::model::subtree_sql;
use crate::db::pagination::{Direction, PageRequest, decode_cursor, encode_cursor};
use crate::error::{AppError, AppResult};

/// `totalCount` is exact up to this many products and reports this number beyond, so counting
/// never scans a huge table.
pub const TOTAL_COUNT_CAP: i64 = 10_000;

/// What a listing may be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
pub enum SortKey {
    /// Creation time.
    CreatedAt,
    /// Title (database collation).
    Title,
    /// The lowest live variant price in the region's currency; unpriced products sort last.
    Price,
}

/// Sort key plus direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
pub struct Sort {
    /// The key.
    pub key: SortKey,
    /// Descending when true.
    pub descending: bool,
}

/// Server-side filters of the product listing; all given filters must match.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Hash, PartialEq, Eq)]
pub struct ProductFilter {
    /// Products in any of these collections.
    pub collection_ids: Option<Vec<i64>>,
    /// Products in any of these categories or their descendants.
    pub category_ids: Option<Vec<i64>>,
    /// Free text over title and description (all words must match).
    pub search: Option<String>,
    /// Only these product ids.
    pub ids: Option<Vec<i64>>,
    /// Only these handles.
    pub handles: Option<Vec<String>>,
    /// Some variant priced at least this (minor units, region currency).
    pub price_min: Option<i64>,
    /// Some variant priced at most this (minor units, region currency).
    pub price_max: Option<i64>,
}

/// A fully specified listing: filter, sort, the currency prices are read in and the locale
/// titles are read (and sorted and searched) in.
#[derive(Debug, Clone, Serialize, Deserialize, Hash, PartialEq, Eq)]
pub struct ProductQuery {
    /// Filters.
    pub filter: ProductFilter,
    /// Sort.
    pub sort: Sort,
    /// Currency of the requested region; required by price sort and price filters.
    pub currency: Option<String>,
    /// A locale other than the default: rows carry their translation in it, titles sort in it
    /// and search also matches its text (with its language's dictionary). `None`: the default
    /// locale, the catalog's own text, no join.
    pub locale: Option<String>,
}

/// The opaque cursor of a product edge.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct ProductCursor {
    /// Sort the cursor was made for; a cursor is only valid with the same sort and currency.
    s: Sort,
    c: Option<String>,
    /// The locale of a title cursor (titles differ by language); absent for other sorts and the
    /// default locale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    l: Option<String>,
    /// Sort key value: micros since the epoch, a title, or a price.
    k: CursorKey,
    i: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
enum CursorKey {
    Int(i64),
    Text(String),
}

/// A listed product with the sort value its cursor needs.
#[derive(Debug, Clone, QueryableByName, Serialize, Deserialize)]
pub struct ListedProduct {
    /// The product row.
    #[diesel(embed)]
    pub product: Product,
    /// The price sort key (NULL unless sorting by price).
    #[diesel(sql_type = Nullable<BigInt>)]
    sort_price: Option<i64>,
    /// The collection or category this row was listed under, in a partitioned (batched) listing.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub partition_id: Option<i64>,
    /// The product's translated fields in the listing's locale, if any.
    #[diesel(sql_type = Nullable<Jsonb>)]
    pub translation: Option<serde_json::Value>,
    /// The title shown (translated, or the catalog's own): the title sort key.
    #[diesel(sql_type = Text)]
    sort_title: String,
}

/// The row limits a listing statement is written with (the page plus one, rounded up; pages are
/// at most 100 rows, so nothing falls past the last).
const LIMIT_BUCKETS: [usize; 4] = [6, 21, 51, crate::db::pagination::MAX_PAGE_SIZE + 1];

/// `rows` rounded up to its bucket (see [`LIMIT_BUCKETS`]).
fn limit_bucket(rows: usize) -> usize {
    LIMIT_BUCKETS
        .into_iter()
        .find(|b| *b >= rows)
        .unwrap_or(rows)
}

/// The product columns a listing selects (`ListedProduct::product`), named rather than `p.*`: a
/// kept prepared statement must not change its result type when a migration adds a column
/// (PostgreSQL fails it with "cached plan must not change result type"), and the row need not
/// carry the search vector.
const LISTED_COLUMNS: &str = "p.id, p.handle, p.title, p.subtitle, p.description, p.status, \
     p.thumbnail, p.collection_id, p.created_at, p.updated_at, p.deleted_at";

/// A listing run once per parent, batched into one statement: the products of many collections
/// (or categories) each paged on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Partition {
    /// Products whose collection is the parent.
    Collection,
    /// Products in the parent category or any of its active descendants.
    Category,
}

impl ListedProduct {
    /// The edge cursor of this row under `query`.
    pub fn cursor(&self, query: &ProductQuery) -> String {
        let k = match query.sort.key {
            SortKey::CreatedAt => CursorKey::Int(self.product.created_at.timestamp_micros()),
            SortKey::Title => CursorKey::Text(self.sort_title.clone()),
            SortKey::Price => CursorKey::Int(self.sort_price.unwrap_or_default()),
        };
        encode_cursor(&ProductCursor {
            s: query.sort,
            c: query.currency.clone(),
            l: query.title_locale(),
            k,
            i: self.product.id,
        })
    }
}

impl ProductQuery {
    /// Rejects combinations that cannot be answered (price maths without a currency).
    pub fn validate(&self) -> AppResult<()> {
        let needs_currency = self.sort.key == SortKey::Price
            || self.filter.price_min.is_some()
            || self.filter.price_max.is_some();
        if needs_currency && self.currency.is_none() {
            return Err(AppError::bad_input(
                "sorting or filtering by price requires `regionId`",
            ));
        }
        if let (Some(min), Some(max)) = (self.filter.price_min, self.filter.price_max)
            && min > max
        {
            return Err(AppError::bad_input(
                "`filter.price.min` must not exceed `filter.price.max`",
            ));
        }
        Ok(())
    }

    /// The locale a title cursor is only valid in.
    fn title_locale(&self) -> Option<String> {
        self.locale
            .clone()
            .filter(|_| self.sort.key == SortKey::Title)
    }

    /// Rejects cursors that are malformed or belong to another sort, region or language.
    pub fn check_cursors(&self, page: &PageRequest) -> AppResult<()> {
        for cursor in [page.after.as_deref(), page.before.as_deref()]
            .into_iter()
            .flatten()
        {
            self.decode(cursor)?;
        }
        Ok(())
    }

    fn decode(&self, cursor: &str) -> AppResult<(CursorKey, i64)> {
        let c: ProductCursor = decode_cursor(cursor)?;
        if c.s != self.sort || c.c != self.currency || c.l != self.title_locale() {
            return Err(AppError::bad_input(
                "cursor belongs to a different sort, region or language",
            ));
        }
        let key_matches = matches!(
            (&c.k, self.sort.key),
            (CursorKey::Int(_), SortKey::CreatedAt | SortKey::Price)
                | (CursorKey::Text(_), SortKey::Title)
        );
        if !key_matches {
            return Err(AppError::bad_input("malformed cursor"));
        }
        Ok((c.k, c.i))
    }

    /// Loads one page (plus one extra row that tells whether more exist).
    pub async fn load_page(
        &self,
        conn: &mut AsyncPgConnection,
        page: &PageRequest,
    ) -> AppResult<Vec<ListedProduct>> {
        self.load_pages(conn, page, None).await
    }

    /// Loads one page per parent id in a single statement (a `LATERAL` join over the ids); rows
    /// carry `partition_id`. Without a partition this is [`Self::load_page`].
    pub async fn load_pages(
        &self,
        conn: &mut AsyncPgConnection,
        page: &PageRequest,
        partition: Option<(Partition, &[i64])>,
    ) -> AppResult<Vec<ListedProduct>> {
        let sql = self.page_sql(page, partition)?;
        let mut rows = sql.load::<ListedProduct>(conn).await?;
        // The statement may read up to its limit's bucket: keep the page plus one per parent.
        let wanted = page.limit + 1;
        let mut kept: std::collections::HashMap<Option<i64>, usize> = Default::default();
        rows.retain(|row| {
            let n = kept.entry(row.partition_id).or_default();
            *n += 1;
            *n <= wanted
        });
        Ok(rows)
    }

    /// The statement of [`Self::load_pages`] (a malformed cursor is refused here).
    fn page_sql(
        &self,
        page: &PageRequest,
        partition: Option<(Partition, &[i64])>,
    ) -> AppResult<SqlBuilder> {
        let leading = page.leading_cursor().map(|c| self.decode(c)).transpose()?;
        let trailing = page.trailing_cursor().map(|c| self.decode(c)).transpose()?;
        // Reading backward walks the index the other way; the caller flips the rows back.
        let reversed = (page.direction == Direction::Backward) != self.sort.descending;
        let mut sql = SqlBuilder::new();
        if let Some((_, ids)) = partition {
            sql.push("SELECT s.* FROM unnest(");
            sql.bind_i64s(ids.to_vec());
            sql.push(") AS part(pid) CROSS JOIN LATERAL (");
        }
        sql.push("SELECT * FROM (SELECT ");
        sql.push(LISTED_COLUMNS);
        sql.push(", ");
        sql.push(match (self.sort.key, self.sort.descending) {
            // Unpriced products go last in either direction.
            (SortKey::Price, false) => "COALESCE(mp.amount, 9223372036854775807)",
            (SortKey::Price, true) => "COALESCE(mp.amount, -1)",
            _ => "NULL::bigint",
        });
        sql.push(if partition.is_some() {
            " AS sort_price, part.pid AS partition_id"
        } else {
            " AS sort_price, NULL::bigint AS partition_id"
        });
        match &self.locale {
            // Translations are joined in the same statement: no extra round trip per locale.
            Some(locale) => {
                sql.push(
                    ", t.fields AS translation, COALESCE(t.fields ->> 'title', p.title) AS sort_title \
                     FROM products p LEFT JOIN translations t ON t.entity_type = 'product' \
                     AND t.entity_id = p.id AND t.locale = ",
                );
                sql.bind_text(locale.clone());
            }
            None => sql.push(", NULL::jsonb AS translation, p.title AS sort_title FROM products p"),
        }
        if self.sort.key == SortKey::Price {
            // Trigger-maintained minimum per product and currency (migration 2).
            sql.push(
                " LEFT JOIN product_min_prices mp ON mp.product_id = p.id AND mp.currency_code = ",
            );
            sql.bind_text(self.currency.clone().unwrap_or_default());
        }
        sql.push(" WHERE ");
        self.push_filters(&mut sql);
        if let Some((kind, _)) = partition {
            push_partition_filter(&mut sql, kind);
        }
        sql.push(") s WHERE TRUE");
        // The leading cursor bounds the side we read from; the trailing one the far side.
        if let Some((key, id)) = leading {
            self.push_keyset(&mut sql, if reversed { "<" } else { ">" }, key, id);
        }
        if let Some((key, id)) = trailing {
            self.push_keyset(&mut sql, if reversed { ">" } else { "<" }, key, id);
        }
        let order = if reversed { "DESC" } else { "ASC" };
        let column = self.sort_column();
        // A literal, not a bind: PostgreSQL costs a generic plan with `LIMIT $1` as if a tenth of
        // the table were read, so it re-planned this statement at every execution (custom plans
        // looked cheaper); with a literal it plans a kept statement once. Rounded up to a few
        // buckets so page sizes do not multiply the statements kept per connection.
        let limit = limit_bucket(page.limit + 1);
        sql.push(&format!(
            " ORDER BY {column} {order}, s.id {order} LIMIT {limit}"
        ));
        if partition.is_some() {
            sql.push(") s");
        }
        Ok(sql)
    }

    /// Counts matching products up to [`TOTAL_COUNT_CAP`].
    pub async fn count(&self, conn: &mut AsyncPgConnection) -> AppResult<i64> {
        let counts = self.counts(conn, None).await?;
        Ok(counts.into_iter().next().map_or(0, |c| c.1))
    }

    /// Counts matching products per parent id (capped), in one statement.
    pub async fn counts(
        &self,
        conn: &mut AsyncPgConnection,
        partition: Option<(Partition, &[i64])>,
    ) -> AppResult<Vec<(Option<i64>, i64)>> {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = Nullable<BigInt>)]
            pid: Option<i64>,
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut sql = SqlBuilder::new();
        if partition.is_some() {
            sql.push("SELECT part.pid AS pid, ");
        } else {
            sql.push("SELECT NULL::bigint AS pid, ");
        }
        sql.push("(SELECT count(*) FROM (SELECT 1 FROM products p WHERE ");
        self.push_filters(&mut sql);
        if let Some((kind, _)) = partition {
            push_partition_filter(&mut sql, kind);
        }
        sql.push(" LIMIT ");
        sql.bind_i64(TOTAL_COUNT_CAP);
        sql.push(") t) AS n");
        if let Some((_, ids)) = partition {
            sql.push(" FROM unnest(");
            sql.bind_i64s(ids.to_vec());
            sql.push(") AS part(pid)");
        }
        let counts = sql.load::<Count>(conn).await?;
        Ok(counts.into_iter().map(|c| (c.pid, c.n)).collect())
    }

    fn sort_column(&self) -> &'static str {
        match self.sort.key {
            SortKey::CreatedAt => "s.created_at",
            SortKey::Title => "s.sort_title",
            SortKey::Price => "s.sort_price",
        }
    }

    fn push_keyset(&self, sql: &mut SqlBuilder, op: &str, key: CursorKey, id: i64) {
        sql.push(&format!(" AND ({}, s.id) {op} (", self.sort_column()));
        match key {
            CursorKey::Int(v) if self.sort.key == SortKey::CreatedAt => {
                let at = DateTime::<Utc>::from_timestamp_micros(v).unwrap_or_default();
                sql.bind_timestamp(at);
            }
            CursorKey::Int(v) => sql.bind_i64(v),
            CursorKey::Text(t) => sql.bind_text(t),
        }
        sql.push(", ");
        sql.bind_i64(id);
        sql.push(")");
    }

    fn push_filters(&self, sql: &mut SqlBuilder) {
        let f = &self.filter;
        if *f != ProductFilter::default() {
            sql.uncached();
        }
        sql.push(STORE_VISIBLE_SQL);
        if let Some(ids) = &f.collection_ids {
            sql.push(" AND p.collection_id = ANY(");
            sql.bind_i64s(ids.clone());
            sql.push(")");
        }
        if let Some(ids) = &f.category_ids {
            let roots = sql.bind_i64s_placeholder(ids.clone());
            push_in_categories(
                sql,
                &format!("SELECT id FROM categories WHERE id = ANY({roots}) AND is_active"),
            );
        }
        if let Some(text) = &f.search {
            let q = sql.bind_text_placeholder(text.clone());
            match &self.locale {
                // The catalog's own text, or the locale's translation with its dictionary: two
                // matches, each through its own GIN index, unioned (an `OR` across the two
                // tables would scan every product).
                Some(locale) => {
                    let l = sql.bind_text_placeholder(locale.clone());
                    sql.push(&format!(
                        " AND p.id IN (SELECT sp.id FROM products sp \
                         WHERE sp.search @@ plainto_tsquery('simple', {q}) \
                         UNION SELECT ts.entity_id FROM translations ts \
                         WHERE ts.entity_type = 'product' AND ts.locale = {l} AND ts.search @@ \
                         plainto_tsquery((SELECT lc.dictionary FROM locales lc WHERE lc.code = {l}), {q}))"
                    ));
                }
                None => sql.push(&format!(" AND p.search @@ plainto_tsquery('simple', {q})")),
            }
        }
        if let Some(ids) = &f.ids {
            sql.push(" AND p.id = ANY(");
            sql.bind_i64s(ids.clone());
            sql.push(")");
        }
        if let Some(handles) = &f.handles {
            sql.push(" AND p.handle = ANY(");
            sql.bind_texts(handles.clone());
            sql.push(")");
        }
        if f.price_min.is_some() || f.price_max.is_some() {
            sql.push(
                " AND EXISTS (SELECT 1 FROM product_variants v JOIN prices pr ON pr.variant_id = v.id \
                 WHERE v.product_id = p.id AND v.deleted_at IS NULL AND pr.currency_code = ",
            );
            sql.bind_text(self.currency.clone().unwrap_or_default());
            if let Some(min) = f.price_min {
                sql.push(" AND pr.amount >= ");
                sql.bind_i64(min);
            }
            if let Some(max) = f.price_max {
                sql.push(" AND pr.amount <= ");
                sql.bind_i64(max);
            }
            sql.push(")");
        }
    }
}

fn push_partition_filter(sql: &mut SqlBuilder, kind: Partition) {
    match kind {
        Partition::Collection => sql.push(" AND p.collection_id = part.pid"),
        Partition::Category => push_in_categories(sql, "SELECT part.pid AS id"),
    }
}

/// Products in the active subtrees under the categories `roots` selects.
fn push_in_categories(sql: &mut SqlBuilder, roots: &str) {
    sql.push(&format!(
        " AND EXISTS (SELECT 1 FROM product_categories pc WHERE pc.product_id = p.id \
         AND pc.category_id IN ({}))",
        subtree_sql(roots, true)
    ));
}

/// Raw SQL with numbered bind parameters (`$1`, `$2`, …) appended in step with their values.
///
/// Every value is a bind, so the text depends only on the query's shape (sort, filters, cursors,
/// partition): unlike diesel's `sql_query`, which marks itself unsafe to cache and so is parsed,
/// planned and closed again on every run, the statement is kept in the connection's
/// prepared-statement cache, one per shape.
struct SqlBuilder {
    sql: String,
    binds: Vec<Bind>,
    /// Whether the statement may be kept (see [`SqlBuilder::uncached`]).
    cacheable: bool,
}

/// One bound value of a [`SqlBuilder`] statement.
enum Bind {
    I64(i64),
    Text(String),
    Timestamp(DateTime<Utc>),
    I64s(Vec<i64>),
    Texts(Vec<String>),
}

impl SqlBuilder {
    fn new() -> Self {
        Self {
            sql: String::with_capacity(512),
            binds: Vec::new(),
            cacheable: true,
        }
    }

    /// Keeps this statement out of the prepared-statement cache. Filters multiply the shapes
    /// (tens of thousands of combinations a stranger could walk through, each kept on every
    /// connection and its PostgreSQL backend, with no eviction in diesel's cache): only the
    /// unfiltered listings — the storefront's pages, about a thousand shapes at most with the four
    /// written limits of [`LIMIT_BUCKETS`] — are kept.
    fn uncached(&mut self) {
        self.cacheable = false;
    }

    fn push(&mut self, sql: &str) {
        self.sql.push_str(sql);
    }

    /// Binds `v` and returns its placeholder for SQL pushed later (numbers are explicit, so a
    /// placeholder may appear after binds made after it).
    fn bind(&mut self, v: Bind) -> String {
        self.binds.push(v);
        format!("${}", self.binds.len())
    }

    fn bind_here(&mut self, v: Bind) {
        let placeholder = self.bind(v);
        self.sql.push_str(&placeholder);
    }

    fn bind_i64(&mut self, v: i64) {
        self.bind_here(Bind::I64(v));
    }

    fn bind_text(&mut self, v: String) {
        self.bind_here(Bind::Text(v));
    }

    fn bind_timestamp(&mut self, v: DateTime<Utc>) {
        self.bind_here(Bind::Timestamp(v));
    }

    fn bind_i64s(&mut self, v: Vec<i64>) {
        self.bind_here(Bind::I64s(v));
    }

    fn bind_texts(&mut self, v: Vec<String>) {
        self.bind_here(Bind::Texts(v));
    }

    /// See [`Self::bind`].
    fn bind_i64s_placeholder(&mut self, v: Vec<i64>) -> String {
        self.bind(Bind::I64s(v))
    }

    /// See [`Self::bind`].
    fn bind_text_placeholder(&mut self, v: String) -> String {
        self.bind(Bind::Text(v))
    }
}

impl diesel::query_builder::QueryId for SqlBuilder {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for SqlBuilder {
    type SqlType = diesel::sql_types::Untyped;
}

impl diesel::query_builder::QueryFragment<Pg> for SqlBuilder {
    /// Diesel numbers placeholders itself, in the order binds are pushed; the text's `$n` (which
    /// may come out of order, or twice) are replaced by pushing value `n` where each stands. The
    /// listing's SQL holds no other `$` (no dollar quotes, no JSON paths).
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, Pg>,
    ) -> QueryResult<()> {
        if !self.cacheable {
            out.unsafe_to_cache_prepared();
        }
        let mut rest = self.sql.as_str();
        while let Some(at) = rest.find('$') {
            out.push_sql(&rest[..at]);
            let digits = rest[at + 1..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            let number: usize = rest[at + 1..at + 1 + digits].parse().map_err(|_| {
                diesel::result::Error::QueryBuilderError("a `$` without a number".into())
            })?;
            let bind = number
                .checked_sub(1)
                .and_then(|i| self.binds.get(i))
                .ok_or_else(|| {
                    diesel::result::Error::QueryBuilderError(
                        format!("placeholder ${number} has no value").into(),
                    )
                })?;
            match bind {
                Bind::I64(v) => out.push_bind_param::<BigInt, _>(v)?,
                Bind::Text(v) => out.push_bind_param::<Text, _>(v)?,
                Bind::Timestamp(v) => out.push_bind_param::<Timestamptz, _>(v)?,
                Bind::I64s(v) => out.push_bind_param::<Array<BigInt>, _>(v)?,
                Bind::Texts(v) => out.push_bind_param::<Array<Text>, _>(v)?,
            }
            rest = &rest[at + 1 + digits..];
        }
        out.push_sql(rest);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use diesel::query_builder::QueryFragment;

    use super::*;

    #[test]
    fn statements_are_cacheable_with_binds_in_text_order() {
        let mut sql = SqlBuilder::new();
        let later = sql.bind_i64s_placeholder(vec![1, 2]);
        sql.push("SELECT 1 WHERE x = ");
        sql.bind_text("a".into());
        sql.push(&format!(
            " AND y = ANY({later}) AND z = ANY({later}) LIMIT "
        ));
        sql.bind_i64(5);
        assert!(sql.is_safe_to_cache_prepared(&Pg).unwrap());
        assert_eq!(
            diesel::debug_query::<Pg, _>(&sql).to_string(),
            r#"SELECT 1 WHERE x = $1 AND y = ANY($2) AND z = ANY($3) LIMIT $4 -- binds: ["a", [1, 2], [1, 2], 5]"#
        );
    }

    /// A listing by creation date, oldest first.
    fn by_created(filter: ProductFilter, locale: Option<&str>) -> ProductQuery {
        ProductQuery {
            filter,
            sort: Sort {
                key: SortKey::CreatedAt,
                descending: false,
            },
            currency: None,
            locale: locale.map(str::to_owned),
        }
    }

    #[test]
    fn only_unfiltered_listings_are_kept() {
        let page = PageRequest::new(Some(20), None, None, None).unwrap();
        let query = |filter: ProductFilter| by_created(filter, Some("hi-IN"));
        let kept = |q: &ProductQuery, partition| {
            q.page_sql(&page, partition)
                .unwrap()
                .is_safe_to_cache_prepared(&Pg)
                .unwrap()
        };
        let plain = query(ProductFilter::default());
        assert!(kept(&plain, None));
        assert!(kept(&plain, Some((Partition::Category, &[1, 2][..]))));
        let searched = query(ProductFilter {
            search: Some("shirt".into()),
            ..ProductFilter::default()
        });
        assert!(!kept(&searched, None));
        assert!(!kept(&searched, Some((Partition::Collection, &[1][..]))));
    }

    #[test]
    fn page_sizes_share_a_few_written_limits() {
        let limits: Vec<usize> = [1, 6, 7, 21, 22, 51, 52, 101]
            .into_iter()
            .map(limit_bucket)
            .collect();
        assert_eq!(limits, [6, 6, 21, 21, 51, 51, 101, 101]);
        let written = |first| {
            let page = PageRequest::new(Some(first), None, None, None).unwrap();
            let sql = by_created(ProductFilter::default(), None)
                .page_sql(&page, None)
                .unwrap();
            sql.sql
                .rsplit("LIMIT ")
                .next()
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(written(12), "21");
        assert_eq!(written(100), "101");
    }

    #[test]
    fn a_placeholder_without_a_value_is_an_error_not_a_panic() {
        for text in ["SELECT $", "SELECT $2", "SELECT $0"] {
            let mut sql = SqlBuilder::new();
            sql.push(text);
            sql.binds.push(Bind::I64(1));
            let mut shown = String::new();
            let rendered = diesel::debug_query::<Pg, _>(&sql);
            assert!(
                std::fmt::Write::write_fmt(&mut shown, format_args!("{rendered}")).is_err(),
                "{text}"
            );
        }
    }
}
