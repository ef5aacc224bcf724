//! SQLite statements that differ from PostgreSQL's: no row locks (the single writer
//! serialises every write transaction) and JSON arrays through `json_each`.

pub use crate::repo::queries::*;

/// One job, to change it.
pub const JOB_GET_FOR_UPDATE: &str = "SELECT * FROM jobs WHERE id = $1";

/// The jobs a worker holds, to change them.
pub const JOBS_HELD_BY_WORKER: &str = "SELECT * FROM jobs
WHERE worker_id = $1 AND status IN ('ASSIGNED', 'RUNNING') ORDER BY assigned_at, id";

/// Jobs by id, from a JSON array of ids.
pub const JOBS_BY_IDS: &str = "SELECT * FROM jobs WHERE id IN (SELECT value FROM json_each($1))";

/// Online workers, for placement: one row holding a JSON array of `PlacementWorker`s in id
/// order.
pub const WORKERS_FOR_PLACEMENT: &str = "SELECT json_group_array(json_array(
    id, cpu_milli, ram_total_mb, reserved_cpu_milli, reserved_ram_mb, running_jobs,
    max_parallel_jobs, draining, executor_ok, cooldown_until))
FROM (SELECT * FROM workers WHERE offline_since IS NULL ORDER BY id)";

/// The head of the queue.
pub const QUEUE_HEAD: &str = "SELECT id, required_cpu_milli, required_ram_mb FROM jobs
WHERE status = 'QUEUED' AND blocked = 0 ORDER BY priority DESC, queued_at, id LIMIT $1";

/// Moves due PENDING jobs to QUEUED.
pub const JOBS_PROMOTE_DUE: &str = "UPDATE jobs SET status = 'QUEUED', queued_at = $1,
    reason = CASE WHEN blocked = 1 THEN reason ELSE NULL END
WHERE id IN (SELECT id FROM jobs WHERE status = 'PENDING' AND run_at <= $1
    ORDER BY run_at LIMIT $2)
RETURNING id, attempts";

/// Hands a worker its undelivered assigned jobs.
pub const JOBS_DELIVER: &str = "UPDATE jobs SET delivered_at = $3
WHERE id IN (SELECT id FROM jobs WHERE worker_id = $1 AND status = 'ASSIGNED'
    AND delivered_at IS NULL ORDER BY assigned_at LIMIT $2)
RETURNING *";

/// Serialises decisions about which jobs fit no worker with worker arrivals. SQLite's single
/// writer already does, so this is a no-op.
pub const CAPACITY_LOCK: &str = "SELECT 1";

/// Queued jobs no larger than the given room, in queue order: what placement looks at when
/// the head of the queue waits for room that is not free.
pub const QUEUE_FITTING: &str = "SELECT id, required_cpu_milli, required_ram_mb FROM jobs
WHERE status = 'QUEUED' AND blocked = 0 AND required_cpu_milli <= $2 AND required_ram_mb <= $3
ORDER BY priority DESC, queued_at, id LIMIT $1";

/// Rows from a JSON array of objects bound as `$1`, one column per listed key (the types are
/// PostgreSQL's and not needed here): the source of the batch statements.
pub fn json_rows(columns: &[(&str, &str)]) -> String {
    let list: Vec<String> = columns
        .iter()
        .map(|(name, _)| format!("json_extract(item, '$.{name}') AS {name}"))
        .collect();
    // Materialized, each element is rendered as text once; read straight from `json_each`,
    // every `json_extract` re-rendered its element (a quarter of the writer's time).
    format!(
        "WITH items AS MATERIALIZED (SELECT value AS item FROM json_each($1)) SELECT {} FROM items",
        list.join(", ")
    )
}

/// Jobs by id from a JSON array of ids, to change them (the writer is already exclusive).
pub const JOBS_BY_IDS_FOR_UPDATE: &str = JOBS_BY_IDS;

/// Put before a column in a batch statement's WHERE so SQLite's planner does not drive the
/// join from that column's index (it would visit every job in that state for each batch row)
/// but from the batch rows and the primary key. SQLite's documented unary-plus hint.
pub const NOT_AN_INDEX: &str = "+";
