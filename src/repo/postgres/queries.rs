//! PostgreSQL statements that differ from SQLite's: row locks, so several server replicas can
//! share one database (`FOR UPDATE`, `SKIP LOCKED` for claims), and JSON through `jsonb`.

pub use crate::repo::queries::*;

/// One job, locked for the rest of the transaction.
pub const JOB_GET_FOR_UPDATE: &str = "SELECT * FROM jobs WHERE id = $1 FOR UPDATE";

/// The jobs a worker holds, locked.
pub const JOBS_HELD_BY_WORKER: &str = "SELECT * FROM jobs
WHERE worker_id = $1 AND status IN ('ASSIGNED', 'RUNNING') ORDER BY assigned_at, id FOR UPDATE";

/// Jobs by id, from a JSON array of ids.
pub const JOBS_BY_IDS: &str =
    "SELECT * FROM jobs WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb))";

/// Online workers, for placement: one row holding a JSON array of `PlacementWorker`s in id
/// order. Not locked: placements run one at a time under the capacity lock, anything else
/// only frees room meanwhile, and the reserving UPDATE re-checks the room.
pub const WORKERS_FOR_PLACEMENT: &str = "SELECT COALESCE(json_agg(json_build_array(
    id, cpu_milli, ram_total_mb, reserved_cpu_milli, reserved_ram_mb, running_jobs,
    max_parallel_jobs, draining, executor_ok, cooldown_until) ORDER BY id), '[]')::text
FROM workers WHERE offline_since IS NULL";

/// The head of the queue; rows another replica is placing are skipped.
pub const QUEUE_HEAD: &str = "SELECT id, required_cpu_milli, required_ram_mb FROM jobs
WHERE status = 'QUEUED' AND blocked = 0 ORDER BY priority DESC, queued_at, id LIMIT $1
FOR UPDATE SKIP LOCKED";

/// Moves due PENDING jobs to QUEUED. The pick is materialized for the reason given at
/// `JOBS_DELIVER`: at most `$2` rows.
pub const JOBS_PROMOTE_DUE: &str = "WITH due AS MATERIALIZED (SELECT id FROM jobs
    WHERE status = 'PENDING' AND run_at <= $1 ORDER BY run_at LIMIT $2 FOR UPDATE SKIP LOCKED)
UPDATE jobs SET status = 'QUEUED', queued_at = $1,
    reason = CASE WHEN blocked = 1 THEN reason ELSE NULL END
FROM due WHERE jobs.id = due.id
RETURNING jobs.id, jobs.attempts";

/// Hands a worker its undelivered assigned jobs; the outer check keeps two concurrent polls
/// from delivering one job twice. The pick is a materialized CTE: as an `IN (subquery)` the
/// planner may rescan it per row, and each rescan skips the rows this statement already
/// updated, so more than `$2` jobs came back.
pub const JOBS_DELIVER: &str = "WITH picked AS MATERIALIZED (SELECT id FROM jobs
    WHERE worker_id = $1 AND status = 'ASSIGNED' AND delivered_at IS NULL
    ORDER BY assigned_at LIMIT $2 FOR UPDATE SKIP LOCKED)
UPDATE jobs SET delivered_at = $3 FROM picked
WHERE jobs.id = picked.id AND jobs.delivered_at IS NULL
RETURNING jobs.*";

/// Serialises decisions about which jobs fit no worker with worker arrivals, so a job is never
/// blocked for want of a worker that registered meanwhile (a transaction-level advisory lock,
/// which also works behind PgBouncer). Taken before any row lock.
pub const CAPACITY_LOCK: &str = "SELECT pg_advisory_xact_lock(7262534001)";

/// Queued jobs no larger than the given room, in queue order: what placement looks at when
/// the head of the queue waits for room that is not free.
pub const QUEUE_FITTING: &str = "SELECT id, required_cpu_milli, required_ram_mb FROM jobs
WHERE status = 'QUEUED' AND blocked = 0 AND required_cpu_milli <= $2 AND required_ram_mb <= $3
ORDER BY priority DESC, queued_at, id LIMIT $1
FOR UPDATE SKIP LOCKED";

/// Rows from a JSON array of objects bound as `$1`, one typed column per listed key: the
/// source of the batch statements.
pub fn json_rows(columns: &[(&str, &str)]) -> String {
    let list: Vec<String> = columns
        .iter()
        .map(|(name, ty)| format!("{name} {ty}"))
        .collect();
    format!(
        "SELECT * FROM jsonb_to_recordset($1::jsonb) AS rows({})",
        list.join(", ")
    )
}

/// Jobs by id from a JSON array of ids, locked in id order (so two batches touching the same
/// jobs cannot deadlock).
pub const JOBS_BY_IDS_FOR_UPDATE: &str = "SELECT * FROM jobs
WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)) ORDER BY id FOR UPDATE";

/// SQLite needs a planner hint in the batch statements (see there); PostgreSQL does not.
pub const NOT_AN_INDEX: &str = "";
