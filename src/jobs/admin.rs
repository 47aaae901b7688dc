//! Owners' view of the queue: dead jobs, and putting one back.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::model::{self, Job, JobState};
use crate::auth::{Permission, RequirePermission};
use crate::db::pagination::PageRequest;
use crate::error::AppError;
use crate::graphql::context::{app, db};
use crate::graphql::ids::{expect_global, to_global};
use crate::graphql::response_cache::{Reads, RootReads};

/// What the root fields below read, for the response cache (see `Reads`).
pub const READS: RootReads = &[("adminDeadJobs", Reads::Private)];

/// A background job, as staff see it (its payload is not shown: it may hold links and addresses).
#[derive(SimpleObject, Clone, Debug)]
#[graphql(cache_control(private))]
pub struct AdminJob {
    /// Global ID.
    pub id: ID,
    /// Handler, e.g. `mail`.
    pub kind: String,
    /// Idempotency key.
    pub key: String,
    /// Current state.
    pub state: JobState,
    /// Attempts made.
    pub attempts: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
    /// The last failure, if any.
    pub last_error: Option<String>,
    /// Next run (queued jobs).
    pub run_at: DateTime<Utc>,
    /// Enqueued.
    pub created_at: DateTime<Utc>,
    /// Last change of state.
    pub updated_at: DateTime<Utc>,
}

impl From<Job> for AdminJob {
    fn from(job: Job) -> Self {
        Self {
            id: to_global("AdminJob", job.id),
            state: JobState::parse(&job.state),
            kind: job.kind,
            key: job.key,
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            last_error: job.last_error,
            run_at: job.run_at,
            created_at: job.created_at,
            updated_at: job.updated_at,
        }
    }
}

/// Job queries (owners).
#[derive(Default)]
pub struct JobsAdminQuery;

#[Object]
impl JobsAdminQuery {
    /// Jobs that failed every attempt, most recent first.
    #[graphql(guard = "RequirePermission(Permission::Staff)", cache_control(private))]
    async fn admin_dead_jobs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, AdminJob>> {
        let page = PageRequest::new(first, after, None, None)?;
        let after: Option<(DateTime<Utc>, i64)> = page.after_key()?;
        let limit = page.limit as i64 + 1;
        let rows = app(ctx)?
            .read(move |conn| Box::pin(async move { Ok(model::dead(conn, after, limit).await?) }))
            .await?;
        Ok(page.connection(rows, |j| (j.updated_at, j.id), AdminJob::from))
    }
}

/// Job mutations (owners).
#[derive(Default)]
pub struct JobsMutation;

#[Object]
impl JobsMutation {
    /// Puts a dead job back in the queue with fresh attempts; it runs within a second.
    #[graphql(guard = "RequirePermission(Permission::Staff)")]
    async fn retry_job(&self, ctx: &Context<'_>, id: ID) -> Result<AdminJob> {
        let id = expect_global(&id, "Job")?;
        let app = app(ctx)?;
        let conn = &mut *db(ctx).await?;
        match model::retry_dead(conn, id).await.map_err(AppError::from)? {
            Some(job) => {
                app.jobs_wake.notify_waiters();
                Ok(job.into())
            }
            None => match model::find(conn, id).await.map_err(AppError::from)? {
                Some(job) => {
                    Err(AppError::Conflict(format!("the job is {}, not dead", job.state)).into())
                }
                None => Err(AppError::not_found("job").into()),
            },
        }
    }
}
