-- What a prune at these cutoffs would take: outputs to clear (jobs past the outputs cursor
-- $1, $2 that ended before $3 with any output), jobs to delete (ended before $4; the pruner
-- folds them into the rollups first) and their history rows, input files stored before $5
-- that no unfinished job names, rollup rows of hours before $6.
SELECT
    (SELECT COUNT(*) FROM jobs WHERE finished_at IS NOT NULL AND (finished_at, id) > ($1, $2)
        AND finished_at < $3 AND (stdout IS NOT NULL OR stderr IS NOT NULL)),
    (SELECT COUNT(*) FROM jobs WHERE finished_at IS NOT NULL AND finished_at < $4),
    (SELECT COUNT(*) FROM job_history h JOIN jobs j ON j.id = h.job_id
        WHERE j.finished_at IS NOT NULL AND j.finished_at < $4),
    (SELECT COUNT(*) FROM uploads u WHERE u.created_at < $5
      AND NOT EXISTS (SELECT 1 FROM jobs j
          WHERE j.file_url = '/uploads/' || u.id || '/' || u.filename AND j.finished_at IS NULL)),
    (SELECT COUNT(*) FROM job_rollups WHERE hour < $6)
