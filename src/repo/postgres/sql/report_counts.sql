SELECT grp,
    CAST(COUNT(*) AS BIGINT),
    CAST(SUM(CASE WHEN status = 'COMPLETED' THEN 1 ELSE 0 END) AS BIGINT),
    CAST(SUM(CASE WHEN status = 'FAILED' THEN 1 ELSE 0 END) AS BIGINT),
    CAST(SUM(CASE WHEN status = 'TIMED_OUT' THEN 1 ELSE 0 END) AS BIGINT),
    CAST(SUM(CASE WHEN status = 'CANCELLED' THEN 1 ELSE 0 END) AS BIGINT),
    CAST(SUM(CASE WHEN attempts > 1 THEN attempts - 1 ELSE 0 END) AS BIGINT),
    CAST(SUM(worker_faults) AS BIGINT),
    CAST(SUM(job_faults) AS BIGINT)
FROM (SELECT CASE $3
            WHEN 'hour' THEN CAST(j.finished_at / 3600000 * 3600000 AS TEXT)
            WHEN 'day' THEN CAST(j.finished_at / 86400000 * 86400000 AS TEXT)
            WHEN 'worker' THEN COALESCE(j.worker_id, '-')
            WHEN 'status' THEN j.status
            WHEN 'image' THEN COALESCE(j.image, '(default)')
            ELSE 'all' END AS grp, j.status, j.attempts,
        (SELECT COUNT(*) FROM job_history h WHERE h.job_id = j.id AND h.fault = 'worker')
            AS worker_faults,
        (SELECT COUNT(*) FROM job_history h WHERE h.job_id = j.id AND h.fault = 'job')
            AS job_faults
        FROM jobs j
    WHERE j.finished_at >= $1 AND j.finished_at < $2) AS ended
GROUP BY grp ORDER BY grp
