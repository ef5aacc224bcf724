//! What one attempt used, as its worker measured it.

use serde::{Deserialize, Serialize};

/// The resources and time one attempt used: measured from the container's cgroup (Docker) or
/// the process's rusage (process executor). Every field is absent when it could not be
/// measured (an attempt that never started has no CPU time).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptUsage {
    /// CPU time (user + system) the attempt's processes used, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_seconds: Option<f64>,
    /// The most memory the attempt held at once, in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_memory_mb: Option<f64>,
    /// Time spent pulling the image before the container could start, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_ms: Option<i64>,
    /// Time from the container's (or process's) start to its end, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_ms: Option<i64>,
}

impl AttemptUsage {
    /// True when nothing was measured.
    pub fn is_empty(&self) -> bool {
        self == &AttemptUsage::default()
    }
}
