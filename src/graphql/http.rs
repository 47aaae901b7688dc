//! `/graphql` over HTTP, following the GraphQL-over-HTTP spec: POST (JSON or multipart) and GET
//! (`query`, `variables`, `operationName`, `extensions` in the URL; queries only). The response is
//! `application/graphql-response+json` when the client accepts it (with 4xx for request errors),
//! `application/json` otherwise (200 for every well-formed request). Automatic persisted queries,
//! the public response cache, `Cache-Control`, `ETag` and `304` are applied here.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{Request, Response as GqlResponse, ServerError};
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use crate::cache::keys;
use crate::config::IpNet;
use crate::error::AppResult;
use crate::graphql::apq::{ApqError, PersistedQueries};
use crate::graphql::context::{MaxAgeCap, RequestContext};
use crate::graphql::cost;
use crate::graphql::documents::Documents;
use crate::graphql::hot_path::{self, HotPaths, Served};
use crate::graphql::limits::{self, LimitError};
use crate::graphql::media::{Flavor, negotiate};
use crate::graphql::multipart;
use crate::graphql::response_cache::{self, CachePolicy, CachedResponse};
use crate::graphql::schema::{self, Schemas};
use crate::http::client::{ClientAddr, TrustedProxies};
use crate::locales::negotiate::{self, RequestLocale};
use crate::state::AppState;

/// New persisted documents one client may register per [`APQ_WINDOW`].
const APQ_REGISTRATIONS_PER_WINDOW: u64 = 200;
/// Points a persisted-query miss costs the client (each is a lookup in PostgreSQL): a storefront
/// misses once per new document, a stranger sending random hashes runs dry after 200 in a burst
/// and 40 a second after that (public bucket: 10,000 points, 2,000 restored per second).
const APQ_MISS_COST: u64 = 50;
/// Window of the registration count.
const APQ_WINDOW: std::time::Duration = std::time::Duration::from_secs(3600);

/// Time a JSON request body may take to arrive.
const BODY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// Router state of the GraphQL endpoints.
#[derive(Clone)]
pub struct GraphqlState {
    /// Shared services.
    pub app: AppState,
    /// The schemas, built once.
    pub schemas: Schemas,
    /// Persisted query documents.
    pub apq: Arc<PersistedQueries>,
    /// Parsed and measured documents by text.
    pub documents: Arc<Documents>,
    /// Repeated anonymous GETs answered from the cache without the full path.
    pub hot: Arc<HotPaths>,
}

impl TrustedProxies for GraphqlState {
    fn trusted_proxies(&self) -> &[IpNet] {
        &self.app.config.trusted_proxies
    }
}

/// The GraphQL-over-HTTP GET parameters.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParams {
    query: Option<String>,
    variables: Option<String>,
    operation_name: Option<String>,
    extensions: Option<String>,
    /// The language to answer in (see `locales::negotiate`).
    locale: Option<String>,
}

/// The `locale` URL argument of a POST (its body carries the rest); a malformed query string
/// is ignored here, as POST never read one before.
fn locale_argument(raw: Option<&str>) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(raw?)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == "locale")
        .map(|(_, v)| v)
}

fn error_body(message: &str, code: &str) -> serde_json::Value {
    crate::http::metrics::record_error_code(code);
    let mut body =
        serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    if matches!(code, "INTERNAL" | "SERVICE_UNAVAILABLE")
        && let Some(id) = crate::http::request_id::current()
    {
        body["errors"][0]["extensions"]["requestId"] = id.into();
    }
    body
}

/// A request that could not be turned into a GraphQL request.
fn request_error(flavor: Flavor, status: StatusCode, message: impl Into<String>) -> Response {
    let body = error_body(&message.into(), "BAD_REQUEST");
    json_response(
        flavor,
        status,
        serde_json::to_vec(&body).unwrap_or_default(),
        CachePolicy::NoStore,
    )
}

/// A limit that was exceeded: 413 for sizes, otherwise as a validation error (200 for
/// `application/json`, 400 for `application/graphql-response+json`).
fn limit_error(flavor: Flavor, error: &LimitError) -> Response {
    crate::http::metrics::record_error_code(error.code);
    let status = match (error.code, flavor) {
        ("QUERY_TOO_LARGE", _) => StatusCode::PAYLOAD_TOO_LARGE,
        (_, Flavor::Json) => StatusCode::OK,
        (_, Flavor::GraphqlResponseJson) => StatusCode::BAD_REQUEST,
    };
    json_response(
        flavor,
        status,
        serde_json::to_vec(&error.to_json()).unwrap_or_default(),
        CachePolicy::NoStore,
    )
}

