//! Assembles the GraphQL schema from every domain's fragments; the only file that knows them all.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextPrepareRequest,
};
use async_graphql::{
    MergedObject, MergedSubscription, Request, Response, Schema, ServerError, ServerResult,
};

use crate::auth::graphql::{AuthMutation, AuthQuery};
use crate::banners::admin::{BannersAdminQuery, BannersMutation, BannersSubscription};
use crate::banners::graphql::BannersQuery;
use crate::catalog::loaders::CatalogLoaders;
use crate::catalog::{CatalogAdminQuery, CatalogMutation, CatalogQuery, CatalogSubscription};
use crate::customers::admin::{CustomersAdminMutation, CustomersAdminQuery};
use crate::customers::graphql::{CustomersMutation, CustomersQuery};
use crate::jobs::admin::{JobsAdminQuery, JobsMutation};
use crate::locales::admin::{LocalesAdminQuery, LocalesMutation};
use crate::locales::graphql::{InContextDirective, LocalesQuery};
use crate::locales::negotiate::RequestLocale;
use tracing::Instrument;

use crate::carts::graphql::{CartsMutation, CartsQuery};
use crate::graphql::batch::{BatchScope, Dispatcher};
use crate::graphql::context::RequestContext;
use crate::graphql::cost::RequestGuard;
use crate::graphql::node::NodeQuery;
use crate::graphql::response_cache::{Reads, RootReads};
use crate::http::request_id;
use crate::orders::admin::{OrdersAdminQuery, OrdersMutation};
use crate::orders::graphql::{CheckoutMutation, OrdersQuery, OrdersSubscription};
use crate::payments::graphql::PaymentsMutation;
use crate::shipping::admin::{ShippingAdminQuery, ShippingMutation};
use crate::state::AppState;

/// Every query root field.
#[derive(MergedObject, Default)]
pub struct QueryRoot(
    CatalogQuery,
    BannersQuery,
    NodeQuery,
    AuthQuery,
    BannersAdminQuery,
    CatalogAdminQuery,
    CustomersQuery,
    CustomersAdminQuery,
    JobsAdminQuery,
    CartsQuery,
    OrdersQuery,
    OrdersAdminQuery,
    ShippingAdminQuery,
    LocalesQuery,
    LocalesAdminQuery,
);

/// What every root query field reads, as each domain declares it beside its fields (`READS`).
const ROOT_READS: &[&[RootReads]] = &[
    crate::catalog::READS,
    crate::customers::READS,
    &[
        crate::carts::graphql::READS,
        crate::orders::graphql::READS,
        crate::orders::admin::READS,
        crate::shipping::admin::READS,
        crate::jobs::admin::READS,
        crate::banners::graphql::READS,
        crate::banners::admin::READS,
        crate::auth::graphql::READS,
        crate::graphql::node::READS,
        crate::locales::graphql::READS,
        crate::locales::admin::READS,
    ],
];

/// The declared dependencies of root query field `name` (for the response cache).
pub fn root_reads(name: &str) -> Option<Reads> {
    ROOT_READS
        .iter()
        .flat_map(|domain| domain.iter())
        .flat_map(|reads| reads.iter())
        .find(|(field, _)| *field == name)
        .map(|(_, reads)| *reads)
}

/// Every mutation root field: staff sign-in and the admin API, and the customers' account API.
#[derive(MergedObject, Default)]
pub struct MutationRoot(
    AuthMutation,
    BannersMutation,
    CatalogMutation,
    CustomersMutation,
    CustomersAdminMutation,
    JobsMutation,
    CartsMutation,
    CheckoutMutation,
    PaymentsMutation,
    OrdersMutation,
    ShippingMutation,
    LocalesMutation,
);

/// Every subscription root field (all staff-only).
#[derive(MergedSubscription, Default)]
pub struct SubscriptionRoot(BannersSubscription, CatalogSubscription, OrdersSubscription);

/// The application's schema; built once at start-up and cheaply cloneable.
pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Deepest selection nesting a document may have (the deepest store query is about 8).
const MAX_DEPTH: usize = 16;
/// Directives on one field.
const MAX_DIRECTIVES: usize = 8;

fn builder() -> async_graphql::SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    // The cost limit is applied by `RequestGuard` (with its own code and message), not here.
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot::default(),
    )
    .limit_depth(MAX_DEPTH)
    .limit_recursive_depth(64)
    .limit_directives(MAX_DIRECTIVES)
    .directive(InContextDirective)
}

