//! The request guard every operation passes through, over HTTP and WebSocket alike: the bounds of
//! [`super::limits`] before and after parsing, then the calculated query cost (like Shopify's)
//! against a maximum and the caller's leaky bucket, and `extensions.cost` on every response.
//!
//! Cost: every field costs 1 plus its children; a connection costs `first` (or `last`, default
//! 20) times its children, so nested connections multiply (async-graphql's complexity, with the
//! connection fields declaring [`connection_cost`]). The requested cost is checked before any
//! resolver runs; the actual cost counts the fields the response really holds, and the
//! difference is refunded.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextSubscribe,
    NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Response, ServerError, ServerResult, ValidationResult, Value, Variables};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use super::context::RequestContext;
use super::limits::{self, Limits};
use crate::auth::Viewer;
use crate::state::AppState;
use crate::throttle::{BucketOwner, ThrottleStatus};

/// Page size assumed for a connection asked for without `first` or `last`.
const DEFAULT_PAGE: usize = 20;

/// The cost of a connection field: its page size times its children, plus 2 (the connection and
/// its page info). Used as `#[graphql(complexity = "…")]` on every connection field.
pub fn connection_cost(first: Option<i32>, last: Option<i32>, children: usize) -> usize {
    let page = first.or(last).map_or(DEFAULT_PAGE, |n| {
        usize::try_from(n.clamp(0, 100)).unwrap_or(0)
    });
    page.max(1).saturating_mul(children).saturating_add(2)
}

/// The fields a response really holds (each object entry counts 1), iteratively.
pub fn actual_cost(data: &Value) -> u64 {
    let mut stack = vec![data];
    let mut cost = 0u64;
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => {
                cost += map.len() as u64;
                stack.extend(map.values());
            }
            Value::List(items) => stack.extend(items),
            _ => {}
        }
    }
    cost
}

/// `extensions.cost` as JSON.
pub fn cost_json(requested: u64, actual: u64, status: ThrottleStatus) -> serde_json::Value {
    serde_json::json!({
        "requestedQueryCost": requested,
        "actualQueryCost": actual,
        "throttleStatus": {
            "maximumAvailable": status.maximum_available,
            "currentlyAvailable": status.currently_available,
            "restoreRate": status.restore_rate,
        }
    })
}

/// `extensions.cost` as JSON text, written directly (the hot path of cached answers).
pub fn cost_bytes(requested: u64, actual: u64, status: ThrottleStatus) -> Vec<u8> {
    format!(
        r#"{{"requestedQueryCost":{requested},"actualQueryCost":{actual},"throttleStatus":{{"maximumAvailable":{},"currentlyAvailable":{},"restoreRate":{}}}}}"#,
        status.maximum_available, status.currently_available, status.restore_rate
    )
    .into_bytes()
}

/// Whose bucket a request draws from.
pub fn bucket_owner(context: Option<&RequestContext>) -> BucketOwner {
    match context {
        Some(RequestContext {
            viewer: Viewer::Admin { id, .. },
            ..
        }) => BucketOwner::Staff(*id),
        Some(c) => BucketOwner::Client(c.client.clone()),
        None => BucketOwner::Client(String::new()),
    }
}

/// Installs the guard on a schema: every step, as the WebSocket runs them.
pub struct RequestGuard {
    /// Shared services (cache for the buckets, settings).
    pub app: AppState,
}

impl ExtensionFactory for RequestGuard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GuardRun::new(&self.app, false))
    }
}

/// Installs the guard's admission alone: limits, validation, cost and throttle, then the
/// request stops before anything resolves, its charge left in the request's [`Admission`]
/// (HTTP runs the admitted request on a schema without extensions: `schema::execute`).
pub struct AdmitOnly {
    /// Shared services (cache for the buckets, settings).
    pub app: AppState,
}

impl ExtensionFactory for AdmitOnly {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GuardRun::new(&self.app, true))
    }
}

/// The request's document, already scanned, parsed and measured against the same limits by the
/// HTTP handler's document cache (request data): the guard takes it instead of parsing the text
/// again, and so does the run (`schema::execute`).
#[derive(Clone)]
pub struct MeasuredDocument(pub Arc<ExecutableDocument>);

/// What a request was charged, once the guard has charged it: kept by the guard for the
/// WebSocket's payloads, and the slot [`AdmitOnly`] leaves it in for HTTP (request data).
#[derive(Clone, Default)]
pub struct Admission(Arc<Mutex<Option<Charge>>>);

impl Admission {
    fn set(&self, charge: Charge) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(charge);
    }

    fn get(&self) -> Option<Charge> {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Settles the charge against the executed `response`: refunds `owner` what a clean answer
    /// did not use and reports `extensions.cost` (nothing when no charge was recorded).
    pub async fn settle(&self, app: &AppState, owner: &BucketOwner, response: &mut Response) {
        let Some(charge) = self.get() else {
            return;
        };
        let actual = charge.actual(&response.data);
        let mut status = charge.status;
        // A response with errors may have lost resolved work to null propagation: only a clean
        // answer gets the difference back.
        if charge.taken && actual < charge.requested && response.errors.is_empty() {
            status = app
                .throttle
                .refund(&app.cache, owner, charge.requested - actual)
                .await;
        }
        charge.report(response, actual, status);
    }
}

/// What one request was charged.
#[derive(Debug, Clone, Copy)]
struct Charge {
    requested: u64,
    status: ThrottleStatus,
    /// Whether the points were taken (false when refused).
    taken: bool,
}

