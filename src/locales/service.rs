//! Locale and translation use cases: the cache-first list of locales, staff writes to locales
//! (each reloads this instance's registry, tells the others, and invalidates every family: the
//! language a request gets may change), and translation upserts, which invalidate only the
//! affected entities and families *in that locale*.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use diesel::sql_types::{Array, BigInt, Nullable, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::{Map, Value};

use super::fields::EntityKind;
use super::model::{Locale, TranslationRow};
use crate::cache::{Family, keys};
use crate::error::{AppError, AppResult};
use crate::events::{BannerAction, DomainEvent, ProductAction};
use crate::state::AppState;

/// Translations one `upsertTranslations` call may write.
pub const MAX_BATCH: usize = 500;

/// Every locale, the default first.
pub async fn locales(app: &AppState) -> AppResult<Vec<Locale>> {
    app.cached(&keys::locales_list(), |conn| {
        Box::pin(async move { Ok(Locale::all(conn).await?) })
    })
    .await
}

/// A BCP 47 code as the store keeps them: `ll`, `ll-RR`, `ll-Ssss-RR` (`hi-IN`, `zh-Hant-TW`).
pub fn check_code(code: &str) -> AppResult<()> {
    let mut parts = code.split('-');
    let language = parts.next().unwrap_or_default();
    let mut ok =
        (2..=3).contains(&language.len()) && language.bytes().all(|b| b.is_ascii_lowercase());
    let rest: Vec<&str> = parts.collect();
    let (script, region) = match rest.as_slice() {
        [] => (None, None),
        [one] if one.len() == 4 => (Some(*one), None),
        [one] => (None, Some(*one)),
        [script, region] => (Some(*script), Some(*region)),
        _ => {
            ok = false;
            (None, None)
        }
    };
    if let Some(s) = script {
        let mut b = s.bytes();
        ok &= s.len() == 4
            && b.next().is_some_and(|c| c.is_ascii_uppercase())
            && b.all(|c| c.is_ascii_lowercase());
    }
    if let Some(r) = region {
        ok &= (r.len() == 2 && r.bytes().all(|c| c.is_ascii_uppercase()))
            || (r.len() == 3 && r.bytes().all(|c| c.is_ascii_digit()));
    }
    if ok {
        Ok(())
    } else {
        Err(AppError::bad_input(
            "`code` must be a BCP 47 tag such as hi-IN, fr-FR or zh-Hant-TW",
        ))
    }
}

/// PostgreSQL's text-search configuration for a language subtag (`simple` where it has none).
fn dictionary_for(code: &str) -> &'static str {
    let language = code.split('-').next().unwrap_or_default();
    match language {
        "ar" => "arabic",
        "hy" => "armenian",
        "eu" => "basque",
        "ca" => "catalan",
        "da" => "danish",
        "nl" => "dutch",
        "en" => "english",
        "fi" => "finnish",
        "fr" => "french",
        "de" => "german",
        "el" => "greek",
        "hi" => "hindi",
        "hu" => "hungarian",
        "id" => "indonesian",
        "ga" => "irish",
        "it" => "italian",
        "lt" => "lithuanian",
        "ne" => "nepali",
        "no" | "nb" | "nn" => "norwegian",
        "pt" => "portuguese",
        "ro" => "romanian",
        "ru" => "russian",
        "sr" => "serbian",
        "es" => "spanish",
        "sv" => "swedish",
        "ta" => "tamil",
        "tr" => "turkish",
        "yi" => "yiddish",
        _ => "simple",
    }
}

fn check_name(name: &str) -> AppResult<()> {
    crate::catalog::rules::check_text("name", name, 100)
}

fn locale_not_found(code: &str) -> AppError {
    AppError::NotFound(format!(
        "locale `{}` not found",
        code.chars().take(35).collect::<String>()
    ))
}

/// After a committed locale write: this instance's registry is reloaded before the write
/// returns, the others are told, and every family is invalidated (which language a request is
/// answered in may have changed, so every cached answer and CDN entry may be wrong).
async fn locales_written(app: &AppState) {
    app.locales.reload_now(&app.db).await;
    app.events.publish(DomainEvent::LocalesChanged).await;
    app.invalidate(&Family::ALL, &[]).await;
}

/// Adds a locale (not the default).
pub async fn create_locale(app: &AppState, code: &str, name: &str) -> AppResult<Locale> {
    check_code(code)?;
    check_name(name)?;
    let mut conn = app.db.get().await?;
    let locale = Locale::insert(&mut conn, code, name.trim(), dictionary_for(code))
        .await
        .map_err(|e| crate::db::conflict_on(e, &[("locales_pkey", "code")]))?;
    drop(conn);
    locales_written(app).await;
    Ok(locale)
}

