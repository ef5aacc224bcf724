//! Helpers the test modules share.

use gantry_worker::executor::ExecSpec;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// A one-attempt spec of `command` in `work_dir`, with a fresh job id starting `id_prefix`;
/// callers set what their executor cares about on top.
pub fn exec_spec(id_prefix: &str, command: &str, work_dir: &Path) -> ExecSpec {
    ExecSpec {
        job_id: format!("{id_prefix}-{}", uuid::Uuid::new_v4()),
        attempt: 1,
        worker_id: "test-worker".into(),
        command: command.into(),
        image: String::new(),
        env: BTreeMap::new(),
        cpu: 1.0,
        ram_mb: 64,
        network: false,
        timeout: Duration::from_secs(30),
        work_dir: work_dir.to_path_buf(),
    }
}

/// A command printing the attempt's identity variables, one a line.
pub const PRINT_IDENTITY: &str =
    "echo \"$GANTRY_JOB_ID\"; echo \"$GANTRY_ATTEMPT\"; echo \"$GANTRY_WORKER_ID\"";

/// Gives `spec` attempt 4 and job variables claiming another job, attempt and worker, which
/// the agent's own must override.
pub fn claim_another_identity(spec: &mut ExecSpec) {
    spec.attempt = 4;
    for (name, value) in [
        ("GANTRY_JOB_ID", "another-job"),
        ("GANTRY_ATTEMPT", "99"),
        ("GANTRY_WORKER_ID", "another-worker"),
    ] {
        spec.env.insert(name.into(), value.into());
    }
}

/// Asserts that `stdout` of [`PRINT_IDENTITY`] names `spec`'s job, attempt and worker.
pub fn assert_identity(stdout: &str, spec: &ExecSpec) {
    let expected = format!("{}\n{}\n{}\n", spec.job_id, spec.attempt, spec.worker_id);
    assert_eq!(
        stdout, expected,
        "the agent names the attempt, not the job's own env"
    );
}
