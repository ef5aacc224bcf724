-- Runs for months: the rollup that reports read and that outlives pruned rows, where each
-- maintenance pass got to, and the indexes the pruner walks. See docs/retention.md.

-- Finished jobs in the order the rollup and the pruners walk them: by when they ended, ties
-- by id (the cursors of `maintenance_cursors` are such pairs). Replaces V2's index on
-- finished_at alone, which the reports used.
DROP INDEX jobs_finished_at;
CREATE INDEX jobs_finished ON jobs (finished_at, id) WHERE finished_at IS NOT NULL;

-- Input files by age, and the unfinished jobs that still need theirs.
CREATE INDEX uploads_created ON uploads (created_at);
CREATE INDEX jobs_file_url ON jobs (file_url) WHERE file_url IS NOT NULL AND finished_at IS NULL;

-- Where a maintenance pass got to in the finished jobs: every job that ended at or before
-- (finished_at, job_id) was handled. 'rollup': folded into job_rollups; 'outputs': its
-- stdout and stderr pruned.
CREATE TABLE maintenance_cursors (
    name        TEXT PRIMARY KEY,
    finished_at BIGINT NOT NULL,
    job_id      TEXT NOT NULL
);
INSERT INTO maintenance_cursors (name, finished_at, job_id) VALUES ('rollup', 0, ''), ('outputs', 0, '');

-- The finished jobs summed per hour (UTC, by when they ended), image, worker and final state:
-- counts, and for each measured amount over their attempts its count, sum, largest value
-- and histogram (`buckets`: a JSON object by amount name of {bucket: count}, buckets of two
-- significant digits, see src/rollup/histogram.rs). image is '(default)' and worker_id '-'
-- when the jobs had none. Beside them, each hour's totals per final state have image and
-- worker_id '*' (what a report not grouped by image or worker reads: a few rows per hour).
-- Kept for --rollup-retention (forever by default).
CREATE TABLE job_rollups (
    hour          BIGINT NOT NULL,
    image         TEXT NOT NULL,
    worker_id     TEXT NOT NULL,
    status        TEXT NOT NULL,
    jobs          BIGINT NOT NULL,
    attempts      BIGINT NOT NULL,
    retries       BIGINT NOT NULL,
    worker_faults BIGINT NOT NULL,
    job_faults    BIGINT NOT NULL,
    queue_wait_ms_count BIGINT NOT NULL,
    queue_wait_ms_sum DOUBLE PRECISION NOT NULL,
    queue_wait_ms_max DOUBLE PRECISION NOT NULL,
    run_ms_count BIGINT NOT NULL,
    run_ms_sum DOUBLE PRECISION NOT NULL,
    run_ms_max DOUBLE PRECISION NOT NULL,
    cpu_seconds_count BIGINT NOT NULL,
    cpu_seconds_sum DOUBLE PRECISION NOT NULL,
    cpu_seconds_max DOUBLE PRECISION NOT NULL,
    peak_memory_mb_count BIGINT NOT NULL,
    peak_memory_mb_sum DOUBLE PRECISION NOT NULL,
    peak_memory_mb_max DOUBLE PRECISION NOT NULL,
    required_ram_mb_count BIGINT NOT NULL,
    required_ram_mb_sum DOUBLE PRECISION NOT NULL,
    required_ram_mb_max DOUBLE PRECISION NOT NULL,
    memory_used_pct_count BIGINT NOT NULL,
    memory_used_pct_sum DOUBLE PRECISION NOT NULL,
    memory_used_pct_max DOUBLE PRECISION NOT NULL,
    buckets       TEXT NOT NULL,
    PRIMARY KEY (hour, image, worker_id, status)
);

-- Rollup rows are rewritten once per pass that adds to their hour: room for HOT updates.
ALTER TABLE job_rollups SET (fillfactor = 70);

