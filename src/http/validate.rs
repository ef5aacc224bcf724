//! Input checks: every value from a client is checked here, with an error naming the field,
//! before anything is written.

pub mod image_reference;
pub mod patterns;
pub mod text;
pub mod usage;

use super::error::{ApiError, ApiResult};
use crate::model::{cores_to_milli, JobFinishParams, JobInsertParams};
use gantry_api::{CreateJobRequest, ImageHeld, RunAt, SubmitResultRequest};

/// CPU a job reserves when it names none.
pub const DEFAULT_JOB_CPU: f64 = 0.25;
/// Memory a job reserves when it names none, in MiB.
pub const DEFAULT_JOB_RAM_MB: i64 = 128;
/// Smallest memory limit Docker accepts, rounded up.
pub const MIN_JOB_RAM_MB: i64 = 8;
/// Largest CPU or memory request taken seriously.
pub const MAX_JOB_CPU: f64 = 1024.0;
/// Largest memory request, 16 TiB.
pub const MAX_JOB_RAM_MB: i64 = 16 * 1024 * 1024;
/// Longest job timeout: a week.
pub const MAX_JOB_TIMEOUT_MS: i64 = 7 * 24 * 3600 * 1000;
/// Most retries a job may ask for.
pub const MAX_RETRIES: i64 = 100;
/// Priorities run from -1000 to 1000.
pub const MAX_PRIORITY: i64 = 1000;
/// Longest command, 64 KiB.
pub const MAX_COMMAND_BYTES: usize = 64 * 1024;
/// Most environment variables.
pub const MAX_ENV_VARS: usize = 256;
/// Longest environment value.
pub const MAX_ENV_VALUE_BYTES: usize = 32 * 1024;
/// Longest id, key, name or URL.
pub const MAX_NAME_BYTES: usize = 255;
/// Longest `fileUrl`.
pub const MAX_FILE_URL_BYTES: usize = 2048;
/// Longest worker id.
pub const MAX_WORKER_ID_LEN: usize = 128;
/// Most CPU cores a worker may offer.
pub const MAX_WORKER_CPU_CORES: f64 = 4096.0;
/// Most jobs a worker may run at once.
pub const MAX_PARALLEL_JOBS: i64 = 1024;
/// CPU usage is a percentage.
pub const MAX_CPU_USAGE: f64 = 100.0;

/// Checks a create request and turns it into insert parameters.
pub fn job_insert(
    req: CreateJobRequest,
    id: String,
    now: i64,
    default_timeout_ms: i64,
) -> ApiResult<JobInsertParams> {
    check_command_and_image(&req)?;
    let (cpu_milli, ram) = resources(&req)?;
    let (timeout_ms, max_retries, priority) = run_limits(&req, default_timeout_ms)?;
    let run_at = match &req.run_at {
        None => now,
        Some(run_at) => parse_time("runAt", run_at)?,
    };
    if let Some(key) = &req.idempotency_key {
        if key.is_empty() || key.len() > MAX_NAME_BYTES {
            return Err(ApiError::invalid(
                "idempotencyKey",
                format!("idempotencyKey must be 1 to {MAX_NAME_BYTES} bytes"),
            ));
        }
        text::check("idempotencyKey", key, MAX_NAME_BYTES)?;
    }
    check_env(&req)?;
    let (file_url, filename) = input_file(&req)?;
    Ok(JobInsertParams {
        id,
        command: req.command,
        image: req.image,
        file_url,
        filename,
        env: req.env,
        required_cpu_milli: cpu_milli,
        required_ram_mb: ram,
        timeout_ms,
        max_retries,
        priority,
        network: req.network.unwrap_or(false),
        run_at,
        idempotency_key: req.idempotency_key,
        pull: req.pull.map(|p| p.as_str().to_string()),
        now,
    })
}

fn check_command_and_image(req: &CreateJobRequest) -> ApiResult<()> {
    let command = req.command.trim();
    if command.is_empty() {
        return Err(ApiError::invalid("command", "command must not be empty"));
    }
    text::check("command", &req.command, MAX_COMMAND_BYTES)?;
    if let Some(image) = &req.image {
        check_image(image)?;
    }
    Ok(())
}

/// Most images a heartbeat may list (the agent sends its most recent ones).
pub const MAX_IMAGES_HELD: usize = 200;

/// Checks the images a heartbeat lists and gives them as the JSON text stored on the worker;
/// `None` (the agent did not send them this time) keeps the stored list.
pub fn images_held(images: Option<&[ImageHeld]>) -> ApiResult<Option<String>> {
    let Some(images) = images else {
        return Ok(None);
    };
    if images.len() > MAX_IMAGES_HELD {
        return Err(ApiError::invalid(
            "images",
            format!("images lists at most {MAX_IMAGES_HELD} images"),
        ));
    }
    let too_long = |s: &str| s.is_empty() || s.len() > MAX_NAME_BYTES;
    if let Some(bad) = images
        .iter()
        .find(|i| too_long(&i.reference) || i.digest.as_deref().is_some_and(too_long))
    {
        return Err(ApiError::invalid(
            "images",
            format!(
                "image `{}`: reference and digest must be 1 to {MAX_NAME_BYTES} bytes",
                bad.reference
            ),
        ));
    }
    Ok(Some(
        serde_json::to_string(images).expect("images serialize"),
    ))
}

