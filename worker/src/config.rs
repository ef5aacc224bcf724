//! The agent's configuration: every setting is a flag and an environment variable.

use clap::Parser;
use gantry_api::{parse_duration, PullPolicy};
use std::path::PathBuf;
use std::time::Duration;

/// Where the server listens when nothing else is said.
pub const DEFAULT_SERVER_URL: &str = "http://127.0.0.1:8080";
/// How often the agent reports to the server.
pub const DEFAULT_HEARTBEAT_INTERVAL: &str = "10s";
/// How long one `get-job` call may wait on the server for work.
pub const DEFAULT_JOB_POLL_INTERVAL: &str = "20s";
/// The longest an attempt may run on this worker (also the default when a job names none).
pub const DEFAULT_DOCKER_TIMEOUT: &str = "1h";
/// Memory limit in MiB for jobs that ask for none.
pub const DEFAULT_DOCKER_MEMORY_LIMIT_MB: i64 = 512;
/// CPU limit in cores for jobs that ask for none.
pub const DEFAULT_DOCKER_CPU_LIMIT: f64 = 1.0;
/// The image used for jobs that name none (built by `scripts/build-test-image.sh`).
pub const DEFAULT_IMAGE: &str = "gantry-test-busybox:latest";
/// Time between SIGTERM and SIGKILL when an attempt is stopped.
pub const DEFAULT_KILL_GRACE: &str = "10s";
/// How much of each output stream is kept (the tail).
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 1024 * 1024;
/// The most processes one container may hold.
pub const DEFAULT_PIDS_LIMIT: i64 = 256;
/// How long running jobs may go on after SIGTERM before they are handed back.
pub const DEFAULT_DRAIN_TIMEOUT: &str = "30s";
/// How often a running container's cgroup is read for the attempt's CPU time and peak memory.
pub const DEFAULT_USAGE_INTERVAL: &str = "100ms";
/// When images are pulled for jobs that say nothing.
pub const DEFAULT_PULL_POLICY: &str = "if-not-present";
/// The longest one image pull may take.
pub const DEFAULT_PULL_TIMEOUT: &str = "10m";
/// How long a start or result call waits for others to share its batch call.
pub const DEFAULT_BATCH_WINDOW: &str = "2ms";
/// The most starts or results in one batch call.
pub const DEFAULT_BATCH_MAX: usize = 200;
/// The most items the server takes in one batch call.
pub const SERVER_BATCH_LIMIT: usize = 1000;

/// The worker agent's settings, from flags or environment variables.
#[derive(Debug, Clone, Parser)]
#[command(name = "gantry-worker", version, about = "The gantry worker agent")]
pub struct Config {
    /// Base URL of the gantry server, or a comma-separated list of its replicas
    /// (`http://a:8080,http://b:8080`): the agent uses one and moves to the next when it
    /// cannot be reached, keeping its running jobs.
    #[arg(long, env = "GANTRY_URL", default_value = DEFAULT_SERVER_URL)]
    pub server_url: String,

    /// Join token sent with registration (the server's --worker-token), when it uses one.
    #[arg(long, env = "GANTRY_WORKER_TOKEN", hide_env_values = true)]
    pub worker_token: Option<String>,

    /// Jobs run at once; default: CPU cores / 2, at least 1.
    #[arg(long, env = "MAX_PARALLEL_JOBS")]
    pub max_parallel_jobs: Option<usize>,

