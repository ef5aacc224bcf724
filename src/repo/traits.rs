//! The repository's traits, one per concern; [`Repo`] is all of them together.

use super::{Dialect, RepoResult};
use crate::model::{
    HeartbeatOutcome, HistoryRecord, JobFinishParams, JobInsertParams, JobListParams, JobRecord,
    PlaceOutcome, PruneCounts, PruneCutoffs, SweepCounts, UploadInsertParams, UploadRecord,
    WorkerHeartbeatParams, WorkerRecord, WorkerRegisterParams,
};
use async_trait::async_trait;

/// Jobs as clients and workers see them: create, read, list, deliver, start, finish, cancel.
#[async_trait]
pub trait JobRepo: Send + Sync {
    /// Inserts a job (QUEUED, or PENDING when `run_at` is ahead). With an idempotency key
    /// already used, returns the existing job and `false`.
    async fn job_insert(&self, p: JobInsertParams) -> RepoResult<(JobRecord, bool)>;

    /// One job.
    async fn job_get(&self, id: &str) -> RepoResult<Option<JobRecord>>;

    /// A job's history, oldest first.
    async fn job_history(&self, id: &str) -> RepoResult<Vec<HistoryRecord>>;

    /// A page of jobs, newest first. A search (`p.search`) looks among the newest
    /// [`crate::model::SEARCH_WINDOW`] jobs the other filters select.
    async fn job_list(&self, p: JobListParams) -> RepoResult<Vec<JobRecord>>;

    /// Where a search of `p` stopped looking: the last job of its window, when the filters
    /// other than the text select more jobs than the window holds.
    async fn job_list_window_end(&self, p: &JobListParams) -> RepoResult<Option<String>>;

    /// Hands a worker up to `max` of its assigned jobs not yet delivered, marking them delivered.
    async fn job_deliver(&self, worker_id: &str, max: i64, now: i64) -> RepoResult<Vec<JobRecord>>;

    /// As [`JobRepo::job_deliver`], and starts them too (ASSIGNED to RUNNING, with the start's
    /// history row), for an agent that starts every job the moment it arrives: one row
    /// version and no start call per job fewer.
    async fn job_deliver_started(
        &self,
        worker_id: &str,
        max: i64,
        now: i64,
    ) -> RepoResult<Vec<JobRecord>>;

    /// The worker started its attempt: ASSIGNED to RUNNING (idempotent for the same attempt).
    async fn job_start(
        &self,
        worker_id: &str,
        job_id: &str,
        attempt: i64,
        now: i64,
    ) -> RepoResult<JobRecord>;

    /// The worker started its attempt but pulls the job's image first: ASSIGNED to RUNNING in
    /// phase `pulling <image>`, no deadline yet (idempotent for the same attempt); the
    /// following `job_start` ends the phase.
    async fn job_start_pulling(
        &self,
        worker_id: &str,
        job_id: &str,
        attempt: i64,
        now: i64,
    ) -> RepoResult<JobRecord>;

    /// Records an attempt's result, releases the reservation and moves the job on.
    async fn job_finish(&self, p: JobFinishParams) -> RepoResult<JobRecord>;

    /// Cancels a job that has not ended. A running attempt keeps its worker's reservation
    /// until the agent reports it gone or the orphan grace passes (see `lifecycle::hold`).
    async fn job_cancel(&self, id: &str, now: i64) -> RepoResult<JobRecord>;
}

/// The batch forms of create, start and result: many jobs in one transaction, for clients and
/// agents that move many small jobs (each row costs no round trip of its own).
#[async_trait]
pub trait JobBatchRepo: Send + Sync {
    /// Inserts jobs as `job_insert` does, all in one transaction; answers in the given order.
    async fn job_insert_many(&self, ps: Vec<JobInsertParams>)
        -> RepoResult<Vec<(JobRecord, bool)>>;

    /// Starts attempts of one worker as `job_start` does; per item, the job or why not.
    async fn job_start_many(
        &self,
        worker_id: &str,
        attempts: &[(String, i64)],
        now: i64,
    ) -> RepoResult<Vec<RepoResult<JobRecord>>>;

