//! Locale and translation rows and their SQL.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Jsonb, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};

use crate::db::schema::{locales, translations};

/// A store locale.
#[derive(Debug, Clone, Queryable, QueryableByName, Serialize, Deserialize, PartialEq)]
pub struct Locale {
    /// BCP 47 code (`hi-IN`).
    #[diesel(sql_type = Text)]
    pub code: String,
    /// Display name (`हिन्दी (भारत)`).
    #[diesel(sql_type = Text)]
    pub name: String,
    /// Whether this is the store's default (the language of the catalog's own fields).
    #[diesel(sql_type = Bool)]
    pub is_default: bool,
    /// The PostgreSQL text-search configuration used for search in this language.
    #[diesel(sql_type = Text)]
    pub dictionary: String,
}

const SELECT_LOCALES: &str =
    "SELECT code, name, is_default, dictionary::text AS dictionary FROM locales";

impl Locale {
    /// Every locale, the default first, then by code.
    pub async fn all(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Locale>> {
        diesel::sql_query(format!("{SELECT_LOCALES} ORDER BY is_default DESC, code"))
            .load(conn)
            .await
    }

    /// One locale.
    pub async fn find(conn: &mut AsyncPgConnection, code: &str) -> QueryResult<Option<Locale>> {
        diesel::sql_query(format!("{SELECT_LOCALES} WHERE code = $1"))
            .bind::<Text, _>(code)
            .get_result(conn)
            .await
            .optional()
    }

    /// One locale, locked until the transaction ends: `FOR UPDATE` by writes to the locale,
    /// `FOR SHARE` by translation writes in it (so neither meets the other half-done).
    pub async fn lock(
        conn: &mut AsyncPgConnection,
        code: &str,
        exclusive: bool,
    ) -> QueryResult<Option<Locale>> {
        let mode = if exclusive { "UPDATE" } else { "SHARE" };
        diesel::sql_query(format!("{SELECT_LOCALES} WHERE code = $1 FOR {mode}"))
            .bind::<Text, _>(code)
            .get_result(conn)
            .await
            .optional()
    }

    /// Locks the current default locale (before changing which one it is).
    pub async fn lock_default(conn: &mut AsyncPgConnection) -> QueryResult<Option<Locale>> {
        diesel::sql_query(format!("{SELECT_LOCALES} WHERE is_default FOR UPDATE"))
            .get_result(conn)
            .await
            .optional()
    }

    /// Inserts a locale with the text-search configuration `dictionary` when PostgreSQL has one
    /// of that name, `simple` otherwise.
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        code: &str,
        name: &str,
        dictionary: &str,
    ) -> QueryResult<Locale> {
        diesel::sql_query(
            "INSERT INTO locales (code, name, dictionary) VALUES ($1, $2, \
             COALESCE((SELECT cfgname::regconfig FROM pg_ts_config WHERE cfgname = $3), 'simple')) \
             RETURNING code, name, is_default, dictionary::text AS dictionary",
        )
        .bind::<Text, _>(code)
        .bind::<Text, _>(name)
        .bind::<Text, _>(dictionary)
        .get_result(conn)
        .await
    }

    /// Renames a locale; `None` when it does not exist.
    pub async fn rename(
        conn: &mut AsyncPgConnection,
        code: &str,
        name: &str,
    ) -> QueryResult<Option<Locale>> {
        diesel::sql_query(
            "UPDATE locales SET name = $2, updated_at = now() WHERE code = $1 \
             RETURNING code, name, is_default, dictionary::text AS dictionary",
        )
        .bind::<Text, _>(code)
        .bind::<Text, _>(name)
        .get_result(conn)
        .await
        .optional()
    }

