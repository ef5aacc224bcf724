UPDATE jobs SET status = 'QUEUED', queued_at = $1,
    reason = CASE WHEN blocked = 1 THEN reason ELSE NULL END
WHERE id IN (SELECT id FROM jobs WHERE status = 'PENDING' AND run_at <= $1
    ORDER BY run_at LIMIT $2)
RETURNING id, attempts
