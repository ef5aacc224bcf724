//! The process groups of running jobs, recorded in the agent's state folder so that the
//! agent's next life can find and kill what an agent crash left behind.
//!
//! `PR_SET_PDEATHSIG` kills a job's `sh` with the agent, but not the processes the command
//! started: they sit in the job's process group. So each attempt writes a small file
//! `groups/<job>-<attempt>.json` with its group id and the leader's start time (from
//! `/proc/<pid>/stat`), removed when the attempt ends. At its next start, before it registers,
//! the agent kills every recorded group still alive. The start time is what makes that safe
//! after a reboot or a pid reuse: a leader whose start time differs is a stranger and is left
//! alone, and when the leader is gone, only members that started after the recorded leader
//! (so they cannot predate our group) are killed.

use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};

/// The folder, inside the state folder, holding one file per running job's group.
const GROUPS_DIR: &str = "groups";

/// One recorded process group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    /// The job it runs.
    pub job_id: String,
    /// The attempt it runs.
    pub attempt: i64,
    /// The process group id, which is the leader `sh`'s pid.
    pub pgid: i32,
    /// The leader's start time in clock ticks since boot (`/proc/<pid>/stat`, field 22).
    pub start_ticks: u64,
}

/// The records of one state folder.
#[derive(Debug, Clone)]
pub struct GroupRecords {
    /// `<state dir>/groups`.
    dir: PathBuf,
}

impl GroupRecords {
    /// The records kept under `state_dir`.
    pub fn in_dir(state_dir: &Path) -> GroupRecords {
        GroupRecords {
            dir: state_dir.join(GROUPS_DIR),
        }
    }

    /// Records the group of a just-started attempt (written and renamed: never half a file).
    pub fn add(&self, record: &GroupRecord) -> io::Result<PathBuf> {
        std::fs::create_dir_all(&self.dir)?;
        let name = format!("{}-{}.json", sanitize(&record.job_id), record.attempt);
        let path = self.dir.join(name);
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(record)?)?;
        std::fs::rename(&tmp, &path)?;
        Ok(path)
    }

    /// Kills every recorded group that is still alive and removes the records; returns how
    /// many groups had processes to kill. An error means a record could not be read or
    /// removed: the agent cannot be sure nothing of its earlier life runs.
    pub fn kill_all(&self) -> io::Result<usize> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut killed = 0;
        for entry in entries {
            let path = entry?.path();
            // A file gone since the listing belongs to an attempt that just ended (or was renamed
            // into its record, read below): nothing to stop.
            if path.extension().is_some_and(|e| e == "tmp") {
                match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => continue,
                }
            }
            let record: GroupRecord = match std::fs::read(&path)
                .and_then(|b| serde_json::from_slice(&b).map_err(io::Error::from))
            {
                Ok(record) => record,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "unreadable process group record");
                    return Err(e);
                }
            };
            if kill_group(&record) > 0 {
                tracing::info!(
                    job_id = record.job_id,
                    attempt = record.attempt,
                    pgid = record.pgid,
                    "killed the processes an earlier life of this agent left running"
                );
                killed += 1;
            }
            match std::fs::remove_file(&path) {
                // The attempt ended (its group killed) and removed its own record first.
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(killed)
    }
}

/// Keeps a job id usable as a file name.
fn sanitize(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A process's group id and start time, from `/proc/<pid>/stat`; `None` once it is gone.
pub fn proc_stat(pid: i32) -> Option<(i32, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields follow the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): pgrp is field 5, starttime field 22.
    let pgrp = fields.get(2)?.parse().ok()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((pgrp, start))
}

/// SIGKILLs the recorded group's processes that are provably ours; returns how many.
fn kill_group(record: &GroupRecord) -> usize {
    if let Some((_, start)) = proc_stat(record.pgid) {
        if start != record.start_ticks {
            // The pid now belongs to another process: our group, leader and all, is gone.
            return 0;
        }
        let members = members_of(record.pgid).len();
        // SAFETY: killpg only sends a signal; the live leader proves the group is ours.
        unsafe { libc::killpg(record.pgid, libc::SIGKILL) };
        return members;
    }
    // The leader died (with the agent, by its death signal); its children may live on in the
    // group, and each of them started after the leader did.
    let mut killed = 0;
    for (pid, start) in members_of(record.pgid) {
        if start >= record.start_ticks {
            // SAFETY: kill only sends a signal.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            killed += 1;
        }
    }
    killed
}

/// The processes in group `pgid`, with their start times.
fn members_of(pgid: i32) -> Vec<(i32, u64)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let (pgrp, start) = proc_stat(pid)?;
            (pgrp == pgid).then_some((pid, start))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    #[test]
    fn reads_its_own_group_and_start_time() {
        let me = std::process::id() as i32;
        let (pgrp, start) = proc_stat(me).expect("our own stat");
        // SAFETY: getpgrp has no preconditions.
        assert_eq!(pgrp, unsafe { libc::getpgrp() });
        assert!(start > 0);
        assert_eq!(proc_stat(i32::MAX), None, "no such process");
    }

    #[test]
    fn kills_a_recorded_group_even_without_its_leader_and_spares_strangers() {
        let dir = tempfile::tempdir().unwrap();
        let records = GroupRecords::in_dir(dir.path());
        // A leader that leaves a child in its group, then exits.
        let mut leader = std::process::Command::new("sh")
            .args(["-c", "sleep 60 >/dev/null & echo $!"])
            .stdout(std::process::Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = leader.id() as i32;
        let start_ticks = proc_stat(pgid).unwrap().1;
        let mut out = String::new();
        std::io::Read::read_to_string(leader.stdout.as_mut().unwrap(), &mut out).unwrap();
        leader.wait().unwrap();
        let orphan: i32 = out.trim().parse().unwrap();
        assert_eq!(
            proc_stat(orphan).map(|s| s.0),
            Some(pgid),
            "left in the group"
        );
        let record = |job: &str, pgid, start_ticks| GroupRecord {
            job_id: job.into(),
            attempt: 1,
            pgid,
            start_ticks,
        };
        records.add(&record("ours", pgid, start_ticks)).unwrap();
        // A "reused pid": our own process, recorded with a start time it does not have.
        let me = std::process::id() as i32;
        records.add(&record("stranger", me, 1)).unwrap();
        assert_eq!(records.kill_all().unwrap(), 1);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        // The orphan's parent is now init (or a subreaper); it is dead once it is gone or a zombie.
        while proc_stat(orphan).is_some() && !is_zombie(orphan) {
            assert!(std::time::Instant::now() < deadline, "orphan still alive");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(records.kill_all().unwrap(), 0, "records removed");
    }

    fn is_zombie(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|t| t[t.rfind(')').unwrap() + 1..].trim_start().starts_with('Z'))
            .unwrap_or(true)
    }
}
