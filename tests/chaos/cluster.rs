//! A PostgreSQL cluster of the chaos test's own (the shared test cluster must not be crashed
//! under the other tests): `scripts/test-postgres.sh` on a folder and port of its own, stopped
//! and removed when dropped. It runs durable (fsync, synchronous commits).

use crate::common::optional::{skip_or_fail, Part};
use crate::common::process::free_port;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The running cluster.
pub struct PrivateCluster {
    /// Its folder (made by the script, removed on drop).
    dir: PathBuf,
    /// Its port on 127.0.0.1.
    port: u16,
    /// Its admin URL, for `TestDb::postgres_in`.
    pub admin: String,
}

impl PrivateCluster {
    /// Starts a new cluster, or `None` when this machine has no PostgreSQL (the test then
    /// skips, or fails where PostgreSQL is required).
    pub fn start() -> Option<PrivateCluster> {
        if !Path::new("/usr/lib/postgresql").exists() {
            skip_or_fail(Part::Postgres, "PostgreSQL is not installed");
            return None;
        }
        let mut cluster = PrivateCluster {
            dir: std::env::temp_dir()
                .join(format!("gantry-chaos-pg-{}", uuid::Uuid::new_v4().simple())),
            port: free_port(),
            admin: String::new(),
        };
        cluster.admin = cluster.script(None);
        Some(cluster)
    }

    /// Stops the cluster as a crash would: `pg_ctl -m immediate`, no checkpoint.
    pub fn crash(&self) {
        self.script(Some("crash"));
    }

    /// Starts the cluster again (recovering from its WAL after a crash).
    pub fn restart(&self) {
        self.script(None);
    }

    /// Runs the script with `arg`; its stdout, trimmed. Panics with its stderr on failure.
    fn script(&self, arg: Option<&str>) -> String {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/test-postgres.sh");
        let out = Command::new(script)
            .args(arg)
            .env("GANTRY_PG_DIR", &self.dir)
            .env("GANTRY_PG_PORT", self.port.to_string())
            // Durable, as production runs: with `synchronous_commit=off` a crash loses
            // commits already answered (jobs a client was told exist).
            .env("GANTRY_PG_DURABLE", "1")
            .output()
            .expect("run scripts/test-postgres.sh");
        assert!(
            out.status.success(),
            "scripts/test-postgres.sh {arg:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        self.script(Some("stop"));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
