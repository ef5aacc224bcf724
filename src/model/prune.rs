//! What the pruner is asked to take and what it took.

/// The ages past which the pruner takes each part, as epoch-ms cutoffs; `None` keeps it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneCutoffs {
    /// Finished jobs that ended before this lose their stdout and stderr.
    pub outputs_before: Option<i64>,
    /// Finished jobs that ended before this go, with their history (once rolled up).
    pub jobs_before: Option<i64>,
    /// Input files stored before this go (unless an unfinished job still names one).
    pub uploads_before: Option<i64>,
    /// Rollup rows of hours before this go.
    pub rollups_before: Option<i64>,
}

/// How much a prune took (or, for a dry run, would take).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PruneCounts {
    /// Jobs whose stdout and stderr were cleared.
    pub outputs: u64,
    /// Finished jobs deleted.
    pub jobs: u64,
    /// Their history rows deleted.
    pub history: u64,
    /// Input files deleted.
    pub uploads: u64,
    /// Rollup rows deleted.
    pub rollups: u64,
}

impl PruneCounts {
    /// Rows changed or deleted in all.
    pub fn total(&self) -> u64 {
        self.outputs + self.jobs + self.history + self.uploads + self.rollups
    }

    /// Adds another pass's counts.
    pub fn add(&mut self, other: PruneCounts) {
        self.outputs += other.outputs;
        self.jobs += other.jobs;
        self.history += other.history;
        self.uploads += other.uploads;
        self.rollups += other.rollups;
    }
}
