-- What each attempt used, as its worker measured it (the container's cgroup under Docker, the
-- process's rusage under the process executor): on the history row that ends the attempt,
-- and on the job row for its last ended attempt (so a job's status needs no extra read).
-- NULL wherever nothing was measured: an attempt lost with its worker, a cancel, a container
-- that never started. `run_ms` is the worker's own start-to-end time of the container or
-- process, `pull_ms` the time spent pulling the image before it.
ALTER TABLE job_history ADD COLUMN cpu_seconds DOUBLE PRECISION;
ALTER TABLE job_history ADD COLUMN peak_memory_mb DOUBLE PRECISION;
ALTER TABLE job_history ADD COLUMN pull_ms BIGINT;
ALTER TABLE job_history ADD COLUMN run_ms BIGINT;
ALTER TABLE jobs ADD COLUMN cpu_seconds DOUBLE PRECISION;
ALTER TABLE jobs ADD COLUMN peak_memory_mb DOUBLE PRECISION;
ALTER TABLE jobs ADD COLUMN pull_ms BIGINT;
ALTER TABLE jobs ADD COLUMN run_ms BIGINT;

-- The reporting views of V2 again, each keeping every column it had (same names, same
-- meaning, same order) and gaining the usage columns after them. The worker's own run time is
-- `worker_run_ms` in the views, since `run_ms` of `job_attempt_times` is, as before, the
-- server's started-to-ended time.
DROP VIEW worker_utilization;
DROP VIEW job_attempt_times;
DROP VIEW job_attempts;

-- One row per attempt (each delivery of a job to a worker), from the append-only history:
-- when it was queued, assigned, started and ended, on which worker, how it ended, and what it
-- used (from the row that ended it).
CREATE VIEW job_attempts AS
SELECT a.job_id,
       a.attempt,
       a.worker_id,
       (SELECT MAX(q.at) FROM job_history q
         WHERE q.job_id = a.job_id AND q.to_status = 'QUEUED'
           AND q.attempt = a.attempt - 1 AND q.at <= a.assigned_at) AS queued_at,
       a.assigned_at,
       a.started_at,
       a.ended_at,
       a.outcome,
       CASE WHEN a.outcome IN ('PENDING', 'QUEUED') THEN 1 ELSE 0 END AS retried,
       a.cpu_seconds,
       a.peak_memory_mb,
       a.pull_ms,
       a.worker_run_ms
FROM (
    SELECT job_id,
           attempt,
           MAX(CASE WHEN to_status = 'ASSIGNED' THEN worker_id END) AS worker_id,
           MIN(CASE WHEN to_status = 'ASSIGNED' THEN at END) AS assigned_at,
           MIN(CASE WHEN to_status = 'RUNNING' THEN at END) AS started_at,
           MAX(CASE WHEN from_status IN ('ASSIGNED', 'RUNNING')
                     AND to_status NOT IN ('ASSIGNED', 'RUNNING') THEN at END) AS ended_at,
           MAX(CASE WHEN from_status IN ('ASSIGNED', 'RUNNING')
                     AND to_status NOT IN ('ASSIGNED', 'RUNNING') THEN to_status END) AS outcome,
           MAX(cpu_seconds) AS cpu_seconds,
           MAX(peak_memory_mb) AS peak_memory_mb,
           MAX(pull_ms) AS pull_ms,
           MAX(run_ms) AS worker_run_ms
    FROM job_history
    WHERE attempt >= 1
    GROUP BY job_id, attempt
) a;

-- The attempts with their waits and run times in milliseconds.
CREATE VIEW job_attempt_times AS
SELECT job_attempts.*,
       assigned_at - queued_at AS queue_wait_ms,
       ended_at - started_at AS run_ms
FROM job_attempts;

-- Per worker: attempts, how they ended, the time spent running jobs, and the CPU they used.
CREATE VIEW worker_utilization AS
SELECT worker_id,
       COUNT(*) AS attempts,
       SUM(CASE WHEN outcome = 'COMPLETED' THEN 1 ELSE 0 END) AS completed,
       SUM(CASE WHEN outcome IN ('FAILED', 'TIMED_OUT') OR retried = 1 THEN 1 ELSE 0 END) AS failed,
       SUM(CASE WHEN outcome = 'CANCELLED' THEN 1 ELSE 0 END) AS cancelled,
       COALESCE(SUM(run_ms), 0) AS busy_ms,
       MIN(assigned_at) AS first_assigned_at,
       MAX(ended_at) AS last_ended_at,
       SUM(cpu_seconds) AS cpu_seconds,
       MAX(peak_memory_mb) AS peak_memory_mb,
       COALESCE(SUM(pull_ms), 0) AS pull_ms
FROM job_attempt_times
GROUP BY worker_id;
