//! The job and worker state enums, with the seed's names.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Where a job is in its life. The last four are terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, utoipa::ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    /// Accepted but not yet eligible: `runAt` is in the future or a retry backoff is running.
    Pending,
    /// Eligible and waiting for a worker with room.
    Queued,
    /// Placed on a worker with its resources reserved, not yet started.
    Assigned,
    /// The worker said it started the job.
    Running,
    /// Ended with exit code 0.
    Completed,
    /// Ended with a failure and no retries left.
    Failed,
    /// Ran past its timeout and no retries left.
    TimedOut,
    /// Cancelled by a client.
    Cancelled,
}

/// How a worker is doing, as the scheduler sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, utoipa::ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WorkerStatus {
    /// Online with no jobs.
    Idle,
    /// Online with at least one job.
    Busy,
    /// In cooldown after repeated failures, or its executor is unusable: gets no new job.
    Unhealthy,
    /// No heartbeat within the heartbeat timeout.
    Offline,
}

/// A status string that names no known state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseStatusError {
    /// The text that did not parse.
    pub input: String,
    /// The accepted spellings, for the error message.
    pub expected: &'static str,
}

impl fmt::Display for ParseStatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown status `{}` (expected one of {})",
            self.input, self.expected
        )
    }
}

impl std::error::Error for ParseStatusError {}

macro_rules! status_enum {
    ($ty:ident, $expected:literal, $($variant:ident => $text:literal),+ $(,)?) => {
        impl $ty {
            /// Every state, in life-cycle order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The upper-case name stored in the database and written on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }
        }

        impl FromStr for $ty {
            type Err = ParseStatusError;

            /// Parses case-insensitively, as the seed's clients sent lower-case names.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let upper = s.trim().to_ascii_uppercase();
                match upper.as_str() {
                    $($text => Ok($ty::$variant),)+
                    _ => Err(ParseStatusError { input: s.to_string(), expected: $expected }),
                }
            }
        }

        impl TryFrom<String> for $ty {
            type Error = ParseStatusError;

            /// Reads a stored status (the database keeps them as text).
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

status_enum!(
    JobStatus,
    "PENDING, QUEUED, ASSIGNED, RUNNING, COMPLETED, FAILED, TIMED_OUT, CANCELLED",
    Pending => "PENDING",
    Queued => "QUEUED",
    Assigned => "ASSIGNED",
    Running => "RUNNING",
    Completed => "COMPLETED",
    Failed => "FAILED",
    TimedOut => "TIMED_OUT",
    Cancelled => "CANCELLED",
);

status_enum!(
    WorkerStatus,
    "IDLE, BUSY, UNHEALTHY, OFFLINE",
    Idle => "IDLE",
    Busy => "BUSY",
    Unhealthy => "UNHEALTHY",
    Offline => "OFFLINE",
);

impl JobStatus {
    /// True for the four states a job never leaves.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::Failed | JobStatus::TimedOut | JobStatus::Cancelled
        )
    }

    /// True while a worker holds the job (and a reservation for it).
    pub fn is_on_worker(self) -> bool {
        matches!(self, JobStatus::Assigned | JobStatus::Running)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_case_insensitively_and_print_upper_case() {
        assert_eq!(
            "timed_out".parse::<JobStatus>().unwrap(),
            JobStatus::TimedOut
        );
        assert_eq!(
            " Idle ".parse::<WorkerStatus>().unwrap(),
            WorkerStatus::Idle
        );
        assert_eq!(JobStatus::Cancelled.to_string(), "CANCELLED");
        let err = "done".parse::<JobStatus>().unwrap_err();
        assert!(err.to_string().contains("PENDING"));
        let json = serde_json::to_string(&WorkerStatus::Offline).unwrap();
        assert_eq!(json, "\"OFFLINE\"");
        let back: JobStatus = serde_json::from_str("\"running\"").unwrap();
        assert_eq!(back, JobStatus::Running);
    }

    #[test]
    fn terminal_states_are_the_last_four() {
        let terminal: Vec<_> = JobStatus::ALL.iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(terminal.len(), 4);
        assert!(!JobStatus::Running.is_terminal());
    }
}
