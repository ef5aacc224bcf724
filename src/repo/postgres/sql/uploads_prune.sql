-- Input files stored before $1 that no unfinished job names, oldest first, at most $2.
DELETE FROM uploads WHERE id IN (
    SELECT u.id FROM uploads u WHERE u.created_at < $1
      AND NOT EXISTS (SELECT 1 FROM jobs j
          WHERE j.file_url = '/uploads/' || u.id || '/' || u.filename AND j.finished_at IS NULL)
    ORDER BY u.created_at LIMIT $2)
