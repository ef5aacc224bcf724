-- gantry schema, PostgreSQL dialect. Times are epoch milliseconds; CPU is in millicores so that
-- reservations add and subtract exactly.

CREATE TABLE workers (
    id                  TEXT PRIMARY KEY,
    hostname            TEXT NOT NULL,
    cpu_milli           BIGINT NOT NULL,
    ram_total_mb        BIGINT NOT NULL,
    ram_free_mb         BIGINT NOT NULL DEFAULT 0,
    cpu_usage           DOUBLE PRECISION NOT NULL DEFAULT 0,
    max_parallel_jobs   BIGINT NOT NULL,
    reserved_cpu_milli  BIGINT NOT NULL DEFAULT 0,
    reserved_ram_mb     BIGINT NOT NULL DEFAULT 0,
    running_jobs        BIGINT NOT NULL DEFAULT 0,
    labels              TEXT NOT NULL DEFAULT '{}',
    version             TEXT,
    executor            TEXT,
    executor_ok         BIGINT NOT NULL DEFAULT 1,
    token_hash          TEXT,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    cooldown_until      BIGINT,
    offline_since       BIGINT,
    registered_at       BIGINT NOT NULL,
    last_heartbeat_at   BIGINT NOT NULL,
    CHECK (reserved_cpu_milli >= 0 AND reserved_ram_mb >= 0 AND running_jobs >= 0)
);
CREATE UNIQUE INDEX workers_token_hash ON workers (token_hash) WHERE token_hash IS NOT NULL;
CREATE INDEX workers_online_heartbeat ON workers (last_heartbeat_at) WHERE offline_since IS NULL;
CREATE INDEX workers_cooldown ON workers (cooldown_until) WHERE cooldown_until IS NOT NULL;

CREATE TABLE jobs (
    id                  TEXT PRIMARY KEY,
    status              TEXT NOT NULL,
    command             TEXT NOT NULL,
    image               TEXT,
    file_url            TEXT,
    filename            TEXT,
    env                 TEXT NOT NULL DEFAULT '{}',
    required_cpu_milli  BIGINT NOT NULL,
    required_ram_mb     BIGINT NOT NULL,
    timeout_ms          BIGINT NOT NULL,
    max_retries         BIGINT NOT NULL,
    priority            BIGINT NOT NULL DEFAULT 0,
    network             BIGINT NOT NULL DEFAULT 0,
    attempts            BIGINT NOT NULL DEFAULT 0,
    failed_attempts     BIGINT NOT NULL DEFAULT 0,
    infra_retries       BIGINT NOT NULL DEFAULT 0,
    worker_id           TEXT,
    blocked             BIGINT NOT NULL DEFAULT 0,
    reason              TEXT,
    idempotency_key     TEXT UNIQUE,
    created_at          BIGINT NOT NULL,
    run_at              BIGINT NOT NULL,
    queued_at           BIGINT,
    assigned_at         BIGINT,
    delivered_at        BIGINT,
    started_at          BIGINT,
    deadline_at         BIGINT,
    finished_at         BIGINT,
    exit_code           BIGINT,
    stdout              TEXT,
    stderr              TEXT,
    error               TEXT,
    duration_ms         BIGINT,
    oom_killed          BIGINT NOT NULL DEFAULT 0
);
-- Placement reads the head of the queue in priority order, skipping jobs that fit no worker.
CREATE INDEX jobs_queue ON jobs (priority DESC, queued_at, id) WHERE status = 'QUEUED' AND blocked = 0;
CREATE INDEX jobs_blocked ON jobs (required_cpu_milli, required_ram_mb) WHERE status = 'QUEUED' AND blocked = 1;
CREATE INDEX jobs_pending ON jobs (run_at) WHERE status = 'PENDING';
CREATE INDEX jobs_on_worker ON jobs (worker_id, assigned_at) WHERE status IN ('ASSIGNED', 'RUNNING');
CREATE INDEX jobs_assigned ON jobs (assigned_at) WHERE status = 'ASSIGNED';
CREATE INDEX jobs_deadline ON jobs (deadline_at) WHERE status = 'RUNNING';
CREATE INDEX jobs_status_id ON jobs (status, id);
CREATE INDEX jobs_worker_id ON jobs (worker_id, id);

-- Append-only: one row per state change of a job.
CREATE TABLE job_history (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id      TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt     BIGINT NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    worker_id   TEXT,
    at          BIGINT NOT NULL,
    reason      TEXT
);
CREATE INDEX job_history_job ON job_history (job_id, id);
CREATE INDEX job_history_at ON job_history (at);

CREATE TABLE uploads (
    id          TEXT PRIMARY KEY,
    filename    TEXT NOT NULL,
    size        BIGINT NOT NULL,
    sha256      TEXT NOT NULL,
    content     BYTEA NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Leader leases: periodic sweeps run only on the replica holding the lease.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);

-- Jobs are updated several times each: leave room for HOT updates and vacuum them eagerly.
ALTER TABLE jobs SET (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE workers SET (fillfactor = 50);
