//! The processes of the browser test: the real `gantry` server binary, an agent, chromedriver.
//! Each is killed (by its own pid) when its guard is dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed on drop.
pub struct Proc {
    /// What it is, for messages.
    pub name: &'static str,
    child: Child,
}

impl Proc {
    /// Starts `cmd` with its output going to `log`.
    pub fn spawn(name: &'static str, mut cmd: Command, log: &Path) -> Proc {
        let out = std::fs::File::create(log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {name}: {e}"));
        Proc { name, child }
    }

    /// Panics when the process already exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited early: {status}", self.name);
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first of `names` found on PATH.
pub fn which(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// Polls `url` until it answers 200 (or panics after `within`).
pub async fn wait_http(url: &str, within: Duration, proc: &mut Proc) {
    let deadline = Instant::now() + within;
    loop {
        proc.assert_running();
        if let Ok(r) = reqwest::get(url).await {
            if r.status().is_success() {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{url} did not answer in {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Where test artifacts go: the cargo target folder.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}
