//! The environment of an attempt: the job's own variables plus the ones naming who it is,
//! built here once so both executors pass on the same thing.

use super::ExecSpec;
use std::collections::BTreeMap;

/// The variable holding the job's id.
pub const JOB_ID_VAR: &str = "GANTRY_JOB_ID";
/// The variable holding the attempt number.
pub const ATTEMPT_VAR: &str = "GANTRY_ATTEMPT";
/// The variable holding the id of the worker running the attempt.
pub const WORKER_ID_VAR: &str = "GANTRY_WORKER_ID";

impl ExecSpec {
    /// The variables the command runs with: the job's own, then [`JOB_ID_VAR`],
    /// [`ATTEMPT_VAR`] and [`WORKER_ID_VAR`], which the agent sets last so that a job cannot
    /// pretend to be another job.
    pub fn environment(&self) -> BTreeMap<String, String> {
        let mut env = self.env.clone();
        env.insert(JOB_ID_VAR.into(), self.job_id.clone());
        env.insert(ATTEMPT_VAR.into(), self.attempt.to_string());
        env.insert(WORKER_ID_VAR.into(), self.worker_id.clone());
        env
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_agent_names_the_attempt_and_a_job_cannot_rename_it() {
        let spec = ExecSpec {
            job_id: "j-1".into(),
            attempt: 4,
            worker_id: "w-1".into(),
            command: "true".into(),
            image: String::new(),
            env: BTreeMap::from([
                ("A".to_string(), "b".to_string()),
                (JOB_ID_VAR.to_string(), "someone-else".to_string()),
                (ATTEMPT_VAR.to_string(), "99".to_string()),
            ]),
            cpu: 1.0,
            ram_mb: 64,
            network: false,
            timeout: Duration::from_secs(1),
            work_dir: "/tmp/work-j-1".into(),
        };
        let env = spec.environment();
        assert_eq!(env["A"], "b");
        assert_eq!(env[JOB_ID_VAR], "j-1");
        assert_eq!(env[ATTEMPT_VAR], "4");
        assert_eq!(env[WORKER_ID_VAR], "w-1");
        assert_eq!(env.len(), 4);
    }
}