fn json_response(
    flavor: Flavor,
    status: StatusCode,
    body: Vec<u8>,
    policy: CachePolicy,
) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(flavor.content_type()),
    );
    if let Ok(value) = HeaderValue::from_str(&policy.header()) {
        headers.insert(header::CACHE_CONTROL, value);
    }
    // The body depends on the Accept header (media type); private ones on the credentials.
    let vary = if policy == CachePolicy::Private {
        "Accept, Authorization"
    } else {
        "Accept"
    };
    headers.insert(header::VARY, HeaderValue::from_static(vary));
    response
}

/// `GET /graphql`.
pub async fn graphql_get(
    State(state): State<GraphqlState>,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    RawQuery(raw): RawQuery,
) -> Response {
    let flavor = negotiate(&headers);
    let started = std::time::Instant::now();
    // Bounded before any work, the memo's hashing included.
    let limits = &state.app.config.limits;
    let raw_len = raw.as_deref().map_or(0, str::len);
    if raw_len > limits.max_body_bytes {
        return limit_error(
            flavor,
            &LimitError {
                code: "QUERY_TOO_LARGE",
                message: format!(
                    "query string size in bytes is {raw_len}, over the limit of {}",
                    limits.max_body_bytes
                ),
            },
        );
    }
    let mut versioned = None;
    if let Some(raw) = raw.as_deref() {
        match state
            .hot
            .serve(&state.app, flavor, &headers, raw, &client, cached_head)
            .await
        {
            Served::Yes(response, prepared) => {
                record(started, prepared.operation.as_deref(), "hit", &response);
                return response;
            }
            Served::Versioned(plan, key) => versioned = Some((plan, key)),
            Served::No => {}
        }
    }
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
    let nesting = limits.max_variables_nesting + 2;
    let parse_json = |name: &str, text: Option<String>| -> Result<serde_json::Value, String> {
        match text {
            None => Ok(serde_json::Value::Null),
            Some(t) => {
                limits::scan_json(t.as_bytes(), nesting).map_err(|e| e.message)?;
                serde_json::from_str(&t).map_err(|e| format!("invalid `{name}`: {e}"))
            }
        }
    };
    let variables = match parse_json("variables", params.variables) {
        Ok(v) => v,
        Err(message) => return request_error(flavor, StatusCode::BAD_REQUEST, message),
    };
    let extensions = match parse_json("extensions", params.extensions) {
        Ok(v) => v,
        Err(message) => return request_error(flavor, StatusCode::BAD_REQUEST, message),
    };
    let mut request = Request::new(params.query.unwrap_or_default());
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
    execute(
        state,
        Method::GET,
        &headers,
        client,
        flavor,
        request,
        params.locale,
        raw.as_deref().map(|raw| FromGet { raw, versioned }),
    )
    .await
}

