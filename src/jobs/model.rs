//! The `jobs` row and every statement on it. Each state change is fenced by the claim token in
//! `locked_by`: a worker whose lease ran out (and was taken over) can no longer finish the job.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Double, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::jobs;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum JobState {
    /// Waiting for `run_at`.
    Queued,
    /// Claimed by a worker (until `locked_until`).
    Running,
    /// Finished successfully.
    Done,
    /// Failed `max_attempts` times (or permanently); waits for a person.
    Dead,
}

impl JobState {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Dead => "dead",
        }
    }

    /// From the stored form (unknown values read as `Queued`, which the CHECK forbids).
    pub fn parse(s: &str) -> Self {
        match s {
            "running" => Self::Running,
            "done" => Self::Done,
            "dead" => Self::Dead,
            _ => Self::Queued,
        }
    }
}

/// A job row.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = jobs, check_for_backend(diesel::pg::Pg))]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub key: String,
    pub payload: serde_json::Value,
    pub state: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
    pub locked_by: Option<String>,
    pub locked_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A job to enqueue.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = jobs)]
pub struct NewJob {
    /// Handler name, e.g. `mail`.
    pub kind: String,
    /// Idempotency key: a second job with the same kind and key is not created.
    pub key: String,
    /// The handler's input.
    pub payload: serde_json::Value,
    /// Attempts before the job is dead.
    pub max_attempts: i32,
}

/// Inserts a job on `conn` — call it inside the transaction of the change that causes it. Returns
/// the new id, or `None` when a job with the same kind and key already exists.
pub async fn enqueue(conn: &mut AsyncPgConnection, job: &NewJob) -> QueryResult<Option<i64>> {
    insert(conn, job, None).await
}

/// Like [`enqueue`], for a job due only after `delay`.
pub async fn enqueue_after(
    conn: &mut AsyncPgConnection,
    job: &NewJob,
    delay: Duration,
) -> QueryResult<Option<i64>> {
    let run_at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
    insert(conn, job, Some(run_at)).await
}

/// Inserts `job`, due at `run_at` (the database's `now()` when `None`).
async fn insert(
    conn: &mut AsyncPgConnection,
    job: &NewJob,
    run_at: Option<DateTime<Utc>>,
) -> QueryResult<Option<i64>> {
    diesel::insert_into(jobs::table)
        .values((job, run_at.map(|t| jobs::run_at.eq(t))))
        .on_conflict((jobs::kind, jobs::key))
        .do_nothing()
        .returning(jobs::id)
        .get_result(conn)
        .await
        .optional()
}

