//! A job's row and its history rows, as stored, and their wire form.

use super::{milli_to_cores, CorruptRow};
use gantry_api::{AttemptUsage, Fault, HistoryEntry, Job, JobStatus};
use sqlx::{ColumnIndex, Decode, FromRow, Row, Type};
use std::collections::BTreeMap;

/// One row of `jobs`, column for column. The state machine ([`crate::lifecycle::job`]) changes
/// it; the repository loads and writes it.
#[derive(Debug, Clone, FromRow)]
pub struct JobRecord {
    /// A UUIDv7, so ids sort by creation time (the job list pages by id).
    pub id: String,
    /// Where the job is in its life.
    #[sqlx(try_from = "String")]
    pub status: JobStatus,
    /// Shell command, run with `sh -c`.
    pub command: String,
    /// Container image; the worker's default when absent.
    pub image: Option<String>,
    /// Where the worker downloads the job's input file.
    pub file_url: Option<String>,
    /// The input file's name in the work folder.
    pub filename: Option<String>,
    /// Environment variables as a JSON object.
    pub env: String,
    /// CPU to reserve, millicores.
    pub required_cpu_milli: i64,
    /// Memory to reserve, MiB.
    pub required_ram_mb: i64,
    /// Time limit of one attempt, ms.
    pub timeout_ms: i64,
    /// Retries allowed after the job's own failures.
    pub max_retries: i64,
    /// Higher is placed first.
    pub priority: i64,
    /// 1 when the job asks for network.
    pub network: i64,
    /// The current attempt's number (0 before the first placement).
    pub attempts: i64,
    /// Attempts that failed or timed out by the job's own fault.
    pub failed_attempts: i64,
    /// Attempts lost to infrastructure (their own budget, apart from `max_retries`).
    pub infra_retries: i64,
    /// The worker holding the job, or the last one that did.
    pub worker_id: Option<String>,
    /// 1 when the job fits no online worker (kept out of the placement index).
    pub blocked: i64,
    /// Why it waits or how it ended, for people.
    pub reason: Option<String>,
    /// The client's idempotency key.
    pub idempotency_key: Option<String>,
    /// Creation time (epoch ms, like every time here).
    pub created_at: i64,
    /// Earliest start: `runAt`, or the end of a retry backoff.
    pub run_at: i64,
    /// Last entry into QUEUED.
    pub queued_at: Option<i64>,
    /// Last assignment to a worker.
    pub assigned_at: Option<i64>,
    /// When the holder fetched the current attempt.
    pub delivered_at: Option<i64>,
    /// Start of the current attempt.
    pub started_at: Option<i64>,
    /// When the current attempt times out (start + timeout).
    pub deadline_at: Option<i64>,
    /// When it reached a terminal state.
    pub finished_at: Option<i64>,
    /// The last attempt's exit code.
    pub exit_code: Option<i64>,
    /// The last attempt's stdout (its tail).
    pub stdout: Option<String>,
    /// The last attempt's stderr (its tail).
    pub stderr: Option<String>,
    /// What went wrong in the last attempt.
    pub error: Option<String>,
    /// The last attempt's run time as its worker measured it.
    pub duration_ms: Option<i64>,
    /// 1 when the last attempt was killed for memory.
    pub oom_killed: i64,
    /// CPU seconds the last ended attempt used, as its worker measured them.
    pub cpu_seconds: Option<f64>,
    /// The last ended attempt's peak memory in MiB, as its worker measured it.
    pub peak_memory_mb: Option<f64>,
    /// How long the last ended attempt's image pull took, ms.
    pub pull_ms: Option<i64>,
    /// The last ended attempt's run time from its container's (or process's) start to end, ms.
    pub run_ms: Option<i64>,
    /// The worker whose reservation an attempt of this job still holds although the job moved
    /// on or its agent restarted (see `lifecycle::hold`); `None` when nothing is held.
    pub held_on: Option<String>,
    /// The attempt held on `held_on`.
    pub held_attempt: Option<i64>,
    /// When the hold began.
    pub held_since: Option<i64>,
    /// When the hold ends at the latest (a sweep ends it).
    pub held_until: Option<i64>,
    /// When the worker pulls the image (`if-not-present`, `always`, `never`); the worker's
    /// default when absent.
    pub pull: Option<String>,
    /// What a RUNNING attempt does before its command runs (`pulling <image>`).
    pub phase: Option<String>,
}

