SELECT * FROM job_rollups WHERE hour IN (SELECT CAST(value AS BIGINT) FROM json_each($1))