/// `POST /graphql` (JSON body, or a multipart upload request).
pub async fn graphql_post(
    State(state): State<GraphqlState>,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Response {
    let flavor = negotiate(&headers);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let lower = content_type.as_deref().map(str::to_ascii_lowercase);
    let is_json = lower
        .as_deref()
        .is_some_and(|ct| ct.starts_with("application/json"));
    let is_multipart = lower
        .as_deref()
        .is_some_and(|ct| ct.starts_with("multipart/form-data"));
    let config = &state.app.config;
    let request = if is_json {
        let read = tokio::time::timeout(
            BODY_DEADLINE,
            axum::body::to_bytes(body, config.limits.max_body_bytes),
        )
        .await;
        let bytes = match read {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(_)) => {
                return limit_error(
                    flavor,
                    &LimitError {
                        code: "QUERY_TOO_LARGE",
                        message: format!(
                            "request body is over the limit of {} bytes",
                            config.limits.max_body_bytes
                        ),
                    },
                );
            }
            Err(_) => {
                return request_error(
                    flavor,
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "the request body did not arrive within {} s",
                        BODY_DEADLINE.as_secs()
                    ),
                );
            }
        };
        // serde builds values recursively: bound the nesting before it does.
        if let Err(e) = limits::scan_json(&bytes, config.limits.max_variables_nesting + 2) {
            return limit_error(flavor, &e);
        }
        match serde_json::from_slice::<Request>(&bytes) {
            Ok(request) => request,
            Err(e) => {
                return request_error(
                    flavor,
                    StatusCode::BAD_REQUEST,
                    format!("malformed GraphQL request: {e}"),
                );
            }
        }
    } else if is_multipart {
        // Apollo's CSRF rule: a browser cannot send this header cross-site without a preflight,
        // so a form on another site cannot upload.
        let preflighted = ["apollo-require-preflight", "x-apollo-operation-name"]
            .iter()
            .any(|h| headers.get(*h).is_some_and(|v| !v.is_empty()));
        if !preflighted {
            return request_error(
                flavor,
                StatusCode::BAD_REQUEST,
                "multipart requests must carry a non-empty `Apollo-Require-Preflight` header (CSRF protection)",
            );
        }
        // Every upload is a staff mutation: strangers do not get to stream files at all.
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let viewer = state
            .app
            .sessions
            .from_header(&state.app.jwt, &state.app.db, authorization)
            .await;
        if !matches!(viewer, crate::auth::Viewer::Admin { .. }) {
            let body = error_body(
                "uploads are for signed-in staff: send Authorization: Bearer <token>",
                "UNAUTHENTICATED",
            );
            return json_response(
                flavor,
                StatusCode::UNAUTHORIZED,
                serde_json::to_vec(&body).unwrap_or_default(),
                CachePolicy::NoStore,
            );
        }
        match multipart::receive(content_type, body, config).await {
            Ok(request) => request,
            Err(multipart::UploadError::Limit(e)) => return limit_error(flavor, &e),
            Err(multipart::UploadError::Malformed(message)) => {
                return request_error(flavor, StatusCode::BAD_REQUEST, message);
            }
        }
    } else {
        return request_error(
            flavor,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "POST /graphql takes `Content-Type: application/json` (or multipart/form-data for uploads)",
        );
    };
    let locale = locale_argument(raw.as_deref());
    execute(
        state,
        Method::POST,
        &headers,
        client,
        flavor,
        request,
        locale,
        None,
    )
    .await
}

/// The operation the request will run, when the document parses: mutations must not run on GET.
fn operation_type(doc: &ExecutableDocument, operation_name: Option<&str>) -> Option<OperationType> {
    Some(response_cache::find_operation(doc, operation_name)?.node.ty)
}

/// What a GET brings to the full path: its query string (a public answer may be remembered by
/// the hit path) and the versioned key the hit path already read, if it did.
struct FromGet<'a> {
    raw: &'a str,
    versioned: Option<(crate::cache::KeyPlan, String)>,
}

/// Runs a GraphQL request and records it.
#[allow(clippy::too_many_arguments)]
async fn execute(
    state: GraphqlState,
    method: Method,
    headers: &HeaderMap,
    client: String,
    flavor: Flavor,
    request: Request,
    locale_arg: Option<String>,
    get: Option<FromGet<'_>>,
) -> Response {
    let started = std::time::Instant::now();
    let seen = Seen::default();
    let response = execute_inner(
        state, method, headers, client, flavor, request, locale_arg, get, &seen,
    )
    .await;
    let cache = match seen.cache.load(Ordering::Relaxed) {
        1 => "hit",
        2 => "miss",
        _ => "bypass",
    };
    let operation = seen
        .operation
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    record(started, operation.as_deref(), cache, &response);
    response
}

/// Records a served request: latency by operation, transport and cache outcome, and the status;
/// names its log span after the operation.
fn record(
    started: std::time::Instant,
    operation: Option<&str>,
    cache: &'static str,
    response: &Response,
) {
    if let Some(name) = operation {
        // The document's own name (as the metrics label), at most 64 characters in the log.
        let end = name.char_indices().nth(64).map_or(name.len(), |(i, _)| i);
        crate::telemetry::name_span(&tracing::Span::current(), &name[..end]);
    }
    crate::http::metrics::record_operation(
        operation,
        "http",
        cache,
        response.status().as_u16(),
        started.elapsed(),
    );
}

