//! The JSON wire types shared by the gantry server, the worker agent and the CLI, and the
//! duration syntax their settings share.
//!
//! One source of truth for everything that crosses the wire: bodies are camelCase, unknown
//! fields are ignored (so older and newer peers keep talking), and the two state enums parse
//! case-insensitively but always serialize upper-case.

mod batch;
mod duration;
mod error;
mod fault;
mod images;
mod integer;
mod jobs;
mod reports;
mod servers;
mod status;
mod usage;
mod workers;

pub use batch::{
    BatchOutcome, BatchResponse, CreateJobsRequest, CreateJobsResponse, JobAttempt,
    StartJobsRequest, SubmitResultsRequest,
};
pub use duration::parse_duration;
pub use error::{ErrorBody, ErrorDetail};
pub use fault::Fault;
pub use images::{ImageHeld, PullPolicy};
pub use jobs::{
    CancelJobRequest, CreateJobRequest, GetJobRequest, GetJobResponse, HistoryEntry, Job,
    JobStatusResponse, JobsListResponse, RunAt, StartJobRequest, SubmitResultRequest,
    UploadResponse,
};
pub use reports::{Percentiles, ReportGroup, ReportSummary, Spread};
pub use servers::Servers;
pub use status::{JobStatus, ParseStatusError, WorkerStatus};
pub use usage::AttemptUsage;
pub use workers::{
    HeartbeatRequest, HeartbeatResponse, RegisterWorkerRequest, RegisterWorkerResponse, StopJob,
    StopReason, Worker, WorkerSummary, WorkersListResponse,
};
