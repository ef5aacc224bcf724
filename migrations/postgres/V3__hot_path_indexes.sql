-- Indexes for two hot paths that the first ones did not serve.

-- A long poll asks every half second whether its worker has an undelivered assignment.
CREATE INDEX jobs_undelivered ON jobs (worker_id, assigned_at)
    WHERE status = 'ASSIGNED' AND delivered_at IS NULL;

-- A worker joining or coming back unblocks the jobs it fits, QUEUED or PENDING.
CREATE INDEX jobs_blocked_any ON jobs (required_cpu_milli, required_ram_mb) WHERE blocked = 1;
