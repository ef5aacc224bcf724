-- Locked in id order, so two batches touching the same jobs cannot deadlock.
SELECT * FROM jobs
WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)) ORDER BY id FOR UPDATE
