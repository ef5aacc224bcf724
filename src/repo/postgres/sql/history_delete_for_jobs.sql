DELETE FROM job_history WHERE job_id IN (SELECT jsonb_array_elements_text($1::jsonb))
