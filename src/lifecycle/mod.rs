//! The state machine of jobs and workers: every transition as a named, pure rule.
//!
//! - [`table`]: the whole transition table, job and worker, in one place (`render()`).
//! - [`job`]: the job transitions decided in Rust (create, start, finish, retry, lose,
//!   cancel, time out); [`fencing`]: who may act on a job, and when a worker must stop one;
//!   [`hold`]: attempts that may still run on a worker though the job moved on.
//! - [`worker`]: a worker's derived state and its failure/cooldown rule.
//! - [`fit`]: which worker a queued job is placed on (best fit, preferring one that holds
//!   its image: [`locality`]).
//! - [`policy`]: the retry and cooldown settings those rules apply.
//!
//! The repository loads rows, applies these rules and writes the rows back (or, for the
//! set-based transitions the table names, runs statements that do the same to many rows);
//! it decides nothing itself.

pub mod fencing;
pub mod fit;
pub mod hold;
pub mod job;
pub mod locality;
pub mod policy;
pub mod table;
pub mod worker;

pub use fencing::Refusal;
pub use gantry_api::Fault;
pub use job::Transition;
pub use policy::{CooldownCounts, Policy};
pub use worker::WorkerOutcome;

#[cfg(test)]
mod pull_tests;
#[cfg(test)]
mod tests;
