-- The scheduler's indexes, led by the job status their WHERE clause fixes.
--
-- Without statistics (gantry never runs ANALYZE) SQLite's planner assumes an equality on the
-- first column of an index matches about ten rows. So for `status = 'QUEUED' AND blocked = 0
-- ORDER BY priority DESC, queued_at, id` it chose `jobs_status_id (status, id)`, read every
-- QUEUED job (blocked ones included) and sorted them, instead of walking the partial queue
-- index, which holds exactly the rows wanted, in order: each placement pass cost time in
-- proportion to the queue. Leading each partial index with the status it is restricted to
-- makes it match that equality too, so it wins with or without statistics and serves the
-- ORDER BY and the range; the rows it holds are the same. See docs/query-plans.md.

-- Placement's head of the queue (QUEUE_HEAD, QUEUE_FITTING).
DROP INDEX jobs_queue;
CREATE INDEX jobs_queue ON jobs (status, blocked, priority DESC, queued_at, id)
    WHERE status = 'QUEUED' AND blocked = 0;

-- PENDING jobs falling due (JOBS_PROMOTE_DUE, JOB_NEXT_DUE).
DROP INDEX jobs_pending;
CREATE INDEX jobs_pending ON jobs (status, run_at) WHERE status = 'PENDING';

-- The timeout sweep (JOBS_PAST_DEADLINE).
DROP INDEX jobs_deadline;
CREATE INDEX jobs_deadline ON jobs (status, deadline_at) WHERE status = 'RUNNING';

-- The unstarted sweep (JOBS_UNSTARTED).
DROP INDEX jobs_assigned;
CREATE INDEX jobs_assigned ON jobs (status, assigned_at) WHERE status = 'ASSIGNED';

-- A long poll's undelivered assignments (JOBS_UNDELIVERED_EXIST, JOBS_DELIVER): led by the
-- status too, or the (status, assigned_at) index above would now beat it for those queries.
DROP INDEX jobs_undelivered;
CREATE INDEX jobs_undelivered ON jobs (status, worker_id, assigned_at)
    WHERE status = 'ASSIGNED' AND delivered_at IS NULL;

-- A worker arriving unblocks the jobs it fits (JOBS_UNBLOCK_FITTING): it read every QUEUED
-- and PENDING job through jobs_status_id.
DROP INDEX jobs_blocked_any;
CREATE INDEX jobs_blocked_any ON jobs (blocked, required_cpu_milli, required_ram_mb)
    WHERE blocked = 1;