/// What the metrics of a request need from its execution.
#[derive(Default)]
struct Seen {
    /// 1 hit, 2 miss, 0 bypass (see `Outcome::cache`).
    cache: std::sync::atomic::AtomicU8,
    /// The operation's name: the one the request names, else the document's.
    operation: std::sync::Mutex<Option<String>>,
}

#[allow(clippy::too_many_arguments)]
async fn execute_inner(
    state: GraphqlState,
    method: Method,
    headers: &HeaderMap,
    client: String,
    flavor: Flavor,
    mut request: Request,
    locale_arg: Option<String>,
    get: Option<FromGet<'_>>,
    seen: &Seen,
) -> Response {
    let app = &state.app;
    let pq = request
        .extensions
        .get("persistedQuery")
        .and_then(|pq| match pq {
            async_graphql::Value::Object(fields) => fields.get("sha256Hash"),
            _ => None,
        })
        .and_then(|h| match h {
            async_graphql::Value::String(h) => Some(h.as_str()),
            _ => None,
        })
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned);
    if let Some(hash) = &pq {
        tracing::Span::current().record("pq", hash.as_str());
    }
    if let Err(e) = limits::check_variables(&request.variables, &app.config.limits) {
        return limit_error(flavor, &e);
    }
    // A persisted-query miss is a database lookup: it costs points, and a client whose bucket
    // cannot pay is answered from the caches alone.
    let owner = crate::throttle::BucketOwner::Client(client.clone());
    let looks_up =
        request.extensions.contains_key("persistedQuery") || app.config.persisted_queries_only;
    let ask_database = !looks_up || app.throttle.peek(&owner).currently_available >= APQ_MISS_COST;
    let resolved = state
        .apq
        .resolve(
            app,
            &mut request,
            app.config.persisted_queries_only,
            ask_database,
        )
        .await;
    if looks_up
        && ask_database
        && matches!(resolved, Err(ApqError::NotFound | ApqError::NotAllowed))
    {
        let _ = app.throttle.take(&app.cache, &owner, APQ_MISS_COST).await;
    }
    let register = match resolved {
        Ok(register) => register,
        Err(error) => {
            // Apollo clients read the code from a 200 response and retry with the document.
            let body =
                serde_json::to_vec(&error_body(&error.message(), error.code())).unwrap_or_default();
            let status = match (&error, flavor) {
                (ApqError::NotFound, _) | (_, Flavor::Json) => StatusCode::OK,
                (ApqError::Unavailable, _) => StatusCode::SERVICE_UNAVAILABLE,
                (ApqError::Throttled, _) => StatusCode::TOO_MANY_REQUESTS,
                (_, Flavor::GraphqlResponseJson) => StatusCode::BAD_REQUEST,
            };
            return json_response(flavor, status, body, CachePolicy::NoStore);
        }
    };
    if request.query.trim().is_empty() {
        return request_error(
            flavor,
            StatusCode::BAD_REQUEST,
            "missing `query` (or a persisted query hash)",
        );
    }
    let document = match state.documents.check(&request.query) {
        Ok(document) => document,
        Err(e) => return limit_error(flavor, &e),
    };
    // Only a document that parses and keeps within the limits is ever stored, and a client may
    // register only so many new ones per hour (each is kept 30 days); past that the request
    // still runs, its document is just not kept.
    if register && document.is_some() {
        let registered = app
            .cache
            .increment(&keys::apq_registrations(&client), APQ_WINDOW)
            .await;
        if registered <= APQ_REGISTRATIONS_PER_WINDOW {
            state.apq.put(&app.cache, &request.query).await;
        }
    }
    // Only a name the document really has (a request naming another fails validation).
    let name = document.as_deref().and_then(|doc| {
        doc.operations
            .iter()
            .filter_map(|(name, _)| name)
            .find(|n| {
                request
                    .operation_name
                    .as_deref()
                    .is_none_or(|wanted| n.as_str() == wanted)
            })
            .map(|n| n.to_string())
    });
    *seen
        .operation
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = name.clone();
    let ty = document
        .as_deref()
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
    // The language to answer in: part of every cache key, reported in the response.
    let snapshot = app.locales.snapshot(&app.db).await;
    let locale = match choose_locale(
        &snapshot,
        document.as_deref(),
        &request,
        headers,
        locale_arg,
    ) {
        Ok(locale) => locale,
        Err(error) => {
            let (status, code) = match error {
                negotiate::LocaleError::BadInput(_) => (StatusCode::BAD_REQUEST, "BAD_USER_INPUT"),
                negotiate::LocaleError::Unavailable => {
                    (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE")
                }
            };
            let body = error_body(error.message(), code);
            return json_response(
                flavor,
                status,
                serde_json::to_vec(&body).unwrap_or_default(),
                CachePolicy::NoStore,
            );
        }
    };
    let mut request = request.data(locale.clone());
    if let Some(document) = &document {
        request = request.data(cost::MeasuredDocument(document.clone()));
    }
    let has_credentials = headers.contains_key(header::AUTHORIZATION);
    // What an anonymous query depends on: the response cache's key and the CDN's surrogate keys.
    let dependencies = document
        .as_deref()
        .filter(|_| ty == Some(OperationType::Query) && !has_credentials)
        .map(|doc| {
            response_cache::dependencies(
                doc,
                request.operation_name.as_deref(),
                &request.variables,
                &crate::graphql::schema::root_reads,
            )
        });
    let tags = dependencies
        .as_ref()
        .map(|(families, entities)| crate::cdn::tags::of_response(families, entities));
    let mut remembered = None;
    let mut outcome = match dependencies {
        Some((families, entities)) if app.cache.is_enabled() => {
            let hash = response_cache::request_hash(&request, flavor.content_type());
            // The locale ends the key (and, outside the default, folds in its translations'
            // versions).
            let key = locale.key(keys::response(&hash, families, entities));
            let plan = app.cache.plan(&key);
            // The hit path's version read, when it was of this very key (not a second read).
            let (raw, versioned) = match get {
                Some(FromGet { raw, versioned }) => (Some(raw), versioned),
                None => (None, None),
            };
            let versioned = versioned.and_then(|(read, key)| (read == plan).then_some(key));
            let outcome = cached_execute(
                &state,
                flavor,
                request,
                &hash,
                (&plan, &key.families, versioned),
                client,
            )
            .await;
            // A repeat of this exact GET may skip all of the above (`hot_path`); one that
            // registered a persisted document must not skip the registration.
            if let Some(raw) = raw.filter(|_| !register) {
                remembered = Some((raw, plan, key.families.into_owned()));
            }
            outcome
        }
        _ => {
            let context = request_context(app, headers, client).await;
            run(
                &state,
                flavor,
                request,
                document.is_some(),
                context,
                Some(&locale),
            )
            .await
        }
    };
    if matches!(outcome.policy, CachePolicy::Public(_)) {
        outcome.tags = tags;
        if let Some((raw, plan, families)) = remembered
            && matches!(outcome.cache, "hit" | "miss")
            && outcome.edge_cap == u32::MAX
        {
            state.hot.remember(hot_path::Seed {
                raw,
                accept_language: headers
                    .get(header::ACCEPT_LANGUAGE)
                    .map(HeaderValue::as_bytes),
                flavor,
                snapshot,
                plan,
                families,
                operation: name,
                pq,
                locale: locale.clone(),
                tags: outcome.tags.clone(),
                body_len: outcome.body.len(),
            });
        }
    }
    seen.cache.store(
        match outcome.cache {
            "hit" => 1,
            "miss" => 2,
            _ => 0,
        },
        Ordering::Relaxed,
    );
    finish(flavor, outcome, headers, &app.config.cdn, &locale)
}

