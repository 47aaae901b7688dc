//! What can be translated, and a translation as reads carry it: the fields one entity has in the
//! request's locale (joined by the same statement that loads the entity), each falling back to
//! the entity's own column (the default locale) when missing.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The kinds of entity that have translations, with their translatable fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityKind {
    /// `Product`: title, subtitle, description.
    Product,
    /// `ProductVariant`: title.
    Variant,
    /// `ProductOption`: title, and its values (`values`: base value → translated value).
    Option,
    /// `Category`: name, description.
    Category,
    /// `Collection`: title, description.
    Collection,
    /// `HeroBanner`: title, subtitle, ctaText.
    Banner,
}

impl EntityKind {
    /// The `translations.entity_type` value.
    pub const fn sql(self) -> &'static str {
        match self {
            Self::Product => "product",
            Self::Variant => "variant",
            Self::Option => "option",
            Self::Category => "category",
            Self::Collection => "collection",
            Self::Banner => "banner",
        }
    }

    /// The GraphQL type its global IDs name.
    pub const fn typename(self) -> &'static str {
        match self {
            Self::Product => "Product",
            Self::Variant => "ProductVariant",
            Self::Option => "ProductOption",
            Self::Category => "Category",
            Self::Collection => "Collection",
            Self::Banner => "HeroBanner",
        }
    }

    /// Every kind.
    pub const ALL: [EntityKind; 6] = [
        Self::Product,
        Self::Variant,
        Self::Option,
        Self::Category,
        Self::Collection,
        Self::Banner,
    ];

    /// The kind whose global IDs name `typename`.
    pub fn of_typename(typename: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.typename() == typename)
    }

    /// The fields a translation of this kind may hold (GraphQL field names).
    pub const fn fields(self) -> &'static [&'static str] {
        match self {
            Self::Product => &["title", "subtitle", "description"],
            Self::Variant => &["title"],
            Self::Option => &["title", "values"],
            Self::Category => &["name", "description"],
            Self::Collection => &["title", "description"],
            Self::Banner => &["title", "subtitle", "ctaText"],
        }
    }
}

/// The translated fields of one entity in one locale (a JSON object of strings; an option's
/// `values` is an object from base value to translated value).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Translation(pub Map<String, Value>);

impl Translation {
    /// From the joined `translations.fields` column (`None` when the entity has no row).
    pub fn from_column(fields: Option<Value>) -> Option<Self> {
        match fields? {
            Value::Object(map) if !map.is_empty() => Some(Self(map)),
            _ => None,
        }
    }

    /// The translated text of `field`, if any.
    pub fn text(&self, field: &str) -> Option<&str> {
        self.0.get(field)?.as_str()
    }

    /// The translation of one option value, if any.
    pub fn value_of(&self, value: &str) -> Option<&str> {
        self.0.get("values")?.get(value)?.as_str()
    }

    /// Whether `field` is translated (for an option's `values`: whether any value is).
    pub fn has(&self, field: &str) -> bool {
        match self.0.get(field) {
            Some(Value::String(_)) => true,
            Some(Value::Object(map)) => !map.is_empty(),
            _ => false,
        }
    }
}

/// `field` in the request's language: the translation when it has one, else the entity's own.
pub fn pick<'a>(translation: Option<&'a Translation>, field: &str, own: &'a str) -> &'a str {
    translation.and_then(|t| t.text(field)).unwrap_or(own)
}

/// [`pick`] for a nullable field.
pub fn pick_opt<'a>(
    translation: Option<&'a Translation>,
    field: &str,
    own: Option<&'a str>,
) -> Option<&'a str> {
    translation.and_then(|t| t.text(field)).or(own)
}

/// A row with its translation in the request's locale (`None`: none, or the default locale).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Localized<T> {
    /// The row (the default locale's text).
    pub row: T,
    /// Its translated fields.
    pub translation: Option<Translation>,
}

impl<T> Localized<T> {
    /// Pairs rows with the `translations.fields` their statement joined.
    pub fn from_pairs(rows: Vec<(T, Option<Value>)>) -> Vec<Self> {
        rows.into_iter()
            .map(|(row, fields)| Self {
                row,
                translation: Translation::from_column(fields),
            })
            .collect()
    }

