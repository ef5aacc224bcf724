//! Per-attempt work folders: created fresh, filled with the job's input file (a `.zip` is
//! unpacked, refusing any entry that would escape the folder), removed afterwards.

use crate::client::{ClientError, Retry, ServerClient};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use tokio_util::sync::CancellationToken;

/// The most bytes a `.zip` may unpack to (guards against zip bombs).
pub const MAX_UNPACKED_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// The most entries a `.zip` may hold.
pub const MAX_ZIP_ENTRIES: usize = 100_000;
/// Tries to download an input file before giving up.
const DOWNLOAD_TRIES: u32 = 4;
/// Name used when a job gives a file URL but no usable file name.
const FALLBACK_FILENAME: &str = "input";

/// Why a work folder could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// The job's own input is bad (an escaping zip entry, a corrupt archive): the job fails.
    #[error("{0}")]
    Job(String),
    /// The worker could not prepare it (disk, download): retried elsewhere.
    #[error("{0}")]
    Infra(String),
}

/// One attempt's work folder; removed by [`Workspace::remove`] (or on drop, best effort).
#[derive(Debug)]
pub struct Workspace {
    /// The folder, kept on disk past its `TempDir` so removal happens where we choose.
    path: PathBuf,
}

impl Workspace {
    /// Creates a fresh, empty folder for `(job_id, attempt)` under `root`: one `mkdir` in
    /// the common case (the root exists, no folder of that name is left from a crash); the
    /// root is created and a unique name picked only when that fails.
    pub fn create(root: &Path, job_id: &str, attempt: i64) -> Result<Workspace, WorkspaceError> {
        let plain = root.join(plain_name(job_id, attempt));
        match std::fs::create_dir(&plain) {
            Ok(()) => return Ok(Workspace { path: plain }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(root).map_err(|e| {
                    WorkspaceError::Infra(format!("work root {}: {e}", root.display()))
                })?;
                if std::fs::create_dir(&plain).is_ok() {
                    return Ok(Workspace { path: plain });
                }
            }
            Err(_) => {}
        }
        let dir = tempfile::Builder::new()
            .prefix(&format!("{}-", plain_name(job_id, attempt)))
            .tempdir_in(root)
            .map_err(|e| WorkspaceError::Infra(format!("work folder: {e}")))?;
        Ok(Workspace { path: dir.keep() })
    }

    /// The folder's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A folder already made fresh and empty (a spare one, renamed for its attempt).
    pub(crate) fn at(path: PathBuf) -> Workspace {
        Workspace { path }
    }

    /// Gives up the folder without removing it.
    pub(crate) fn into_path(self) -> PathBuf {
        let path = self.path.clone();
        std::mem::forget(self);
        path
    }

    /// Downloads the job's input file into the folder and unpacks it when it is a `.zip`.
    pub async fn fetch_input(
        &self,
        client: &ServerClient,
        file_url: &str,
        filename: Option<&str>,
        give_up: &CancellationToken,
    ) -> Result<PathBuf, WorkspaceError> {
        let name = input_filename(filename, file_url)?;
        let dest = self.path.join(&name);
        let retry = Retry::times(DOWNLOAD_TRIES, give_up);
        match client.download(file_url, &dest, &retry).await {
            Ok(_) => {}
            // A 404 or 403 will not get better on another worker either.
            Err(ClientError::Refused {
                status, message, ..
            }) if status < 500 => {
                return Err(WorkspaceError::Job(format!(
                    "input file {file_url} refused by server ({status}): {message}"
                )))
            }
            Err(e) => {
                return Err(WorkspaceError::Infra(format!(
                    "could not download {file_url}: {e}"
                )))
            }
        }
        if name.to_ascii_lowercase().ends_with(".zip") {
            let (archive, into) = (dest.clone(), self.path.clone());
            tokio::task::spawn_blocking(move || unpack_zip(&archive, &into))
                .await
                .map_err(|e| WorkspaceError::Infra(format!("unpack task failed: {e}")))??;
        }
        Ok(dest)
    }

