-- Nearest-rank p50, p95, max and count per group and metric of what the attempts of the jobs
-- that ended in [$1, $2) used, grouped by $3 as report_counts groups them. One walk of those
-- jobs' history rows (the rows that carry usage end an attempt), four metrics per attempt:
-- its peak memory (MiB), its CPU seconds, the memory its job requested (for the attempts
-- whose peak was measured) and that peak as a percentage of the request.
WITH used AS MATERIALIZED (SELECT CASE $3
            WHEN 'hour' THEN CAST(j.finished_at / 3600000 * 3600000 AS TEXT)
            WHEN 'day' THEN CAST(j.finished_at / 86400000 * 86400000 AS TEXT)
            WHEN 'worker' THEN COALESCE(j.worker_id, '-')
            WHEN 'status' THEN j.status
            WHEN 'image' THEN COALESCE(j.image, '(default)')
            ELSE 'all' END AS grp,
        h.peak_memory_mb AS peak, h.cpu_seconds AS cpu,
        CAST(j.required_ram_mb AS DOUBLE PRECISION) AS ram
        FROM jobs j JOIN job_history h ON h.job_id = j.id
        WHERE j.finished_at >= $1 AND j.finished_at < $2
          AND (h.peak_memory_mb IS NOT NULL OR h.cpu_seconds IS NOT NULL)),
    metrics AS (SELECT 'peak_memory_mb' AS metric UNION ALL SELECT 'cpu_seconds'
        UNION ALL SELECT 'required_ram_mb' UNION ALL SELECT 'memory_used_pct'),
    vals AS (SELECT grp, metric, CASE metric
            WHEN 'peak_memory_mb' THEN peak
            WHEN 'cpu_seconds' THEN cpu
            WHEN 'required_ram_mb' THEN CASE WHEN peak IS NOT NULL THEN ram END
            ELSE 100.0 * peak / NULLIF(ram, 0) END AS v
        FROM used CROSS JOIN metrics),
    ranked AS (SELECT grp, metric, v,
        ROW_NUMBER() OVER (PARTITION BY grp, metric ORDER BY v) AS rn,
        COUNT(*) OVER (PARTITION BY grp, metric) AS n FROM vals WHERE v IS NOT NULL)
SELECT grp, metric,
    CAST(COUNT(*) AS BIGINT),
    CAST(MIN(CASE WHEN rn * 100 >= 50 * n THEN v END) AS DOUBLE PRECISION),
    CAST(MIN(CASE WHEN rn * 100 >= 95 * n THEN v END) AS DOUBLE PRECISION),
    CAST(MAX(v) AS DOUBLE PRECISION)
FROM ranked GROUP BY grp, metric ORDER BY grp, metric
