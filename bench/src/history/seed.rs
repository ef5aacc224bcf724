//! The history figure's stored state in bulk SQL: N finished jobs spread over twelve days, each
//! with the history rows the server would have written (four, or eight for the 1% retried
//! once), and the 50 workers that ran them. One statement per table and chunk, the same text
//! for SQLite and PostgreSQL but for the hex digits of the ids.

use gantry::repo::Dialect;

/// A minute, in milliseconds.
const MINUTE_MS: i64 = 60_000;
/// A day, in milliseconds.
pub(super) const DAY_MS: i64 = 24 * 60 * MINUTE_MS;
/// How far back the oldest job ended.
const SPAN_MS: i64 = 12 * DAY_MS;
/// How long before the seeding the newest job ended.
const NEWEST_AGE_MS: i64 = 2 * MINUTE_MS;
/// A job's life, from its creation (and queueing) to its end.
const LIFE_MS: i64 = 2_000;
/// From queueing to placement.
const ASSIGN_AFTER_MS: i64 = 100;
/// From placement to start.
const START_AFTER_MS: i64 = 10;
/// When the first attempt of a retried job ended, after its creation.
const FIRST_END_MS: i64 = 600;
/// When a retried job was queued again, after its creation (the backoff after its failure).
const REQUEUE_MS: i64 = 1_100;
/// Workers that ran the jobs: `w-00` to `w-49`.
const WORKERS: i64 = 50;
/// Added to a job's row number in its run id, so that every run id has as many digits and a
/// search for one matches that job alone.
const RUN_BASE: i64 = 10_000_000;
/// The images the jobs ran in.
const IMAGES: [&str; 10] = [
    "python:3.12",
    "alpine:3.20",
    "node:22",
    "rust:1.82",
    "golang:1.23",
    "ubuntu:24.04",
    "pytorch/pytorch:2.4.0",
    "r-base:4.4.1",
    "debian:bookworm",
    "busybox:1.36",
];

/// `expr` as `width` lower-case hex digits, zero-padded, in the SQL of `d` (the one
/// expression of the seeding that differs between the two databases).
fn hex(d: Dialect, expr: &str, width: usize) -> String {
    match d {
        Dialect::Sqlite => format!("printf('%0{width}x', {expr})"),
        Dialect::Postgres => format!("lpad(to_hex({expr}), {width}, '0')"),
    }
}

/// When the seeded jobs ended: evenly spaced over twelve days, the newest two minutes before
/// the seeding. Job `n` (0 the oldest) is the `n`th row.
#[derive(Debug, Clone, Copy)]
pub(super) struct Spread {
    /// How many jobs.
    pub jobs: i64,
    /// When the newest ended.
    newest: i64,
    /// Between two endings.
    step: i64,
}

impl Spread {
    /// `jobs` jobs, the newest ending two minutes before `now`.
    pub fn new(jobs: i64, now: i64) -> Spread {
        Spread {
            jobs,
            newest: now - NEWEST_AGE_MS,
            step: (SPAN_MS - NEWEST_AGE_MS) / (jobs - 1).max(1),
        }
    }

    /// When job `n` ended.
    pub fn finished_at(self, n: i64) -> i64 {
        self.newest - (self.jobs - 1 - n) * self.step
    }

    /// The job that ended nearest `at` (the oldest or newest outside the span).
    pub fn job_ended_near(self, at: i64) -> i64 {
        (self.jobs - 1 - (self.newest - at) / self.step).clamp(0, self.jobs - 1)
    }
}

/// A worker's id from a number below [`WORKERS`]: `w-07`.
fn worker_id(expr: &str) -> String {
    format!("CASE WHEN {expr} < 10 THEN 'w-0' || ({expr}) ELSE 'w-' || ({expr}) END")
}

/// The workers, all online with a heartbeat at `now`.
pub(super) fn workers(now: i64) -> String {
    format!(
        "WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < {WORKERS})
INSERT INTO workers (id, hostname, cpu_milli, ram_total_mb, ram_free_mb, max_parallel_jobs,
    version, executor, registered_at, last_heartbeat_at)
SELECT {id}, 'gpu-' || i || '.bench', 16000, 65536, 60000, 8, 'bench', 'docker', {registered},
    {now}
FROM seq",
        id = worker_id("i"),
        registered = now - SPAN_MS - DAY_MS,
    )
}