/// The request's locale by the one rule of `locales::negotiate`.
fn choose_locale(
    snapshot: &crate::locales::registry::Snapshot,
    document: Option<&ExecutableDocument>,
    request: &Request,
    headers: &HeaderMap,
    argument: Option<String>,
) -> Result<RequestLocale, negotiate::LocaleError> {
    let directive = match document {
        Some(doc) => negotiate::directive_language(
            doc,
            request.operation_name.as_deref(),
            &request.variables,
        )?,
        None => None,
    };
    let accept_language = headers
        .get(header::ACCEPT_LANGUAGE)
        .map(HeaderValue::as_bytes);
    negotiate::choose(snapshot, directive, argument.as_deref(), accept_language)
}

/// Who is asking: the verified token (if any, checked against its account) and the client
/// address for throttles.
async fn request_context(app: &AppState, headers: &HeaderMap, client: String) -> RequestContext {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    RequestContext {
        viewer: app
            .sessions
            .from_header(&app.jwt, &app.db, authorization)
            .await,
        client,
        sign_ins: Arc::default(),
    }
}

/// The result of an execution, ready for HTTP.
struct Outcome {
    status: StatusCode,
    body: Vec<u8>,
    policy: CachePolicy,
    /// Set for public responses.
    etag: Option<String>,
    /// `extensions.cost` (JSON text) to add when serving (responses kept in the shared cache
    /// carry none).
    cost: Option<Vec<u8>>,
    /// Surrogate keys of a public response.
    tags: Option<Vec<String>>,
    /// Seconds until a field of it changes by itself (`u32::MAX`: none); bounds the edge TTL.
    edge_cap: u32,
    /// The response cache's part: `hit`, `miss` or `bypass` (not cacheable, or caching off).
    cache: &'static str,
}