    /// Removes the folder and everything in it: at once when the job left it empty (one
    /// `rmdir`), else on a blocking thread.
    pub async fn remove(self) {
        let path = self.path.clone();
        std::mem::forget(self);
        if std::fs::remove_dir(&path).is_ok() {
            return;
        }
        let result = tokio::task::spawn_blocking(move || remove_tree(&path)).await;
        if let Ok(Err(e)) = result {
            tracing::warn!(error = %e, "could not remove work folder");
        }
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = remove_tree(&self.path);
    }
}

/// The folder name of an attempt: its job id (made safe, at most 64 characters), a dash and
/// the attempt number.
pub(crate) fn plain_name(job_id: &str, attempt: i64) -> String {
    let safe_id: String = job_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    format!("{safe_id}-{attempt}")
}

/// Removes a folder tree, first making it writable (the job may have dropped write bits).
fn remove_tree(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&dir) else {
            continue;
        };
        if meta.is_dir() {
            let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
            if let Ok(entries) = std::fs::read_dir(&dir) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        }
    }
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The file name to save the input as: the job's `filename`, else the URL's last segment;
/// anything that is not a plain single name is refused.
pub fn input_filename(filename: Option<&str>, file_url: &str) -> Result<String, WorkspaceError> {
    let candidate = match filename.map(str::trim).filter(|f| !f.is_empty()) {
        Some(name) => name.to_string(),
        None => file_url
            .split(['?', '#'])
            .next()
            .and_then(|p| p.rsplit('/').next())
            .filter(|s| !s.is_empty())
            .unwrap_or(FALLBACK_FILENAME)
            .to_string(),
    };
    let mut parts = Path::new(&candidate).components();
    match (parts.next(), parts.next()) {
        (Some(Component::Normal(_)), None) if !candidate.contains('\\') => Ok(candidate),
        _ => Err(WorkspaceError::Job(format!(
            "input file name `{candidate}` is not a plain file name"
        ))),
    }
}

/// Unpacks `archive` into `into`. Every entry is checked before anything is written: an
/// absolute path, a `..` component or a symlink refuses the whole archive.
pub fn unpack_zip(archive: &Path, into: &Path) -> Result<usize, WorkspaceError> {
    let bad = |e: zip::result::ZipError| WorkspaceError::Job(format!("bad zip archive: {e}"));
    let file = File::open(archive).map_err(|e| WorkspaceError::Infra(e.to_string()))?;
    let mut zip = zip::ZipArchive::new(file).map_err(bad)?;
    if zip.len() > MAX_ZIP_ENTRIES {
        return Err(WorkspaceError::Job(format!(
            "zip archive has {} entries (at most {MAX_ZIP_ENTRIES})",
            zip.len()
        )));
    }
    let mut plan = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let entry = zip.by_index(i).map_err(bad)?;
        let name = entry.name().map_err(bad)?.to_string();
        if entry.is_symlink() {
            return Err(WorkspaceError::Job(format!(
                "zip entry `{name}` is a symlink: refused"
            )));
        }
        let relative = safe_relative_path(&name).ok_or_else(|| {
            WorkspaceError::Job(format!(
                "zip entry `{name}` escapes the work folder: refused"
            ))
        })?;
        plan.push((i, relative, entry.is_dir()));
    }
    let io = |e: std::io::Error| WorkspaceError::Infra(format!("unpacking: {e}"));
    let mut budget = MAX_UNPACKED_BYTES;
    for (i, relative, is_dir) in &plan {
        let target = into.join(relative);
        if *is_dir {
            std::fs::create_dir_all(&target).map_err(io)?;
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut entry = zip.by_index(*i).map_err(bad)?;
        let mut out = File::create(&target).map_err(io)?;
        let copied = std::io::copy(&mut (&mut entry).take(budget + 1), &mut out).map_err(io)?;
        if copied > budget {
            return Err(WorkspaceError::Job(format!(
                "zip archive unpacks to more than {MAX_UNPACKED_BYTES} bytes"
            )));
        }
        budget -= copied;
        out.flush().map_err(io)?;
    }
    Ok(plan.len())
}

