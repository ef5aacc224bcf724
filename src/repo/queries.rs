//! SQL that reads the same on SQLite and PostgreSQL. Each dialect's `queries` module re-exports
//! these and defines the statements that differ (row locks, JSON, aggregates).

/// The INSERT both job inserts share.
macro_rules! job_insert {
    () => {
        "INSERT INTO jobs (id, status, command, image, file_url, filename, env,
    required_cpu_milli, required_ram_mb, timeout_ms, max_retries, priority, network, created_at,
    run_at, queued_at, blocked, reason, idempotency_key)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
    };
}

/// Inserts a job with an idempotency key; on a used key inserts nothing and returns no row.
pub const JOB_INSERT: &str = concat!(
    job_insert!(),
    "\nON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING\nRETURNING *"
);

/// Inserts a job without an idempotency key: it cannot conflict, and PostgreSQL's
/// speculative insertion for ON CONFLICT would cost every insert extra work.
pub const JOB_INSERT_FRESH: &str = concat!(job_insert!(), "\nRETURNING *");

/// One job.
pub const JOB_GET: &str = "SELECT * FROM jobs WHERE id = $1";

/// The job holding an idempotency key.
pub const JOB_BY_IDEMPOTENCY_KEY: &str = "SELECT * FROM jobs WHERE idempotency_key = $1";

/// Writes back every column a state change may touch.
pub const JOB_UPDATE: &str = "UPDATE jobs SET status = $2, failed_attempts = $3,
    infra_retries = $4, run_at = $5, queued_at = $6, delivered_at = $7, started_at = $8,
    deadline_at = $9, finished_at = $10, exit_code = $11, stdout = $12, stderr = $13, error = $14,
    duration_ms = $15, oom_killed = $16, reason = $17, blocked = $18
WHERE id = $1";

/// Appends one history row.
pub const HISTORY_INSERT: &str = "INSERT INTO job_history
    (job_id, attempt, from_status, to_status, worker_id, at, reason)
VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// A job's history, oldest first.
pub const HISTORY_FOR_JOB: &str = "SELECT * FROM job_history WHERE job_id = $1 ORDER BY id";

/// How many online workers could ever hold a job of this size (0 or 1).
pub const WORKER_FITS_ANY: &str = "SELECT COUNT(*) FROM (SELECT 1 FROM workers
    WHERE offline_since IS NULL AND cpu_milli >= $1 AND ram_total_mb >= $2 LIMIT 1) AS fits";

/// The largest online capacity and the number of online workers, for reasons.
pub const WORKER_CAPACITY_SUMMARY: &str = "SELECT COALESCE(MAX(cpu_milli), 0),
    COALESCE(MAX(ram_total_mb), 0), COUNT(*) FROM workers WHERE offline_since IS NULL";

/// Gives back a held job's slot and resources.
pub const WORKER_RELEASE: &str = "UPDATE workers SET
    reserved_cpu_milli = reserved_cpu_milli - $2,
    reserved_ram_mb = reserved_ram_mb - $3,
    running_jobs = running_jobs - 1
WHERE id = $1";

/// A success: the failure count starts over.
pub const WORKER_RECORD_SUCCESS: &str =
    "UPDATE workers SET consecutive_failures = 0 WHERE id = $1 AND consecutive_failures <> 0";

/// A failure: counts, and starts a cooldown (until $3) at the threshold ($2).
pub const WORKER_RECORD_FAILURE: &str = "UPDATE workers SET
    consecutive_failures = consecutive_failures + 1,
    cooldown_until = CASE WHEN consecutive_failures + 1 >= $2 THEN $3 ELSE cooldown_until END
WHERE id = $1";

/// Keeps a job that fits no online worker out of the placement index, with the reason.
pub const JOB_BLOCK: &str = "UPDATE jobs SET blocked = 1, reason = $2 WHERE id = $1";

/// Lets blocked jobs that fit a worker of this size back into the placement index. PENDING
/// ones too: a job blocked at insert keeps its flag through promotion, so one left blocked
/// here would never be placed.
pub const JOBS_UNBLOCK_FITTING: &str = "UPDATE jobs SET blocked = 0, reason = NULL
WHERE status IN ('QUEUED', 'PENDING') AND blocked = 1
    AND required_cpu_milli <= $1 AND required_ram_mb <= $2";

/// The earliest due time among PENDING jobs.
pub const JOB_NEXT_DUE: &str = "SELECT MIN(run_at) FROM jobs WHERE status = 'PENDING'";

/// The worker started its attempt.
pub const JOB_START: &str = "UPDATE jobs SET status = 'RUNNING', started_at = $4,
    deadline_at = $4 + timeout_ms, delivered_at = COALESCE(delivered_at, $4)
WHERE id = $1 AND worker_id = $2 AND attempts = $3 AND status = 'ASSIGNED'
RETURNING *";

/// RUNNING jobs past their deadline, oldest deadline first.
pub const JOBS_PAST_DEADLINE: &str = "SELECT id FROM jobs
WHERE status = 'RUNNING' AND deadline_at <= $1 ORDER BY deadline_at LIMIT $2";

/// ASSIGNED jobs assigned long ago and never started.
pub const JOBS_UNSTARTED: &str = "SELECT id FROM jobs
WHERE status = 'ASSIGNED' AND assigned_at <= $1 ORDER BY assigned_at LIMIT $2";

