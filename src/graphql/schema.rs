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
use crate::graphql::cost::{Admission, AdmitOnly, MeasuredDocument, RequestGuard, bucket_owner};
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
    // async-graphql's own check of fragment chains' depth (walked unmemoised) never runs on the
    // guard's schemas: the guard's parse step replaces it with its own measure (`cost.rs`), and a
    // document that measure admitted must also run on the schema without the guard.
    .limit_recursive_depth(usize::MAX)
    .limit_directives(MAX_DIRECTIVES)
    .directive(InContextDirective)
}

/// The schema bound to the application state, three ways over one set of types.
///
/// async-graphql runs every field of a schema with extensions through their chain (per field, a
/// `ResolveInfo` and a boxed future per extension), although none of ours looks at fields: that
/// chain was ~15 % of the uncached listing's CPU (`bench/S2-profile.md`). So HTTP, where we drive
/// execution, checks a request on `admit` (the guard alone, stopping before execution) and runs
/// it on `run` (no extensions), doing the loaders, batching, request ids and cost report itself;
/// the WebSocket, where async-graphql-axum drives execution, uses `full`.
#[derive(Clone)]
pub struct Schemas {
    /// Every request-level step as an extension (the WebSocket's).
    pub full: AppSchema,
    /// The request guard's admission alone.
    admit: AppSchema,
    /// No extensions: runs what `admit` let through.
    run: AppSchema,
}

/// Builds the three schemas (see [`Schemas`]).
pub fn build_schemas(app: AppState) -> Schemas {
    let finish = |builder: async_graphql::SchemaBuilder<_, _, _>| {
        let builder = builder.data(app.clone());
        if app.config.introspection {
            builder.finish()
        } else {
            builder
                .disable_introspection()
                .disable_suggestions()
                .finish()
        }
    };
    Schemas {
        full: finish(
            builder()
                .extension(RequestGuard { app: app.clone() })
                .extension(DomainLoaders)
                .extension(OperationIds),
        ),
        admit: finish(builder().extension(AdmitOnly { app: app.clone() })),
        run: finish(builder()),
    }
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
        next.run(ctx, with_loaders(app, request, &self.dispatcher))
            .await
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

/// Attaches the request's catalog loaders, batched by `dispatcher`, in the request's language
/// (chosen by the HTTP handler; the default elsewhere): every catalog statement joins its
/// translations.
fn with_loaders(app: &AppState, request: Request, dispatcher: &Arc<Dispatcher>) -> Request {
    let locale = request_datum::<RequestLocale>(&request)
        .unwrap_or_else(|| RequestLocale::default_of(&app.locales.peek()));
    request.data(CatalogLoaders::new(&app.db, dispatcher, locale))
}

/// A copy of the request data of type `T`, if the request carries one.
fn request_datum<T: Clone + Send + Sync + 'static>(request: &Request) -> Option<T> {
    request
        .data
        .get(&std::any::TypeId::of::<T>())
        .and_then(|d| d.downcast_ref::<T>())
        .cloned()
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

/// Executes one HTTP request with its context: admitted (limits, validation, cost, throttle),
/// then run without extensions, with fresh loaders batched whenever execution is idle; its
/// server-side errors carry the request's id, and the charge is settled (refund, `extensions.cost`).
pub async fn execute(
    schemas: &Schemas,
    app: &AppState,
    request: Request,
    context: RequestContext,
) -> Response {
    let owner = bucket_owner(Some(&context));
    let admission = Admission::default();
    let measured = request_datum::<MeasuredDocument>(&request);
    let mut check = Request::new(request.query.clone())
        .variables(request.variables.clone())
        .data(context.clone())
        .data(admission.clone());
    if let Some(measured) = &measured {
        check = check.data(measured.clone());
    }
    check.operation_name.clone_from(&request.operation_name);
    check.introspection_mode = request.introspection_mode;
    let checked = schemas.admit.execute(check).await;
    let mut response = if checked.errors.is_empty() {
        let dispatcher = Arc::new(Dispatcher::default());
        let mut request = with_loaders(app, request, &dispatcher).data(context);
        if let Some(measured) = measured {
            request.set_parsed_query(measured.0.as_ref().clone());
        }
        BatchScope::new(schemas.run.execute(request), dispatcher).await
    } else {
        checked
    };
    if let Some(id) = request_id::current() {
        request_id::tag_server_errors(&mut response.errors, &id);
    }
    admission.settle(app, &owner, &mut response).await;
    response
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