/// Renames a locale.
pub async fn update_locale(app: &AppState, code: &str, name: &str) -> AppResult<Locale> {
    check_name(name)?;
    let mut conn = app.db.get().await?;
    let locale = Locale::rename(&mut conn, code, name.trim())
        .await?
        .ok_or_else(|| locale_not_found(code))?;
    drop(conn);
    locales_written(app).await;
    Ok(locale)
}

/// Deletes a locale: never the default, and not while translations are kept in it.
pub async fn delete_locale(app: &AppState, code: &str) -> AppResult<()> {
    let mut conn = app.db.get().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        let locale = Locale::lock(conn, code, true)
            .await?
            .ok_or_else(|| locale_not_found(code))?;
        if locale.is_default {
            return Err(AppError::Conflict(format!(
                "`{}` is the default locale; make another locale the default first",
                locale.code
            )));
        }
        let kept = Locale::translation_count(conn, &locale.code).await?;
        if kept > 0 {
            return Err(AppError::Conflict(format!(
                "`{}` still has {kept} translations; it cannot be deleted while they exist",
                locale.code
            )));
        }
        Locale::delete(conn, &locale.code)
            .await
            .map_err(|e| crate::db::conflict_on(e, &[]))?;
        Ok(())
    })
    .await?;
    drop(conn);
    locales_written(app).await;
    Ok(())
}

/// Makes a locale the default. The default's text is the catalog's own fields, so a locale that
/// has translations cannot become the default (they would silently stop being editable).
pub async fn set_default_locale(app: &AppState, code: &str) -> AppResult<Locale> {
    let mut conn = app.db.get().await?;
    let locale = conn
        .transaction::<_, AppError, _>(async |conn| {
            // The current default first (two of these at once queue on it), then the target, so
            // a translation write in it either finished (and is counted) or waits and then sees
            // it is the default.
            Locale::lock_default(conn).await?;
            let mut locale = Locale::lock(conn, code, true)
                .await?
                .ok_or_else(|| locale_not_found(code))?;
            let kept = Locale::translation_count(conn, &locale.code).await?;
            if kept > 0 {
                return Err(AppError::Conflict(format!(
                    "`{}` has {kept} translations; the default locale's text is the catalog's \
                     own fields, so move that text into the catalog and remove them first",
                    locale.code
                )));
            }
            Locale::set_default(conn, &locale.code)
                .await
                .map_err(|e| crate::db::conflict_on(e, &[("locales_one_default", "code")]))?;
            locale.is_default = true;
            Ok(locale)
        })
        .await?;
    drop(conn);
    locales_written(app).await;
    Ok(locale)
}

/// One translation to write: the entity, the locale, and the fields (a `null` field removes its
/// translation; an option's `values` maps base values to translations, `null` removing one).
#[derive(Debug, Clone)]
pub struct TranslationWrite {
    /// Which kind of entity.
    pub kind: EntityKind,
    /// Its id.
    pub id: i64,
    /// The locale's code.
    pub locale: String,
    /// Field name → text (or null); `values` → object.
    pub fields: Map<String, Value>,
}

/// Longest text per field.
fn max_chars(field: &str) -> usize {
    match field {
        "description" => 20_000,
        "values" => 100,
        _ => 300,
    }
}

