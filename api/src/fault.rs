//! Whose fault an attempt's end was: what cooldowns count and reports break down by.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Who caused an attempt to end without success (or to be stopped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Fault {
    /// The job itself: a non-zero exit, its own timeout or memory limit, a bad input.
    Job,
    /// The worker it ran on: an engine or executor error, lost with its worker, never started.
    Worker,
    /// Someone who operates the service: a cancel.
    Operator,
    /// The registry of the job's image: unreachable, refusing the login, or too slow to pull
    /// from. Retried with backoff from the infrastructure budget; held against no worker by
    /// itself (a registry outage would otherwise cool down the whole fleet), but, like a job's
    /// failure, counted against the worker when the job later succeeds on another.
    Registry,
}

impl Fault {
    /// The lower-case name stored in the history table and written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Job => "job",
            Fault::Worker => "worker",
            Fault::Operator => "operator",
            Fault::Registry => "registry",
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "job" => Ok(Fault::Job),
            "worker" => Ok(Fault::Worker),
            "operator" => Ok(Fault::Operator),
            "registry" => Ok(Fault::Registry),
            other => Err(format!(
                "unknown fault `{other}` (job, worker, operator or registry)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Fault;

    #[test]
    fn faults_read_back_what_they_write() {
        for f in [Fault::Job, Fault::Worker, Fault::Operator, Fault::Registry] {
            assert_eq!(f.as_str().parse::<Fault>().unwrap(), f);
            assert_eq!(serde_json::to_string(&f).unwrap(), format!("\"{f}\""));
        }
        assert!("nobody".parse::<Fault>().is_err());
    }
}