    /// Time between heartbeats (jittered by ±10%).
    #[arg(long, env = "HEARTBEAT_INTERVAL", default_value = DEFAULT_HEARTBEAT_INTERVAL,
          value_parser = parse_duration)]
    pub heartbeat_interval: Duration,

    /// How long one get-job call waits on the server for work (its waitMs).
    #[arg(long, env = "JOB_POLL_INTERVAL", default_value = DEFAULT_JOB_POLL_INTERVAL,
          value_parser = parse_duration)]
    pub job_poll_interval: Duration,

    /// Longest attempt this worker runs; used as the timeout of jobs that carry none.
    #[arg(long, env = "DOCKER_TIMEOUT", default_value = DEFAULT_DOCKER_TIMEOUT,
          value_parser = parse_duration)]
    pub docker_timeout: Duration,

    /// Memory limit in MiB for jobs that ask for 0.
    #[arg(long, env = "DOCKER_MEMORY_LIMIT", default_value_t = DEFAULT_DOCKER_MEMORY_LIMIT_MB)]
    pub docker_memory_limit: i64,

    /// CPU limit in cores for jobs that ask for 0.
    #[arg(long, env = "DOCKER_CPU_LIMIT", default_value_t = DEFAULT_DOCKER_CPU_LIMIT)]
    pub docker_cpu_limit: f64,

    /// Run jobs in Docker containers (true) or as local processes (false).
    #[arg(long, env = "ENABLE_DOCKER", default_value_t = true, action = clap::ArgAction::Set)]
    pub enable_docker: bool,

    /// A stable worker id to ask the server for; the server picks one when absent.
    #[arg(long, env = "WORKER_ID")]
    pub worker_id: Option<String>,

    /// The host name reported to the server; the system's when absent.
    #[arg(long, env = "HOSTNAME")]
    pub hostname: Option<String>,

    /// Image for jobs that name none.
    #[arg(long, env = "GANTRY_DEFAULT_IMAGE", default_value = DEFAULT_IMAGE)]
    pub default_image: String,

    /// Time between SIGTERM and SIGKILL when an attempt is stopped.
    #[arg(long, env = "KILL_GRACE", default_value = DEFAULT_KILL_GRACE,
          value_parser = parse_duration)]
    pub kill_grace: Duration,

    /// Folder holding the per-attempt work folders; a folder under the system temp dir when absent.
    #[arg(long, env = "GANTRY_WORK_DIR")]
    pub work_dir: Option<PathBuf>,

    /// Folder of the agent's state (its worker id and token, so a restart resumes as the same
    /// worker); `$XDG_STATE_HOME/gantry-worker` or `~/.local/state/gantry-worker` when absent.
    /// Two agents on one host need a folder each.
    #[arg(long, env = "GANTRY_STATE_DIR")]
    pub state_dir: Option<PathBuf>,

    /// Bytes kept of each output stream (the tail; the head is dropped and marked).
    #[arg(long, env = "GANTRY_MAX_OUTPUT_BYTES", default_value_t = DEFAULT_MAX_OUTPUT_BYTES)]
    pub max_output_bytes: usize,

    /// Whether a job that asks for network access may have it.
    #[arg(long, env = "GANTRY_ALLOW_NETWORK", default_value_t = true,
          action = clap::ArgAction::Set)]
    pub allow_network: bool,

    /// The most processes one container may hold.
    #[arg(long, env = "GANTRY_PIDS_LIMIT", default_value_t = DEFAULT_PIDS_LIMIT)]
    pub pids_limit: i64,

    /// How often a running container's cgroup is read for the attempt's CPU seconds and peak
    /// memory (the CPU figure misses at most one interval's worth at the end).
    #[arg(long, env = "GANTRY_USAGE_INTERVAL", default_value = DEFAULT_USAGE_INTERVAL,
          value_parser = parse_duration)]
    pub usage_interval: Duration,

    /// How long running jobs may go on after SIGTERM before they are handed back.
    #[arg(long, env = "GANTRY_DRAIN_TIMEOUT", default_value = DEFAULT_DRAIN_TIMEOUT,
          value_parser = parse_duration)]
    pub drain_timeout: Duration,

    /// When the image of a job that names no pull policy is pulled: `if-not-present`,
    /// `always` or `never`. Pulls use this host's Docker logins (`DOCKER_CONFIG` or
    /// `~/.docker/config.json`).
    #[arg(long, env = "GANTRY_PULL_POLICY", default_value = DEFAULT_PULL_POLICY,
          value_parser = parse_pull_policy)]
    pub pull_policy: PullPolicy,

    /// The longest one image pull may take; a pull past it is an infrastructure error (the
    /// job is retried, elsewhere if need be).
    #[arg(long, env = "GANTRY_PULL_TIMEOUT", default_value = DEFAULT_PULL_TIMEOUT,
          value_parser = parse_duration)]
    pub pull_timeout: Duration,

    /// How long a start or result waits for those of other slots to share one batch call
    /// (counted from the first of the batch; 0 sends what is queued at once).
    #[arg(long, env = "GANTRY_BATCH_WINDOW", default_value = DEFAULT_BATCH_WINDOW,
          value_parser = parse_duration)]
    pub batch_window: Duration,

    /// The most starts or results in one batch call (at most 1000, the server's limit).
    #[arg(long, env = "GANTRY_BATCH_MAX", default_value_t = DEFAULT_BATCH_MAX)]
    pub batch_max: usize,

    /// Labels reported at registration, as `key=value` (repeatable or comma-separated).
    #[arg(long, env = "GANTRY_LABELS", value_delimiter = ',', value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
}

