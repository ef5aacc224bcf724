//! The pull before an attempt's command: decided by the job's pull policy (or the agent's
//! default), reported to the server as a start with `pulling: true` (the job shows
//! `pulling <image>` and its timeout does not run), then a second start once the image is
//! there, from which the job's timeout runs.

use crate::attempt::Attempts;
use crate::executor::ExecOutcome;
use gantry_api::Job;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// How the pull before the command went.
pub(crate) enum PullStep {
    /// The image is there and the server knows the command starts; the pull took this long
    /// (ms).
    Started(i64),
    /// The server refused the second start: the attempt is no longer ours (cancelled
    /// meanwhile, say).
    NotOurs,
    /// The attempt ends here (the pull failed, or it was stopped): report this outcome.
    Ended(ExecOutcome),
}

impl Attempts {
    /// Whether the attempt pulls `image` first. An engine that cannot say is left to the
    /// run, which reports it as the infrastructure error it is.
    pub(crate) async fn needs_pull(&self, job: &Job, image: &str) -> bool {
        let policy = job.pull.unwrap_or(self.defaults.pull);
        match self.executor.needs_pull(image, policy).await {
            Ok(pulls) => pulls,
            Err(outcome) => {
                tracing::warn!(job_id = job.id, error = ?outcome.error, "cannot tell whether to pull");
                false
            }
        }
    }

    /// Pulls the image (sharing a pull under way), then reports the second start.
    pub(crate) async fn pull_then_start(
        &self,
        job: &Job,
        image: &str,
        needed_since: Instant,
        cancel: &CancellationToken,
    ) -> PullStep {
        let began = Instant::now();
        let pulled = tokio::select! {
            pulled = self.executor.pull_image(image, needed_since) => pulled,
            _ = cancel.cancelled() => Err(ExecOutcome {
                cancelled: true,
                error: Some("cancelled while pulling its image".into()),
                ..ExecOutcome::default()
            }),
        };
        let pull_ms = began.elapsed().as_millis() as i64;
        if let Err(mut outcome) = pulled {
            outcome.duration = began.elapsed();
            outcome.usage.pull_ms = Some(pull_ms);
            return PullStep::Ended(outcome);
        }
        match self.starts.call(self.start_of(job, false)).await {
            Ok(_) => PullStep::Started(pull_ms),
            Err(e) if e.is_conflict() => {
                tracing::info!(job_id = job.id, "start after the pull refused: not ours");
                PullStep::NotOurs
            }
            Err(e) => {
                let mut outcome = ExecOutcome::infra(format!("could not report the start: {e}"));
                outcome.usage.pull_ms = Some(pull_ms);
                PullStep::Ended(outcome)
            }
        }
    }
}