    /// `field` in the request's language (see [`pick`]).
    pub fn text<'a>(&'a self, field: &str, own: &'a str) -> &'a str {
        pick(self.translation.as_ref(), field, own)
    }

    /// `field` in the request's language, nullable (see [`pick_opt`]).
    pub fn text_opt<'a>(&'a self, field: &str, own: Option<&'a str>) -> Option<&'a str> {
        pick_opt(self.translation.as_ref(), field, own)
    }
}

/// Loads `select` from `source` with each row's translation in `locale`, as `(row, fields)`
/// pairs (`((a, b), fields)` for a `[a_expr, b_expr] as (a, b)` selection); `|q| …` finishes the query (filters,
/// order, limit) on the selected source. It is not a closure: its body is written into both
/// branches, so `?` and `return` act on the calling function, which must import
/// `diesel::prelude::*`:
///
/// ```ignore
/// let rows = load_translated!(conn, locale, products::table, (products::id, EntityKind::Product),
///     Product::as_select(), |q| q.filter(products::id.eq_any(ids)));
/// ```
///
/// In the default locale (`""`), which has no translations, the join is left out: joined on
/// `locale = ''`, a value PostgreSQL's statistics know matches nothing, a kept statement got a
/// custom plan at every execution instead of one generic plan (`pg_prepared_statements`), and
/// the default locale is most of the storefront's traffic.
#[macro_export]
macro_rules! load_translated {
    // A placeholder type per named column (for the row types below).
    (@any $v:ident) => { _ };
    // A row from its named columns: the value itself for one, a tuple for several.
    (@row $v:ident) => { $v };
    (@row $($v:ident),+) => { ($($v),+) };
    // Columns or selectables named for the rows: `[a_expr, b_expr] as (a, b)`. Diesel reads them
    // as one flat tuple (a selectable in a tuple nested in a tuple is not a row it can read).
    ($conn:expr, $locale:expr, $source:expr, ($id:expr, $kind:expr), [$($s:expr),+ $(,)?] as ($($v:ident),+), |$q:ident| $rest:expr) => {{
        let locale: &str = $locale;
        if locale.is_empty() {
            let $q = $source.select(($($s,)+));
            let rows: ::std::vec::Vec<($($crate::load_translated!(@any $v),)+)> =
                ::diesel_async::RunQueryDsl::load($rest, $conn).await?;
            rows.into_iter()
                .map(|($($v,)+)| ($crate::load_translated!(@row $($v),+), None))
                .collect()
        } else {
            let $q = $source
                .left_join($crate::translation_of!($id, $kind, locale))
                .select(($($s,)+ $crate::db::schema::translations::fields.nullable()));
            let rows: ::std::vec::Vec<(
                $($crate::load_translated!(@any $v),)+
                ::std::option::Option<::serde_json::Value>,
            )> = ::diesel_async::RunQueryDsl::load($rest, $conn).await?;
            rows.into_iter()
                .map(|($($v,)+ fields)| ($crate::load_translated!(@row $($v),+), fields))
                .collect()
        }
    }};
    // One selectable: rows come back as `(row, fields)`.
    ($conn:expr, $locale:expr, $source:expr, ($id:expr, $kind:expr), $select:expr, |$q:ident| $rest:expr) => {
        $crate::load_translated!($conn, $locale, $source, ($id, $kind), [$select] as (row), |$q| $rest)
    };
}

/// The join of an entity's translation in one locale, for Diesel queries:
/// `table.left_join(translation_of!(products::id, EntityKind::Product, locale))`. Reads use
/// [`load_translated!`], which leaves it out in the default locale.
#[macro_export]
macro_rules! translation_of {
    ($id:expr, $kind:expr, $locale:expr) => {
        $crate::db::schema::translations::table.on($crate::db::schema::translations::entity_type
            .eq($kind.sql())
            .and($crate::db::schema::translations::entity_id.eq($id))
            .and($crate::db::schema::translations::locale.eq($locale)))
    };
}