    /// Records results as `job_finish` does; per item, the job or why it was refused (a
    /// refused item changes nothing, the others still count).
    async fn job_finish_many(
        &self,
        ps: Vec<JobFinishParams>,
    ) -> RepoResult<Vec<RepoResult<JobRecord>>>;
}

/// The fleet: registration, heartbeats and what workers are told to stop.
#[async_trait]
pub trait WorkerRepo: Send + Sync {
    /// Registers a worker, or starts a new life of a known one (its held jobs are requeued).
    async fn worker_register(&self, p: WorkerRegisterParams) -> RepoResult<WorkerRecord>;

    /// Records a heartbeat; says which reported jobs to stop and requeues held jobs the agent
    /// no longer reports.
    async fn worker_heartbeat(&self, p: WorkerHeartbeatParams) -> RepoResult<HeartbeatOutcome>;

    /// Which of the reported jobs the worker must stop, without recording a heartbeat.
    async fn worker_stop_list(
        &self,
        worker_id: &str,
        running_job_ids: &[String],
    ) -> RepoResult<Vec<gantry_api::StopJob>>;

    /// One worker.
    async fn worker_get(&self, id: &str) -> RepoResult<Option<WorkerRecord>>;

    /// The worker whose token has this hash.
    async fn worker_by_token_hash(&self, hash: &str) -> RepoResult<Option<String>>;

    /// Every worker, with the ids of the jobs each holds.
    async fn worker_list(&self) -> RepoResult<Vec<(WorkerRecord, Vec<String>)>>;
}

/// What the scheduler services change: placement, timeouts, lost workers, cooldowns, the leader lease.
#[async_trait]
pub trait SchedulerRepo: Send + Sync {
    /// Promotes due PENDING jobs and places QUEUED ones on workers (best fit, reservation
    /// written with the assignment), at most `limit` of each.
    async fn job_place(&self, now: i64, limit: i64) -> RepoResult<PlaceOutcome>;

    /// The earliest `run_at` among PENDING jobs, so the scheduler can wake for it.
    async fn job_next_due(&self) -> RepoResult<Option<i64>>;

    /// Ends or retries RUNNING jobs whose deadline passed before `deadline_before`.
    async fn job_expire_deadlines(
        &self,
        deadline_before: i64,
        now: i64,
        limit: i64,
    ) -> RepoResult<SweepCounts>;

    /// Requeues ASSIGNED jobs assigned before `assigned_before` that their worker never started.
    async fn job_requeue_unstarted(
        &self,
        assigned_before: i64,
        now: i64,
        limit: i64,
    ) -> RepoResult<SweepCounts>;

    /// Marks workers silent since before `heartbeat_before` OFFLINE and requeues their jobs.
    async fn worker_expire_heartbeats(
        &self,
        heartbeat_before: i64,
        now: i64,
        limit: i64,
    ) -> RepoResult<SweepCounts>;

    /// Ends the holds on workers whose bound passed by `now` (see `lifecycle::hold`): orphans
    /// are requeued as lost, stopped attempts' reservations given back; at most `limit`.
    async fn job_end_holds(&self, now: i64, limit: i64) -> RepoResult<SweepCounts>;

    /// Ends cooldowns that ran out by `now` (their failure counts start over).
    async fn worker_end_cooldowns(&self, now: i64) -> RepoResult<SweepCounts>;

    /// Takes or renews the named lease for `holder` until `expires_at`, unless another
    /// holder's lease is still valid at `now`.
    async fn lease_acquire(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        expires_at: i64,
    ) -> RepoResult<bool>;
}

/// Counts and summaries read from the jobs and history tables.
#[async_trait]
pub trait ReportRepo: Send + Sync {
    /// How many jobs are in each state that is not final (PENDING, QUEUED, ASSIGNED,
    /// RUNNING), each counted from its own partial index: the cost does not grow with the
    /// finished jobs stored.
    async fn job_counts_live(&self) -> RepoResult<Vec<(String, i64)>>;