impl Charge {
    /// The fields the response holds, at most what was requested (0 when nothing ran).
    fn actual(&self, data: &Value) -> u64 {
        if self.taken {
            actual_cost(data).min(self.requested)
        } else {
            0
        }
    }

    /// Adds `extensions.cost` to a response.
    fn report(&self, response: &mut Response, actual: u64, status: ThrottleStatus) {
        if let Ok(value) = Value::from_json(cost_json(self.requested, actual, status)) {
            response.extensions.insert("cost".into(), value);
        }
    }
}

struct GuardRun {
    app: AppState,
    limits: Limits,
    charge: Admission,
    /// Stop after admission (see [`AdmitOnly`]).
    admit_only: bool,
}

impl GuardRun {
    fn new(app: &AppState, admit_only: bool) -> Self {
        Self {
            app: app.clone(),
            limits: app.config.limits,
            charge: Admission::default(),
            admit_only,
        }
    }
}

fn error(e: &limits::LimitError) -> ServerError {
    e.to_server_error()
}

#[async_graphql::async_trait::async_trait]
impl Extension for GuardRun {
    /// Admission only: nothing resolves (HTTP executes the admitted request elsewhere).
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if self.admit_only {
            return Response::new(Value::Null);
        }
        next.run(ctx, operation_name).await
    }

    /// Operations over the WebSocket (queries and subscriptions): each payload reports the cost
    /// charged when the operation started.
    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let charge = self.charge.clone();
        next.run(ctx, stream)
            .map(move |mut response| {
                if let Some(c) = charge.get() {
                    let actual = c.actual(&response.data);
                    c.report(&mut response, actual, c.status);
                }
                response
            })
            .boxed()
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        limits::check_variables(variables, &self.limits).map_err(|e| error(&e))?;
        if let Some(measured) = ctx.data_opt::<MeasuredDocument>() {
            return Ok(measured.0.as_ref().clone());
        }
        // Before the recursive parser sees the text.
        limits::scan_document(query, &self.limits).map_err(|e| error(&e))?;
        // Parsed and measured here, *instead of* by the next step: async-graphql's own recursive
        // checks after parsing follow every fragment spread without memo, so a small document of
        // doubly spread fragments would pin a worker before validation could refuse it.
        let _ = next;
        let document = async_graphql::parser::parse_query(query)
            .map_err(|e| ServerError::new(e.to_string(), None))?;
        limits::analyze(&document, &self.limits).map_err(|e| error(&e))?;
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        let requested = result.complexity as u64;
        let max = self.app.config.throttle.max_query_cost;
        let owner = bucket_owner(ctx.data_opt::<RequestContext>());
        if requested > max {
            let e = limits::LimitError {
                code: "QUERY_TOO_COMPLEX",
                message: format!("query cost is {requested}, over the limit of {max}"),
            };
            self.record(ctx, requested, self.app.throttle.peek(&owner), false);
            return Err(vec![error(&e)]);
        }
        match self
            .app
            .throttle
            .take(&self.app.cache, &owner, requested)
            .await
        {
            Ok(status) => {
                self.record(ctx, requested, status, true);
                Ok(result)
            }
            Err(status) => {
                self.record(ctx, requested, status, false);
                let retry_after = status.retry_after(requested);
                let mut e = ServerError::new(
                    format!(
                        "throttled: this query costs {requested} points and {} are available; {} restored per second, retry in {retry_after} s",
                        status.currently_available, status.restore_rate
                    ),
                    None,
                );
                let mut ext = async_graphql::ErrorExtensionValues::default();
                ext.set("code", "THROTTLED");
                ext.set("retryAfter", retry_after);
                e.extensions = Some(ext);
                Err(vec![e])
            }
        }
    }
}

impl GuardRun {
    fn record(
        &self,
        ctx: &ExtensionContext<'_>,
        requested: u64,
        status: ThrottleStatus,
        taken: bool,
    ) {
        let charge = Charge {
            requested,
            status,
            taken,
        };
        self.charge.set(charge);
        if let Some(admission) = ctx.data_opt::<Admission>() {
            admission.set(charge);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_multiply_and_default_to_twenty() {
        assert_eq!(connection_cost(Some(10), None, 5), 52);
        assert_eq!(connection_cost(None, Some(3), 5), 17);
        assert_eq!(connection_cost(None, None, 1), 22);
        assert_eq!(
            connection_cost(Some(1000), None, 1),
            102,
            "clamped to the page limit"
        );
        assert_eq!(connection_cost(Some(-5), None, 1), 3);
    }

    #[test]
    fn cost_text_and_json_agree() {
        let status = ThrottleStatus {
            maximum_available: 10,
            currently_available: 7,
            restore_rate: 2,
        };
        let text: serde_json::Value = serde_json::from_slice(&cost_bytes(5, 3, status)).unwrap();
        assert_eq!(text, cost_json(5, 3, status));
    }

    #[test]
    fn actual_cost_counts_returned_fields() {
        let data = Value::from_json(serde_json::json!({
            "products": { "edges": [ { "node": { "id": 1, "title": "a" } }, { "node": { "id": 2, "title": "b" } } ] }
        }))
        .unwrap();
        // products, edges, 2 × (node + id + title)
        assert_eq!(actual_cost(&data), 2 + 2 * 3);
    }
}
