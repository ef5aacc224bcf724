//! The root crate's integration tests, as one binary: one build of the shared fixtures in
//! `common`, one link, and one test process whose threads share the PostgreSQL cluster lookup.
//! Each module is what used to be its own test binary.

mod common;

mod agent_e2e;
mod browser;
mod chaos;
mod claim_race;
mod cli;
mod compose;
mod dashboard;
mod faults;
mod metrics;
mod openapi;
mod poison;
mod replicas;
mod repo_suite;
mod reports;
mod restart;
mod routes;
mod scenarios;
mod up;
