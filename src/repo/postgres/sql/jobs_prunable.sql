-- Finished jobs that ended before $1 and at or before the rollup cursor ($2, $3), oldest
-- first, at most $4; not one whose stopped attempt still holds its worker's reservation (the
-- hold would be lost with the row).
SELECT id, finished_at FROM jobs
WHERE finished_at IS NOT NULL AND finished_at < $1 AND (finished_at, id) <= ($2, $3)
  AND held_on IS NULL
ORDER BY finished_at, id LIMIT $4