/// Jobs `lo..hi`: 94% COMPLETED, 4% FAILED, 1% TIMED_OUT, 1% CANCELLED, 1% of them after a
/// failed first attempt; stdout and stderr already pruned from those that ended before
/// `outputs_before`, as the server's output retention would have.
pub(super) fn jobs(d: Dialect, spread: Spread, lo: i64, hi: i64, outputs_before: i64) -> String {
    let images: String = IMAGES
        .iter()
        .enumerate()
        .map(|(i, name)| format!(" WHEN {i} THEN '{name}'"))
        .collect();
    format!(
        "WITH RECURSIVE seq(n) AS (SELECT {lo} UNION ALL SELECT n + 1 FROM seq WHERE n + 1 < {hi})
INSERT INTO jobs (id, status, command, image, required_cpu_milli, required_ram_mb, timeout_ms,
    max_retries, attempts, failed_attempts, worker_id, reason, created_at, run_at, queued_at,
    assigned_at, delivered_at, started_at, finished_at, exit_code, stdout, stderr, error,
    duration_ms, cpu_seconds, peak_memory_mb, run_ms)
SELECT substr(t, 1, 8) || '-' || substr(t, 9, 4) || '-7' || {hex_a} || '-8' || {hex_b} || '-'
        || {hex_n},
    status, 'python train.py --shard ' || (n % 1000) || ' --run r' || ({RUN_BASE} + n),
    CASE (h / 10000) % 10{images} END,
    1000, 1024, CASE WHEN status = 'TIMED_OUT' THEN 1800 ELSE 3600000 END,
    attempts - 1, attempts,
    attempts - 1 + CASE WHEN status IN ('FAILED', 'TIMED_OUT') THEN 1 ELSE 0 END,
    {worker},
    CASE WHEN status = 'CANCELLED' THEN 'cancelled by a client'
        WHEN attempts = 2 THEN what || '; no retries left (1 allowed)' ELSE what END,
    created, created + retry, created + retry, started - {START_AFTER_MS},
    started - {START_AFTER_MS}, started, fin,
    CASE status WHEN 'COMPLETED' THEN 0 WHEN 'FAILED' THEN 1 END,
    CASE WHEN fin >= {outputs_before} AND status IN ('COMPLETED', 'FAILED')
        THEN 'epoch 10/10 loss 0.' || (1000 + h % 9000) || ' shard ' || (n % 1000) END,
    CASE WHEN fin >= {outputs_before} AND status = 'FAILED'
        THEN 'RuntimeError: shard ' || (n % 1000) || ' diverged' END,
    CASE WHEN status = 'TIMED_OUT' THEN what END,
    measured * (fin - started),
    measured * (0.5 + (h % 1000) / 100.0), measured * (64 + (h / 1000) % 900),
    measured * (fin - started)
FROM (SELECT n, fin, h, status, attempts, fin - {LIFE_MS} AS created,
        (attempts - 1) * {REQUEUE_MS} AS retry,
        fin - {LIFE_MS} + (attempts - 1) * {REQUEUE_MS} + {ASSIGN_AFTER_MS} + {START_AFTER_MS}
            AS started,
        CASE status WHEN 'FAILED' THEN 'exit code 1'
            WHEN 'TIMED_OUT' THEN 'timed out after 1800 ms' END AS what,
        CASE WHEN status IN ('COMPLETED', 'FAILED') THEN 1 END AS measured,
        {hex_t} AS t
    FROM (SELECT n, fin, h,
            CASE WHEN h % 100 < 94 THEN 'COMPLETED' WHEN h % 100 < 98 THEN 'FAILED'
                WHEN h % 100 = 98 THEN 'TIMED_OUT' ELSE 'CANCELLED' END AS status,
            CASE WHEN (h / 100) % 100 = 0 THEN 2 ELSE 1 END AS attempts
        FROM (SELECT n, {newest} - CAST({last} - n AS BIGINT) * {step} AS fin,
                (CAST(n AS BIGINT) * 2654435761) % 4294967296 AS h
            FROM seq) a) b) c",
        hex_a = hex(d, "h % 4096", 3),
        hex_b = hex(d, "(h / 4096) % 4096", 3),
        hex_n = hex(d, "n", 12),
        hex_t = hex(d, &format!("fin - {LIFE_MS}"), 12),
        worker = worker_id(&format!("n % {WORKERS}")),
        newest = spread.newest,
        last = spread.jobs - 1,
        step = spread.step,
    )
}

