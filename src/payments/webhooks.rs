//! `POST /webhooks/razorpay`: the signature is checked on the raw body before anything is parsed;
//! each event is stored once (keyed by `X-Razorpay-Event-Id`) together with the job that
//! processes it, in one transaction, and answered `200` at once. A replay finds the stored event
//! and does nothing.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use crate::db::schema::webhook_events;
use crate::error::AppError;
use crate::jobs::{self, NewJob};
use crate::state::AppState;

/// The job kind that processes a stored Razorpay event.
pub const JOB_KIND: &str = "razorpay_webhook";
/// Largest webhook body accepted.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

fn refuse(message: &str) -> Response {
    AppError::bad_input(message).into_response()
}

/// Receives a Razorpay webhook.
pub async fn razorpay(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(razorpay) = app.razorpay.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(signature) = header("x-razorpay-signature") else {
        return refuse("missing X-Razorpay-Signature");
    };
    if !razorpay.verify_webhook(&body, signature) {
        return refuse("the webhook signature does not match");
    }
    let Some(event_id) =
        header("x-razorpay-event-id").filter(|id| !id.is_empty() && id.len() <= 128)
    else {
        return refuse("missing X-Razorpay-Event-Id");
    };
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return refuse("the body is not JSON");
    };
    let event = payload["event"].as_str().unwrap_or("unknown").to_owned();
    let stored = async {
        let mut conn = app.db.get().await?;
        conn.transaction::<_, AppError, _>(async |conn| {
            let id: Option<i64> = diesel::insert_into(webhook_events::table)
                .values((
                    webhook_events::provider.eq("razorpay"),
                    webhook_events::event_id.eq(event_id),
                    webhook_events::event.eq(&event),
                    webhook_events::payload.eq(&payload),
                ))
                .on_conflict((webhook_events::provider, webhook_events::event_id))
                .do_nothing()
                .returning(webhook_events::id)
                .get_result(conn)
                .await
                .optional()?;
            if let Some(id) = id {
                let job = NewJob {
                    kind: JOB_KIND.into(),
                    key: format!("razorpay:{event_id}"),
                    payload: serde_json::json!({ "webhookEventId": id }),
                    max_attempts: app.config.jobs.max_attempts,
                };
                jobs::enqueue(conn, &job).await?;
            }
            Ok(id.is_some())
        })
        .await
    };
    match stored.await {
        Ok(fresh) => {
            if fresh {
                app.jobs_wake.notify_one();
            }
            (
                StatusCode::OK,
                axum::Json(serde_json::json!({ "ok": true })),
            )
                .into_response()
        }
        // Not stored: Razorpay retries the delivery.
        Err(e) => e.into_response(),
    }
}