-- The job history per hour, image, worker and final state, for SQL reports over any span:
-- the rollup rows, and the jobs that ended since the last rollup pass summed the same way,
-- so it covers all of history the rollups keep, pruned rows included. Each measured amount
-- has its count, sum and largest value (NULL when there is none): averages are sum / count;
-- percentiles are in the API report (`GET /api/reports/summary`), from the histograms.
-- The view's second half on PostgreSQL: a function, so that the query runs with the cursor
-- as literal values the planner can estimate (a handful of recent jobs: the jobs_finished
-- index and job_history by job); as a join or a parameter it guessed a third of the table and
-- scanned all of it.
CREATE FUNCTION job_hourly_live() RETURNS TABLE (
    hour BIGINT,
    image TEXT,
    worker_id TEXT,
    status TEXT,
    jobs BIGINT,
    attempts BIGINT,
    retries BIGINT,
    worker_faults BIGINT,
    job_faults BIGINT,
    queue_wait_ms_count BIGINT,
    queue_wait_ms_sum DOUBLE PRECISION,
    queue_wait_ms_max DOUBLE PRECISION,
    run_ms_count BIGINT,
    run_ms_sum DOUBLE PRECISION,
    run_ms_max DOUBLE PRECISION,
    cpu_seconds_count BIGINT,
    cpu_seconds_sum DOUBLE PRECISION,
    cpu_seconds_max DOUBLE PRECISION,
    peak_memory_mb_count BIGINT,
    peak_memory_mb_sum DOUBLE PRECISION,
    peak_memory_mb_max DOUBLE PRECISION,
    required_ram_mb_count BIGINT,
    required_ram_mb_sum DOUBLE PRECISION,
    required_ram_mb_max DOUBLE PRECISION,
    memory_used_pct_count BIGINT,
    memory_used_pct_sum DOUBLE PRECISION,
    memory_used_pct_max DOUBLE PRECISION
) LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    cursor_at BIGINT;
    cursor_id TEXT;
