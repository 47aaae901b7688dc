//! Staff locale and translation management (catalog permission).

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::fields::EntityKind;
use super::graphql::Locale;
use super::model::TranslationRow;
use super::service::{self, TranslationWrite};
use crate::auth::{Permission, RequirePermission};
use crate::error::AppError;
use crate::graphql::context::app;
use crate::graphql::ids::{from_global, to_global};
use crate::graphql::response_cache::{Reads, RootReads};

/// What the root fields below read, for the response cache (see `Reads`).
pub const READS: RootReads = &[("translations", Reads::Private)];

/// One option value's translation.
#[derive(InputObject, Clone, Debug)]
pub struct OptionValueTranslationInput {
    /// The value as the catalog has it (`Small`).
    pub value: String,
    /// Its translation (`छोटा`); null removes it.
    pub translation: Option<String>,
}

/// Translated fields; only those of the entity's type may be given (Product: title, subtitle,
/// description; ProductVariant: title; ProductOption: title, values; Category: name,
/// description; Collection: title, description; HeroBanner: title, subtitle, ctaText). An
/// omitted field is left as it is; `null` removes its translation (the default shows again).
#[derive(InputObject, Clone, Debug, Default)]
pub struct TranslationFieldsInput {
    /// Title.
    pub title: MaybeUndefined<String>,
    /// Subtitle.
    pub subtitle: MaybeUndefined<String>,
    /// Description.
    pub description: MaybeUndefined<String>,
    /// Name (categories).
    pub name: MaybeUndefined<String>,
    /// Call-to-action text (banners).
    pub cta_text: MaybeUndefined<String>,
    /// Option values (product options), merged value by value.
    pub values: MaybeUndefined<Vec<OptionValueTranslationInput>>,
}

impl TranslationFieldsInput {
    fn into_map(self) -> Map<String, Value> {
        let mut map = Map::new();
        let mut text = |name: &str, v: MaybeUndefined<String>| match v {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => {
                map.insert(name.to_owned(), Value::Null);
            }
            MaybeUndefined::Value(s) => {
                map.insert(name.to_owned(), Value::String(s));
            }
        };
        text("title", self.title);
        text("subtitle", self.subtitle);
        text("description", self.description);
        text("name", self.name);
        text("ctaText", self.cta_text);
        match self.values {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => {
                map.insert("values".to_owned(), Value::Null);
            }
            MaybeUndefined::Value(values) => {
                let values: Map<String, Value> = values
                    .into_iter()
                    .map(|v| (v.value, v.translation.map_or(Value::Null, Value::String)))
                    .collect();
                map.insert("values".to_owned(), Value::Object(values));
            }
        }
        map
    }
}

/// One translation of a bulk import.
#[derive(InputObject, Clone, Debug)]
pub struct TranslationInput {
    /// The entity (a Product, ProductVariant, ProductOption, Category, Collection or HeroBanner
    /// ID).
    pub entity_id: ID,
    /// The locale (not the default: its text is the entity's own fields).
    pub locale: String,
    /// The fields.
    pub fields: TranslationFieldsInput,
}

fn write_of(
    entity_id: &ID,
    locale: String,
    fields: TranslationFieldsInput,
) -> Result<TranslationWrite> {
    let (typename, id) = from_global(entity_id)?;
    let typename = typename
        .strip_prefix("Admin")
        .unwrap_or(&typename)
        .to_owned();
    let kind = EntityKind::of_typename(&typename).ok_or_else(|| {
        AppError::bad_input(format!(
            "`{typename}` has nothing to translate (translatable: Product, ProductVariant, \
             ProductOption, Category, Collection, HeroBanner)"
        ))
    })?;
    Ok(TranslationWrite {
        kind,
        id,
        locale,
        fields: fields.into_map(),
    })
}

/// An option value's stored translation.
#[derive(SimpleObject, Clone, Debug)]
pub struct OptionValueTranslation {
    /// The value as the catalog has it.
    pub value: String,
    /// Its translation.
    pub translation: String,
}