/// The history of the jobs that ended in `[from, to]`: each row the server writes, a
/// retried job's first attempt ending in a backoff (PENDING) and a promotion.
pub(super) fn history(from: i64, to: i64) -> String {
    let placed = ASSIGN_AFTER_MS;
    let started = ASSIGN_AFTER_MS + START_AFTER_MS;
    let (replaced, restarted) = (REQUEUE_MS + placed, REQUEUE_MS + started);
    // Each job's rows by its attempts: attempts, row, attempt, from, to (NULL: the job's end),
    // at after its creation (NULL: its end), on its worker, ends an attempt (1: one that is
    // retried, 2: the last), reason (NULL: the job's).
    let steps = [
        "1 AS attempts, 0 AS s, 0 AS attempt, NULL AS from_status, 'QUEUED' AS to_status, \
         0 AS at_ms, 0 AS on_worker, 0 AS ends, 'created' AS reason"
            .to_string(),
        format!("1, 1, 1, 'QUEUED', 'ASSIGNED', {placed}, 1, 0, 'placed (best fit)'"),
        format!("1, 2, 1, 'ASSIGNED', 'RUNNING', {started}, 1, 0, 'started by its worker'"),
        "1, 3, 1, 'RUNNING', NULL, NULL, 1, 2, NULL".to_string(),
        "2, 0, 0, NULL, 'QUEUED', 0, 0, 0, 'created'".to_string(),
        format!("2, 1, 1, 'QUEUED', 'ASSIGNED', {placed}, 1, 0, 'placed (best fit)'"),
        format!("2, 2, 1, 'ASSIGNED', 'RUNNING', {started}, 1, 0, 'started by its worker'"),
        format!(
            "2, 3, 1, 'RUNNING', 'PENDING', {FIRST_END_MS}, 1, 1, \
             'exit code 1; retry 1 of 1 in {} ms'",
            REQUEUE_MS - FIRST_END_MS
        ),
        format!("2, 4, 1, 'PENDING', 'QUEUED', {REQUEUE_MS}, 0, 0, 'run time reached'"),
        format!("2, 5, 2, 'QUEUED', 'ASSIGNED', {replaced}, 1, 0, 'placed (best fit)'"),
        format!("2, 6, 2, 'ASSIGNED', 'RUNNING', {restarted}, 1, 0, 'started by its worker'"),
        "2, 7, 2, 'RUNNING', NULL, NULL, 1, 2, NULL".to_string(),
    ];
    let steps = steps
        .iter()
        .map(|s| format!("SELECT {s}"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    format!(
        "INSERT INTO job_history (job_id, attempt, from_status, to_status, worker_id, at, reason,
    fault, cpu_seconds, peak_memory_mb, run_ms)
SELECT j.id, k.attempt, k.from_status, COALESCE(k.to_status, j.status),
    CASE WHEN k.on_worker = 1 THEN j.worker_id END,
    CASE WHEN k.at_ms IS NULL THEN j.finished_at ELSE j.created_at + k.at_ms END,
    COALESCE(k.reason, j.reason, 'exit code 0'),
    CASE WHEN k.ends = 1 THEN 'job' WHEN k.ends = 2 THEN (CASE j.status
        WHEN 'FAILED' THEN 'job' WHEN 'TIMED_OUT' THEN 'job' WHEN 'CANCELLED' THEN 'operator'
        END) END,
    CASE WHEN k.ends = 1 THEN 0.4 WHEN k.ends = 2 THEN j.cpu_seconds END,
    CASE WHEN k.ends = 1 THEN 80 WHEN k.ends = 2 THEN j.peak_memory_mb END,
    CASE WHEN k.ends = 1 THEN {first_run_ms} WHEN k.ends = 2 THEN j.run_ms END
FROM jobs j
JOIN ({steps}) k ON k.attempts = j.attempts
WHERE j.finished_at >= {from} AND j.finished_at <= {to}
ORDER BY j.finished_at, j.id, k.s",
        first_run_ms = FIRST_END_MS - started,
    )
}

/// Moves the output pruner's cursor to the newest job that ended before `outputs_before`,
/// whose outputs [`jobs`] left out: the state a server that kept its retention would be in.
pub(super) fn outputs_cursor(outputs_before: i64) -> String {
    format!(
        "UPDATE maintenance_cursors SET
    finished_at = COALESCE((SELECT MAX(finished_at) FROM jobs
        WHERE finished_at < {outputs_before}), 0),
    job_id = COALESCE((SELECT id FROM jobs WHERE finished_at < {outputs_before}
        ORDER BY finished_at DESC, id DESC LIMIT 1), '')
WHERE name = 'outputs'"
    )
}

/// Every worker heartbeats at `now`, as their agents would while the reads are timed.
pub(super) fn workers_heartbeat(now: i64) -> String {
    format!("UPDATE workers SET last_heartbeat_at = {now}, offline_since = NULL")
}
