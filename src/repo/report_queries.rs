//! The report's SQL, the same text on both databases (integer arithmetic and window functions
//! only), so the same history gives the same numbers. `$1`/`$2` bound the window on
//! `finished_at`, `$3` names the grouping.

/// The group of a job `j`, as text, chosen by `$3`.
macro_rules! group_expr {
    () => {
        "CASE $3
            WHEN 'hour' THEN CAST(j.finished_at / 3600000 * 3600000 AS TEXT)
            WHEN 'day' THEN CAST(j.finished_at / 86400000 * 86400000 AS TEXT)
            WHEN 'worker' THEN COALESCE(j.worker_id, '-')
            WHEN 'status' THEN j.status
            WHEN 'image' THEN COALESCE(j.image, '(default)')
            ELSE 'all' END"
    };
}

/// Nearest-rank p50, p95, max and count per group of one duration column of
/// `job_attempt_times t`, over the attempts of the jobs ended in the window.
macro_rules! percentiles_of {
    ($column:literal) => {
        concat!(
            "WITH vals AS (SELECT ",
            group_expr!(),
            " AS grp, ",
            $column,
            " AS v FROM jobs j JOIN job_attempt_times t ON t.job_id = j.id
                WHERE j.finished_at >= $1 AND j.finished_at < $2 AND ",
            $column,
            " IS NOT NULL),
            ranked AS (SELECT grp, v,
                ROW_NUMBER() OVER (PARTITION BY grp ORDER BY v) AS rn,
                COUNT(*) OVER (PARTITION BY grp) AS n FROM vals)
            SELECT grp,
                CAST(COUNT(*) AS BIGINT),
                CAST(MIN(CASE WHEN rn * 100 >= 50 * n THEN v END) AS BIGINT),
                CAST(MIN(CASE WHEN rn * 100 >= 95 * n THEN v END) AS BIGINT),
                CAST(MAX(v) AS BIGINT)
            FROM ranked GROUP BY grp ORDER BY grp"
        )
    };
}

/// Jobs ended in the window per group: total, per final state, retries.
pub const REPORT_COUNTS: &str = concat!(
    "SELECT grp,
        CAST(COUNT(*) AS BIGINT),
        CAST(SUM(CASE WHEN status = 'COMPLETED' THEN 1 ELSE 0 END) AS BIGINT),
        CAST(SUM(CASE WHEN status = 'FAILED' THEN 1 ELSE 0 END) AS BIGINT),
        CAST(SUM(CASE WHEN status = 'TIMED_OUT' THEN 1 ELSE 0 END) AS BIGINT),
        CAST(SUM(CASE WHEN status = 'CANCELLED' THEN 1 ELSE 0 END) AS BIGINT),
        CAST(SUM(CASE WHEN attempts > 1 THEN attempts - 1 ELSE 0 END) AS BIGINT)
    FROM (SELECT ",
    group_expr!(),
    " AS grp, j.status, j.attempts FROM jobs j
        WHERE j.finished_at >= $1 AND j.finished_at < $2) AS ended
    GROUP BY grp ORDER BY grp"
);

/// Queue-wait percentiles per group.
pub const REPORT_QUEUE_WAIT: &str = percentiles_of!("t.queue_wait_ms");

/// Run-time percentiles per group, over the attempts that started.
pub const REPORT_RUN_TIME: &str = percentiles_of!("t.run_ms");
