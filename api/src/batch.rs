//! Batch forms of the job routes: many creates, starts or results in one call and one
//! database transaction, for clients and agents that move many small jobs.

use crate::error::ErrorDetail;
use crate::jobs::{CreateJobRequest, Job, SubmitResultRequest};
use serde::{Deserialize, Serialize};

/// `POST /api/jobs/create-batch`: all jobs are checked first; one bad job refuses the whole
/// batch (400, `field` names it, e.g. `jobs[3].command`) and creates nothing.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateJobsRequest {
    /// The jobs, as for `POST /api/jobs/create`.
    pub jobs: Vec<CreateJobRequest>,
}

/// The answer to `create-batch`: the jobs in the order asked (a reused idempotency key
/// yields the job it first created).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateJobsResponse {
    /// One job per requested job.
    pub jobs: Vec<Job>,
}

/// One attempt a worker names: which job and which delivery of it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobAttempt {
    /// The job.
    pub job_id: String,
    /// The attempt number it was delivered with.
    #[serde(deserialize_with = "crate::integer::int")]
    pub attempt: i64,
    /// In a start: the worker first pulls the job's image (as `StartJobRequest.pulling`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pulling: bool,
}

/// `POST /api/jobs/start-batch`: the worker began these attempts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartJobsRequest {
    /// The worker holding the jobs.
    pub worker_id: String,
    /// The attempts it started.
    pub jobs: Vec<JobAttempt>,
}

/// `POST /api/jobs/submit-result-batch`: how these attempts ended. Each result is as for
/// `submit-result`; its `workerId` may be left out and must match when given.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubmitResultsRequest {
    /// The worker holding the jobs.
    pub worker_id: String,
    /// One result per attempt.
    pub results: Vec<SubmitResultRequest>,
}

/// The answer to a worker's batch: one outcome per item, in the order sent. Items are
/// independent: a refused one (older attempt, another worker's job) changed nothing and does
/// not hold back the others.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    /// The outcomes.
    pub results: Vec<BatchOutcome>,
}

/// One item's outcome: the job as it is now, or why nothing changed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchOutcome {
    /// The job the item named.
    pub job_id: String,
    /// The job after the change, when it was taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<Job>,
    /// Why the item was refused (the single route's error: `wrong_state`, `unknown_job`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}