fn check_fields(write: &TranslationWrite) -> AppResult<()> {
    if write.fields.is_empty() {
        return Err(AppError::bad_input("`fields` must name at least one field"));
    }
    let allowed = write.kind.fields();
    for (field, value) in &write.fields {
        if !allowed.contains(&field.as_str()) {
            return Err(AppError::bad_input(format!(
                "`{field}` is not translatable on {} (translatable: {})",
                write.kind.typename(),
                allowed.join(", ")
            )));
        }
        let check = |what: &str, v: &Value| -> AppResult<()> {
            match v {
                Value::Null => Ok(()),
                Value::String(s) => crate::catalog::rules::check_text(what, s, max_chars(field)),
                _ => Err(AppError::bad_input(format!("`{what}` must be text"))),
            }
        };
        match (field.as_str(), value) {
            ("values", Value::Object(map)) => {
                for (base, v) in map {
                    check(&format!("values[{base}]"), v)?;
                }
            }
            ("values", Value::Null) => {}
            ("values", _) => return Err(AppError::bad_input("`values` must be a list")),
            (_, v) => check(field, v)?,
        }
    }
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct Owner {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    product_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    handle: Option<String>,
}

/// The entities of `kind` among `ids` that exist, each with its product (id and handle) for the
/// product-shown kinds.
async fn owners(
    conn: &mut AsyncPgConnection,
    kind: EntityKind,
    ids: Vec<i64>,
) -> AppResult<HashMap<i64, Owner>> {
    // `FOR KEY SHARE`: an entity being deleted waits for this write (and its trigger then deletes
    // the translation), or this write waits and finds it gone; never an orphan.
    let sql = match kind {
        EntityKind::Product => {
            "SELECT p.id, p.id AS product_id, p.handle FROM products p WHERE p.id = ANY($1) FOR KEY SHARE"
        }
        EntityKind::Variant => {
            "SELECT v.id, p.id AS product_id, p.handle FROM product_variants v \
             JOIN products p ON p.id = v.product_id WHERE v.id = ANY($1) FOR KEY SHARE"
        }
        EntityKind::Option => {
            "SELECT o.id, p.id AS product_id, p.handle FROM product_options o \
             JOIN products p ON p.id = o.product_id WHERE o.id = ANY($1) FOR KEY SHARE"
        }
        EntityKind::Category => {
            "SELECT id, NULL::bigint AS product_id, NULL::text AS handle FROM categories WHERE id = ANY($1) FOR KEY SHARE"
        }
        EntityKind::Collection => {
            "SELECT id, NULL::bigint AS product_id, NULL::text AS handle FROM collections WHERE id = ANY($1) FOR KEY SHARE"
        }
        EntityKind::Banner => {
            "SELECT id, NULL::bigint AS product_id, NULL::text AS handle FROM hero_banners WHERE id = ANY($1) FOR KEY SHARE"
        }
    };
    let rows: Vec<Owner> = diesel::sql_query(sql)
        .bind::<Array<BigInt>, _>(ids)
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(|o| (o.id, o)).collect())
}

/// The values each option has (to check `values` names only real ones).
async fn option_values(
    conn: &mut AsyncPgConnection,
    option_ids: Vec<i64>,
) -> AppResult<HashMap<i64, BTreeSet<String>>> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        option_id: i64,
        #[diesel(sql_type = Text)]
        value: String,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT option_id, value FROM product_option_values WHERE option_id = ANY($1)",
    )
    .bind::<Array<BigInt>, _>(option_ids)
    .load(conn)
    .await?;
    let mut out: HashMap<i64, BTreeSet<String>> = HashMap::new();
    for r in rows {
        out.entry(r.option_id).or_default().insert(r.value);
    }
    Ok(out)
}

/// What one locale's writes made stale.
#[derive(Default)]
struct Stale {
    families: BTreeSet<Family>,
    entities: BTreeSet<String>,
    products: BTreeSet<i64>,
    banners: BTreeSet<i64>,
}

