//! The table of limits: every value the checks bound, with where the document shows it and
//! the constant or grammar it is built from.

use super::{Limit, Target};
use crate::http::validate::{self, patterns, usage};
use crate::routes::{batch, delivery, execute, jobs, reports, workers};

/// Every limit the checks enforce, with where it applies.
pub(super) fn limits() -> Vec<(Target, Limit)> {
    use Target::{Parameter, Property, Variant};
    let worker_id = || text(1, validate::MAX_WORKER_ID_LEN, Some(patterns::worker_id()));
    let job_id = || text(36, 36, Some(patterns::JOB_ID.into()));
    let attempt = || int(Some(1), None);
    let cpu_usage = || real(0.0, false, validate::MAX_CPU_USAGE);
    let name = || text(1, validate::MAX_NAME_BYTES, None);
    let time = || text(1, 64, Some(patterns::TIME.into()));
    let batch = || items(1, Some(batch::MAX_BATCH_ITEMS), None);
    let env = Limit::Map {
        max: validate::MAX_ENV_VARS,
        names: Some(Box::new(text(
            1,
            validate::MAX_NAME_BYTES,
            Some(patterns::ENV_NAME.into()),
        ))),
        // Long texts carry no pattern (no NUL byte, not blank): with a length limit in the
        // tens of KiB, a pattern makes a fuzzer's search for values at the limit (and the
        // schema checks around it) several times slower. Their descriptions say it.
        values: Some(Box::new(text(0, validate::MAX_ENV_VALUE_BYTES, None))),
    };
    let groupings = format!("^(?:{})$", reports::GROUPINGS.join("|"));
    vec![
        // A job, alone or in a batch.
        (
            Property("CreateJobRequest", "command"),
            text(1, validate::MAX_COMMAND_BYTES, None),
        ),
        (
            Property("CreateJobRequest", "image"),
            text(1, validate::MAX_NAME_BYTES, Some(patterns::image())),
        ),
        (
            Property("CreateJobRequest", "fileUrl"),
            text(1, validate::MAX_FILE_URL_BYTES, Some(patterns::file_url())),
        ),
        (
            Property("CreateJobRequest", "filename"),
            text(1, validate::MAX_NAME_BYTES, Some(patterns::FILENAME.into())),
        ),
        (Property("CreateJobRequest", "env"), env),
        (
            Property("CreateJobRequest", "requiredCpu"),
            real(0.0, true, validate::MAX_JOB_CPU),
        ),
        (
            Property("CreateJobRequest", "requiredRamMb"),
            int(
                Some(validate::MIN_JOB_RAM_MB),
                Some(validate::MAX_JOB_RAM_MB),
            ),
        ),
        (
            Property("CreateJobRequest", "timeoutMs"),
            int(Some(1), Some(validate::MAX_JOB_TIMEOUT_MS)),
        ),
        (
            Property("CreateJobRequest", "maxRetries"),
            int(Some(0), Some(validate::MAX_RETRIES)),
        ),
        (
            Property("CreateJobRequest", "priority"),
            int(Some(-validate::MAX_PRIORITY), Some(validate::MAX_PRIORITY)),
        ),
        (
            Property("CreateJobRequest", "idempotencyKey"),
            text(1, validate::MAX_NAME_BYTES, Some(patterns::NO_NUL.into())),
        ),
        (Variant("RunAt", 0), int(Some(0), None)),
        (Variant("RunAt", 1), time()),
        (Property("CreateJobsRequest", "jobs"), batch()),
        (Property("CancelJobRequest", "jobId"), job_id()),
        // The fleet.
        (Property("RegisterWorkerRequest", "workerId"), worker_id()),
        (
            Property("RegisterWorkerRequest", "hostname"),
            text(
                1,
                validate::MAX_NAME_BYTES,
                Some(patterns::NOT_BLANK.into()),
            ),
        ),
        (
            Property("RegisterWorkerRequest", "cpuCores"),
            real(0.0, true, validate::MAX_WORKER_CPU_CORES),
        ),
        (
            Property("RegisterWorkerRequest", "ramTotalMb"),
            int(Some(1), Some(validate::MAX_JOB_RAM_MB)),
        ),
        (
            Property("RegisterWorkerRequest", "ramFreeMb"),
            int(Some(0), None),
        ),
        (Property("RegisterWorkerRequest", "cpuUsage"), cpu_usage()),
        (
            Property("RegisterWorkerRequest", "maxParallelJobs"),
            int(Some(1), Some(validate::MAX_PARALLEL_JOBS)),
        ),
        (
            Property("RegisterWorkerRequest", "labels"),
            Limit::Map {
                max: workers::MAX_LABELS,
                names: None,
                values: None,
            },
        ),
        (
            Property("RegisterWorkerRequest", "version"),
            text(0, validate::MAX_NAME_BYTES, Some(patterns::NO_NUL.into())),
        ),
        (
            Property("RegisterWorkerRequest", "executor"),
            text(1, 16, Some("^(?:docker|process)$".into())),
        ),
        (Property("HeartbeatRequest", "workerId"), worker_id()),
        (Property("HeartbeatRequest", "cpuUsage"), cpu_usage()),
        (
            Property("HeartbeatRequest", "ramFreeMb"),
            int(Some(0), None),
        ),
        (
            Property("HeartbeatRequest", "ramTotalMb"),
            int(Some(0), Some(validate::MAX_JOB_RAM_MB)),
        ),
        (
            Property("HeartbeatRequest", "images"),
            items(0, Some(validate::MAX_IMAGES_HELD), None),
        ),
        (
            Property("HeartbeatRequest", "runningJobIds"),
            items(0, None, Some(job_id())),
        ),
        (Property("ImageHeld", "reference"), name()),
        (Property("ImageHeld", "digest"), name()),
        // The worker protocol.
        (Property("GetJobRequest", "workerId"), worker_id()),
        (
            Property("GetJobRequest", "max"),
            int(Some(0), Some(delivery::MAX_JOBS_PER_POLL)),
        ),
        (
            Property("GetJobRequest", "waitMs"),
            int(Some(0), Some(delivery::MAX_WAIT_MS)),
        ),
        (
            Property("GetJobRequest", "results"),
            items(0, Some(batch::MAX_BATCH_ITEMS), None),
        ),
        (
            Property("GetJobRequest", "runningJobIds"),
            items(0, None, Some(job_id())),
        ),
        (Property("StartJobRequest", "workerId"), worker_id()),
        (Property("StartJobRequest", "jobId"), job_id()),
        (Property("StartJobRequest", "attempt"), attempt()),
        (Property("StartJobsRequest", "workerId"), worker_id()),
        (Property("StartJobsRequest", "jobs"), batch()),
        (Property("JobAttempt", "jobId"), job_id()),
        (Property("JobAttempt", "attempt"), attempt()),
        // In a batch a result may leave its workerId out or empty; the single route needs it
        // (see `single_result_names_its_worker`).
        (
            Property("SubmitResultRequest", "workerId"),
            text(
                0,
                validate::MAX_WORKER_ID_LEN,
                Some(patterns::worker_id_or_empty()),
            ),
        ),
        (Property("SubmitResultRequest", "jobId"), job_id()),
        (Property("SubmitResultRequest", "attempt"), attempt()),
        (
            Property("SubmitResultRequest", "durationMs"),
            int(Some(0), None),
        ),
        (Property("SubmitResultsRequest", "workerId"), worker_id()),
        (Property("SubmitResultsRequest", "results"), batch()),
        (
            Property("AttemptUsage", "cpuSeconds"),
            real(0.0, false, usage::MAX_SECONDS),
        ),
        (
            Property("AttemptUsage", "peakMemoryMb"),
            real(0.0, false, usage::MAX_MEMORY_MB),
        ),
        (
            Property("AttemptUsage", "pullMs"),
            int(Some(0), Some(usage::MAX_MS)),
        ),
        (
            Property("AttemptUsage", "runMs"),
            int(Some(0), Some(usage::MAX_MS)),
        ),
        // Query and path parameters.
        (Parameter("/api/jobs/status", "jobId"), job_id()),
        (
            Parameter("/api/jobs/list", "status"),
            text(0, 1024, Some(patterns::job_statuses())),
        ),
        (Parameter("/api/jobs/list", "workerId"), worker_id()),
        (Parameter("/api/jobs/list", "from"), time()),
        (Parameter("/api/jobs/list", "to"), time()),
        (Parameter("/api/jobs/list", "cursor"), job_id()),
        (
            Parameter("/api/jobs/list", "q"),
            text(0, validate::MAX_COMMAND_BYTES, None),
        ),
        (
            Parameter("/api/jobs/list", "limit"),
            int(Some(1), Some(jobs::MAX_LIST_LIMIT)),
        ),
        (Parameter("/api/reports/summary", "from"), time()),
        (Parameter("/api/reports/summary", "to"), time()),
        (
            Parameter("/api/reports/summary", "groupBy"),
            text(1, 16, Some(groupings)),
        ),
        (
            Parameter("/api/execute", "waitMs"),
            int(Some(0), Some(execute::MAX_WAIT_MS)),
        ),
        (Parameter("/uploads/{id}/{filename}", "id"), job_id()),
    ]
}

fn int(min: Option<i64>, max: Option<i64>) -> Limit {
    Limit::Integer(min, max)
}

fn real(min: f64, exclusive: bool, max: f64) -> Limit {
    Limit::Number {
        min,
        exclusive,
        max,
    }
}

fn text(min: usize, max: usize, pattern: Option<String>) -> Limit {
    Limit::Text { min, max, pattern }
}

fn items(min: usize, max: Option<usize>, each: Option<Limit>) -> Limit {
    Limit::Items {
        min,
        max,
        each: each.map(Box::new),
    }
}
