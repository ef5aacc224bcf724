//! One job's `sh`: spawned so that it dies with the agent, waited for without racing anyone
//! over its pid, and reaped with its resource usage.
//!
//! Spawning. `PR_SET_PDEATHSIG(SIGKILL)` is delivered when the *thread* that started the
//! child exits, not when the process does. A tokio blocking-pool thread exits after a few idle
//! seconds, and a runtime worker thread may be retired too, which would kill a healthy job. So
//! every `sh` is started by one dedicated thread ([`spawner`]) that lives as long as the agent
//! process: the signal then fires exactly when the agent dies (including SIGKILL), and never
//! otherwise. The child also checks, after setting the flag, that its parent is still the
//! agent: if the agent died before `prctl`, it exits at once. How it is started without
//! copying the agent is `launch.rs`.
//!
//! Waiting and reaping. We do not use `tokio::process::Child`: its reaper calls `waitpid`
//! on the pid when the child ends or is dropped, and if we had reaped it ourselves first (to
//! read its rusage with `wait4`), the kernel may already have given that pid to another child
//! of ours (the next job's `sh`), whose exit status tokio would then steal. Instead the std
//! child is never waited for by std (std does not reap on drop) and we are its only reaper:
//! a task waits for the child's pidfd to turn readable (on the runtime, no thread per job; a
//! blocking task on kernels without pidfds) and confirms with `waitid(WEXITED | WNOWAIT)`,
//! which sees the exit but leaves the
//! zombie in place. While the zombie exists its pid (and so the process group id) cannot be
//! reused, so the agent can still SIGKILL what the command left in its group without hitting
//! a stranger; only then [`Child::reap`] calls `wait4`, which returns the exit status with the
//! rusage of the `sh` and of every descendant it waited for.

use super::launch::{launch, LaunchSpec, Launched};
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::net::unix::pipe;
use tokio::sync::oneshot;

/// A spawn request for the spawner thread, and where to send the child back.
type SpawnRequest = (LaunchSpec, oneshot::Sender<io::Result<Launched>>);

/// The spawner thread's queue; the thread is started on first use and never ends.
static SPAWNER: OnceLock<mpsc::Sender<SpawnRequest>> = OnceLock::new();

/// The queue of the one thread that starts every job (see the module's comment on why).
fn spawner() -> &'static mpsc::Sender<SpawnRequest> {
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("gantry-spawner".into())
            .spawn(move || {
                // One child stack, reused: the thread starts one child at a time.
                let mut stack = Vec::new();
                // The sender lives in a static, so this loop runs for the process's lifetime.
                for (spec, reply) in rx {
                    let _ = reply.send(launch(&spec, &mut stack));
                }
            })
            .expect("cannot start the spawner thread");
        tx
    })
}

/// What the command used, from its rusage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Rusage {
    /// User plus system CPU time, in seconds.
    pub(super) cpu_seconds: f64,
    /// Largest resident set of the `sh` or any descendant it waited for, in MiB.
    pub(super) peak_memory_mb: f64,
}

/// A running `sh`, leader of its own process group.
pub(super) struct Child {
    /// Its pid, which is also its process group id.
    pub(super) pid: i32,
    /// Its standard output, if piped.
    pub(super) stdout: Option<pipe::Receiver>,
    /// Its standard error, if piped.
    pub(super) stderr: Option<pipe::Receiver>,
    /// Ends when the child has exited (not reaped).
    exited: Option<tokio::task::JoinHandle<io::Result<()>>>,
    /// Set once [`Child::reap`] collected it.
    reaped: bool,
    /// The agent's peak resident memory when it started the child, in MiB. The child shares
    /// the agent's memory until `exec`, and the kernel carries that memory's high-water mark
    /// into the child's `ru_maxrss` across `exec`: a peak at or below this says nothing about
    /// the command (see [`Child::peak_memory_mb`]).
    agent_peak_mb: f64,
}

/// Starts `spec` on the spawner thread, in its own process group, with
/// `PR_SET_PDEATHSIG(SIGKILL)` (see `launch.rs`).
pub(super) async fn spawn(spec: LaunchSpec) -> io::Result<Child> {
    let (tx, rx) = oneshot::channel();
    let agent_peak_mb = own_peak_resident_mb();
    spawner()
        .send((spec, tx))
        .map_err(|_| io::Error::other("the spawner thread is gone"))?;
    let launched = rx
        .await
        .map_err(|_| io::Error::other("the spawner thread dropped the spawn"))??;
    let pid = launched.pid;
    let stdout = Some(pipe::Receiver::from_owned_fd(launched.stdout));
    let stderr = Some(pipe::Receiver::from_owned_fd(launched.stderr));
    let exited = match pidfd_open(pid) {
        Ok(fd) => tokio::spawn(wait_exited_on(fd, pid)),
        Err(_) => tokio::task::spawn_blocking(move || wait_exited(pid)),
    };
    let mut child = Child {
        pid,
        stdout: None,
        stderr: None,
        exited: Some(exited),
        reaped: false,
        agent_peak_mb,
    };
    child.stdout = stdout.transpose()?;
    child.stderr = stderr.transpose()?;
    Ok(child)
}

