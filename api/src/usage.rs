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
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::integer::option"
    )]
    pub pull_ms: Option<i64>,
    /// Time from the container's (or process's) start to its end, in milliseconds.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::integer::option"
    )]
    pub run_ms: Option<i64>,
}

impl AttemptUsage {
    /// True when nothing was measured.
    pub fn is_empty(&self) -> bool {
        self == &AttemptUsage::default()
    }
}

/// One line for people: `CPU 0.44 s, peak 42.5 MiB, pull 120 ms, run 572 ms`, naming only what
/// was measured (`not measured` when nothing was).
impl std::fmt::Display for AttemptUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = [
            self.cpu_seconds.map(|s| format!("CPU {s:.2} s")),
            self.peak_memory_mb.map(|m| format!("peak {m:.1} MiB")),
            self.pull_ms.map(|ms| format!("pull {ms} ms")),
            self.run_ms.map(|ms| format!("run {ms} ms")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if parts.is_empty() {
            return f.write_str("not measured");
        }
        f.write_str(&parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_reads_as_one_line_of_what_was_measured() {
        let u = AttemptUsage {
            cpu_seconds: Some(0.4394),
            peak_memory_mb: Some(42.46),
            pull_ms: None,
            run_ms: Some(572),
        };
        assert_eq!(u.to_string(), "CPU 0.44 s, peak 42.5 MiB, run 572 ms");
        assert_eq!(AttemptUsage::default().to_string(), "not measured");
    }
}
