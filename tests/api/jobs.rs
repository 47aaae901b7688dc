//! The job queue against a real PostgreSQL and real SMTP servers: the outbox (no job without its
//! commit), retries while the mail server is down and exactly one delivery when it returns, a
//! worker killed mid-job, two workers on one queue, dead jobs listed and retried by owners, and
//! `/metrics`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use diesel_async::AsyncConnection;
use futures_util::future::BoxFuture;
use serde_json::json;
use techpotli::auth::Role;
use techpotli::jobs::{Handler, Handlers, Job, JobError, Worker, model};
use techpotli::mail::{MailRequest, Template};

use crate::support::mail::{OwnSmtp, address, free_port, inbox, inbox_of};
use crate::support::{CacheMode, TestApp, code, staff_token};

fn mail_job(to: &str, key: &str, max_attempts: i32) -> techpotli::jobs::NewJob {
    MailRequest {
        template: Template::PasswordChanged,
        to: to.into(),
        vars: [("first_name".to_owned(), "Asha".to_owned())].into(),
    }
    .job(key.into(), max_attempts)
}

async fn enqueue(app: &TestApp, job: &techpotli::jobs::NewJob) -> i64 {
    let mut conn = app.db.conn().await;
    model::enqueue(&mut conn, job).await.unwrap().unwrap()
}