impl Config {
    /// Parses a configuration from the given arguments (environment variables still apply).
    pub fn for_tests(args: &[&str]) -> Config {
        let mut all = vec!["gantry-worker"];
        all.extend_from_slice(args);
        Config::parse_from(all)
    }

    /// Checks the settings and fills in the machine-dependent defaults, failing with a message
    /// a person understands.
    pub fn validate(mut self) -> Result<Config, String> {
        let servers = gantry_api::Servers::parse(&self.server_url)
            .map_err(|e| format!("--server-url / GANTRY_URL: {e}"))?;
        self.server_url = servers.all().join(",");
        match self.max_parallel_jobs {
            Some(0) => return Err("MAX_PARALLEL_JOBS must be at least 1".into()),
            Some(_) => {}
            None => self.max_parallel_jobs = Some(default_parallelism()),
        }
        if self.docker_memory_limit < 6 {
            return Err("DOCKER_MEMORY_LIMIT must be at least 6 (MiB; Docker's minimum)".into());
        }
        if self.docker_cpu_limit.is_nan() || self.docker_cpu_limit <= 0.0 {
            return Err("DOCKER_CPU_LIMIT must be a positive number of cores".into());
        }
        if self.heartbeat_interval.is_zero() {
            return Err("HEARTBEAT_INTERVAL must be positive".into());
        }
        if self.docker_timeout.is_zero() {
            return Err("DOCKER_TIMEOUT must be positive".into());
        }
        if self.usage_interval < Duration::from_millis(10) {
            return Err("--usage-interval / GANTRY_USAGE_INTERVAL must be at least 10ms".into());
        }
        if self.pull_timeout.is_zero() {
            return Err("--pull-timeout / GANTRY_PULL_TIMEOUT must be positive".into());
        }
        if self.pids_limit < 8 {
            return Err("--pids-limit must be at least 8".into());
        }
        if self.batch_max == 0 || self.batch_max > SERVER_BATCH_LIMIT {
            return Err(format!(
                "--batch-max / GANTRY_BATCH_MAX must be between 1 and {SERVER_BATCH_LIMIT}"
            ));
        }
        if self.batch_window > Duration::from_secs(1) {
            return Err(
                "--batch-window / GANTRY_BATCH_WINDOW must be at most 1s (results wait that long)"
                    .into(),
            );
        }
        if self.max_output_bytes < 1024 {
            return Err("--max-output-bytes must be at least 1024".into());
        }
        if self.work_dir.is_none() {
            self.work_dir = Some(std::env::temp_dir().join("gantry-worker"));
        }
        if self.state_dir.is_none() {
            self.state_dir = Some(crate::state::default_dir());
        }
        if self.hostname.as_deref().unwrap_or("").is_empty() {
            self.hostname = Some(system_hostname());
        }
        Ok(self)
    }

