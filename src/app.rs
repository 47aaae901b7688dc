//! The HTTP router: every route of the server, used by `serve` and the tests. It sits on top of
//! everything (state, GraphQL wiring, domains' handlers); nothing imports it back.

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;

use crate::graphql::apq::PersistedQueries;
use crate::graphql::documents::Documents;
use crate::graphql::http::GraphqlState;
use crate::graphql::{graphiql, http as gql_http, schema};
use crate::state::AppState;
use crate::{http, storage};

/// Request body allowance beside the largest upload (the operations and map parts).
const BODY_OVERHEAD_BYTES: usize = 256 * 1024;

/// Every route of the server.
pub fn build_router(app: AppState) -> Router {
    // Before the first request, so it is counted.
    crate::http::metrics::install();
    let gql = GraphqlState {
        schemas: schema::build_schemas(app.clone()),
        app: app.clone(),
        apq: Arc::new(PersistedQueries::default()),
        documents: Arc::new(Documents::new(app.config.limits)),
        hot: Arc::default(),
    };
    let graphql = Router::new()
        .route(
            "/graphql",
            get(gql_http::graphql_get).post(gql_http::graphql_post),
        )
        .route("/graphql/ws", get(crate::graphql::ws::graphql_ws))
        .with_state(gql)
        .layer(axum::extract::DefaultBodyLimit::max(
            app.config.upload_max_bytes + BODY_OVERHEAD_BYTES,
        ));
    let mut router = Router::new().merge(graphql);
    if app.config.graphiql {
        router = router
            .route("/graphiql", get(graphiql::page))
            .route("/graphiql/assets/{name}", get(graphiql::assets));
    }
    let cors = http::cors(&app.config.cors_origins);
    let router = router
        .route("/admin", get(crate::admin_console::page))
        .route("/admin/assets/{name}", get(crate::admin_console::assets))
        .route("/healthz", get(http::healthz))
        .route("/readyz", get(http::readyz).with_state(app.clone()))
        .route("/metrics", get(http::metrics).with_state(app.clone()))
        .route(
            "/webhooks/razorpay",
            axum::routing::post(crate::payments::webhooks::razorpay)
                .with_state(app.clone())
                .layer(axum::extract::DefaultBodyLimit::max(
                    crate::payments::webhooks::MAX_BODY_BYTES,
                )),
        )
        .route(
            "/files/{*path}",
            get(storage::serve_file).with_state(Arc::<Path>::from(app.config.files_dir.as_path())),
        );
    let router = match cors {
        Some(layer) => router.layer(layer),
        None => router,
    };
    // Outermost: every response, refusals by inner layers included, carries its request id.
    router.layer(axum::middleware::from_fn(http::request_id::assign))
}