/// A stored translation (staff).
#[derive(SimpleObject, Clone, Debug)]
pub struct Translation {
    /// The translated entity.
    pub entity_id: ID,
    /// The locale.
    pub locale: String,
    /// Translated title, if any.
    pub title: Option<String>,
    /// Translated subtitle, if any.
    pub subtitle: Option<String>,
    /// Translated description, if any.
    pub description: Option<String>,
    /// Translated name, if any.
    pub name: Option<String>,
    /// Translated call-to-action text, if any.
    pub cta_text: Option<String>,
    /// Translated option values.
    pub values: Vec<OptionValueTranslation>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<TranslationRow> for Translation {
    fn from(row: TranslationRow) -> Self {
        let kind = EntityKind::ALL
            .into_iter()
            .find(|k| k.sql() == row.entity_type)
            .unwrap_or(EntityKind::Product);
        let text = |f: &str| row.fields.get(f).and_then(Value::as_str).map(str::to_owned);
        let values = row
            .fields
            .get("values")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| {
                        Some(OptionValueTranslation {
                            value: k.clone(),
                            translation: v.as_str()?.to_owned(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            entity_id: to_global(kind.typename(), row.entity_id),
            locale: row.locale.clone(),
            title: text("title"),
            subtitle: text("subtitle"),
            description: text("description"),
            name: text("name"),
            cta_text: text("ctaText"),
            values,
            updated_at: row.updated_at,
        }
    }
}

/// Staff translation queries.
#[derive(Default)]
pub struct LocalesAdminQuery;

#[Object]
impl LocalesAdminQuery {
    /// Every stored translation of one entity, by locale.
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn translations(&self, ctx: &Context<'_>, entity_id: ID) -> Result<Vec<Translation>> {
        let write = write_of(&entity_id, String::new(), TranslationFieldsInput::default())?;
        let rows = service::translations_of(app(ctx)?, write.kind, write.id).await?;
        Ok(rows.into_iter().map(Translation::from).collect())
    }
}

/// Staff locale and translation mutations.
#[derive(Default)]
pub struct LocalesMutation;

#[Object]
impl LocalesMutation {
    /// Adds a locale (BCP 47, e.g. `fr-FR`); search in it uses PostgreSQL's dictionary for its
    /// language where there is one.
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn create_locale(&self, ctx: &Context<'_>, code: String, name: String) -> Result<Locale> {
        Ok(Locale(
            service::create_locale(app(ctx)?, &code, &name).await?,
        ))
    }

    /// Renames a locale.
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn update_locale(&self, ctx: &Context<'_>, code: String, name: String) -> Result<Locale> {
        Ok(Locale(
            service::update_locale(app(ctx)?, &code, &name).await?,
        ))
    }

    /// Deletes a locale: never the default, and not while it has translations (`CONFLICT`).
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn delete_locale(&self, ctx: &Context<'_>, code: String) -> Result<String> {
        service::delete_locale(app(ctx)?, &code).await?;
        Ok(code)
    }

    /// Makes a locale the default: the language of the catalog's own fields, and the answer
    /// when a request asks for none the store has. A locale with translations cannot become it.
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn set_default_locale(&self, ctx: &Context<'_>, code: String) -> Result<Locale> {
        Ok(Locale(service::set_default_locale(app(ctx)?, &code).await?))
    }

    /// Writes one entity's translation in one locale (fields merged into what is stored);
    /// visible at once in that locale, other locales' cached reads untouched.
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn upsert_translation(
        &self,
        ctx: &Context<'_>,
        entity_id: ID,
        locale: String,
        fields: TranslationFieldsInput,
    ) -> Result<Translation> {
        let write = write_of(&entity_id, locale, fields)?;
        let mut rows = service::upsert_translations(app(ctx)?, vec![write]).await?;
        let row = rows
            .pop()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("upsert returned no row")))?;
        Ok(row.into())
    }

    /// Writes many translations at once (imports): all or none, at most 500.
    #[graphql(guard = "RequirePermission(Permission::Catalog)")]
    async fn upsert_translations(
        &self,
        ctx: &Context<'_>,
        input: Vec<TranslationInput>,
    ) -> Result<Vec<Translation>> {
        if input.len() > service::MAX_BATCH {
            return Err(AppError::bad_input(format!(
                "at most {} translations per call",
                service::MAX_BATCH
            ))
            .into());
        }
        let writes = input
            .into_iter()
            .map(|t| write_of(&t.entity_id, t.locale, t.fields))
            .collect::<Result<Vec<_>>>()?;
        let rows = service::upsert_translations(app(ctx)?, writes).await?;
        Ok(rows.into_iter().map(Translation::from).collect())
    }
}
