-- A job's hold on a worker: an attempt that may still be running there although the job has
-- moved on (cancelled, timed out) or its agent restarted without stopping it. While held, the
-- worker's reservation for that attempt stays (capacity is never promised twice), and an
-- orphan is not handed out again. The hold ends when the agent reports the attempt gone, or at
-- held_until (the server's orphan grace) by a sweep.
ALTER TABLE jobs ADD COLUMN held_on TEXT;
ALTER TABLE jobs ADD COLUMN held_attempt INTEGER;
ALTER TABLE jobs ADD COLUMN held_since INTEGER;
ALTER TABLE jobs ADD COLUMN held_until INTEGER;
-- The hold sweep (JOBS_HOLDS_ENDED) and a worker's holds (JOBS_HOLDS_ON_WORKER).
CREATE INDEX jobs_holds_until ON jobs (held_until) WHERE held_until IS NOT NULL;
CREATE INDEX jobs_holds_on ON jobs (held_on) WHERE held_on IS NOT NULL;
