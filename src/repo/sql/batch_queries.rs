//! The batch statements: one statement for many rows, fed a JSON array bound as `$1` and read
//! through the dialect's `json_rows` (`json_each` on SQLite, `jsonb_to_recordset` on
//! PostgreSQL), so the SQL text stays the same whatever the batch size (one prepared
//! statement, one plan) and every row costs no round trip of its own.

use super::q;
use std::sync::LazyLock;

const TEXT: &str = "text";
const INT: &str = "bigint";

/// The columns a new job is inserted with, in `JOBS_INSERT_MANY`'s order.
const NEW_JOB_COLUMNS: &[(&str, &str)] = &[
    ("id", TEXT),
    ("status", TEXT),
    ("command", TEXT),
    ("image", TEXT),
    ("file_url", TEXT),
    ("filename", TEXT),
    ("env", TEXT),
    ("required_cpu_milli", INT),
    ("required_ram_mb", INT),
    ("timeout_ms", INT),
    ("max_retries", INT),
    ("priority", INT),
    ("network", INT),
    ("created_at", INT),
    ("run_at", INT),
    ("queued_at", INT),
    ("blocked", INT),
    ("reason", TEXT),
    ("idempotency_key", TEXT),
];

/// Inserts many jobs; a row whose idempotency key is used inserts nothing and returns nothing.
pub static JOBS_INSERT_MANY: LazyLock<String> = LazyLock::new(|| {
    jobs_insert_many("ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING")
});

/// Inserts many jobs none of which has an idempotency key (see `JOB_INSERT_FRESH`).
pub static JOBS_INSERT_MANY_FRESH: LazyLock<String> = LazyLock::new(|| jobs_insert_many(""));

/// The batch INSERT with `on_conflict` (the `WHERE true` lets SQLite parse an upsert after a
/// SELECT).
fn jobs_insert_many(on_conflict: &str) -> String {
    let names: Vec<&str> = NEW_JOB_COLUMNS.iter().map(|(n, _)| *n).collect();
    let names = names.join(", ");
    format!(
        "INSERT INTO jobs ({names}) SELECT {names} FROM ({}) AS v WHERE true
{on_conflict} RETURNING id",
        q::json_rows(NEW_JOB_COLUMNS)
    )
}

/// Appends many history rows, in array order.
pub static HISTORY_INSERT_MANY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO job_history (job_id, attempt, from_status, to_status, worker_id, at, reason)
SELECT h_job, h_attempt, h_from, h_to, h_worker, h_at, h_reason FROM ({}) AS v",
        q::json_rows(&[
            ("h_job", TEXT),
            ("h_attempt", INT),
            ("h_from", TEXT),
            ("h_to", TEXT),
            ("h_worker", TEXT),
            ("h_at", INT),
            ("h_reason", TEXT),
        ])
    )
});

/// Marks many QUEUED jobs ASSIGNED (`$2` is now), each to its worker, as a new attempt.
pub static JOBS_ASSIGN_MANY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE jobs SET status = 'ASSIGNED', worker_id = v.a_worker,
    attempts = jobs.attempts + 1, assigned_at = $2, delivered_at = NULL, started_at = NULL,
    deadline_at = NULL, reason = NULL
FROM ({}) AS v WHERE jobs.id = v.a_job AND {}jobs.status = 'QUEUED'
RETURNING id, worker_id, attempts",
        q::json_rows(&[("a_job", TEXT), ("a_worker", TEXT)]),
        q::NOT_AN_INDEX
    )
});

/// Starts many ASSIGNED attempts of worker `$2` at `$3`; returns the ids and attempts it
/// started.
pub static JOBS_START_MANY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE jobs SET status = 'RUNNING', started_at = $3, deadline_at = $3 + jobs.timeout_ms,
    delivered_at = COALESCE(jobs.delivered_at, $3)
FROM ({}) AS v
WHERE jobs.id = v.s_job AND {hint}jobs.worker_id = $2 AND jobs.attempts = v.s_attempt
    AND {hint}jobs.status = 'ASSIGNED'
RETURNING id, attempts",
        q::json_rows(&[("s_job", TEXT), ("s_attempt", INT)]),
        hint = q::NOT_AN_INDEX
    )
});

/// The columns a state change writes back, in `JOBS_UPDATE_MANY`'s order (see `JOB_UPDATE`).
const CHANGED_JOB_COLUMNS: &[(&str, &str)] = &[
    ("status", TEXT),
    ("failed_attempts", INT),
    ("infra_retries", INT),
    ("run_at", INT),
    ("queued_at", INT),
    ("delivered_at", INT),
    ("started_at", INT),
    ("deadline_at", INT),
    ("finished_at", INT),
    ("exit_code", INT),
    ("stdout", TEXT),
    ("stderr", TEXT),
    ("error", TEXT),
    ("duration_ms", INT),
    ("oom_killed", INT),
    ("reason", TEXT),
    ("blocked", INT),
];

/// Writes back many jobs changed by lifecycle rules (`u_id` names each).
pub static JOBS_UPDATE_MANY: LazyLock<String> = LazyLock::new(|| {
    let mut columns = vec![("u_id", TEXT)];
    columns.extend_from_slice(CHANGED_JOB_COLUMNS);
    let sets: Vec<String> = CHANGED_JOB_COLUMNS
        .iter()
        .map(|(n, _)| format!("{n} = v.{n}"))
        .collect();
    format!(
        "UPDATE jobs SET {} FROM ({}) AS v WHERE jobs.id = v.u_id",
        sets.join(", "),
        q::json_rows(&columns)
    )
});