    /// How many jobs ended in `[from, to)`, per final state: the metrics counter adds what
    /// ended since its last scrape.
    async fn job_finished_between(&self, from: i64, to: i64) -> RepoResult<Vec<(String, i64)>>;

    /// The job-history report: jobs that ended in the whole hours (UTC) `[from, to)`
    /// covers, grouped by `group_by` (`hour`, `day`, `worker`, `status`, `image`, or anything
    /// else for one group). Read from the rollup rows of those hours and the jobs that ended
    /// since the last rollup pass, in one snapshot: the same answer before and after a prune.
    async fn report_summary(
        &self,
        from: i64,
        to: i64,
        group_by: &str,
    ) -> RepoResult<Vec<gantry_api::ReportGroup>>;
}

/// The upkeep of a database that runs for months: the rollup pass and the pruners (see
/// `scheduler::maintenance`). Each call does one bounded batch in one transaction.
#[async_trait]
pub trait MaintenanceRepo: Send + Sync {
    /// Folds up to `limit` finished jobs that ended before `ended_before` into their rollup
    /// rows, in the order they ended from the rollup cursor on, and moves the cursor past
    /// them. Returns how many jobs it folded.
    async fn job_rollup(&self, ended_before: i64, limit: i64) -> RepoResult<u64>;

    /// Clears stdout and stderr of up to `limit` finished jobs that ended before
    /// `ended_before`, from the outputs cursor on. Returns how many jobs it looked at (the
    /// cursor moved past them) and how many had output.
    async fn job_prune_outputs(&self, ended_before: i64, limit: i64) -> RepoResult<(u64, u64)>;

    /// Deletes up to `limit` finished jobs that ended before `ended_before` and are rolled
    /// up, oldest first, with their history. Returns (jobs, history rows) deleted.
    async fn job_prune(&self, ended_before: i64, limit: i64) -> RepoResult<(u64, u64)>;

    /// Deletes up to `limit` input files stored before `stored_before` that no unfinished
    /// job names.
    async fn upload_prune(&self, stored_before: i64, limit: i64) -> RepoResult<u64>;

    /// Deletes the rollup rows of hours before `hour_before`.
    async fn rollup_prune(&self, hour_before: i64) -> RepoResult<u64>;

    /// What a prune at `cutoffs` would take now, changing nothing (jobs counted whether or
    /// not they are rolled up yet: a prune folds them in first).
    async fn prune_preview(&self, cutoffs: PruneCutoffs) -> RepoResult<PruneCounts>;

    /// Gives space freed by deletes back to the file system where the database does not
    /// reuse it by itself (SQLite's incremental vacuum; nothing on PostgreSQL).
    async fn database_compact(&self) -> RepoResult<()>;
}

/// Input files of jobs, stored in the database so every replica can serve them.
#[async_trait]
pub trait UploadRepo: Send + Sync {
    /// Stores an upload.
    async fn upload_insert(&self, p: UploadInsertParams) -> RepoResult<()>;

    /// One upload with its bytes.
    async fn upload_get(&self, id: &str) -> RepoResult<Option<UploadRecord>>;
}

/// Every state change of jobs and workers, each in one transaction: the whole repository.
#[async_trait]
pub trait Repo:
    JobRepo
    + JobBatchRepo
    + WorkerRepo
    + SchedulerRepo
    + ReportRepo
    + MaintenanceRepo
    + UploadRepo
    + 'static
{
    /// Which database this is.
    fn dialect(&self) -> Dialect;

    /// Applies pending migrations (safe to call from several replicas at once).
    async fn migrate(&self) -> RepoResult<usize>;

    /// Checks the database answers.
    async fn ping(&self) -> RepoResult<()>;

    /// Writes a consistent copy of the database to the new file `dest` while it is in use
    /// (SQLite; PostgreSQL refuses and names its own tools).
    async fn database_backup(&self, dest: &str) -> RepoResult<()>;
}
