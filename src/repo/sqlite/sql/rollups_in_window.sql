SELECT * FROM job_rollups WHERE hour >= $1 AND hour < $2
