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