/// The entry name as a relative path inside the folder, or `None` when it would escape
/// (absolute, a drive prefix, a backslash, or any `..` component).
fn safe_relative_path(name: &str) -> Option<PathBuf> {
    if name.is_empty() || name.contains('\\') || name.contains('\0') {
        return None;
    }
    let mut out = PathBuf::new();
    for part in Path::new(name).components() {
        match part {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zip::write::SimpleFileOptions;

    fn make_zip(path: &Path, entries: &[(&str, &[u8])]) {
        let mut w = zip::ZipWriter::new(File::create(path).unwrap());
        for (name, data) in entries {
            w.start_file(*name, SimpleFileOptions::default()).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap();
    }

    #[test]
    fn unpacks_a_normal_archive() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("in.zip");
        make_zip(&archive, &[("a.txt", b"A"), ("sub/b.txt", b"B")]);
        let into = dir.path().join("out");
        std::fs::create_dir(&into).unwrap();
        assert_eq!(unpack_zip(&archive, &into).unwrap(), 2);
        assert_eq!(std::fs::read(into.join("sub/b.txt")).unwrap(), b"B");
    }

    #[test]
    fn refuses_entries_that_escape() {
        for evil in ["../evil", "/etc/evil", "ok/../../evil", "a\\..\\evil"] {
            let dir = tempfile::tempdir().unwrap();
            let archive = dir.path().join("in.zip");
            make_zip(&archive, &[("fine.txt", b"x"), (evil, b"pwned")]);
            let into = dir.path().join("out");
            std::fs::create_dir(&into).unwrap();
            let err = unpack_zip(&archive, &into).unwrap_err();
            assert!(matches!(err, WorkspaceError::Job(_)), "{evil}: {err}");
            assert!(err.to_string().contains("refused"), "{err}");
            // Nothing was written, not even the harmless entry.
            assert!(!into.join("fine.txt").exists());
            assert!(!dir.path().join("evil").exists());
        }
    }

    #[test]
    fn refuses_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("in.zip");
        let mut w = zip::ZipWriter::new(File::create(&archive).unwrap());
        w.add_symlink("link", "/etc/passwd", SimpleFileOptions::default())
            .unwrap();
        w.finish().unwrap();
        let err = unpack_zip(&archive, dir.path()).unwrap_err();
        assert!(err.to_string().contains("symlink"), "{err}");
    }

    #[test]
    fn file_names_must_be_plain() {
        assert_eq!(
            input_filename(Some("data.csv"), "/u/x").unwrap(),
            "data.csv"
        );
        assert_eq!(
            input_filename(None, "/uploads/abc/in.zip?x=1").unwrap(),
            "in.zip"
        );
        assert_eq!(input_filename(None, "/uploads/").unwrap(), "input");
        assert!(input_filename(Some("../x"), "/u").is_err());
        assert!(input_filename(Some("a/b"), "/u").is_err());
        assert!(input_filename(Some("/etc/passwd"), "/u").is_err());
    }

    #[test]
    fn workspaces_are_fresh_and_removed() {
        let root = tempfile::tempdir().unwrap();
        let ws = Workspace::create(root.path(), "job/1", 2).unwrap();
        assert!(ws.path().is_dir());
        let path = ws.path().to_path_buf();
        std::fs::write(path.join("f"), b"x").unwrap();
        drop(ws);
        assert!(!path.exists());
    }

    #[tokio::test]
    async fn a_folder_left_by_a_crash_is_not_reused_and_a_missing_root_is_made() {
        let root = tempfile::tempdir().unwrap();
        let nested = root.path().join("a/b");
        let first = Workspace::create(&nested, "j", 1).unwrap();
        assert_eq!(first.path(), nested.join("j-1"), "one mkdir, a plain name");
        std::fs::write(first.path().join("left"), b"x").unwrap();
        std::mem::forget(first);
        let second = Workspace::create(&nested, "j", 1).unwrap();
        assert_ne!(second.path(), nested.join("j-1"));
        assert_eq!(
            std::fs::read_dir(second.path()).unwrap().count(),
            0,
            "fresh"
        );
        let path = second.path().to_path_buf();
        second.remove().await;
        assert!(!path.exists());
        let third = Workspace::create(&nested, "k", 1).unwrap();
        let path = third.path().to_path_buf();
        std::fs::create_dir(path.join("sub")).unwrap();
        third.remove().await;
        assert!(!path.exists(), "a folder the job filled is removed too");
    }
}
