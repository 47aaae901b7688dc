//! The durable job queue: work that must happen after a commit and must not be lost (mail today;
//! webhook processing and order follow-ups next).
//!
//! - **Outbox**: a job is a row of `jobs` inserted with [`model::enqueue`] on the connection of the
//!   transaction that causes it, so there is no job without its commit and no commit without its
//!   job.
//! - **Workers** ([`worker::Worker`]) run inside `techpotli serve` and alone as `techpotli
//!   worker` (any number side by side). They claim due jobs with `FOR UPDATE SKIP LOCKED` under a
//!   lease that a running handler renews; a worker that dies loses its lease and the job runs
//!   again, so handlers must be idempotent. Every claim has its own token, and a job is finished
//!   or failed only by the claim that holds it: two workers never run one job at once.
//! - **Retries**: exponential backoff with jitter, the last error kept, and after
//!   `max_attempts` the job is `dead` — listed and retried by owners over GraphQL
//!   (`adminDeadJobs`, `retryJob`) and counted in `/metrics`.

pub mod admin;
pub mod metrics;
pub mod model;
pub mod registry;
pub mod worker;

pub use model::{Job, JobState, NewJob, enqueue};
pub use worker::{Handler, Handlers, JobError, Worker};
