-- Whose fault the end of an attempt was: 'job', 'worker' or 'operator' (NULL for the rows
-- that end no attempt: creation, promotion, placement, start).
ALTER TABLE job_history ADD COLUMN fault TEXT;
