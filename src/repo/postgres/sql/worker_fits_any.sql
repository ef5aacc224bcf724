SELECT COUNT(*) FROM (SELECT 1 FROM workers
    WHERE offline_since IS NULL AND cpu_milli >= $1 AND ram_total_mb >= $2 LIMIT 1) AS fits
