-- Jobs that ended in [$1, $2), by final state (a range of the jobs_finished index: what
-- ended since the last scrape).
SELECT status, COUNT(*) FROM jobs
WHERE finished_at IS NOT NULL AND finished_at >= $1 AND finished_at < $2
GROUP BY status
