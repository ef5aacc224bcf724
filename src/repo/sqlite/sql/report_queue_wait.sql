WITH vals AS (SELECT CASE $3
            WHEN 'hour' THEN CAST(j.finished_at / 3600000 * 3600000 AS TEXT)
            WHEN 'day' THEN CAST(j.finished_at / 86400000 * 86400000 AS TEXT)
            WHEN 'worker' THEN COALESCE(j.worker_id, '-')
            WHEN 'status' THEN j.status
            WHEN 'image' THEN COALESCE(j.image, '(default)')
            ELSE 'all' END AS grp, t.queue_wait_ms AS v
        FROM jobs j JOIN job_attempt_times t ON t.job_id = j.id
        WHERE j.finished_at >= $1 AND j.finished_at < $2 AND t.queue_wait_ms IS NOT NULL),
    ranked AS (SELECT grp, v,
        ROW_NUMBER() OVER (PARTITION BY grp ORDER BY v) AS rn,
        COUNT(*) OVER (PARTITION BY grp) AS n FROM vals)
SELECT grp,
    CAST(COUNT(*) AS BIGINT),
    CAST(MIN(CASE WHEN rn * 100 >= 50 * n THEN v END) AS BIGINT),
    CAST(MIN(CASE WHEN rn * 100 >= 95 * n THEN v END) AS BIGINT),
    CAST(MAX(v) AS BIGINT)
FROM ranked GROUP BY grp ORDER BY grp
