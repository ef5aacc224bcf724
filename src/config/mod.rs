//! Server configuration: every setting a flag and an environment variable, and every default
//! defined once, in the flag's clap attribute ([`ServeConfig::default`] and
//! [`Policy::default`] are read from there).

mod retention;

pub use retention::{parse_retention, Retention, RetentionConfig};

use crate::lifecycle::{CooldownCounts, Policy};
use crate::repo::Pooler;
use clap::{Args, Command, FromArgMatches};
use gantry_api::parse_duration;
use std::net::SocketAddr;
use std::time::Duration;

/// Default listen address: loopback, so an unconfigured server is not open to the network.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// Default database: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://gantry.db";
/// Default largest upload.
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;

/// `gantry serve` settings.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "GANTRY_BIND", default_value = DEFAULT_BIND)]
    pub bind: SocketAddr,

    /// Database URL: sqlite://PATH (created if missing) or postgres://...
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,

    /// PostgreSQL only: a direct connection for the wake-ups between replicas (LISTEN/NOTIFY),
    /// when --database-url goes through a transaction pooler such as PgBouncer; `off` turns
    /// them off (long polls then find jobs placed by other replicas at their recheck).
    /// Defaults to --database-url.
    #[arg(long, env = "GANTRY_WAKE_DATABASE_URL")]
    pub wake_database_url: Option<String>,

    /// What stands between the server and PostgreSQL: `none` (direct connections, or a pooler
    /// in session mode) or `transaction` (PgBouncer or another pooler in transaction mode:
    /// every statement then runs in a transaction and is prepared anew, see docs/pgbouncer.md).
    #[arg(
        long,
        env = "GANTRY_DATABASE_POOLER",
        value_enum,
        default_value = "none"
    )]
    pub database_pooler: Pooler,

    /// Workers silent this long become OFFLINE and their jobs are requeued.
    #[arg(long, env = "HEARTBEAT_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub heartbeat_timeout: Duration,

    /// Period of the scheduler's sweep (placement runs sooner, on every event).
    #[arg(long, env = "SWEEP_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub sweep_interval: Duration,

    /// How long a worker gets no new job after too many failures in a row.
    #[arg(long, env = "WORKER_COOLDOWN", default_value = "60s", value_parser = parse_duration)]
    pub worker_cooldown: Duration,

    /// Failed attempts in a row on one worker that start its cooldown.
    #[arg(long, env = "COOLDOWN_AFTER_FAILURES", default_value = "3",
          value_parser = clap::value_parser!(i64).range(1..))]
    pub cooldown_after_failures: i64,

    /// Which failures count toward a cooldown: the worker's own faults (and attempts that
    /// failed on it, then succeeded elsewhere), or every failure (the prototype's rule).
    #[arg(
        long,
        env = "COOLDOWN_COUNTS",
        value_enum,
        default_value = "worker-faults"
    )]
    pub cooldown_counts: CooldownCounts,

    /// Wait before the first retry of a failed job; doubled per attempt, with jitter.
    #[arg(long, env = "RETRY_BACKOFF", default_value = "10s", value_parser = parse_duration)]
    pub retry_backoff: Duration,

    /// Largest wait between retries.
    #[arg(long, env = "RETRY_BACKOFF_CAP", default_value = "10m", value_parser = parse_duration)]
    pub retry_backoff_cap: Duration,

    /// Infrastructure losses (worker gone, executor error) a job survives; they do not use up
    /// its maxRetries.
    #[arg(long, env = "INFRA_RETRY_BUDGET", default_value = "5",
          value_parser = clap::value_parser!(i64).range(0..))]
    pub infra_retry_budget: i64,

    /// Extra time a running job gets past its timeout before the server ends it.
    #[arg(long, env = "JOB_TIMEOUT_GRACE", default_value = "5s", value_parser = parse_duration)]
    pub job_timeout_grace: Duration,

    /// How long a stopped attempt (cancelled, timed out) keeps its worker's reservation, and a
    /// restarted agent's earlier jobs stay held, unless the agent reports them gone sooner: at
    /// least the agents' kill grace plus the time to report.
    #[arg(long, env = "GANTRY_ORPHAN_GRACE", default_value = "30s", value_parser = parse_duration)]
    pub orphan_grace: Duration,

    /// Timeout of a job that names none.
    #[arg(long, env = "DEFAULT_JOB_TIMEOUT", default_value = "1h", value_parser = parse_duration)]
    pub default_job_timeout: Duration,

    /// Bearer token for client routes; none means open (loopback only).
    #[arg(long, env = "GANTRY_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,

    /// Join token agents register with; each gets its own token back.
    #[arg(long, env = "GANTRY_WORKER_TOKEN", hide_env_values = true)]
    pub worker_token: Option<String>,

    /// Allow binding a non-loopback address without tokens (anyone who can reach it can run
    /// code on your workers).
    #[arg(long, env = "GANTRY_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,

    /// Largest uploaded file, in bytes.
    #[arg(long, env = "GANTRY_MAX_UPLOAD_BYTES", default_value_t = DEFAULT_MAX_UPLOAD_BYTES)]
    pub max_upload_bytes: usize,

    /// How long finished work is kept.
    #[command(flatten)]
    pub retention: RetentionConfig,
}

