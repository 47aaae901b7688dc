//! Purges as jobs of the durable queue: one job per write (enqueued after its commit), and when a
//! worker runs one it takes over the keys of every other purge not yet sent, so a burst of writes
//! becomes one call to the CDN. A purge the CDN refused is retried with all the keys it took over.

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Jsonb, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};

use crate::jobs::{Job, NewJob};

/// The job kind of a purge.
pub const JOB_KIND: &str = "cdn.purge";
/// Attempts before a purge is dead; with the queue's backoff (capped at an hour) about a day,
/// longer than any edge TTL worth configuring.
const MAX_ATTEMPTS: i32 = 30;
/// Waiting purges one run takes over.
const TAKE_OVER: i64 = 1_000;

/// A purge job's input.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Purge {
    /// Surrogate keys.
    pub keys: Vec<String>,
    /// The delayed second purge of the same keys (see `CdnConfig::repeat_after`).
    #[serde(default)]
    pub repeat: bool,
}

/// A new purge job of `keys`.
pub fn job(keys: Vec<String>, repeat: bool, key: String) -> NewJob {
    NewJob {
        kind: JOB_KIND.into(),
        key,
        payload: serde_json::to_value(Purge { keys, repeat }).unwrap_or_default(),
        max_attempts: MAX_ATTEMPTS,
    }
}

/// Takes over the other purges of the same phase (first purges take over first purges, including
/// ones waiting to retry; repeats take over repeats that are due): waiting ones are deleted,
/// running ones keep running with no keys left, and the union of every key is stored on `job`
/// — one statement, while `job`'s claim holds. Returns the union; `None` when the claim was lost.
/// A purge whose keys were taken finds none left and finishes without a call; if the taking purge
/// fails, it is retried with all of them, so no key is lost either way.
pub async fn take_over(
    conn: &mut AsyncPgConnection,
    job: &Job,
    repeat: bool,
) -> QueryResult<Option<Purge>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Jsonb)]
        payload: serde_json::Value,
    }
    let row: Option<Row> = diesel::sql_query(
        "WITH mine AS ( \
             SELECT id, payload FROM jobs \
             WHERE id = $1 AND locked_by = $2 AND state = 'running' FOR UPDATE), \
         others AS ( \
             SELECT id, state, payload FROM jobs \
             WHERE kind = $3 AND id <> $1 AND state IN ('queued', 'running') \
               AND COALESCE(payload->'repeat' = 'true'::jsonb, false) = $4 \
               AND (NOT $4 OR run_at <= now()) \
               AND payload->'keys' <> '[]'::jsonb \
               AND EXISTS (SELECT 1 FROM mine) \
             ORDER BY id LIMIT $5 FOR UPDATE SKIP LOCKED), \
         gone AS ( \
             DELETE FROM jobs WHERE id IN (SELECT id FROM others WHERE state = 'queued')), \
         emptied AS ( \
             UPDATE jobs SET payload = jsonb_set(payload, '{keys}', '[]'::jsonb), \
                    updated_at = now() \
             WHERE id IN (SELECT id FROM others WHERE state = 'running')), \
         merged AS ( \
             SELECT COALESCE(jsonb_agg(DISTINCT k ORDER BY k), '[]'::jsonb) AS keys FROM ( \
                 SELECT jsonb_array_elements_text(payload->'keys') AS k FROM others \
                 UNION SELECT jsonb_array_elements_text(payload->'keys') FROM mine) s) \
         UPDATE jobs SET payload = jsonb_build_object('keys', merged.keys, 'repeat', $4), \
                updated_at = now() \
         FROM merged WHERE jobs.id IN (SELECT id FROM mine) \
         RETURNING jobs.payload",
    )
    .bind::<BigInt, _>(job.id)
    .bind::<Text, _>(job.locked_by.as_deref().unwrap_or_default())
    .bind::<Text, _>(JOB_KIND)
    .bind::<Bool, _>(repeat)
    .bind::<BigInt, _>(TAKE_OVER)
    .get_result(conn)
    .await
    .optional()?;
    Ok(row.and_then(|r| serde_json::from_value(r.payload).ok()))
}

/// Enqueues the repeat of the first purge `first` (a job id), due after `delay` (once per first
/// purge).
pub async fn enqueue_repeat(
    conn: &mut AsyncPgConnection,
    first: i64,
    keys: Vec<String>,
    delay: Duration,
) -> QueryResult<Option<i64>> {
    let job = job(keys, true, format!("repeat:{first}"));
    crate::jobs::model::enqueue_after(conn, &job, delay).await
}

/// Marks a purge the write sent itself as done, unless a worker or another purge has it by now
/// (then it is sent again, which is harmless).
pub async fn finish_sent(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE jobs SET state = 'done', finished_at = now(), updated_at = now() \
         WHERE id = $1 AND state = 'queued'",
    )
    .bind::<BigInt, _>(id)
    .execute(conn)
    .await
}

/// Makes a purge the write could not send due at once, for the workers.
pub async fn due_now(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE jobs SET run_at = now(), updated_at = now() WHERE id = $1 AND state = 'queued'",
    )
    .bind::<BigInt, _>(id)
    .execute(conn)
    .await
}
