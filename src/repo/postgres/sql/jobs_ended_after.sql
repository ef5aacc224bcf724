-- Finished jobs past the cursor ($1, $2) that ended in [$3, $4), in the order they ended,
-- at most $5.
SELECT id, status, image, worker_id, finished_at, attempts, required_ram_mb FROM jobs
WHERE finished_at IS NOT NULL AND (finished_at, id) > ($1, $2)
  AND finished_at >= $3 AND finished_at < $4
ORDER BY finished_at, id LIMIT $5
