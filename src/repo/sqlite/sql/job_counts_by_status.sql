SELECT status, COUNT(*) FROM jobs GROUP BY status
