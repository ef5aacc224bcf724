-- Reporting views over the history table; docs/reporting.md explains them with examples.
-- The same definitions exist for PostgreSQL, so the same query gives the same numbers.

-- One row per attempt (each delivery of a job to a worker), from the append-only history:
-- when it was queued, assigned, started and ended, on which worker, how it ended.
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
       CASE WHEN a.outcome IN ('PENDING', 'QUEUED') THEN 1 ELSE 0 END AS retried
FROM (
    SELECT job_id,
           attempt,
           MAX(CASE WHEN to_status = 'ASSIGNED' THEN worker_id END) AS worker_id,
           MIN(CASE WHEN to_status = 'ASSIGNED' THEN at END) AS assigned_at,
           MIN(CASE WHEN to_status = 'RUNNING' THEN at END) AS started_at,
           MAX(CASE WHEN from_status IN ('ASSIGNED', 'RUNNING')
                     AND to_status NOT IN ('ASSIGNED', 'RUNNING') THEN at END) AS ended_at,
           MAX(CASE WHEN from_status IN ('ASSIGNED', 'RUNNING')
                     AND to_status NOT IN ('ASSIGNED', 'RUNNING') THEN to_status END) AS outcome
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

-- Per worker: attempts, how they ended, and the time spent running jobs.
CREATE VIEW worker_utilization AS
SELECT worker_id,
       COUNT(*) AS attempts,
       SUM(CASE WHEN outcome = 'COMPLETED' THEN 1 ELSE 0 END) AS completed,
       SUM(CASE WHEN outcome IN ('FAILED', 'TIMED_OUT') OR retried = 1 THEN 1 ELSE 0 END) AS failed,
       SUM(CASE WHEN outcome = 'CANCELLED' THEN 1 ELSE 0 END) AS cancelled,
       COALESCE(SUM(run_ms), 0) AS busy_ms,
       MIN(assigned_at) AS first_assigned_at,
       MAX(ended_at) AS last_ended_at
FROM job_attempt_times
GROUP BY worker_id;

CREATE INDEX jobs_finished_at ON jobs (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX job_history_to_status ON job_history (to_status);
