-- Lighter writes on the hot path. A job row is written five times (created, assigned,
-- delivered, started, ended); SQLite rewrites the entries of every index that holds a changed
-- column or names one in its WHERE. See BENCHMARKS.md and the PostgreSQL V6.

-- Delivery writes only `delivered_at`: with no index naming it, a delivery touches no index.
-- Led by the status, as V5 explains, so it beats `jobs_assigned` for one worker's jobs.
DROP INDEX jobs_undelivered;
CREATE INDEX jobs_assigned_to ON jobs (status, worker_id, assigned_at) WHERE status = 'ASSIGNED';

-- A full (status, id) index took an entry for every state change of every job. The job list
-- filters by status; the live statuses have their own partial indexes (queue, pending,
-- assigned, deadline), COMPLETED is most jobs (the primary key walked backwards finds them at
-- once), so only the rare unhappy endings need an index of their own to be listed fast.
DROP INDEX jobs_status_id;
CREATE INDEX jobs_ended_badly ON jobs (status, id) WHERE status IN ('FAILED', 'TIMED_OUT', 'CANCELLED');

-- A job has no worker until it is first placed.
DROP INDEX jobs_worker_id;
CREATE INDEX jobs_worker_id ON jobs (worker_id, id) WHERE worker_id IS NOT NULL;

-- The metrics counter counts endings only; the other history rows need no entry.
DROP INDEX job_history_to_status;
CREATE INDEX job_history_ended ON job_history (to_status)
    WHERE to_status IN ('COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED');
