DELETE FROM jobs WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)) AND finished_at IS NOT NULL
