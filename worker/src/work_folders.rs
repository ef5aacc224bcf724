//! Spare work folders: an attempt that left its folder empty hands it back, and the next
//! attempt takes it under its own name (one `rename`) instead of making a new one. On this
//! kind of host, making and removing a folder per trivial job (a new inode each time) was the
//! agent's largest cost; an empty folder with its mode reset is as fresh as a new one.

use crate::workspace::{plain_name, Workspace, WorkspaceError};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The most spare folders kept (about the number of slots of a big worker).
const MAX_SPARE: usize = 256;

/// The work folders of one agent, under one root.
#[derive(Debug)]
pub(crate) struct WorkFolders {
    /// The folder holding the per-attempt folders.
    root: PathBuf,
    /// Empty folders of ended attempts, ready to be taken.
    spare: Mutex<Vec<PathBuf>>,
}

impl WorkFolders {
    /// Work folders under `root` (created on first use).
    pub(crate) fn new(root: PathBuf) -> WorkFolders {
        WorkFolders {
            root,
            spare: Mutex::new(Vec::new()),
        }
    }

    /// A fresh, empty folder for `(job_id, attempt)`: a spare one renamed, else a new one.
    pub(crate) fn take(&self, job_id: &str, attempt: i64) -> Result<Workspace, WorkspaceError> {
        let spare = self.spare.lock().expect("spare folders lock").pop();
        if let Some(spare) = spare {
            let named = self.root.join(plain_name(job_id, attempt));
            if std::fs::rename(&spare, &named).is_ok() {
                return Ok(Workspace::at(named));
            }
            let _ = std::fs::remove_dir(&spare);
        }
        Workspace::create(&self.root, job_id, attempt)
    }

    /// Takes back an ended attempt's folder: kept as a spare when the job left it empty (its
    /// mode reset), else removed with all it holds.
    pub(crate) async fn give_back(&self, workspace: Workspace) {
        if reusable(workspace.path()) {
            let mut spare = self.spare.lock().expect("spare folders lock");
            if spare.len() < MAX_SPARE {
                spare.push(workspace.into_path());
                return;
            }
        }
        workspace.remove().await;
    }
}

impl Drop for WorkFolders {
    /// No spare folder outlives the agent.
    fn drop(&mut self) {
        for dir in self.spare.get_mut().expect("spare folders lock").drain(..) {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Whether a folder is a real, empty folder whose mode could be reset to the agent's own.
fn reusable(path: &Path) -> bool {
    let empty = match std::fs::read_dir(path) {
        Ok(mut entries) => entries.next().is_none(),
        Err(_) => false,
    };
    let is_dir = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
    empty
        && is_dir
        && std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_empty_folder_is_taken_again_under_the_next_name_a_used_one_is_removed() {
        let root = tempfile::tempdir().unwrap();
        let folders = WorkFolders::new(root.path().join("work"));
        let first = folders.take("a", 1).unwrap();
        let first_path = first.path().to_path_buf();
        std::fs::set_permissions(&first_path, std::fs::Permissions::from_mode(0o500)).unwrap();
        folders.give_back(first).await;
        assert!(first_path.is_dir(), "kept as a spare");

        let second = folders.take("b", 2).unwrap();
        assert_eq!(second.path(), root.path().join("work/b-2"));
        assert!(!first_path.exists(), "renamed, not copied");
        let mode = std::fs::metadata(second.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "the mode the job set is undone");
        std::fs::write(second.path().join("left"), b"x").unwrap();
        let second_path = second.path().to_path_buf();
        folders.give_back(second).await;
        assert!(!second_path.exists(), "a folder the job used is removed");

        let third = folders.take("c", 1).unwrap();
        let third_path = third.path().to_path_buf();
        assert_eq!(std::fs::read_dir(&third_path).unwrap().count(), 0);
        folders.give_back(third).await;
        drop(folders);
        assert!(!third_path.exists(), "spares go with the agent");
    }
}
