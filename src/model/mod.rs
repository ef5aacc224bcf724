//! The data the layers hand each other: rows as the database stores them (`*Record`, with
//! their wire form), what the repository's calls take (`*Params`) and what they report.
//!
//! Nothing here decides anything: the rules are in [`crate::lifecycle`], the SQL in
//! [`crate::repo`].

mod job;
mod outcome;
mod params;
mod prune;
mod units;
mod upload;
mod worker;

pub use job::{HistoryRecord, JobRecord};
pub use outcome::{Assignment, HeartbeatOutcome, PlaceOutcome, SweepCounts};
pub use params::{
    JobFinishParams, JobInsertParams, JobListParams, UploadInsertParams, WorkerHeartbeatParams,
    WorkerRegisterParams, SEARCH_WINDOW,
};
pub use prune::{PruneCounts, PruneCutoffs};
pub use units::{cores_to_milli, milli_to_cores};
pub use upload::UploadRecord;
pub use worker::WorkerRecord;

/// A stored value that cannot be read back (a bug or a hand-edited row).
#[derive(Debug, thiserror::Error)]
#[error("corrupt row: {0}")]
pub struct CorruptRow(pub String);
