//! What every request handler shares.

use crate::config::ServeConfig;
use crate::metrics::EndingsCounter;
use crate::repo::Repo;
use crate::scheduler::SchedulerHandle;
use crate::waiters::Waiters;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The server's shared state: handles only, no job or worker data.
#[derive(Clone)]
pub struct AppState {
    /// Every read and write of jobs, workers and uploads.
    pub repo: Arc<dyn Repo>,
    /// The settings the server was started with.
    pub config: Arc<ServeConfig>,
    /// Wakes a worker's long poll when there is news for it (a placement, a cancel).
    pub waiters: Arc<Waiters>,
    /// Asks the scheduler for a placement pass.
    pub scheduler: SchedulerHandle,
    /// Fires when the server shuts down, so long polls answer at once.
    pub shutdown: CancellationToken,
    /// How far the finished-jobs counter of `/metrics` has counted.
    pub endings: Arc<EndingsCounter>,
}
