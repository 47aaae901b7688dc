//! Processes stored Razorpay events (the `razorpay_webhook` job): a capture completes the cart's
//! order if the browser has not already (`order.paid`, `payment.captured`), a failure leaves the
//! cart usable (`payment.failed`); anything else is recorded and ignored.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::future::BoxFuture;

use super::service::{self, Settled};
use crate::db::schema::webhook_events;
use crate::error::error_chain;
use crate::jobs::{Handler, Job, JobError};
use crate::state::AppState;

/// Runs `razorpay_webhook` jobs.
pub struct RazorpayWebhookJob;

impl Handler for RazorpayWebhookJob {
    fn run<'a>(&'a self, app: &'a AppState, job: &'a Job) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            let id = job.payload["webhookEventId"]
                .as_i64()
                .ok_or_else(|| JobError::Permanent(anyhow::anyhow!("no webhookEventId")))?;
            let outcome = process(app, id).await.map_err(JobError::Retry)?;
            let mut conn = app.db.get().await.map_err(|e| JobError::Retry(e.into()))?;
            diesel::update(webhook_events::table.find(id))
                .set((
                    webhook_events::processed_at.eq(diesel::dsl::now),
                    webhook_events::outcome.eq(outcome),
                ))
                .execute(&mut conn)
                .await
                .map_err(|e| JobError::Retry(e.into()))?;
            Ok(())
        })
    }
}

async fn process(app: &AppState, id: i64) -> anyhow::Result<String> {
    let mut conn = app.db.get().await?;
    let (event, payload): (String, serde_json::Value) = webhook_events::table
        .find(id)
        .select((webhook_events::event, webhook_events::payload))
        .first(&mut conn)
        .await?;
    if event == "refund.processed" {
        let refund = &payload["payload"]["refund"]["entity"];
        return super::refunds::provider_refund_processed(
            app,
            refund["id"].as_str().unwrap_or_default(),
            refund["payment_id"].as_str().unwrap_or_default(),
            refund["amount"].as_i64().unwrap_or_default(),
            refund["notes"]["refund_id"].as_i64(),
        )
        .await
        .map_err(|e| anyhow::anyhow!(error_chain(&e)));
    }
    let entity = &payload["payload"]["payment"]["entity"];
    let order_id = entity["order_id"].as_str().unwrap_or_default();
    let payment_id = entity["id"].as_str().unwrap_or_default();
    let session = if order_id.is_empty() {
        None
    } else {
        service::by_provider_order(&mut conn, order_id)
            .await
            .map_err(|e| anyhow::anyhow!(error_chain(&e)))?
    };
    drop(conn);
    let Some(session) = session else {
        return Ok(format!(
            "{event}: no session for order {order_id:?}; ignored"
        ));
    };
    match event.as_str() {
        "payment.captured" | "order.paid" => {
            let amount = entity["amount"].as_i64().unwrap_or(-1);
            let currency = entity["currency"].as_str().unwrap_or_default();
            let settled = service::settle(
                app,
                session.id,
                payment_id,
                Some((amount, currency)),
                "system",
            )
            .await
            .map_err(|e| anyhow::anyhow!(error_chain(&e)))?;
            Ok(match settled {
                Settled::Order(order) => format!("{event}: order {}", order.display_number),
                Settled::Review(reason) => format!("{event}: flagged for review ({reason})"),
            })
        }
        "payment.authorized" if app.razorpay.as_ref().is_some_and(|r| !r.auto_capture()) => {
            // Without automatic capture, the server captures, then settles as for a capture.
            service::capture_if_needed(app, &session, payment_id)
                .await
                .map_err(|e| anyhow::anyhow!(error_chain(&e)))?;
            let amount = entity["amount"].as_i64().unwrap_or(-1);
            let currency = entity["currency"].as_str().unwrap_or_default();
            let settled = service::settle(
                app,
                session.id,
                payment_id,
                Some((amount, currency)),
                "system",
            )
            .await
            .map_err(|e| anyhow::anyhow!(error_chain(&e)))?;
            Ok(match settled {
                Settled::Order(order) => {
                    format!("{event}: captured; order {}", order.display_number)
                }
                Settled::Review(reason) => format!("{event}: flagged for review ({reason})"),
            })
        }
        "payment.failed" => {
            service::mark_failed(app, session.id)
                .await
                .map_err(|e| anyhow::anyhow!(error_chain(&e)))?;
            Ok(format!("{event}: session {} failed", session.id))
        }
        other => Ok(format!("{other}: recorded, nothing to do")),
    }
}