impl Outcome {
    fn from_cached(r: CachedResponse) -> Self {
        let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK);
        // A field that changes by itself (a banner window) bounds every cache from now on.
        let changes_in = r.changes_in();
        if r.max_age > 0 {
            Self {
                status,
                body: r.body,
                policy: CachePolicy::Public(r.max_age.min(changes_in.max(1))),
                etag: Some(r.etag),
                cost: None,
                tags: None,
                edge_cap: changes_in,
                cache: "hit",
            }
        } else {
            Self {
                status,
                body: r.body,
                policy: CachePolicy::NoStore,
                etag: None,
                cost: None,
                tags: None,
                edge_cap: u32::MAX,
                cache: "hit",
            }
        }
    }
}

/// Runs a request. Without `locale`, `extensions.cost` is taken out of the body (which may be
/// shared through the response cache) and returned beside it, and the locale is added when
/// served; with it, the body says it in `extensions.locale`.
async fn run(
    state: &GraphqlState,
    flavor: Flavor,
    request: Request,
    parsed: bool,
    context: RequestContext,
    locale: Option<&RequestLocale>,
) -> Outcome {
    let detach_cost = locale.is_none();
    let has_credentials = !matches!(context.viewer, crate::auth::Viewer::Anonymous);
    let cap = MaxAgeCap::default();
    let mut response = schema::execute(
        &state.schemas,
        &state.app,
        request.data(cap.clone()),
        context,
    )
    .await;
    let max_age = u32::try_from(response.cache_control.max_age)
        .unwrap_or(0)
        .min(cap.get());
    let policy = if has_credentials || !response.cache_control.public {
        CachePolicy::Private
    } else if response.is_ok() && max_age > 0 {
        CachePolicy::Public(max_age)
    } else {
        CachePolicy::NoStore
    };
    if let Some(code) = locale.and_then(RequestLocale::named) {
        response.extensions.insert(
            "locale".to_owned(),
            async_graphql::Value::String(code.to_owned()),
        );
    }
    let cost = if detach_cost {
        response
            .extensions
            .remove("cost")
            .and_then(|v| v.into_json().ok())
            .and_then(|v| serde_json::to_vec(&v).ok())
    } else {
        None
    };
    let (status, body) = graphql_body(flavor, response, parsed);
    let etag = matches!(policy, CachePolicy::Public(_)).then(|| response_cache::etag(&body));
    Outcome {
        status,
        body,
        policy,
        etag,
        cost,
        tags: None,
        edge_cap: cap.get(),
        cache: "bypass",
    }
}

