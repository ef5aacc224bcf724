-- gantry schema, SQLite dialect. Times are epoch milliseconds; CPU is in millicores so that
-- reservations add and subtract exactly.

CREATE TABLE workers (
    id                  TEXT PRIMARY KEY,
    hostname            TEXT NOT NULL,
    cpu_milli           INTEGER NOT NULL,
    ram_total_mb        INTEGER NOT NULL,
    ram_free_mb         INTEGER NOT NULL DEFAULT 0,
    cpu_usage           REAL NOT NULL DEFAULT 0,
    max_parallel_jobs   INTEGER NOT NULL,
    reserved_cpu_milli  INTEGER NOT NULL DEFAULT 0,
    reserved_ram_mb     INTEGER NOT NULL DEFAULT 0,
    running_jobs        INTEGER NOT NULL DEFAULT 0,
    labels              TEXT NOT NULL DEFAULT '{}',
    version             TEXT,
    executor            TEXT,
    executor_ok         INTEGER NOT NULL DEFAULT 1,
    token_hash          TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    cooldown_until      INTEGER,
    offline_since       INTEGER,
    registered_at       INTEGER NOT NULL,
    last_heartbeat_at   INTEGER NOT NULL,
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
    required_cpu_milli  INTEGER NOT NULL,
    required_ram_mb     INTEGER NOT NULL,
    timeout_ms          INTEGER NOT NULL,
    max_retries         INTEGER NOT NULL,
    priority            INTEGER NOT NULL DEFAULT 0,
    network             INTEGER NOT NULL DEFAULT 0,
    attempts            INTEGER NOT NULL DEFAULT 0,
    failed_attempts     INTEGER NOT NULL DEFAULT 0,
    infra_retries       INTEGER NOT NULL DEFAULT 0,
    worker_id           TEXT,
    blocked             INTEGER NOT NULL DEFAULT 0,
    reason              TEXT,
    idempotency_key     TEXT UNIQUE,
    created_at          INTEGER NOT NULL,
    run_at              INTEGER NOT NULL,
    queued_at           INTEGER,
    assigned_at         INTEGER,
    delivered_at        INTEGER,
    started_at          INTEGER,
    deadline_at         INTEGER,
    finished_at         INTEGER,
    exit_code           INTEGER,
    stdout              TEXT,
    stderr              TEXT,
    error               TEXT,
    duration_ms         INTEGER,
    oom_killed          INTEGER NOT NULL DEFAULT 0
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
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id      TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    worker_id   TEXT,
    at          INTEGER NOT NULL,
    reason      TEXT
);
CREATE INDEX job_history_job ON job_history (job_id, id);
CREATE INDEX job_history_at ON job_history (at);

CREATE TABLE uploads (
    id          TEXT PRIMARY KEY,
    filename    TEXT NOT NULL,
    size        INTEGER NOT NULL,
    sha256      TEXT NOT NULL,
    content     BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);

-- Leader leases: periodic sweeps run only on the replica holding the lease.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  INTEGER NOT NULL
);
