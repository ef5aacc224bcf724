-- Lighter writes on the hot path. A job row is written five times (created, assigned,
-- delivered, started, ended) and, on PostgreSQL, every write that changes an indexed column
-- (or a column in a partial index's WHERE) adds an entry to every index whose WHERE the new
-- row version meets. Profiles of `gantry bench --figures throughput` showed that index upkeep
-- was most of the database's time. See BENCHMARKS.md.

-- Delivery writes only `delivered_at`. The long poll's index named it in its WHERE, so every
-- delivery was a non-HOT update touching all indexes; now it changes no indexed column and is
-- a HOT update (no index touched) whenever its page has room. The index still holds only
-- ASSIGNED jobs, by worker.
DROP INDEX jobs_undelivered;
CREATE INDEX jobs_assigned_to ON jobs (worker_id, assigned_at) WHERE status = 'ASSIGNED';

-- Most jobs have no idempotency key: index only those that do.
ALTER TABLE jobs DROP CONSTRAINT jobs_idempotency_key_key;
CREATE UNIQUE INDEX jobs_idempotency_key ON jobs (idempotency_key)
    WHERE idempotency_key IS NOT NULL;

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

-- The history's foreign key checked each new history row with a query that also locked the
-- job's row (FOR KEY SHARE: one more write to the job's page and to the WAL, per history row,
-- four per job). Only the repository writes history, in the transaction that writes the job,
-- and nothing deletes jobs, so the check guarded nothing the code does not already guarantee.
-- SQLite keeps its constraint: there the check is one index lookup and writes nothing.
ALTER TABLE job_history DROP CONSTRAINT job_history_job_id_fkey;

-- Vacuum of `jobs` runs unthrottled: with the default cost limit a 10-minute soak ended with
-- half of the rows dead. And more room on each page for a job's later row versions (V1 had
-- 80), meant for HOT deliveries; measured, it barely moved their share (about 40% to 44%), so
-- it is a candidate to go back to 80 once its effect is told apart from vacuum's.
ALTER TABLE jobs SET (fillfactor = 50, autovacuum_vacuum_cost_delay = 0);
