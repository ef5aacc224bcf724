//! The binaries the bench starts: `gantry` (the server under measurement) and, for the Docker
//! figure, `gantry-worker`. Each comes from its environment variable, else from beside this
//! executable, so a `cargo build` of the workspace puts all three where they find each other.

use anyhow::bail;
use std::path::PathBuf;

/// The `gantry` binary: `GANTRY_BIN`, else `gantry` beside this executable; an error naming
/// the build command when it is not there.
pub fn gantry() -> anyhow::Result<PathBuf> {
    let (bin, from_env) = match std::env::var_os("GANTRY_BIN") {
        Some(path) => (PathBuf::from(path), true),
        None => (beside_current_exe("gantry"), false),
    };
    if !bin.is_file() {
        let source = if from_env {
            "GANTRY_BIN names"
        } else {
            "the server"
        };
        bail!(
            "{source} {} is missing: build it with `cargo build --release -p gantry` (or \
             `cargo build -p gantry` for a debug bench), or set GANTRY_BIN to a gantry binary",
            bin.display()
        );
    }
    Ok(bin)
}

/// The `gantry-worker` binary: `GANTRY_WORKER_BIN`, else beside this executable (it may not
/// exist; the Docker figure checks).
pub fn worker() -> PathBuf {
    match std::env::var_os("GANTRY_WORKER_BIN") {
        Some(path) => PathBuf::from(path),
        None => beside_current_exe("gantry-worker"),
    }
}

/// `name` in the folder of this executable, or bare `name` when that folder is unknown.
fn beside_current_exe(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(name)))
        .unwrap_or_else(|| PathBuf::from(name))
}

/// The `gantry-worker` binary, or an error naming the build command when it is not there (the
/// fleet figures start real agents).
pub fn worker_checked() -> anyhow::Result<PathBuf> {
    let bin = worker();
    if !bin.is_file() {
        bail!(
            "the agent {} is missing: build it with `cargo build --release -p gantry-worker` \
             (or `cargo build -p gantry-worker` for a debug bench), or set GANTRY_WORKER_BIN",
            bin.display()
        );
    }
    Ok(bin)
}
