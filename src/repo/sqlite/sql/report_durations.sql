-- Nearest-rank p50, p95, max and count per group of one duration of the attempts of the jobs
-- that ended in [$1, $2), grouped by $3; $4 names the duration: 'queue_wait' or 'run'.
WITH vals AS (SELECT CASE $3
            WHEN 'hour' THEN CAST(j.finished_at / 3600000 * 3600000 AS TEXT)
            WHEN 'day' THEN CAST(j.finished_at / 86400000 * 86400000 AS TEXT)
            WHEN 'worker' THEN COALESCE(j.worker_id, '-')
            WHEN 'status' THEN j.status
            WHEN 'image' THEN COALESCE(j.image, '(default)')
            ELSE 'all' END AS grp,
        CASE $4 WHEN 'queue_wait' THEN t.queue_wait_ms ELSE t.run_ms END AS v
        FROM jobs j JOIN job_attempt_times t ON t.job_id = j.id
        WHERE j.finished_at >= $1 AND j.finished_at < $2),
    ranked AS (SELECT grp, v,
        ROW_NUMBER() OVER (PARTITION BY grp ORDER BY v) AS rn,
        COUNT(*) OVER (PARTITION BY grp) AS n FROM vals WHERE v IS NOT NULL)
SELECT grp,
    CAST(COUNT(*) AS BIGINT),
    CAST(MIN(CASE WHEN rn * 100 >= 50 * n THEN v END) AS BIGINT),
    CAST(MIN(CASE WHEN rn * 100 >= 95 * n THEN v END) AS BIGINT),
    CAST(MAX(v) AS BIGINT)
FROM ranked GROUP BY grp ORDER BY grp
