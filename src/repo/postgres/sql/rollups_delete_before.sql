DELETE FROM job_rollups WHERE hour < $1
