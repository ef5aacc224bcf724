SELECT * FROM job_rollups WHERE hour IN (SELECT CAST(jsonb_array_elements_text($1::jsonb) AS BIGINT))