async fn job(app: &TestApp, id: i64) -> Job {
    let mut conn = app.db.conn().await;
    model::find(&mut conn, id).await.unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_exists_only_with_its_commit_and_once_per_key() {
    let app = TestApp::with_cache(CacheMode::Memory).await;
    let to = address("outbox");
    let mut conn = app.db.conn().await;
    let rolled_back: Result<(), diesel::result::Error> = conn
        .transaction(async |conn| {
            model::enqueue(conn, &mail_job(&to, "k1", 3)).await?;
            Err(diesel::result::Error::RollbackTransaction)
        })
        .await;
    assert!(rolled_back.is_err());
    assert_eq!(app.run_jobs().await, 0, "no job without its commit");
    enqueue(&app, &mail_job(&to, "k1", 3)).await;
    assert_eq!(
        model::enqueue(&mut conn, &mail_job(&to, "k1", 3))
            .await
            .unwrap(),
        None,
        "same key: one job"
    );
    assert_eq!(app.run_jobs().await, 1);
    assert_eq!(inbox(&to).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn mail_retries_while_the_server_is_down_then_is_delivered_exactly_once() {
    let port = free_port();
    let url = format!("smtp://127.0.0.1:{port}");
    // Retries come after 100-300 ms, then 200-600 ms: each `run_jobs` sees exactly one attempt.
    let app = TestApp::with_settings(
        CacheMode::Memory,
        &[("SMTP_URL", &url), ("JOBS_RETRY_BASE_MS", "200")],
    )
    .await;
    let to = address("down");
    let id = enqueue(&app, &mail_job(&to, "down-1", 10)).await;
    // Nothing listens: each attempt fails, is recorded, and is retried after a backoff.
    for attempt in 1..=2 {
        assert_eq!(app.run_jobs().await, 1);
        let j = job(&app, id).await;
        assert_eq!((j.state.as_str(), j.attempts), ("queued", attempt));
        assert!(
            j.last_error.as_deref().unwrap_or("").contains("SMTP"),
            "{:?}",
            j.last_error
        );
        tokio::time::sleep(Duration::from_millis(300 << attempt)).await;
    }
    let dir = std::env::temp_dir().join(format!("techpotli-mail-{port}"));
    let _server = OwnSmtp::start(port, dir.clone());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.run_jobs().await, 1);
    let j = job(&app, id).await;
    assert_eq!((j.state.as_str(), j.attempts), ("done", 3));
    assert_eq!(inbox_of(&dir, &to).len(), 1);
    assert_eq!(app.run_jobs().await, 0);
    assert_eq!(inbox_of(&dir, &to).len(), 1, "exactly once");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_mid_job_loses_its_lease_and_the_job_runs_again() {
    let app = TestApp::with_settings(CacheMode::Memory, &[("JOBS_LEASE_SECS", "1")]).await;
    let to = address("killed");
    let id = enqueue(&app, &mail_job(&to, "killed-1", 5)).await;
    {
        // A worker claims the job, then dies: its connection is dropped, nothing is recorded.
        let mut conn = app.db.conn().await;
        let claimed = model::claim(&mut conn, "doomed-worker:1", Duration::from_secs(1), 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
    }
    assert_eq!(app.run_jobs().await, 0, "the lease still holds");
    assert!(inbox(&to).is_empty());
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    assert_eq!(app.run_jobs().await, 1, "taken over after the lease");
    let j = job(&app, id).await;
    assert_eq!((j.state.as_str(), j.attempts), ("done", 2));
    assert_eq!(inbox(&to).len(), 1);
    // The dead worker's claim can no longer finish or fail the job.
    let mut conn = app.db.conn().await;
    assert!(
        !model::complete(&mut conn, id, "doomed-worker:1", false)
            .await
            .unwrap()
    );
    assert_eq!(
        model::fail(
            &mut conn,
            id,
            "doomed-worker:1",
            "late",
            Duration::ZERO,
            false
        )
        .await
        .unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_workers_on_one_queue_never_run_a_job_twice() {
    let app = TestApp::with_cache(CacheMode::Memory).await;
    let recipients: Vec<String> = (0..60).map(|i| address(&format!("pair{i}"))).collect();
    for (i, to) in recipients.iter().enumerate() {
        enqueue(&app, &mail_job(to, &format!("pair-{i}"), 3)).await;
    }
    let a = Worker::new(app.app.clone(), Handlers::standard(), 4);
    let b = Worker::new(app.app.clone(), Handlers::standard(), 4);
    let (ran_a, ran_b) = tokio::join!(a.run_until_idle(), b.run_until_idle());
    assert_eq!(
        ran_a + ran_b,
        60,
        "every job claimed once ({ran_a} + {ran_b})"
    );
    for to in &recipients {
        assert_eq!(inbox(to).len(), 1, "{to}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_worker_processes_side_by_side_deliver_each_mail_once() {
    let app = TestApp::with_cache(CacheMode::Memory).await;
    let recipients: Vec<String> = (0..40).map(|i| address(&format!("proc{i}"))).collect();
    for (i, to) in recipients.iter().enumerate() {
        enqueue(&app, &mail_job(to, &format!("proc-{i}"), 3)).await;
    }
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_techpotli"))
            .args(["worker", "--until-idle", "--concurrency", "4"])
            .env("DATABASE_URL", &app.db.url)
            .env("SMTP_URL", crate::support::mail::smtp_url())
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for to in &recipients {
        assert_eq!(inbox(to).len(), 1, "{to}");
    }
    assert_eq!(app.run_jobs().await, 0, "nothing left");
}

/// Fails every attempt (counting them).
struct AlwaysFails(Arc<AtomicUsize>);

impl Handler for AlwaysFails {
    fn run<'a>(
        &'a self,
        _: &'a techpotli::state::AppState,
        _: &'a Job,
    ) -> BoxFuture<'a, Result<(), JobError>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Err(JobError::Retry(anyhow::anyhow!("provider said 451"))) })
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dead_jobs_are_counted_listed_and_retried_by_owners() {
    let app = TestApp::with_settings(CacheMode::Memory, &[("JOBS_RETRY_BASE_MS", "1")]).await;
    let to = address("dead");
    let id = enqueue(&app, &mail_job(&to, "dead-1", 2)).await;
    let attempts = Arc::new(AtomicUsize::new(0));
    let failing = Worker::new(
        app.app.clone(),
        Handlers::default().with("mail", AlwaysFails(attempts.clone())),
        1,
    );
    failing.run_until_idle().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    failing.run_until_idle().await;
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    let j = job(&app, id).await;
    assert_eq!(j.state, "dead");
    assert_eq!(j.last_error.as_deref(), Some("provider said 451"));

    let metrics = app
        .send(
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(text.contains("techpotli_jobs{state=\"dead\"} 1"), "{text}");
    assert!(text.contains("techpotli_jobs_dead_total 1"), "{text}");
    assert!(text.contains("techpotli_jobs_failed_total 2"), "{text}");

    let owner = staff_token(&app, Role::Owner).await;
    let orders = staff_token(&app, Role::Orders).await;
    let list =
        "{ adminDeadJobs(first: 5) { edges { node { id kind state attempts lastError } } } }";
    assert_eq!(
        code(&app.post_as(Some(&orders), list, json!({})).await),
        "FORBIDDEN"
    );
    let listed = app.post_as(Some(&owner), list, json!({})).await;
    let node = &listed["data"]["adminDeadJobs"]["edges"][0]["node"];
    assert_eq!(node["kind"], "mail", "{listed}");
    assert_eq!(node["state"], "DEAD");
    assert_eq!(node["lastError"], "provider said 451");
    let gid = node["id"].as_str().unwrap().to_owned();

    let retry = "mutation($id: ID!) { retryJob(id: $id) { state attempts } }";
    let retried = app.post_as(Some(&owner), retry, json!({ "id": gid })).await;
    assert_eq!(
        retried["data"]["retryJob"],
        json!({ "state": "QUEUED", "attempts": 0 }),
        "{retried}"
    );
    let twice = app.post_as(Some(&owner), retry, json!({ "id": gid })).await;
    assert_eq!(code(&twice), "CONFLICT");
    assert_eq!(app.run_jobs().await, 1);
    assert_eq!(job(&app, id).await.state, "done");
    assert_eq!(inbox(&to).len(), 1);
    let none = app.post_as(Some(&owner), list, json!({})).await;
    assert_eq!(none["data"]["adminDeadJobs"]["edges"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_payload_no_handler_can_use_is_dead_at_once() {
    let app = TestApp::with_cache(CacheMode::Memory).await;
    let mut conn = app.db.conn().await;
    let bad = techpotli::jobs::NewJob {
        kind: "mail".into(),
        key: "bad-payload".into(),
        payload: json!({ "template": "nope" }),
        max_attempts: 10,
    };
    let unknown = techpotli::jobs::NewJob {
        kind: "teleport".into(),
        key: "k".into(),
        payload: json!({}),
        max_attempts: 10,
    };
    let a = model::enqueue(&mut conn, &bad).await.unwrap().unwrap();
    let b = model::enqueue(&mut conn, &unknown).await.unwrap().unwrap();
    assert_eq!(app.run_jobs().await, 2);
    for id in [a, b] {
        let j = job(&app, id).await;
        assert_eq!(
            (j.state.as_str(), j.attempts),
            ("dead", 1),
            "{:?}",
            j.last_error
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn finished_jobs_are_kept_a_week_then_pruned() {
    use diesel_async::RunQueryDsl;
    let app = TestApp::with_cache(CacheMode::Memory).await;
    let to = address("prune");
    let old = enqueue(&app, &mail_job(&to, "old", 3)).await;
    let recent = enqueue(&app, &mail_job(&to, "recent", 3)).await;
    assert_eq!(app.run_jobs().await, 2);
    let mut conn = app.db.conn().await;
    diesel::sql_query("UPDATE jobs SET finished_at = now() - interval '8 days' WHERE id = $1")
        .bind::<diesel::sql_types::BigInt, _>(old)
        .execute(&mut conn)
        .await
        .unwrap();
    app.run_jobs().await;
    assert!(
        model::find(&mut conn, old).await.unwrap().is_none(),
        "older than a week: gone"
    );
    assert_eq!(
        model::find(&mut conn, recent).await.unwrap().unwrap().state,
        "done"
    );
}
