//! What an agent keeps across restarts: the worker id the server knows it by and that worker's
//! own token, in `agent.json` of its state folder. A restarted agent resumes as the same worker
//! (it never registers a second worker for one host, and it can prove it is that worker, which
//! the join token alone no longer does), and removes its own orphan containers.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file's name in the state folder.
const FILE_NAME: &str = "agent.json";

/// One agent's identity, for one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentState {
    /// The server it registered with (another server's identity is not reused).
    pub server_url: String,
    /// The worker id that server gave or accepted.
    pub worker_id: String,
    /// That worker's own token, when the server hands them out.
    pub token: Option<String>,
}

/// The state file of one state folder.
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    /// The state file in `dir`.
    pub fn in_dir(dir: &Path) -> StateFile {
        StateFile {
            path: dir.join(FILE_NAME),
        }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The identity saved for `server_url` (or for a list of replicas sharing one of its
    /// URLs: a replica added or removed is the same service), if there is one that can be read; a missing file
    /// is a first start, an unreadable one is said and ignored.
    pub fn load(&self, server_url: &str) -> Option<AgentState> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot read the agent's state");
                return None;
            }
        };
        match serde_json::from_str::<AgentState>(&text) {
            Ok(state) if same_service(&state.server_url, server_url) => Some(state),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "ignoring an unreadable agent state");
                None
            }
        }
    }

    /// Saves `state`, readable by this user only (it holds a credential): written beside the
    /// file and renamed over it, so a crash never leaves half a file.
    pub fn save(&self, state: &AgentState) -> std::io::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let tmp = self.path.with_extension("json.tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(serde_json::to_string_pretty(state)?.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, &self.path)
    }
}

/// The default state folder: `$XDG_STATE_HOME/gantry-worker`, else
/// `~/.local/state/gantry-worker`, else one under the system temp dir.
pub fn default_dir() -> PathBuf {
    if let Some(state) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(state).join("gantry-worker");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home).join(".local/state/gantry-worker");
    }
    std::env::temp_dir().join("gantry-worker-state")
}

/// Whether two server URL lists name the same service: they share a replica.
fn same_service(saved: &str, now: &str) -> bool {
    saved
        .split(',')
        .any(|a| now.split(',').any(|b| a.trim() == b.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(server: &str) -> AgentState {
        AgentState {
            server_url: server.into(),
            worker_id: "w-1".into(),
            token: Some("gw_secret".into()),
        }
    }

    #[test]
    fn an_identity_is_kept_for_its_own_server_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::in_dir(&dir.path().join("nested"));
        assert_eq!(file.load("http://a"), None, "a first start");
        file.save(&state("http://a")).unwrap();
        assert_eq!(file.load("http://a"), Some(state("http://a")));
        assert_eq!(file.load("http://b"), None, "another server's identity");
        assert_eq!(
            file.load("http://b,http://a"),
            Some(state("http://a")),
            "a replica added beside it is the same service"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(file.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "it holds a token");
        }
        std::fs::write(file.path(), "{not json").unwrap();
        assert_eq!(file.load("http://a"), None, "an unreadable file is ignored");
    }
}