/// Claims up to `limit` due jobs for `claim` (a token unique to this claim): queued jobs whose
/// time has come, and running jobs whose lease ran out (their worker died). Rows another worker
/// is claiming at the same moment are skipped, not waited for.
pub async fn claim(
    conn: &mut AsyncPgConnection,
    claim: &str,
    lease: Duration,
    limit: i64,
) -> QueryResult<Vec<Job>> {
    diesel::sql_query(
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_by = $1, \
                locked_until = now() + make_interval(secs => $2), updated_at = now() \
         WHERE id IN ( \
             SELECT id FROM jobs \
             WHERE (state = 'queued' AND run_at <= now()) \
                OR (state = 'running' AND locked_until < now()) \
             ORDER BY run_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
         RETURNING *",
    )
    .bind::<Text, _>(claim)
    .bind::<Double, _>(lease.as_secs_f64())
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}

/// Extends the lease of a job this claim still holds; `false` when the claim was lost.
pub async fn renew(
    conn: &mut AsyncPgConnection,
    id: i64,
    claim: &str,
    lease: Duration,
) -> QueryResult<bool> {
    let updated = diesel::sql_query(
        "UPDATE jobs SET locked_until = now() + make_interval(secs => $3) \
         WHERE id = $1 AND locked_by = $2 AND state = 'running'",
    )
    .bind::<BigInt, _>(id)
    .bind::<Text, _>(claim)
    .bind::<Double, _>(lease.as_secs_f64())
    .execute(conn)
    .await?;
    Ok(updated == 1)
}

/// Marks a job done (if this claim still holds it); `scrub` empties its payload (mail jobs carry
/// one-time links that must not outlive the delivery). `false` when the claim was lost.
pub async fn complete(
    conn: &mut AsyncPgConnection,
    id: i64,
    claim: &str,
    scrub: bool,
) -> QueryResult<bool> {
    let updated = diesel::sql_query(
        "UPDATE jobs SET state = 'done', finished_at = now(), updated_at = now(), \
                locked_by = NULL, locked_until = NULL, last_error = NULL, \
                payload = CASE WHEN $3 THEN '{}'::jsonb ELSE payload END \
         WHERE id = $1 AND locked_by = $2 AND state = 'running'",
    )
    .bind::<BigInt, _>(id)
    .bind::<Text, _>(claim)
    .bind::<Bool, _>(scrub)
    .execute(conn)
    .await?;
    Ok(updated == 1)
}

/// Records a failed attempt: back to `queued` after `retry_in`, or `dead` when the job has used
/// its attempts (or `permanent`). Returns the new state, `None` when the claim was lost.
pub async fn fail(
    conn: &mut AsyncPgConnection,
    id: i64,
    claim: &str,
    error: &str,
    retry_in: Duration,
    permanent: bool,
) -> QueryResult<Option<JobState>> {
    #[derive(QueryableByName)]
    struct StateRow {
        #[diesel(sql_type = Text)]
        state: String,
    }
    let row: Option<StateRow> = diesel::sql_query(
        "UPDATE jobs SET \
             state = CASE WHEN $5 OR attempts >= max_attempts THEN 'dead' ELSE 'queued' END, \
             run_at = now() + make_interval(secs => $4), last_error = $3, \
             locked_by = NULL, locked_until = NULL, updated_at = now() \
         WHERE id = $1 AND locked_by = $2 AND state = 'running' \
         RETURNING state",
    )
    .bind::<BigInt, _>(id)
    .bind::<Text, _>(claim)
    .bind::<Text, _>(error)
    .bind::<Double, _>(retry_in.as_secs_f64())
    .bind::<Bool, _>(permanent)
    .get_result(conn)
    .await
    .optional()?;
    Ok(row.map(|r| JobState::parse(&r.state)))
}

/// Deletes up to 1,000 jobs that finished more than `older_than` ago; returns how many.
pub async fn prune_done(conn: &mut AsyncPgConnection, older_than: Duration) -> QueryResult<usize> {
    diesel::sql_query(
        "DELETE FROM jobs WHERE id IN ( \
             SELECT id FROM jobs WHERE state = 'done' \
               AND finished_at < now() - make_interval(secs => $1) LIMIT 1000)",
    )
    .bind::<Double, _>(older_than.as_secs_f64())
    .execute(conn)
    .await
}

/// Jobs per state that are not done: `(queued, running, dead)`.
pub async fn depth(conn: &mut AsyncPgConnection) -> QueryResult<(i64, i64, i64)> {
    #[derive(QueryableByName)]
    struct Depth {
        #[diesel(sql_type = BigInt)]
        queued: i64,
        #[diesel(sql_type = BigInt)]
        running: i64,
        #[diesel(sql_type = BigInt)]
        dead: i64,
    }
    // One count per state, each answered from that state's partial index (finished jobs,
    // the bulk of the table, are never read).
    let d: Depth = diesel::sql_query(
        "SELECT (SELECT count(*) FROM jobs WHERE state = 'queued') AS queued, \
                (SELECT count(*) FROM jobs WHERE state = 'running') AS running, \
                (SELECT count(*) FROM jobs WHERE state = 'dead') AS dead",
    )
    .get_result(conn)
    .await?;
    Ok((d.queued, d.running, d.dead))
}

/// Dead jobs, newest first, after the keyset `(updated_at, id)`.
pub async fn dead(
    conn: &mut AsyncPgConnection,
    after: Option<(DateTime<Utc>, i64)>,
    limit: i64,
) -> QueryResult<Vec<Job>> {
    let mut query = jobs::table
        .filter(jobs::state.eq("dead"))
        .select(Job::as_select())
        .order((jobs::updated_at.desc(), jobs::id.desc()))
        .limit(limit)
        .into_boxed();
    if let Some((at, id)) = after {
        query = query.filter(
            jobs::updated_at
                .lt(at)
                .or(jobs::updated_at.eq(at).and(jobs::id.lt(id))),
        );
    }
    query.load(conn).await
}

/// By id.
pub async fn find(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<Job>> {
    jobs::table
        .find(id)
        .select(Job::as_select())
        .first(conn)
        .await
        .optional()
}

/// Puts a dead job back in the queue with fresh attempts (its last error is kept until it runs);
/// `None` when no dead job has that id.
pub async fn retry_dead(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<Job>> {
    diesel::update(jobs::table.find(id).filter(jobs::state.eq("dead")))
        .set((
            jobs::state.eq("queued"),
            jobs::attempts.eq(0),
            jobs::run_at.eq(diesel::dsl::now),
            jobs::updated_at.eq(diesel::dsl::now),
        ))
        .returning(Job::as_returning())
        .get_result(conn)
        .await
        .optional()
}
