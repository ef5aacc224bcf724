//! The worker's integration tests, in one binary: the whole agent against a fake server,
//! and each executor against the real thing (child processes, the local Docker engine).

mod agent;
mod common;
mod docker_executor;
mod process_executor;