/// The schema bound to the application state, with the request guard (limits, cost, throttle)
/// and the per-request domain loaders; the same for HTTP and WebSocket.
pub fn build_schema(app: AppState) -> AppSchema {
    let mut builder = builder()
        .extension(RequestGuard { app: app.clone() })
        .extension(DomainLoaders)
        .extension(OperationIds)
        .data(app.clone());
    if !app.config.introspection {
        builder = builder.disable_introspection().disable_suggestions();
    }
    builder.finish()
}

/// The schema in SDL, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    let sdl = builder().finish().sdl();
    format!(
        "# Generated by `techpotli schema` from the code. Do not edit: re-run the command.\n\n{sdl}"
    )
}

/// Attaches fresh loaders to every operation (per request, so their caches never leak data
/// between viewers) and batches their calls whenever the execution is idle.
struct DomainLoaders;

impl ExtensionFactory for DomainLoaders {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(LoadersRun {
            dispatcher: Arc::new(Dispatcher::default()),
        })
    }
}

struct LoadersRun {
    dispatcher: Arc<Dispatcher>,
}

#[async_graphql::async_trait::async_trait]
impl Extension for LoadersRun {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let app = ctx
            .data::<AppState>()
            .map_err(|e| ServerError::new(e.message, None))?;
        // The request's language, chosen by the HTTP handler (the default elsewhere): every
        // catalog statement joins its translations.
        let locale = request
            .data
            .get(&std::any::TypeId::of::<RequestLocale>())
            .and_then(|d| d.downcast_ref::<RequestLocale>())
            .cloned()
            .unwrap_or_else(|| RequestLocale::default_of(&app.locales.peek()));
        let request = request.data(CatalogLoaders::new(&app.db, &self.dispatcher, locale));
        next.run(ctx, request).await
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        BatchScope::new(next.run(ctx, operation_name), self.dispatcher.clone()).await
    }
}

/// Names every executed operation: over HTTP by its request's id; over the WebSocket, where
/// operations have no request of their own, by a fresh id, with an `operation` log span and one
/// `executed` line. Either way server-side errors carry the id in `extensions.requestId`.
struct OperationIds;

impl ExtensionFactory for OperationIds {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OperationIds)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for OperationIds {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let Some(id) = request_id::current() {
            let mut response = next.run(ctx, operation_name).await;
            request_id::tag_server_errors(&mut response.errors, &id);
            return response;
        }
        let id = request_id::generate();
        let span = tracing::info_span!(
            "operation",
            id = %id,
            name = operation_name.unwrap_or(""),
            transport = "ws"
        );
        let started = std::time::Instant::now();
        let mut response = next.run(ctx, operation_name).instrument(span.clone()).await;
        request_id::tag_server_errors(&mut response.errors, &id);
        crate::http::metrics::record_operation(
            operation_name,
            "ws",
            "bypass",
            200,
            started.elapsed(),
        );
        tracing::info!(
            parent: &span,
            errors = response.errors.len(),
            micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "executed"
        );
        response
    }
}

/// Executes one request with its context.
pub async fn execute(schema: &AppSchema, request: Request, context: RequestContext) -> Response {
    schema.execute(request.data(context)).await
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};

    use super::*;

    /// Every root query field declares what it reads, once; no declaration names a missing field.
    #[test]
    fn every_root_query_field_declares_what_it_reads() {
        let doc = async_graphql::parser::parse_schema(sdl()).expect("the SDL parses");
        let fields: Vec<String> = doc
            .definitions
            .iter()
            .find_map(|d| match d {
                TypeSystemDefinition::Type(t) if t.node.name.node.as_str() == "QueryRoot" => {
                    match &t.node.kind {
                        TypeKind::Object(o) => Some(
                            o.fields
                                .iter()
                                .map(|f| f.node.name.node.to_string())
                                .collect(),
                        ),
                        _ => None,
                    }
                }
                _ => None,
            })
            .expect("QueryRoot is in the SDL");
        let declared: Vec<&str> = ROOT_READS
            .iter()
            .flat_map(|domain| domain.iter())
            .flat_map(|reads| reads.iter())
            .map(|(field, _)| *field)
            .collect();
        for field in &fields {
            let n = declared.iter().filter(|d| **d == field.as_str()).count();
            assert_eq!(
                n, 1,
                "root field `{field}` must declare its `Reads` exactly once"
            );
        }
        for name in &declared {
            assert!(
                fields.iter().any(|f| f == name),
                "`{name}` is declared but the schema has no such root field"
            );
        }
    }
}
