//! The store side of localization: the `locales` root, the `@inContext(language:)` operation
//! directive declared in the schema, the request's locale as resolvers read it, and
//! `fieldLocales` (which locale each translatable field came from, computed only when asked).

use std::borrow::Cow;

use async_graphql::registry::{
    __DirectiveLocation, Deprecation, MetaDirective, MetaInputValue, Registry,
};
use async_graphql::{
    Context, CustomDirective, CustomDirectiveFactory, Object, Result, SimpleObject,
};
use async_graphql::{ContextDirective, ServerResult};

use super::fields::{EntityKind, Translation};
use super::model;
use super::negotiate::{DIRECTIVE, RequestLocale};
use super::service;
use crate::cache::Family;
use crate::graphql::context::app;
use crate::graphql::response_cache::{Reads, RootReads};

/// What the root fields below read, for the response cache (see `Reads`).
pub const READS: RootReads = &[("locales", Reads::Families(&[Family::Locales]))];

/// The language this request is answered in: attached by the HTTP handler; the store's default
/// where none is (WebSocket operations).
pub fn request_locale(ctx: &Context<'_>) -> RequestLocale {
    if let Some(locale) = ctx.data_opt::<RequestLocale>() {
        return locale.clone();
    }
    match app(ctx) {
        Ok(app) => RequestLocale::default_of(&app.locales.peek()),
        Err(_) => RequestLocale::default_of(&super::registry::Snapshot::default()),
    }
}

/// A language the store is offered in.
pub struct Locale(pub model::Locale);

#[Object(cache_control(max_age = 300))]
impl Locale {
    /// BCP 47 code (`hi-IN`).
    async fn code(&self) -> &str {
        &self.0.code
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Whether this is the store's default (the language of the catalog's own text).
    async fn default(&self) -> bool {
        self.0.is_default
    }
}

/// Storefront locale queries (public).
#[derive(Default)]
pub struct LocalesQuery;

#[Object]
impl LocalesQuery {
    /// The languages the store is offered in, the default first.
    #[graphql(cache_control(max_age = 300))]
    async fn locales(&self, ctx: &Context<'_>) -> Result<Vec<Locale>> {
        let rows = service::locales(app(ctx)?).await?;
        Ok(rows.into_iter().map(Locale).collect())
    }
}

/// Which locale one translatable field of an object came from.
#[derive(SimpleObject, Clone, Debug, PartialEq, Eq)]
pub struct FieldLocale {
    /// The field (`title`).
    pub field: String,
    /// The locale its text is in: the request's when translated, else the default.
    pub locale: String,
}

/// The `fieldLocales` of an object of `kind` with `translation` in the request's locale.
pub fn field_locales(
    ctx: &Context<'_>,
    kind: EntityKind,
    translation: Option<&Translation>,
) -> Vec<FieldLocale> {
    let locale = request_locale(ctx);
    kind.fields()
        .iter()
        .map(|field| FieldLocale {
            field: (*field).to_owned(),
            locale: if translation.is_some_and(|t| t.has(field)) {
                locale.code.to_string()
            } else {
                locale.default_code.to_string()
            },
        })
        .collect()
}

/// `@inContext(language:)` on a query or mutation: answers it in that locale. Declared so that
/// clients' tooling and validation know it; read by the HTTP handler before execution (it
/// changes the response-cache key), never executed on a field.
pub struct InContextDirective;

struct Inert;

impl CustomDirective for Inert {}

impl CustomDirectiveFactory for InContextDirective {
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(DIRECTIVE)
    }

    fn register(&self, registry: &mut Registry) {
        let mut args = async_graphql::indexmap::IndexMap::new();
        args.insert(
            "language".to_owned(),
            MetaInputValue {
                name: "language".to_owned(),
                description: Some(
                    "A store locale code (see `locales`), e.g. \"hi-IN\"; wins over the \
                     `locale` URL argument and `Accept-Language`."
                        .to_owned(),
                ),
                ty: "String!".to_owned(),
                deprecation: Deprecation::NoDeprecated,
                default_value: None,
                visible: None,
                inaccessible: false,
                tags: Vec::new(),
                is_secret: false,
                directive_invocations: Vec::new(),
            },
        );
        registry.add_directive(MetaDirective {
            name: DIRECTIVE.to_owned(),
            description: Some(
                "Answers the operation in this language (Shopify's `@inContext`).".to_owned(),
            ),
            locations: vec![__DirectiveLocation::QUERY, __DirectiveLocation::MUTATION],
            args,
            is_repeatable: false,
            visible: None,
            composable: None,
        });
    }

    fn create(
        &self,
        _ctx: &ContextDirective<'_>,
        _directive: &async_graphql::parser::types::Directive,
    ) -> ServerResult<Box<dyn CustomDirective>> {
        Ok(Box::new(Inert))
    }
}
