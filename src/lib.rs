//! gantry: a database-backed job execution service.
//!
//! The server keeps every job and worker in SQL tables ([`repo`]), places jobs on workers by
//! CPU and memory ([`scheduler`]), and speaks the REST API of [`routes`]. `main.rs` only
//! parses the command line ([`cli`]) and calls into here.

pub mod cli;
pub mod client;
pub mod clock;
pub mod commands;
pub mod config;
pub mod dashboard;
pub mod logging;
pub mod metrics;
pub mod repo;
pub mod routes;
pub mod scheduler;
pub mod server;
pub mod state;
pub mod up;
pub mod waiters;
