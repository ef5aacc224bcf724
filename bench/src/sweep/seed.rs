//! The sweep's seeded state in bulk SQL, one statement per table (the same text for SQLite
//! and PostgreSQL), so even the largest state takes moments to make.

use super::Size;

/// A minute, in milliseconds.
const MINUTE: i64 = 60_000;
/// An hour, in milliseconds.
const HOUR: i64 = 60 * MINUTE;
/// A worker's CPU: two jobs fill it, so a full worker has no free slot.
const WORKER_CPU_MILLI: i64 = 4_000;
/// A held or finished job's CPU.
const JOB_CPU_MILLI: i64 = 1_000;
/// A blocked job's CPU: no worker is that large.
const BLOCKED_CPU_MILLI: i64 = 64_000;

/// The workers: all online with fresh heartbeats, except the first 1%, whose last heartbeat
/// is one second short of the timeout at `at` (so a pass two seconds later expires them). The
/// first `full_workers` hold two jobs each and have no free slot.
pub(super) fn seed_workers(size: Size, at: i64, heartbeat_timeout_ms: i64) -> String {
    let full = size.full_workers();
    let expiring = size.expiring_workers();
    let reserved = 2 * JOB_CPU_MILLI;
    format!(
        "WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < {n})
INSERT INTO workers (id, hostname, cpu_milli, ram_total_mb, ram_free_mb, max_parallel_jobs,
    reserved_cpu_milli, reserved_ram_mb, running_jobs, executor, registered_at,
    last_heartbeat_at)
SELECT 'w-' || (100000 + i), 'w' || i || '.bench', {WORKER_CPU_MILLI}, 8192, 8192, 2,
    CASE WHEN i < {full} THEN {reserved} ELSE 0 END,
    CASE WHEN i < {full} THEN 2048 ELSE 0 END,
    CASE WHEN i < {full} THEN 2 ELSE 0 END,
    'docker', {registered},
    CASE WHEN i < {expiring} THEN {stale} ELSE {at} END
FROM seq",
        n = size.workers,
        registered = at - HOUR,
        stale = at - heartbeat_timeout_ms + 1_000,
    )
}

/// The jobs: first the two each full worker holds (one RUNNING with a far deadline, one
/// ASSIGNED and delivered a second ago), then 20% QUEUED and blocked (larger than any
/// worker), 5% PENDING due in a day, and the rest finished (one in ten FAILED).
pub(super) fn seed_jobs(size: Size, at: i64) -> String {
    let held = 2 * size.full_workers();
    let blocked_end = held + size.jobs / 5;
    let pending_end = blocked_end + size.jobs / 20;
    let workers = size.workers;
    format!(
        "WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n + 1 < {jobs})
INSERT INTO jobs (id, status, command, image, required_cpu_milli, required_ram_mb, timeout_ms,
    max_retries, attempts, worker_id, blocked, reason, created_at, run_at, queued_at,
    assigned_at, delivered_at, started_at, deadline_at, finished_at, exit_code, duration_ms)
SELECT 'j-' || (10000000 + n),
    CASE WHEN n < {held} THEN (CASE WHEN n % 2 = 0 THEN 'RUNNING' ELSE 'ASSIGNED' END)
        WHEN n < {blocked_end} THEN 'QUEUED'
        WHEN n < {pending_end} THEN 'PENDING'
        WHEN n % 10 = 0 THEN 'FAILED' ELSE 'COMPLETED' END,
    'true', 'gantry-test-busybox:latest',
    CASE WHEN n >= {held} AND n < {blocked_end} THEN {BLOCKED_CPU_MILLI} ELSE {JOB_CPU_MILLI} END,
    1024, {HOUR}, 0,
    CASE WHEN n < {held} OR n >= {pending_end} THEN 1 ELSE 0 END,
    CASE WHEN n < {held} THEN 'w-' || (100000 + n / 2)
        WHEN n >= {pending_end} THEN 'w-' || (100000 + n % {workers}) END,
    CASE WHEN n >= {held} AND n < {blocked_end} THEN 1 ELSE 0 END,
    CASE WHEN n >= {held} AND n < {blocked_end} THEN 'larger than any online worker' END,
    {created}, CASE WHEN n >= {blocked_end} AND n < {pending_end} THEN {due} ELSE {created} END,
    CASE WHEN n >= {blocked_end} AND n < {pending_end} THEN NULL ELSE {created} + n END,
    CASE WHEN n < {held} THEN {recent} WHEN n >= {pending_end} THEN {created} + n END,
    CASE WHEN n < {held} THEN {recent} WHEN n >= {pending_end} THEN {created} + n END,
    CASE WHEN n < {held} AND n % 2 = 0 THEN {recent}
        WHEN n >= {pending_end} THEN {created} + n END,
    CASE WHEN n < {held} AND n % 2 = 0 THEN {recent} + {HOUR} END,
    CASE WHEN n >= {pending_end} THEN {created} + n + 1000 END,
    CASE WHEN n >= {pending_end} THEN (CASE WHEN n % 10 = 0 THEN 1 ELSE 0 END) END,
    CASE WHEN n >= {pending_end} THEN 1000 END
FROM seq",
        jobs = size.jobs,
        created = at - 2 * HOUR,
        due = at + 24 * HOUR,
        recent = at - 1_000,
    )
}