    /// Jobs run at once (valid after [`Config::validate`]).
    pub fn parallelism(&self) -> usize {
        self.max_parallel_jobs.unwrap_or_else(default_parallelism)
    }

    /// The agent's state folder (valid after [`Config::validate`]).
    pub fn state_root(&self) -> PathBuf {
        self.state_dir
            .clone()
            .unwrap_or_else(crate::state::default_dir)
    }

    /// The root of the per-attempt work folders (valid after [`Config::validate`]).
    pub fn work_root(&self) -> PathBuf {
        self.work_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("gantry-worker"))
    }
}

/// CPU cores / 2, at least 1: the seed's default parallelism.
fn default_parallelism() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / 2).max(1)
}

/// The system's host name, or `unknown`.
fn system_hostname() -> String {
    sysinfo::System::host_name().unwrap_or_else(|_| "unknown".to_string())
}

/// Parses a pull policy (`if-not-present`, `always`, `never`).
fn parse_pull_policy(text: &str) -> Result<PullPolicy, String> {
    text.parse()
}

/// Parses one `key=value` label.
fn parse_label(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(format!("label `{text}` is not key=value")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_fill_in() {
        let config = Config::for_tests(&[]).validate().unwrap();
        assert!(config.parallelism() >= 1);
        assert_eq!(config.heartbeat_interval, Duration::from_secs(10));
        assert_eq!(config.default_image, DEFAULT_IMAGE);
        assert!(config.work_dir.is_some());
        assert!(config.hostname.is_some());
    }

    #[test]
    fn flags_override_and_bad_values_fail() {
        let config = Config::for_tests(&[
            "--enable-docker",
            "false",
            "--max-parallel-jobs",
            "3",
            "--kill-grace",
            "250",
            "--labels",
            "zone=a,gpu=none",
        ])
        .validate()
        .unwrap();
        assert!(!config.enable_docker);
        assert_eq!(config.parallelism(), 3);
        assert_eq!(config.kill_grace, Duration::from_millis(250));
        assert_eq!(config.labels.len(), 2);
        assert_eq!(config.pull_policy, PullPolicy::IfNotPresent);
        assert_eq!(config.pull_timeout, Duration::from_secs(600));
        let config = Config::for_tests(&["--pull-policy", "never", "--pull-timeout", "30s"]);
        assert_eq!(config.pull_policy, PullPolicy::Never);
        assert_eq!(config.pull_timeout, Duration::from_secs(30));
        assert!(Config::try_parse_from(["gantry-worker", "--pull-policy", "sometimes"]).is_err());
        let err = Config::for_tests(&["--pull-timeout", "0s"])
            .validate()
            .unwrap_err();
        assert!(err.contains("--pull-timeout"));
        let err = Config::for_tests(&["--max-parallel-jobs", "0"])
            .validate()
            .unwrap_err();
        assert!(err.contains("MAX_PARALLEL_JOBS"));
        let err = Config::for_tests(&["--server-url", "localhost:1"])
            .validate()
            .unwrap_err();
        assert!(err.contains("http://"));
    }

    #[test]
    fn batching_takes_a_window_and_a_cap_within_the_servers_limit() {
        let config = Config::for_tests(&[]).validate().unwrap();
        assert_eq!(config.batch_window, Duration::from_millis(2));
        assert_eq!(config.batch_max, DEFAULT_BATCH_MAX);
        let config = Config::for_tests(&["--batch-window", "0", "--batch-max", "1"])
            .validate()
            .unwrap();
        assert!(config.batch_window.is_zero());
        for bad in [
            ["--batch-max", "0"],
            ["--batch-max", "1001"],
            ["--batch-window", "2s"],
        ] {
            let err = Config::for_tests(&bad).validate().unwrap_err();
            assert!(err.contains("--batch-"), "{err}");
        }
    }
}
