//! gantry: a database-backed job execution service.
//!
//! The server keeps every job and worker in SQL tables ([`repo`]), places jobs on workers by
//! CPU and memory ([`scheduler`]), speaks the REST API of [`routes`] and serves the
//! [`dashboard`], both composed by [`server::app`] from what [`http`] shares. The `gantry`
//! binary's command line lives beside its `main.rs`, not here.

pub mod clock;
pub mod config;
pub mod dashboard;
pub mod http;
pub mod lifecycle;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod repo;
pub mod rollup;
pub mod routes;
pub mod scheduler;
pub mod server;
pub mod state;
pub mod waiters;
pub mod wake_bus;