/// Checks an image reference with Docker's grammar (see [`image_reference`]), and its length as
/// stored.
pub fn check_image(image: &str) -> ApiResult<()> {
    image_reference::parse(image).map_err(|e| {
        ApiError::invalid("image", format!("`{image}` is not an image reference: {e}"))
    })?;
    if image.len() > MAX_NAME_BYTES {
        return Err(ApiError::invalid(
            "image",
            format!("image is longer than {MAX_NAME_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// The CPU (in millicores) and memory (MiB) the job reserves.
fn resources(req: &CreateJobRequest) -> ApiResult<(i64, i64)> {
    let cpu = req.required_cpu.unwrap_or(DEFAULT_JOB_CPU);
    if !cpu.is_finite() || cpu <= 0.0 || cpu > MAX_JOB_CPU {
        return Err(ApiError::invalid(
            "requiredCpu",
            format!("requiredCpu must be above 0 and at most {MAX_JOB_CPU} cores, got {cpu}"),
        ));
    }
    let cpu_milli = cores_to_milli(cpu).max(1);
    let ram = req.required_ram_mb.unwrap_or(DEFAULT_JOB_RAM_MB);
    if !(MIN_JOB_RAM_MB..=MAX_JOB_RAM_MB).contains(&ram) {
        return Err(ApiError::invalid(
            "requiredRamMb",
            format!(
                "requiredRamMb must be between {MIN_JOB_RAM_MB} and {MAX_JOB_RAM_MB}, got {ram}"
            ),
        ));
    }
    Ok((cpu_milli, ram))
}

/// The timeout, retries and priority the job runs with.
fn run_limits(req: &CreateJobRequest, default_timeout_ms: i64) -> ApiResult<(i64, i64, i64)> {
    let timeout_ms = req.timeout_ms.unwrap_or(default_timeout_ms);
    if !(1..=MAX_JOB_TIMEOUT_MS).contains(&timeout_ms) {
        return Err(ApiError::invalid(
            "timeoutMs",
            format!("timeoutMs must be between 1 and {MAX_JOB_TIMEOUT_MS}, got {timeout_ms}"),
        ));
    }
    let max_retries = req.max_retries.unwrap_or(0);
    if !(0..=MAX_RETRIES).contains(&max_retries) {
        return Err(ApiError::invalid(
            "maxRetries",
            format!("maxRetries must be between 0 and {MAX_RETRIES}, got {max_retries}"),
        ));
    }
    let priority = req.priority.unwrap_or(0);
    if !(-MAX_PRIORITY..=MAX_PRIORITY).contains(&priority) {
        return Err(ApiError::invalid(
            "priority",
            format!("priority must be between -{MAX_PRIORITY} and {MAX_PRIORITY}, got {priority}"),
        ));
    }
    Ok((timeout_ms, max_retries, priority))
}

/// The job's input file: its URL on this server and the name it gets in the job's folder.
fn input_file(req: &CreateJobRequest) -> ApiResult<(Option<String>, Option<String>)> {
    let file_url = req.file_url.as_deref().map(check_file_url).transpose()?;
    let filename = match (&req.filename, &file_url) {
        (Some(name), _) => Some(check_filename("filename", name)?),
        (None, Some(url)) => url
            .rsplit('/')
            .next()
            .filter(|n| !n.is_empty())
            .map(|n| check_filename("fileUrl", n))
            .transpose()?,
        (None, None) => None,
    };
    Ok((file_url, filename))
}

fn check_env(req: &CreateJobRequest) -> ApiResult<()> {
    if req.env.len() > MAX_ENV_VARS {
        return Err(ApiError::invalid(
            "env",
            format!("at most {MAX_ENV_VARS} environment variables"),
        ));
    }
    for (name, value) in &req.env {
        let valid_name = !name.is_empty()
            && name.len() <= MAX_NAME_BYTES
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            return Err(ApiError::invalid(
                "env",
                format!("`{name}` is not a valid variable name (letters, digits, _)"),
            ));
        }
        if value.len() > MAX_ENV_VALUE_BYTES || value.contains('\0') {
            return Err(ApiError::invalid(
                "env",
                format!("the value of `{name}` is too long or holds a NUL byte"),
            ));
        }
    }
    Ok(())
}

/// Only files uploaded to this server: an agent fetches `fileUrl` from inside its own network,
/// so a remote URL would let a job read internal services (cloud metadata, say) that its
/// container's `network: none` keeps it from.
fn check_file_url(url: &str) -> ApiResult<String> {
    let ok = url.starts_with("/uploads/")
        && url.len() <= MAX_FILE_URL_BYTES
        && !url.contains(|c: char| c.is_whitespace() || c == '\0')
        && !url.split('/').any(|part| part == "..");
    if !ok {
        return Err(ApiError::invalid(
            "fileUrl",
            "fileUrl must be a file uploaded to this server (/uploads/ID/NAME, from POST \
             /api/uploads); remote URLs are refused",
        ));
    }
    Ok(url.to_string())
}

/// Checks a file name: one path component, so it cannot escape the folder it lands in.
pub fn check_filename(field: &str, name: &str) -> ApiResult<String> {
    let bad = name.is_empty()
        || name.len() > MAX_NAME_BYTES
        || name == "."
        || name == ".."
        || name.contains(['/', '\\', '\0']);
    if bad {
        return Err(ApiError::invalid(
            field,
            format!("`{name}` is not a plain file name (no slashes, not . or ..)"),
        ));
    }
    Ok(name.to_string())
}

/// Checks the name of an uploaded file. Browsers may send a path: only its last part is kept,
/// and it must then be a plain name.
pub fn uploaded_filename(field: &str, raw_name: &str) -> ApiResult<String> {
    let base = raw_name.rsplit(['/', '\\']).next().unwrap_or_default();
    check_filename(field, base)
}

/// Epoch milliseconds, or an RFC 3339 text.
pub fn parse_time(field: &str, value: &RunAt) -> ApiResult<i64> {
    match value {
        RunAt::Millis(ms) if *ms >= 0 => Ok(*ms),
        RunAt::Millis(ms) => Err(ApiError::invalid(
            field,
            format!("{field} must not be negative, got {ms}"),
        )),
        RunAt::Text(text) => parse_time_text(field, text),
    }
}

/// Epoch milliseconds or RFC 3339, from a query string.
pub fn parse_time_text(field: &str, text: &str) -> ApiResult<i64> {
    if let Ok(ms) = text.parse::<i64>() {
        return parse_time(field, &RunAt::Millis(ms));
    }
    let at = humantime::parse_rfc3339_weak(text).map_err(|e| {
        ApiError::invalid(
            field,
            format!("{field} must be epoch milliseconds or an RFC 3339 time: {e}"),
        )
    })?;
    let since = at
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| ApiError::invalid(field, format!("{field} is before 1970")))?;
    Ok(i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
}

/// Checks the job ids an agent reports running (`field[i]` names a bad one); they are kept as
/// sent, since the stop instructions echo them.
pub fn job_ids(field: &str, ids: &[String]) -> ApiResult<()> {
    for (i, id) in ids.iter().enumerate() {
        job_id(&format!("{field}[{i}]"), id)?;
    }
    Ok(())
}

/// Checks a job id: a UUID, so a typo gets a clear 400 instead of a puzzling 404.
pub fn job_id(field: &str, id: &str) -> ApiResult<String> {
    uuid::Uuid::parse_str(id)
        .map(|_| id.to_ascii_lowercase())
        .map_err(|_| ApiError::invalid(field, format!("`{id}` is not a job id (a UUID)")))
}

/// Checks a worker id: 1 to 128 of letters, digits, `.`, `_`, `-`.
pub fn worker_id(field: &str, id: &str) -> ApiResult<String> {
    let ok = !id.is_empty()
        && id.len() <= MAX_WORKER_ID_LEN
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !ok {
        return Err(ApiError::invalid(
            field,
            format!("`{id}` is not a worker id (1-128 of letters, digits, . _ -)"),
        ));
    }
    Ok(id.to_string())
}

/// An attempt number as a worker sends it back: 1 or more.
pub fn attempt(attempt: i64) -> ApiResult<i64> {
    if attempt < 1 {
        return Err(ApiError::invalid("attempt", "attempt starts at 1"));
    }
    Ok(attempt)
}

/// Checks a worker's result for an attempt and turns it into finish parameters for
/// `worker_id` (already checked, and the caller's) at `now`.
pub fn job_finish(worker_id: &str, r: SubmitResultRequest, now: i64) -> ApiResult<JobFinishParams> {
    let job_id = job_id("jobId", &r.job_id)?;
    let attempt = attempt(r.attempt)?;
    if r.duration_ms.is_some_and(|d| d < 0) {
        return Err(ApiError::invalid(
            "durationMs",
            "durationMs must not be negative",
        ));
    }
    Ok(JobFinishParams {
        worker_id: worker_id.to_string(),
        job_id,
        attempt,
        exit_code: r.exit_code,
        stdout: text::captured(r.stdout),
        stderr: text::captured(r.stderr),
        duration_ms: r.duration_ms,
        error: text::captured(r.error),
        timed_out: r.timed_out,
        oom_killed: r.oom_killed,
        infrastructure_error: r.infrastructure_error,
        usage: usage::usage(r.usage)?,
        permanent: r.permanent,
        registry_error: r.registry_error,
        now,
    })
}

#[cfg(test)]
mod tests;
