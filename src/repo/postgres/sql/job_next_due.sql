SELECT MIN(run_at) FROM jobs WHERE status = 'PENDING'
