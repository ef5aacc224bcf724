//! Rollups: the job history summed per hour, image, worker and final state, so reports cost
//! what their window holds and outlive the rows the pruner deletes.
//!
//! The rollup pass ([`crate::scheduler::maintenance`]) folds every job that ended into its
//! hour's row once, in the order jobs ended (a cursor of `(finished_at, id)`); a report reads
//! the rollup rows of its hours and the jobs that ended after the cursor, summed the same
//! way, so its answer does not depend on how far the pass got or on what was pruned.

pub mod attempts;
pub mod histogram;
pub mod summary;

pub use attempts::{EndedJob, HistoryFact};
pub use histogram::Histogram;
pub use summary::{
    hours_covering, needs_full_rows, report_groups, Rollup, RollupKey, DAY_MS, HOUR_MS, METRICS,
};