/// Serves an anonymous query from the response cache, or runs it once (single flight) and
/// stores it when every field is public. `versioned`: the plan's versioned key when the hit path
/// already read the versions for this request.
async fn cached_execute(
    state: &GraphqlState,
    flavor: Flavor,
    request: Request,
    hash: &str,
    (plan, families, versioned): (
        &crate::cache::KeyPlan,
        &[crate::cache::Family],
        Option<String>,
    ),
    client: String,
) -> Outcome {
    let cache = &state.app.cache;
    let owner = crate::throttle::BucketOwner::Client(client.clone());
    // Without versions (Redis unreachable or too slow) nothing is read or stored, but identical
    // concurrent requests still share one execution: a cache outage under load must not turn
    // into a stampede on PostgreSQL.
    let versioned = match versioned {
        Some(full_key) => Some(full_key),
        None => cache.versioned_key_of(plan).await,
    };
    let (full_key, store) = match versioned {
        Some(full_key) => (full_key, true),
        None => (format!("unversioned:{hash}"), false),
    };
    if store
        && let Some(hit) = cache
            .get_bytes(&full_key)
            .await
            .and_then(|b| CachedResponse::decode(&b))
    {
        cache.metrics.hits.fetch_add(1, Ordering::Relaxed);
        response_cache::count("hit", families);
        tracing::Span::current().record("cache", "hit");
        // Served without work: it costs nothing, and says what it would have cost.
        let requested = u64::from(hit.cost);
        let mut outcome = Outcome::from_cached(hit);
        outcome.cost = Some(cost::cost_bytes(
            requested,
            0,
            state.app.throttle.peek(&owner),
        ));
        return outcome;
    }
    cache.metrics.misses.fetch_add(1, Ordering::Relaxed);
    response_cache::count(if store { "miss" } else { "bypass" }, families);
    tracing::Span::current().record("cache", "miss");
    let (work_state, work_key) = (state.clone(), full_key.clone());
    // The request whose execution runs is charged for it; requests that share its result are not.
    let leader_cost: Arc<std::sync::Mutex<Option<Vec<u8>>>> = Arc::default();
    let leader = leader_cost.clone();
    let work = async move {
        let context = RequestContext {
            client,
            ..RequestContext::default()
        };
        let outcome = run(&work_state, flavor, request, true, context, None).await;
        let max_age = match outcome.policy {
            CachePolicy::Public(age) => age,
            _ => 0,
        };
        let requested = outcome
            .cost
            .as_deref()
            .and_then(|c| serde_json::from_slice::<serde_json::Value>(c).ok())
            .and_then(|c| c["requestedQueryCost"].as_u64())
            .unwrap_or(0);
        *leader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = outcome.cost;
        let encoded = CachedResponse::new(
            outcome.status.as_u16(),
            max_age,
            CachedResponse::changes_after(outcome.edge_cap),
            u32::try_from(requested).unwrap_or(u32::MAX),
            outcome.body,
        )
        .encode();
        if store && max_age > 0 {
            // Stored once, by the flight itself, under the versions read before it ran.
            let ttl = std::time::Duration::from_secs(u64::from(max_age));
            work_state
                .app
                .cache
                .set_bytes(&work_key, encoded.clone(), ttl)
                .await;
        }
        AppResult::Ok(encoded)
    };
    let shared = match cache.single_flight(&full_key, work).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let body =
                serde_json::to_vec(&error_body("internal error", "INTERNAL")).unwrap_or_default();
            return Outcome {
                status: StatusCode::OK,
                body,
                policy: CachePolicy::NoStore,
                etag: None,
                cost: None,
                tags: None,
                edge_cap: u32::MAX,
                cache: "miss",
            };
        }
    };
    let own_cost = leader_cost
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    match CachedResponse::decode(&shared) {
        Some(response) => {
            let requested = u64::from(response.cost);
            let mut outcome = Outcome::from_cached(response);
            outcome.cache = if store { "miss" } else { "bypass" };
            outcome.cost = own_cost.or_else(|| {
                Some(cost::cost_bytes(
                    requested,
                    0,
                    state.app.throttle.peek(&owner),
                ))
            });
            outcome
        }
        None => Outcome {
            status: StatusCode::OK,
            body: Vec::new(),
            policy: CachePolicy::NoStore,
            etag: None,
            cost: None,
            tags: None,
            edge_cap: u32::MAX,
            cache: "miss",
        },
    }
}

/// How [`finish`] heads a response served from the cache (`hot_path::Head`).
fn cached_head(
    flavor: Flavor,
    hit: CachedResponse,
    tags: Option<Vec<String>>,
    cdn: &crate::config::CdnConfig,
    locale: &RequestLocale,
) -> Response {
    let mut outcome = Outcome::from_cached(hit);
    outcome.tags = tags;
    finish(flavor, outcome, &HeaderMap::new(), cdn, locale)
}