    /// Makes `code` the only default (call in a transaction after checking it exists).
    pub async fn set_default(conn: &mut AsyncPgConnection, code: &str) -> QueryResult<()> {
        diesel::update(locales::table.filter(locales::is_default))
            .set(locales::is_default.eq(false))
            .execute(conn)
            .await?;
        diesel::update(locales::table.find(code))
            .set((
                locales::is_default.eq(true),
                locales::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Deletes a locale; false when it does not exist. Fails (foreign key) while translations
    /// refer to it.
    pub async fn delete(conn: &mut AsyncPgConnection, code: &str) -> QueryResult<bool> {
        Ok(diesel::delete(locales::table.find(code))
            .execute(conn)
            .await?
            == 1)
    }

    /// How many translations are kept in `code`.
    pub async fn translation_count(conn: &mut AsyncPgConnection, code: &str) -> QueryResult<i64> {
        translations::table
            .filter(translations::locale.eq(code))
            .count()
            .get_result(conn)
            .await
    }
}

/// One stored translation.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = translations, check_for_backend(diesel::pg::Pg))]
pub struct TranslationRow {
    pub entity_type: String,
    pub entity_id: i64,
    pub locale: String,
    pub fields: serde_json::Value,
    pub updated_at: DateTime<Utc>,
}

impl TranslationRow {
    /// Merges `fields` into the entity's translation in `locale` (a `null` removes that field;
    /// an option's `values` merge value by value), creating it when missing, in one statement
    /// (the row lock of `ON CONFLICT` serializes concurrent merges). A translation left with no
    /// field is deleted; returns what is stored (`None` then).
    pub async fn upsert(
        conn: &mut AsyncPgConnection,
        entity_type: &str,
        entity_id: i64,
        locale: &str,
        fields: &serde_json::Value,
    ) -> QueryResult<Option<TranslationRow>> {
        let row = diesel::sql_query(
            "INSERT INTO translations (entity_type, entity_id, locale, fields) \
             VALUES ($1, $2, $3, jsonb_strip_nulls($4)) \
             ON CONFLICT (entity_type, entity_id, locale) DO UPDATE SET \
             fields = jsonb_strip_nulls(translations.fields || $4 || \
               CASE WHEN jsonb_typeof($4 -> 'values') = 'object' \
               THEN jsonb_build_object('values', \
                 COALESCE(translations.fields -> 'values', '{}'::jsonb) || ($4 -> 'values')) \
               ELSE '{}'::jsonb END), \
             updated_at = now() \
             RETURNING entity_type, entity_id, locale, fields, updated_at",
        )
        .bind::<Text, _>(entity_type)
        .bind::<BigInt, _>(entity_id)
        .bind::<Text, _>(locale)
        .bind::<Jsonb, _>(fields)
        .get_result::<TranslationByName>(conn)
        .await?
        .into_row();
        let empty = row.fields.as_object().is_none_or(|map| {
            map.iter().all(|(_, v)| match v {
                serde_json::Value::Object(values) => values.is_empty(),
                _ => false,
            })
        });
        if !empty {
            return Ok(Some(row));
        }
        diesel::delete(
            translations::table
                .filter(translations::entity_type.eq(entity_type))
                .filter(translations::entity_id.eq(entity_id))
                .filter(translations::locale.eq(locale)),
        )
        .execute(conn)
        .await?;
        Ok(None)
    }

    /// Every translation of one entity (staff), by locale.
    pub async fn of_entity(
        conn: &mut AsyncPgConnection,
        entity_type: &str,
        entity_id: i64,
    ) -> QueryResult<Vec<TranslationRow>> {
        translations::table
            .filter(translations::entity_type.eq(entity_type))
            .filter(translations::entity_id.eq(entity_id))
            .select(TranslationRow::as_select())
            .order(translations::locale)
            .load(conn)
            .await
    }
}

#[derive(QueryableByName)]
struct TranslationByName {
    #[diesel(sql_type = Text)]
    entity_type: String,
    #[diesel(sql_type = BigInt)]
    entity_id: i64,
    #[diesel(sql_type = Text)]
    locale: String,
    #[diesel(sql_type = Jsonb)]
    fields: serde_json::Value,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    updated_at: DateTime<Utc>,
}

impl TranslationByName {
    fn into_row(self) -> TranslationRow {
        TranslationRow {
            entity_type: self.entity_type,
            entity_id: self.entity_id,
            locale: self.locale,
            fields: self.fields,
            updated_at: self.updated_at,
        }
    }
}
