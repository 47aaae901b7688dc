//! Job queue benchmark (run by `bench/jobs`, not by the tests): how many jobs one worker process
//! completes per second with a no-op handler (claim, run, record done: the queue's own cost), and
//! the time from `customerRegister` to its mail accepted by a real SMTP server on loopback (request
//! through the real router, password hash, commit, wake, claim, render, SMTP).
//!
//! Environment: DATABASE_URL (a scratch database: the `jobs` table is emptied), SMTP_URL, and
//! BENCH_MAIL_DIR (where the SMTP sink stores messages). Arguments: `--jobs N --registrations R`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark driver")]

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;
use futures_util::future::BoxFuture;
use techpotli::config::Config;
use techpotli::jobs::{Handler, Handlers, Job, JobError, Worker};
use techpotli::state::{App, AppState};
use tower::ServiceExt;

struct Noop;

impl Handler for Noop {
    fn run<'a>(&'a self, _: &'a AppState, _: &'a Job) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async { Ok(()) })
    }
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let jobs = arg("--jobs", 20_000) as i64;
    let registrations = arg("--registrations", 25);
    let config = Config::from_env()?;
    techpotli::db::run_migrations(&config.database.url).await?;
    let app = App::build(config)?;
    let mail_dir = std::path::PathBuf::from(std::env::var("BENCH_MAIL_DIR")?);

    println!("| Measure | Value |\n|---|---|");
    for concurrency in [1usize, 4, 16] {
        let mut conn = app.db.get().await?;
        diesel::sql_query("TRUNCATE jobs")
            .execute(&mut conn)
            .await?;
        diesel::sql_query(
            "INSERT INTO jobs (kind, key, payload) \
             SELECT 'noop', 'bench-' || g, '{}'::jsonb FROM generate_series(1, $1) g",
        )
        .bind::<BigInt, _>(jobs)
        .execute(&mut conn)
        .await?;
        drop(conn);
        let worker = Worker::new(
            app.clone(),
            Handlers::default().with("noop", Noop),
            concurrency,
        );
        let statements = app.statements.get();
        let started = Instant::now();
        let ran = worker.run_until_idle().await;
        let elapsed = started.elapsed().as_secs_f64();
        assert_eq!(ran as i64, jobs, "every job ran once");
        println!(
            "| no-op jobs/s, one worker, concurrency {concurrency} ({jobs} jobs) | {:.0} ({:.2} SQL statements per job) |",
            jobs as f64 / elapsed,
            (app.statements.get() - statements) as f64 / jobs as f64
        );
    }

    // customerRegister → mail accepted by the SMTP server, one at a time, with a worker running
    // in the background as in `serve`.
    let router = techpotli::app::build_router(app.clone());
    let worker = Worker::new(app.clone(), Handlers::standard(), 4);
    tokio::spawn(worker.run(std::future::pending()));
    let mut latencies = Vec::new();
    for i in 0..registrations {
        let email = format!("bench{i}.{:x}@shop.test", techpotli::random::u64());
        let body = serde_json::json!({
            "query": "mutation($i: CustomerRegisterInput!) { customerRegister(input: $i) }",
            "variables": { "i": { "email": email, "password": "mango-tree-river-7", "firstName": "Bench", "lastName": "Mark" } }
        });
        let folder = mail_dir.join(&email);
        let started = Instant::now();
        let response = router
            .clone()
            .oneshot(
                Request::post("/graphql")
                    .header("content-type", "application/json")
                    .body(Body::from(body.to_string()))?,
            )
            .await?;
        assert!(response.status().is_success());
        let answered = started.elapsed();
        loop {
            let delivered = std::fs::read_dir(&folder)
                .map(|d| {
                    d.filter_map(Result::ok)
                        .any(|e| e.path().extension().is_some_and(|x| x == "eml"))
                })
                .unwrap_or(false);
            if delivered {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "mail never arrived"
            );
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        latencies.push((
            started.elapsed().as_secs_f64() * 1000.0,
            answered.as_secs_f64() * 1000.0,
        ));
    }
    let mut total: Vec<f64> = latencies.iter().map(|l| l.0).collect();
    let mut answer: Vec<f64> = latencies.iter().map(|l| l.1).collect();
    total.sort_by(f64::total_cmp);
    answer.sort_by(f64::total_cmp);
    println!(
        "| `customerRegister` answered, ms (p50 / p99 / max of {registrations}) | {:.1} / {:.1} / {:.1} |",
        percentile(&answer, 0.5),
        percentile(&answer, 0.99),
        answer[answer.len() - 1]
    );
    println!(
        "| `customerRegister` → mail accepted by SMTP, ms (p50 / p99 / max of {registrations}) | {:.1} / {:.1} / {:.1} |",
        percentile(&total, 0.5),
        percentile(&total, 0.99),
        total[total.len() - 1]
    );
    Ok(())
}