/// Adds caching headers and answers `304` when the client already holds this version.
fn finish(
    flavor: Flavor,
    outcome: Outcome,
    request_headers: &HeaderMap,
    cdn: &crate::config::CdnConfig,
    locale: &RequestLocale,
) -> Response {
    let Outcome {
        status,
        mut body,
        policy,
        etag,
        cost,
        tags,
        edge_cap,
        cache: _,
    } = outcome;
    let code = locale.named();
    if let Some(cost) = cost {
        body = with_extensions(body, &cost, code);
    }
    // The same data in two languages is not the same representation (`Content-Language`,
    // `extensions.locale` differ): the locale is part of the validator.
    let etag = match (etag, code) {
        (Some(tag), Some(code)) => Some(format!("{}-{code}\"", tag.trim_end_matches('"'))),
        (etag, _) => etag,
    };
    let not_modified = etag.as_deref().is_some_and(|tag| {
        request_headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|inm| response_cache::matches_etag(inm, tag))
    });
    let mut response = if not_modified {
        let mut r = json_response(flavor, StatusCode::NOT_MODIFIED, Vec::new(), policy);
        r.headers_mut().remove(header::CONTENT_TYPE);
        r
    } else {
        json_response(flavor, status, body, policy)
    };
    if let Some(value) = etag.and_then(|t| HeaderValue::from_str(&t).ok()) {
        response.headers_mut().insert(header::ETAG, value);
    }
    let headers = response.headers_mut();
    if let Some(value) = code.and_then(|c| HeaderValue::from_str(c).ok()) {
        headers.insert(header::CONTENT_LANGUAGE, value);
    }
    if locale.varies_with_header()
        && let Some(vary) = headers.get(header::VARY).and_then(|v| v.to_str().ok())
        && let Ok(value) = HeaderValue::from_str(&format!("{vary}, Accept-Language"))
    {
        // The header could have chosen another language: a shared cache must key on it.
        headers.insert(header::VARY, value);
    }
    if let (CachePolicy::Public(max_age), Some(tags)) = (policy, tags) {
        crate::cdn::tags::add_headers(response.headers_mut(), cdn, &tags, max_age, edge_cap);
    }
    response
}

/// Adds `"extensions": {"cost": …, "locale": …}` to a JSON object body that has no
/// `extensions` of its own (one kept in the shared response cache).
fn with_extensions(mut body: Vec<u8>, cost: &[u8], locale: Option<&str>) -> Vec<u8> {
    let Some(end) = response_cache::extensions_at(&body) else {
        return body;
    };
    body.truncate(end);
    body.extend(response_cache::extensions(cost, locale));
    body
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

/// Gives `code` to every error that has none.
fn label_uncoded(errors: &mut [ServerError], code: &str) {
    for error in errors {
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
}

/// Records the response's error codes on the request's log span.
fn log_codes(errors: &[ServerError]) {
    let span = tracing::Span::current();
    if errors.is_empty() {
        return;
    }
    let codes: Vec<&str> = errors
        .iter()
        .filter_map(|e| match e.extensions.as_ref()?.get("code")? {
            async_graphql::Value::String(code) => Some(code.as_str()),
            _ => None,
        })
        .collect();
    span.record("errors", codes.join(",").as_str());
    for code in &codes {
        crate::http::metrics::record_error_code(code);
    }
}

fn graphql_body(flavor: Flavor, mut response: GqlResponse, parsed: bool) -> (StatusCode, Vec<u8>) {
    if is_request_error(&response) {
        // Request errors come from async-graphql itself; label them as Apollo clients expect.
        let code = if parsed {
            "GRAPHQL_VALIDATION_FAILED"
        } else {
            "GRAPHQL_PARSE_FAILED"
        };
        label_uncoded(&mut response.errors, code);
        log_codes(&response.errors);
        let status = match flavor {
            Flavor::GraphqlResponseJson => StatusCode::BAD_REQUEST,
            Flavor::Json => StatusCode::OK,
        };
        // Per the spec a request error has no `data` entry at all.
        let mut body = serde_json::json!({ "errors": response.errors });
        if !response.extensions.is_empty()
            && let Ok(extensions) = serde_json::to_value(&response.extensions)
        {
            body["extensions"] = extensions;
        }
        return (status, serde_json::to_vec(&body).unwrap_or_default());
    }
    // Every error of ours has a code; one without comes from async-graphql coercing an argument
    // (an `Int` out of range, a wrong input type): the client's input.
    label_uncoded(&mut response.errors, "BAD_USER_INPUT");
    log_codes(&response.errors);
    (
        StatusCode::OK,
        serde_json::to_vec(&response).unwrap_or_default(),
    )
}