BEGIN
    SELECT c.finished_at, c.job_id INTO cursor_at, cursor_id
    FROM maintenance_cursors c WHERE c.name = 'rollup';
    RETURN QUERY EXECUTE format($q$
SELECT hour, image, worker_id, status,
       CAST(COUNT(DISTINCT id) AS BIGINT), CAST(COUNT(attempt) AS BIGINT),
       CAST(SUM(CASE WHEN attempt IS NULL OR attempt = 1 THEN retries ELSE 0 END) AS BIGINT),
       CAST(COALESCE(SUM(worker_faults), 0) AS BIGINT),
       CAST(COALESCE(SUM(job_faults), 0) AS BIGINT),
       CAST(COUNT(queue_wait_ms) AS BIGINT),
       CAST(SUM(queue_wait_ms) AS DOUBLE PRECISION),
       CAST(MAX(queue_wait_ms) AS DOUBLE PRECISION),
       CAST(COUNT(run_ms) AS BIGINT),
       CAST(SUM(run_ms) AS DOUBLE PRECISION),
       CAST(MAX(run_ms) AS DOUBLE PRECISION),
       CAST(COUNT(cpu_seconds) AS BIGINT),
       CAST(SUM(cpu_seconds) AS DOUBLE PRECISION),
       CAST(MAX(cpu_seconds) AS DOUBLE PRECISION),
       CAST(COUNT(peak_memory_mb) AS BIGINT),
       CAST(SUM(peak_memory_mb) AS DOUBLE PRECISION),
       CAST(MAX(peak_memory_mb) AS DOUBLE PRECISION),
       CAST(COUNT(CASE WHEN peak_memory_mb IS NOT NULL THEN required_ram_mb END) AS BIGINT),
       CAST(SUM(CASE WHEN peak_memory_mb IS NOT NULL THEN required_ram_mb END) AS DOUBLE PRECISION),
       CAST(MAX(CASE WHEN peak_memory_mb IS NOT NULL THEN required_ram_mb END) AS DOUBLE PRECISION),
       CAST(COUNT(CASE WHEN peak_memory_mb IS NOT NULL AND required_ram_mb > 0
                 THEN 100.0 * peak_memory_mb / required_ram_mb END) AS BIGINT),
       CAST(SUM(CASE WHEN peak_memory_mb IS NOT NULL AND required_ram_mb > 0
                 THEN 100.0 * peak_memory_mb / required_ram_mb END) AS DOUBLE PRECISION),
       CAST(MAX(CASE WHEN peak_memory_mb IS NOT NULL AND required_ram_mb > 0
                 THEN 100.0 * peak_memory_mb / required_ram_mb END) AS DOUBLE PRECISION)
FROM (
    -- One row per attempt of each job past the rollup cursor (one row with a NULL attempt for
    -- a job that never had one), with its queue wait and run time as job_attempt_times has them.
    SELECT a.*,
           a.assigned_at - (SELECT MAX(q.at) FROM job_history q
               WHERE q.job_id = a.id AND q.to_status = 'QUEUED'
                 AND q.attempt = a.attempt - 1 AND q.at <= a.assigned_at) AS queue_wait_ms,
           a.ended_at - a.started_at AS run_ms
    FROM (
        SELECT j.id, j.finished_at / 3600000 * 3600000 AS hour,
               COALESCE(j.image, '(default)') AS image, COALESCE(j.worker_id, '-') AS worker_id,
               j.status, CASE WHEN j.attempts > 1 THEN j.attempts - 1 ELSE 0 END AS retries,
               CAST(j.required_ram_mb AS DOUBLE PRECISION) AS required_ram_mb,
               h.attempt,
               MIN(CASE WHEN h.to_status = 'ASSIGNED' THEN h.at END) AS assigned_at,
               MIN(CASE WHEN h.to_status = 'RUNNING' THEN h.at END) AS started_at,
               MAX(CASE WHEN h.from_status IN ('ASSIGNED', 'RUNNING')
                         AND h.to_status NOT IN ('ASSIGNED', 'RUNNING') THEN h.at END) AS ended_at,
               MAX(h.cpu_seconds) AS cpu_seconds,
               MAX(h.peak_memory_mb) AS peak_memory_mb,
               SUM(CASE WHEN h.fault = 'worker' THEN 1 ELSE 0 END) AS worker_faults,
               SUM(CASE WHEN h.fault = 'job' THEN 1 ELSE 0 END) AS job_faults
        FROM jobs j
        LEFT JOIN job_history h ON h.job_id = j.id AND h.attempt >= 1
        WHERE j.finished_at IS NOT NULL AND (j.finished_at, j.id) > (%s, %L)
        GROUP BY j.id, j.finished_at, j.image, j.worker_id, j.status, j.attempts,
                 j.required_ram_mb, h.attempt
    ) a
) live
GROUP BY hour, image, worker_id, status
$q$, cursor_at, cursor_id);
END
$fn$;

CREATE VIEW job_hourly AS
SELECT hour, image, worker_id, status, jobs, attempts, retries, worker_faults, job_faults,
       queue_wait_ms_count, queue_wait_ms_sum, CASE WHEN queue_wait_ms_count > 0 THEN queue_wait_ms_max END AS queue_wait_ms_max,
       run_ms_count, run_ms_sum, CASE WHEN run_ms_count > 0 THEN run_ms_max END AS run_ms_max,
       cpu_seconds_count, cpu_seconds_sum, CASE WHEN cpu_seconds_count > 0 THEN cpu_seconds_max END AS cpu_seconds_max,
       peak_memory_mb_count, peak_memory_mb_sum, CASE WHEN peak_memory_mb_count > 0 THEN peak_memory_mb_max END AS peak_memory_mb_max,
       required_ram_mb_count, required_ram_mb_sum, CASE WHEN required_ram_mb_count > 0 THEN required_ram_mb_max END AS required_ram_mb_max,
       memory_used_pct_count, memory_used_pct_sum, CASE WHEN memory_used_pct_count > 0 THEN memory_used_pct_max END AS memory_used_pct_max
FROM job_rollups
WHERE image <> '*'
UNION ALL
SELECT * FROM job_hourly_live();

-- /metrics counts endings from jobs_finished, what ended since its last scrape, no longer
-- every ending in the history: this index only cost every ending a write.
DROP INDEX job_history_ended;
