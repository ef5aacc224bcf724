SELECT to_status, COUNT(*) FROM job_history
WHERE to_status IN ('COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED') GROUP BY to_status