impl JobRecord {
    /// The wire form.
    pub fn to_api(&self) -> Result<Job, CorruptRow> {
        let env: BTreeMap<String, String> = serde_json::from_str(&self.env)
            .map_err(|e| CorruptRow(format!("job {} env: {e}", self.id)))?;
        Ok(Job {
            id: self.id.clone(),
            status: self.status,
            command: self.command.clone(),
            image: self.image.clone(),
            file_url: self.file_url.clone(),
            filename: self.filename.clone(),
            env,
            required_cpu: milli_to_cores(self.required_cpu_milli),
            required_ram_mb: self.required_ram_mb,
            timeout_ms: self.timeout_ms,
            max_retries: self.max_retries,
            priority: self.priority,
            network: self.network != 0,
            attempts: self.attempts,
            failed_attempts: self.failed_attempts,
            infra_retries: self.infra_retries,
            worker_id: self.worker_id.clone(),
            reason: self.reason.clone(),
            idempotency_key: self.idempotency_key.clone(),
            created_at: self.created_at,
            run_at: self.run_at,
            queued_at: self.queued_at,
            assigned_at: self.assigned_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            exit_code: self.exit_code,
            stdout: self.stdout.clone(),
            stderr: self.stderr.clone(),
            error: self.error.clone(),
            duration_ms: self.duration_ms,
            oom_killed: self.oom_killed != 0,
            pull: self
                .pull
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|e| CorruptRow(format!("job {} pull: {e}", self.id)))?,
            phase: self.phase.clone(),
            usage: Some(self.usage()).filter(|u| !u.is_empty()),
        })
    }

    /// What the last ended attempt used, from the four usage columns.
    pub fn usage(&self) -> AttemptUsage {
        AttemptUsage {
            cpu_seconds: self.cpu_seconds,
            peak_memory_mb: self.peak_memory_mb,
            pull_ms: self.pull_ms,
            run_ms: self.run_ms,
        }
    }

    /// Records what the attempt that just ended used (`None`: nothing was measured, as for an
    /// attempt lost with its worker), so the job row never shows an earlier attempt's figures.
    pub fn set_usage(&mut self, usage: Option<&AttemptUsage>) {
        let u = usage.copied().unwrap_or_default();
        self.cpu_seconds = u.cpu_seconds;
        self.peak_memory_mb = u.peak_memory_mb;
        self.pull_ms = u.pull_ms;
        self.run_ms = u.run_ms;
    }
}

/// One row of `job_history`: one change of a job's state.
#[derive(Debug, Clone)]
pub struct HistoryRecord {
    /// Ordering key: rows of one job read in this order are its timeline.
    pub id: i64,
    /// The job that changed.
    pub job_id: String,
    /// The attempt the change belongs to.
    pub attempt: i64,
    /// State before; none for the creation.
    pub from_status: Option<JobStatus>,
    /// State after.
    pub to_status: JobStatus,
    /// The worker involved, if any.
    pub worker_id: Option<String>,
    /// When (epoch ms).
    pub at: i64,
    /// Why, for people.
    pub reason: Option<String>,
    /// Whose fault the end of an attempt was, on the rows that end one.
    pub fault: Option<Fault>,
    /// What the attempt used, on the row that ended it (when its worker measured anything).
    pub usage: Option<AttemptUsage>,
}

impl HistoryRecord {
    /// The wire form.
    pub fn to_api(&self) -> HistoryEntry {
        HistoryEntry {
            id: self.id,
            attempt: self.attempt,
            from_status: self.from_status,
            to_status: self.to_status,
            worker_id: self.worker_id.clone(),
            at: self.at,
            reason: self.reason.clone(),
            fault: self.fault,
            usage: self.usage,
        }
    }
}

/// Reads a history row on either database (written out because `from_status` is an optional
/// status, which the derive cannot convert).
impl<'r, R> FromRow<'r, R> for HistoryRecord
where
    R: Row,
    &'r str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
    Option<f64>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn from_row(row: &'r R) -> sqlx::Result<Self> {
        let status = |column: &str, text: String| {
            text.parse::<JobStatus>()
                .map_err(|e| sqlx::Error::ColumnDecode {
                    index: column.to_string(),
                    source: Box::new(e),
                })
        };
        let from: Option<String> = row.try_get("from_status")?;
        let fault: Option<String> = row.try_get("fault")?;
        let fault = fault
            .map(|f| {
                f.parse::<Fault>().map_err(|e| sqlx::Error::ColumnDecode {
                    index: "fault".into(),
                    source: e.into(),
                })
            })
            .transpose()?;
        Ok(HistoryRecord {
            id: row.try_get("id")?,
            job_id: row.try_get("job_id")?,
            attempt: row.try_get("attempt")?,
            from_status: from.map(|s| status("from_status", s)).transpose()?,
            to_status: status("to_status", row.try_get("to_status")?)?,
            worker_id: row.try_get("worker_id")?,
            at: row.try_get("at")?,
            reason: row.try_get("reason")?,
            fault,
            usage: Some(AttemptUsage {
                cpu_seconds: row.try_get("cpu_seconds")?,
                peak_memory_mb: row.try_get("peak_memory_mb")?,
                pull_ms: row.try_get("pull_ms")?,
                run_ms: row.try_get("run_ms")?,
            })
            .filter(|u| !u.is_empty()),
        })
    }
}
