//! The gantry worker agent: registers with the server, heartbeats, long-polls for jobs and
//! runs each attempt in a fresh Docker container (or as a local process), then reports it.
//!
//! [`run`] is the whole agent; the `gantry-worker` binary parses a [`Config`], installs
//! logging and signal handlers, and calls it.

pub mod agent;
mod attempt;
pub mod client;
pub mod config;
pub mod executor;
mod fence;
#[cfg(test)]
mod fixtures;
pub mod host;
mod job_table;
mod pull_step;
pub mod state;
mod work_folders;
mod worker_id;
pub mod workspace;

pub use agent::run;
pub use config::Config;