impl Child {
    /// Waits until the child has exited (it stays a zombie until [`Child::reap`]). Cancel
    /// safe: call again after a timeout.
    pub(super) async fn exited(&mut self) -> io::Result<()> {
        let Some(handle) = self.exited.as_mut() else {
            return Ok(());
        };
        let result = handle.await.unwrap_or_else(|e| Err(io::Error::other(e)));
        self.exited = None;
        result
    }

    /// Like [`Child::exited`], up to `limit`; false when it is still running.
    pub(super) async fn exited_within(&mut self, limit: Duration) -> io::Result<bool> {
        match tokio::time::timeout(limit, self.exited()).await {
            Ok(result) => result.map(|()| true),
            Err(_) => Ok(false),
        }
    }

    /// Sends `signal` to the child's whole process group. Sound until [`Child::reap`]: the
    /// unreaped leader keeps the group id from being reused.
    pub(super) fn signal_group(&self, signal: i32) {
        if !self.reaped && self.pid > 1 {
            // SAFETY: killpg only sends a signal; ESRCH (group gone) is fine.
            unsafe {
                libc::killpg(self.pid, signal);
            }
        }
    }

    /// The command's peak memory from `ru_maxrss`, or `None` when it does not rise above
    /// the agent's own peak (with a 10% margin): below that the figure is the agent's, not
    /// the command's, and none is better than a wrong one.
    pub(super) fn peak_memory_mb(&self, usage: &Rusage) -> Option<f64> {
        (usage.peak_memory_mb > self.agent_peak_mb * 1.1).then_some(usage.peak_memory_mb)
    }

    /// Collects the exited child: its exit status and what it used. Call after
    /// [`Child::exited`].
    pub(super) fn reap(&mut self) -> io::Result<(ExitStatus, Rusage)> {
        let mut status = 0;
        // SAFETY: a zeroed rusage is a valid value for wait4 to overwrite.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        loop {
            // SAFETY: pid is our own unreaped child; the pointers are valid for the call.
            let r = unsafe { libc::wait4(self.pid, &mut status, 0, &mut usage) };
            if r == self.pid {
                break;
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        self.reaped = true;
        Ok((ExitStatus::from_raw(status), rusage_of(&usage)))
    }
}

impl Drop for Child {
    /// An attempt dropped mid-run (its task aborted): kill the group, and reap the leader in
    /// the background so it does not stay a zombie.
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        self.signal_group(libc::SIGKILL);
        let pid = self.pid;
        std::thread::spawn(move || {
            let mut status = 0;
            // SAFETY: pid is our own unreaped child, and nobody else reaps it.
            unsafe { libc::waitpid(pid, &mut status, 0) };
        });
    }
}

/// A pidfd for our unreaped child `pid` (Linux 5.3 and later): readable once it exited.
fn pidfd_open(pid: i32) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the descriptor was just opened and is owned by nobody else.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) })
}

/// Waits on the runtime (no thread per job) until `pid` has exited, leaving it unreaped: its
/// pidfd turns readable, then `waitid(WNOWAIT | WNOHANG)` confirms it without blocking.
async fn wait_exited_on(fd: std::os::fd::OwnedFd, pid: i32) -> io::Result<()> {
    use tokio::io::{unix::AsyncFd, Interest};
    // SAFETY: an OwnedFd is a valid open descriptor, moved into the AsyncFd and closed only
    // when the AsyncFd is dropped.
    let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }?;
    loop {
        let mut ready = fd.readable().await?;
        if has_exited(pid)? {
            return Ok(());
        }
        ready.clear_ready();
    }
}

/// Whether `pid` has exited, without waiting and leaving it unreaped.
fn has_exited(pid: i32) -> io::Result<bool> {
    waitid_exited(pid, libc::WNOHANG)
}

/// Blocks until `pid` has exited, leaving it unreaped (`WNOWAIT`).
fn wait_exited(pid: i32) -> io::Result<()> {
    waitid_exited(pid, 0).map(drop)
}

/// `waitid(WEXITED | WNOWAIT | extra)` on our child `pid`, retried on EINTR: whether it has
/// exited (always true unless `extra` holds `WNOHANG`), leaving it unreaped.
fn waitid_exited(pid: i32, extra: libc::c_int) -> io::Result<bool> {
    loop {
        // SAFETY: a zeroed siginfo is valid for waitid to overwrite.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: pid is our own child; the pointer is valid for the call.
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT | extra,
            )
        };
        if r == 0 {
            // SAFETY: waitid filled the siginfo; si_pid is 0 only when WNOHANG found the
            // child still running.
            return Ok(unsafe { info.si_pid() } != 0);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// CPU seconds and peak memory from a rusage (Linux reports `ru_maxrss` in KiB).
fn rusage_of(u: &libc::rusage) -> Rusage {
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Rusage {
        cpu_seconds: secs(u.ru_utime) + secs(u.ru_stime),
        peak_memory_mb: u.ru_maxrss as f64 / 1024.0,
    }
}

/// This process's peak resident memory in MiB (`VmHWM` in `/proc/self/status`), 0 when it
/// cannot be read.
fn own_peak_resident_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}
