//! `/graphql` over HTTP, following the GraphQL-over-HTTP spec: POST (JSON or multipart) and GET
//! (`query`, `variables`, `operationName`, `extensions` in the URL; queries only). The response is
//! `application/graphql-response+json` when the client accepts it (with 4xx for request errors),
//! `application/json` otherwise (200 for every well-formed request).

use async_graphql::http::MultipartOptions;
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{Request, Response as GqlResponse, ServerError};
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use futures_util::TryStreamExt;
use serde::Deserialize;

use crate::app::AppState;
use crate::graphql::context::RequestContext;
use crate::graphql::schema::{self, AppSchema};

/// Media type of GraphQL-over-HTTP responses.
pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// Router state of the GraphQL endpoints.
#[derive(Clone)]
pub struct GraphqlState {
    /// Shared services.
    pub app: AppState,
    /// The schema, built once.
    pub schema: AppSchema,
}

/// The GraphQL-over-HTTP GET parameters.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParams {
    query: Option<String>,
    variables: Option<String>,
    operation_name: Option<String>,
    extensions: Option<String>,
}

/// Which response media type the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    GraphqlResponseJson,
    Json,
}

fn negotiate(headers: &HeaderMap) -> Flavor {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Clients that list both usually prefer the newer type first (graphql-http's audit does).
    let gql = accept.find(GRAPHQL_RESPONSE_JSON);
    let json = accept.find("application/json");
    match (gql, json) {
        (Some(g), Some(j)) if g < j => Flavor::GraphqlResponseJson,
        (Some(_), None) => Flavor::GraphqlResponseJson,
        _ => Flavor::Json,
    }
}

/// A request that could not be turned into a GraphQL request: 400 in both flavors.
fn request_error(flavor: Flavor, status: StatusCode, message: impl Into<String>) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message.into(), "extensions": { "code": "BAD_REQUEST" } }]
    });
    json_response(flavor, status, &body)
}

fn json_response(flavor: Flavor, status: StatusCode, body: &impl serde::Serialize) -> Response {
    let content_type = match flavor {
        Flavor::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
        Flavor::Json => "application/json; charset=utf-8",
    };
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// `GET /graphql`.
pub async fn graphql_get(
    State(state): State<GraphqlState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let flavor = negotiate(&headers);
    let params: GetParams = match serde_urlencoded::from_str(raw.as_deref().unwrap_or("")) {
        Ok(p) => p,
        Err(e) => {
            return request_error(
                flavor,
                StatusCode::BAD_REQUEST,
                format!("malformed query string: {e}"),
            );
        }
    };
    let parse_json = |name: &str, text: Option<String>| -> Result<serde_json::Value, String> {
        match text {
            None => Ok(serde_json::Value::Null),
            Some(t) => serde_json::from_str(&t).map_err(|e| format!("invalid `{name}`: {e}")),
        }
    };
    let Some(query) = params.query else {
        return request_error(flavor, StatusCode::BAD_REQUEST, "missing `query` parameter");
    };
    let variables = match parse_json("variables", params.variables) {
        Ok(v) => v,
        Err(message) => return request_error(flavor, StatusCode::BAD_REQUEST, message),
    };
    let extensions = match parse_json("extensions", params.extensions) {
        Ok(v) => v,
        Err(message) => return request_error(flavor, StatusCode::BAD_REQUEST, message),
    };
    let mut request = Request::new(query);
    request.operation_name = params.operation_name;
    if !variables.is_null() {
        request.variables = async_graphql::Variables::from_json(variables);
    }
    if let serde_json::Value::Object(map) = extensions {
        for (k, v) in map {
            if let Ok(v) = async_graphql::Value::from_json(v) {
                request.extensions.insert(k, v);
            }
        }
    }
    execute(state, Method::GET, flavor, request).await
}

/// `POST /graphql` (JSON body, or a multipart upload request).
pub async fn graphql_post(
    State(state): State<GraphqlState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let flavor = negotiate(&headers);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let is_supported = content_type.as_deref().is_some_and(|ct| {
        let ct = ct.to_ascii_lowercase();
        ct.starts_with("application/json")
            || ct.starts_with("multipart/form-data")
            || ct.starts_with("application/graphql-response+json")
    });
    if !is_supported {
        return request_error(
            flavor,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "POST /graphql takes `Content-Type: application/json` (or multipart/form-data for uploads)",
        );
    }
    let stream = body
        .into_data_stream()
        .map_err(std::io::Error::other)
        .into_async_read();
    let request =
        match async_graphql::http::receive_body(content_type, stream, MultipartOptions::default())
            .await
        {
            Ok(r) => r,
            Err(e) => {
                return request_error(
                    flavor,
                    StatusCode::BAD_REQUEST,
                    format!("malformed GraphQL request: {e}"),
                );
            }
        };
    execute(state, Method::POST, flavor, request).await
}

/// The operation the request will run, when the document parses: mutations must not run on GET.
fn operation_type(doc: &ExecutableDocument, operation_name: Option<&str>) -> Option<OperationType> {
    let op = match operation_name {
        Some(name) => {
            doc.operations
                .iter()
                .find(|(n, _)| n.is_some_and(|n| n.as_str() == name))?
                .1
        }
        None => doc.operations.iter().next()?.1,
    };
    Some(op.node.ty)
}

async fn execute(
    state: GraphqlState,
    method: Method,
    flavor: Flavor,
    request: Request,
) -> Response {
    let document = async_graphql::parser::parse_query(&request.query).ok();
    let ty = document
        .as_ref()
        .and_then(|d| operation_type(d, request.operation_name.as_deref()));
    if method == Method::GET && ty.is_some_and(|t| t != OperationType::Query) {
        let mut response = request_error(
            flavor,
            StatusCode::METHOD_NOT_ALLOWED,
            "only queries may be sent over GET; use POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let response = schema::execute(
        &state.schema,
        &state.app,
        request,
        RequestContext::default(),
    )
    .await;
    graphql_response(flavor, response, document.is_some())
}

/// A response with no data and only request-level errors (parse, validation, unknown operation).
fn is_request_error(response: &GqlResponse) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response
            .errors
            .iter()
            .all(|e: &ServerError| e.path.is_empty())
}

fn graphql_response(flavor: Flavor, mut response: GqlResponse, parsed: bool) -> Response {
    if is_request_error(&response) {
        // Request errors come from async-graphql itself; label them as Apollo clients expect.
        let code = if parsed {
            "GRAPHQL_VALIDATION_FAILED"
        } else {
            "GRAPHQL_PARSE_FAILED"
        };
        for error in &mut response.errors {
            let has_code = error
                .extensions
                .as_ref()
                .is_some_and(|e| e.get("code").is_some());
            if !has_code {
                error
                    .extensions
                    .get_or_insert_with(Default::default)
                    .set("code", code);
            }
        }
        let status = match flavor {
            Flavor::GraphqlResponseJson => StatusCode::BAD_REQUEST,
            Flavor::Json => StatusCode::OK,
        };
        // Per the spec a request error has no `data` entry at all.
        let body = serde_json::json!({ "errors": response.errors });
        return json_response(flavor, status, &body);
    }
    json_response(flavor, StatusCode::OK, &response)
}