impl Default for ServeConfig {
    /// The defaults of the flags, as `gantry serve` with no flag and no environment would run.
    fn default() -> Self {
        // The environment is ignored here: a default must not depend on where it is asked.
        let command =
            ServeConfig::augment_args(Command::new("gantry-serve")).mut_args(|arg| arg.env(None));
        let matches = command
            .try_get_matches_from(["gantry-serve"])
            .expect("the defaults parse");
        ServeConfig::from_arg_matches(&matches).expect("the defaults parse")
    }
}

impl Default for Policy {
    /// The retry and cooldown rules of a server with default settings.
    fn default() -> Self {
        ServeConfig::default().policy()
    }
}

impl ServeConfig {
    /// The retry and cooldown rules these settings describe.
    pub fn policy(&self) -> Policy {
        Policy {
            retry_backoff_ms: millis(self.retry_backoff),
            retry_backoff_cap_ms: millis(self.retry_backoff_cap),
            infra_retry_budget: self.infra_retry_budget,
            cooldown_after_failures: self.cooldown_after_failures,
            worker_cooldown_ms: millis(self.worker_cooldown),
            cooldown_counts: self.cooldown_counts,
            orphan_grace_ms: millis(self.orphan_grace),
        }
    }

    /// Where the wake-ups between replicas listen: `None` on SQLite (one replica) or when
    /// turned off.
    pub fn wake_url(&self) -> Option<&str> {
        match self.wake_database_url.as_deref() {
            _ if self.database_url.starts_with("sqlite:") => None,
            Some("off") => None,
            Some(url) => Some(url),
            // LISTEN through a transaction pooler hears nothing: only with a direct URL.
            None if self.database_pooler == Pooler::Transaction => None,
            None => Some(&self.database_url),
        }
    }

    /// Refuses settings that would be unsafe or meaningless, with a message a person can act on.
    pub fn validate(&self) -> Result<(), String> {
        let has_tokens = self.api_token.is_some() && self.worker_token.is_some();
        if !self.bind.ip().is_loopback() && !has_tokens && !self.insecure_no_auth {
            return Err(format!(
                "refusing to listen on {} without authentication: gantry runs arbitrary commands. \
                 Set GANTRY_API_TOKEN and GANTRY_WORKER_TOKEN, bind to 127.0.0.1, or pass \
                 --insecure-no-auth if you really mean it",
                self.bind
            ));
        }
        for (name, token) in [("api", &self.api_token), ("worker", &self.worker_token)] {
            if token.as_deref().is_some_and(|t| t.len() < 16) {
                return Err(format!(
                    "the {name} token must be at least 16 characters long"
                ));
            }
        }
        if self.sweep_interval.is_zero() || self.heartbeat_timeout.is_zero() {
            return Err("sweep interval and heartbeat timeout must be above zero".into());
        }
        if self.default_job_timeout.is_zero() {
            return Err("the default job timeout must be above zero".into());
        }
        if self.database_pooler != Pooler::None && self.database_url.starts_with("sqlite:") {
            return Err(crate::repo::POOLER_NEEDS_POSTGRES.into());
        }
        if let Some(url) = self.wake_database_url.as_deref().filter(|u| *u != "off") {
            if !(url.starts_with("postgres:") || url.starts_with("postgresql:")) {
                return Err(format!(
                    "--wake-database-url must be a postgres:// URL or `off`, not `{}`",
                    crate::server::redact(url)
                ));
            }
        }
        Ok(())
    }
}

/// A duration in whole milliseconds, saturating.
pub fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_flags_defaults() {
        let c = ServeConfig::default();
        assert_eq!(c.heartbeat_timeout, Duration::from_secs(30));
        assert_eq!(c.sweep_interval, Duration::from_secs(5));
        assert_eq!(c.bind.to_string(), DEFAULT_BIND);
        let p = Policy::default();
        assert_eq!(p.retry_backoff_ms, 10_000);
        assert_eq!(p.retry_backoff_cap_ms, 600_000);
        assert_eq!(p.infra_retry_budget, 5);
        assert_eq!(p.cooldown_after_failures, 3);
        assert_eq!(p.worker_cooldown_ms, 60_000);
        assert_eq!(p.cooldown_counts, CooldownCounts::WorkerFaults);
        assert_eq!(p.orphan_grace_ms, 30_000);
    }

    #[test]
    fn open_non_loopback_bind_is_refused() {
        let mut c = ServeConfig {
            bind: "0.0.0.0:8080".parse().unwrap(),
            ..ServeConfig::default()
        };
        assert!(c.validate().unwrap_err().contains("--insecure-no-auth"));
        c.insecure_no_auth = true;
        assert!(c.validate().is_ok());
        c.insecure_no_auth = false;
        c.api_token = Some("a".repeat(20));
        c.worker_token = Some("b".repeat(20));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn a_transaction_pooler_needs_postgres() {
        let mut c = ServeConfig {
            database_pooler: Pooler::Transaction,
            ..ServeConfig::default()
        };
        assert_eq!(ServeConfig::default().database_pooler, Pooler::None);
        assert!(c.validate().unwrap_err().contains("PostgreSQL only"));
        c.database_url = "postgres://gantry@pgbouncer:6432/gantry".into();
        assert!(c.validate().is_ok());
    }
}