/// Registers a worker or starts a new life of a known one.
pub const WORKER_UPSERT: &str = "INSERT INTO workers (id, hostname, cpu_milli, ram_total_mb,
    ram_free_mb, cpu_usage, max_parallel_jobs, labels, version, executor, executor_ok,
    token_hash, registered_at, last_heartbeat_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $12, $12)
ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, cpu_milli = excluded.cpu_milli,
    ram_total_mb = excluded.ram_total_mb, ram_free_mb = excluded.ram_free_mb,
    cpu_usage = excluded.cpu_usage, max_parallel_jobs = excluded.max_parallel_jobs,
    labels = excluded.labels, version = excluded.version, executor = excluded.executor,
    executor_ok = 1, token_hash = excluded.token_hash, offline_since = NULL, draining = 0,
    registered_at = excluded.registered_at, last_heartbeat_at = excluded.last_heartbeat_at
RETURNING *";

/// Records a heartbeat's metrics; brings an OFFLINE worker back.
pub const WORKER_HEARTBEAT: &str = "UPDATE workers SET cpu_usage = $2, ram_free_mb = $3,
    ram_total_mb = CASE WHEN $4 > 0 THEN $4 ELSE ram_total_mb END, executor_ok = $5,
    last_heartbeat_at = $6, offline_since = NULL, draining = $7
WHERE id = $1
RETURNING *";

/// One worker.
pub const WORKER_GET: &str = "SELECT * FROM workers WHERE id = $1";

/// The worker owning a token.
pub const WORKER_BY_TOKEN_HASH: &str = "SELECT id FROM workers WHERE token_hash = $1";

/// Every worker.
pub const WORKER_LIST: &str = "SELECT * FROM workers ORDER BY id";

/// Which jobs each worker holds.
pub const WORKER_HELD_JOB_IDS: &str = "SELECT worker_id, id FROM jobs
WHERE status IN ('ASSIGNED', 'RUNNING') ORDER BY assigned_at, id";

/// Online workers silent since before $1.
pub const WORKERS_SILENT: &str = "SELECT id FROM workers
WHERE offline_since IS NULL AND last_heartbeat_at < $1 ORDER BY last_heartbeat_at LIMIT $2";

/// Marks a worker OFFLINE if it is still silent.
pub const WORKER_MARK_OFFLINE: &str = "UPDATE workers SET offline_since = $2
WHERE id = $1 AND offline_since IS NULL AND last_heartbeat_at < $3";

/// Ends cooldowns that ran out.
pub const WORKERS_END_COOLDOWNS: &str = "UPDATE workers SET cooldown_until = NULL,
    consecutive_failures = 0 WHERE cooldown_until IS NOT NULL AND cooldown_until <= $1";

/// Takes or renews a lease unless another holder's is still valid.
pub const LEASE_ACQUIRE: &str = "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE leases.holder = excluded.holder OR leases.expires_at < $4
RETURNING holder";

/// Stores an upload.
pub const UPLOAD_INSERT: &str =
    "INSERT INTO uploads (id, filename, size, sha256, content, created_at)
VALUES ($1, $2, $3, $4, $5, $6)";

/// One upload.
pub const UPLOAD_GET: &str = "SELECT * FROM uploads WHERE id = $1";

/// Jobs per state, for the metrics gauge.
pub const JOB_COUNTS_BY_STATUS: &str = "SELECT status, COUNT(*) FROM jobs GROUP BY status";

/// Terminal transitions ever recorded, per final state, for the metrics counter.
pub const JOBS_FINISHED_BY_STATUS: &str = "SELECT to_status, COUNT(*) FROM job_history
WHERE to_status IN ('COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED') GROUP BY to_status";

/// Whether a worker has an undelivered assignment (0 or 1), read before taking the write lock.
pub const JOBS_UNDELIVERED_EXIST: &str = "SELECT COUNT(*) FROM (SELECT 1 FROM jobs
    WHERE worker_id = $1 AND status = 'ASSIGNED' AND delivered_at IS NULL LIMIT 1) AS waiting";

/// Reserves `$4` slots and their resources on a worker at once, only if they are all free.
pub const WORKER_RESERVE_MANY: &str = "UPDATE workers SET
    reserved_cpu_milli = reserved_cpu_milli + $2,
    reserved_ram_mb = reserved_ram_mb + $3,
    running_jobs = running_jobs + $4
WHERE id = $1 AND offline_since IS NULL
    AND reserved_cpu_milli + $2 <= cpu_milli
    AND reserved_ram_mb + $3 <= ram_total_mb
    AND running_jobs + $4 <= max_parallel_jobs";

/// Gives back `$4` held jobs' slots and resources at once.
pub const WORKER_RELEASE_MANY: &str = "UPDATE workers SET
    reserved_cpu_milli = reserved_cpu_milli - $2,
    reserved_ram_mb = reserved_ram_mb - $3,
    running_jobs = running_jobs - $4
WHERE id = $1";

/// The first placeable job, if any, unlocked: whether a placement pass has anything to do.
pub const QUEUE_PEEK: &str = "SELECT id FROM jobs WHERE status = 'QUEUED' AND blocked = 0
ORDER BY priority DESC, queued_at, id LIMIT 1";