/// Writes translations (all or none), then makes stale exactly the affected entities' and
/// families' reads in each written locale, and tells staff subscribers.
pub async fn upsert_translations(
    app: &AppState,
    writes: Vec<TranslationWrite>,
) -> AppResult<Vec<TranslationRow>> {
    if writes.is_empty() {
        return Err(AppError::bad_input(
            "`input` must hold at least one translation",
        ));
    }
    if writes.len() > MAX_BATCH {
        return Err(AppError::bad_input(format!(
            "at most {MAX_BATCH} translations per call"
        )));
    }
    for write in &writes {
        check_fields(write)?;
    }
    let snapshot = app.locales.snapshot(&app.db).await;
    let mut writes = writes;
    for write in &mut writes {
        let locale = snapshot.find(&write.locale).ok_or_else(|| {
            AppError::bad_input(format!(
                "`{}` is not one of the store's locales",
                write.locale.chars().take(35).collect::<String>()
            ))
        })?;
        if locale.is_default {
            return Err(AppError::bad_input(format!(
                "`{}` is the default locale: its text is the {}'s own fields; update those instead",
                locale.code,
                write.kind.typename()
            )));
        }
        write.locale = locale.code.clone();
    }
    // One order for every import (stable: writes to the same row keep theirs), so two imports
    // touching the same rows lock them in the same order and cannot deadlock; the answer keeps
    // the caller's order.
    let mut order: Vec<usize> = (0..writes.len()).collect();
    order.sort_by(|&a, &b| {
        let key = |w: &TranslationWrite| (w.kind.sql(), w.id, w.locale.clone());
        key(&writes[a]).cmp(&key(&writes[b]))
    });
    let mut conn = app.db.get().await?;
    let (rows, stale) = conn
        .transaction::<_, AppError, _>(async |conn| {
            // This instance's copy may be behind another's locale write: check again, and hold
            // the locales (`FOR SHARE`) until the translations are committed.
            let codes: BTreeSet<&str> = writes.iter().map(|w| w.locale.as_str()).collect();
            for code in codes {
                match Locale::lock(conn, code, false).await? {
                    None => {
                        return Err(AppError::bad_input(format!(
                            "`{code}` is not one of the store's locales"
                        )));
                    }
                    Some(l) if l.is_default => {
                        return Err(AppError::bad_input(format!(
                            "`{code}` is the default locale: its text is the entity's own fields"
                        )));
                    }
                    Some(_) => {}
                }
            }
            let mut by_kind: BTreeMap<&str, (EntityKind, Vec<i64>)> = BTreeMap::new();
            for w in &writes {
                by_kind
                    .entry(w.kind.sql())
                    .or_insert((w.kind, Vec::new()))
                    .1
                    .push(w.id);
            }
            let mut found: HashMap<(&str, i64), Owner> = HashMap::new();
            for (sql, (kind, ids)) in by_kind {
                for (id, owner) in owners(conn, kind, ids).await? {
                    found.insert((sql, id), owner);
                }
            }
            let option_ids: Vec<i64> = writes
                .iter()
                .filter(|w| w.kind == EntityKind::Option && w.fields.contains_key("values"))
                .map(|w| w.id)
                .collect();
            let values = if option_ids.is_empty() {
                HashMap::new()
            } else {
                option_values(conn, option_ids).await?
            };
            let mut stale: BTreeMap<String, Stale> = BTreeMap::new();
            let mut rows = Vec::with_capacity(writes.len());
            for &i in &order {
                let w = &writes[i];
                let owner = found
                    .get(&(w.kind.sql(), w.id))
                    .ok_or_else(|| crate::catalog::rules::not_found(w.kind.typename(), w.id))?;
                if let Some(Value::Object(map)) = w.fields.get("values") {
                    let known = values.get(&w.id);
                    if let Some(unknown) =
                        map.keys().find(|v| !known.is_some_and(|k| k.contains(*v)))
                    {
                        return Err(AppError::bad_input(format!(
                            "option {} has no value `{}`",
                            crate::graphql::ids::to_global("ProductOption", w.id).0,
                            unknown.chars().take(100).collect::<String>()
                        )));
                    }
                }
                let fields = Value::Object(w.fields.clone());
                let stored = TranslationRow::upsert(conn, w.kind.sql(), w.id, &w.locale, &fields)
                    .await
                    .map_err(|e| crate::db::conflict_on(e, &[]))?;
                // A translation left without fields is removed: answer it empty.
                rows.push((
                    i,
                    stored.unwrap_or_else(|| TranslationRow {
                        entity_type: w.kind.sql().to_owned(),
                        entity_id: w.id,
                        locale: w.locale.clone(),
                        fields: Value::Object(Map::new()),
                        updated_at: chrono::Utc::now(),
                    }),
                ));
                let s = stale.entry(w.locale.clone()).or_default();
                match w.kind {
                    EntityKind::Product | EntityKind::Variant | EntityKind::Option => {
                        s.families.insert(Family::Products);
                        if let Some(product) = owner.product_id {
                            s.entities.extend(keys::product_entities(
                                Some(product),
                                owner.handle.as_deref(),
                            ));
                            s.products.insert(product);
                        }
                    }
                    EntityKind::Category => {
                        s.families.insert(Family::Categories);
                    }
                    EntityKind::Collection => {
                        s.families.insert(Family::Collections);
                    }
                    EntityKind::Banner => {
                        s.families.insert(Family::Banners);
                        s.banners.insert(w.id);
                    }
                }
            }
            rows.sort_by_key(|(i, _)| *i);
            let rows: Vec<TranslationRow> = rows.into_iter().map(|(_, row)| row).collect();
            Ok((rows, stale))
        })
        .await?;
    drop(conn);
    for (locale, s) in stale {
        let families: Vec<Family> = s.families.into_iter().collect();
        let entities: Vec<String> = s.entities.into_iter().collect();
        app.invalidate_translations(&locale, &families, &entities)
            .await;
        for id in s.products {
            app.events
                .publish(DomainEvent::Product {
                    id,
                    action: ProductAction::Updated,
                })
                .await;
        }
        if !s.banners.is_empty() {
            app.events
                .publish(DomainEvent::Banner {
                    ids: s.banners.into_iter().collect(),
                    action: BannerAction::Updated,
                })
                .await;
        }
    }
    Ok(rows)
}

/// Every stored translation of one entity (staff).
pub async fn translations_of(
    app: &AppState,
    kind: EntityKind,
    id: i64,
) -> AppResult<Vec<TranslationRow>> {
    app.read(move |conn| {
        Box::pin(async move { Ok(TranslationRow::of_entity(conn, kind.sql(), id).await?) })
    })
    .await
}
