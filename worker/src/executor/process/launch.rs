//! Starting one job's `sh` the way `posix_spawn` does (a `vfork`-style clone that shares the
//! agent's memory until `exec`), plus the one step `posix_spawn` cannot do:
//! `PR_SET_PDEATHSIG(SIGKILL)`, so the job dies with the agent.
//!
//! Why not `std::process::Command` with a `pre_exec` hook: any hook makes std `fork` the
//! agent, copying its page tables and taking a copy-on-write fault for every page either side
//! touches before the child calls `exec`. With four agents of eight slots running trivial jobs
//! that was about a tenth of the machine's CPU (`perf`: `copy_page_range`, `dup_mmap` and the
//! children's faults), more than the server spent on those jobs. Here the parent thread is
//! suspended from the clone until the child has called `exec` (or exited), and the child runs
//! on a small stack of its own and calls only async-signal-safe functions, writing into the
//! shared memory only the error slot the parent reads afterwards.

use std::ffi::{c_int, c_void, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

/// Bytes of the child's stack: it makes a few system calls, nothing more.
const CHILD_STACK_BYTES: usize = 64 * 1024;
/// Highest signal number whose disposition the child resets.
const LAST_SIGNAL: c_int = 64;

/// What to start: everything already converted to C strings, so the child allocates nothing.
pub(super) struct LaunchSpec {
    /// The program's absolute path.
    pub(super) program: CString,
    /// Its arguments, `argv[0]` first.
    pub(super) argv: Vec<CString>,
    /// Its whole environment, as `NAME=value`.
    pub(super) envp: Vec<CString>,
    /// Its working directory.
    pub(super) cwd: CString,
}

/// A started child: its pid (also its process group id) and the read ends of its output.
pub(super) struct Launched {
    /// The child's pid; it leads its own process group.
    pub(super) pid: i32,
    /// Read end of its standard output.
    pub(super) stdout: OwnedFd,
    /// Read end of its standard error.
    pub(super) stderr: OwnedFd,
}

/// What the child needs, shared with it through the common memory.
struct ChildArgs {
    /// The agent's pid: the child checks it is still its parent once the death signal is set.
    agent: libc::pid_t,
    /// Null-terminated pointer arrays into the spec's strings.
    program: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    cwd: *const libc::c_char,
    /// Descriptors to put at 0, 1 and 2.
    stdio: [c_int; 3],
    /// Set by the child to the failing step's errno (0: it reached `exec`).
    error: AtomicI32,
    /// Which step failed, for the message.
    step: AtomicI32,
}

/// The child's steps, in order, as numbers it can store without allocating.
const STEPS: [&str; 7] = [
    "set the death signal",
    "find the agent (it died)",
    "make a process group",
    "enter the work folder",
    "connect standard input and output",
    "unblock signals",
    "exec",
];

/// Starts `spec` in its own process group with /dev/null as input and piped output, dying
/// with the thread that calls this (keep that thread alive as long as the agent).
pub(super) fn launch(spec: &LaunchSpec, stack: &mut Vec<u8>) -> io::Result<Launched> {
    let devnull = OwnedFd::from(std::fs::File::open("/dev/null")?);
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let argv = pointers(&spec.argv);
    let envp = pointers(&spec.envp);
    let args = ChildArgs {
        // SAFETY: getpid has no preconditions.
        agent: unsafe { libc::getpid() },
        program: spec.program.as_ptr(),
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        cwd: spec.cwd.as_ptr(),
        stdio: [devnull.as_raw_fd(), out_w.as_raw_fd(), err_w.as_raw_fd()],
        error: AtomicI32::new(0),
        step: AtomicI32::new(0),
    };
    stack.resize(CHILD_STACK_BYTES, 0);
    // The stack grows down: hand over its (16-byte aligned) top.
    let top = (stack.as_mut_ptr() as usize + stack.len()) & !15;
    let pid = with_signals_blocked(|| {
        // SAFETY: CLONE_VM | CLONE_VFORK suspends this thread until the child has called
        // execve or _exit, so `args`, the strings and the stack outlive every use the child
        // makes of them; the child runs only async-signal-safe calls (see `child_main`),
        // with every signal blocked until it has reset their handlers.
        unsafe {
            libc::clone(
                child_main,
                top as *mut c_void,
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                &args as *const ChildArgs as *mut c_void,
            )
        }
    });
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    let errno = args.error.load(Ordering::Acquire);
    if errno != 0 {
        // The child exited with 127 before exec: collect it and say what failed.
        let mut status = 0;
        // SAFETY: pid is our own child, which has exited; nobody else waits for it.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        let step = STEPS
            .get(args.step.load(Ordering::Acquire) as usize)
            .copied()
            .unwrap_or("start");
        let e = io::Error::from_raw_os_error(errno);
        return Err(io::Error::new(e.kind(), format!("could not {step}: {e}")));
    }
    Ok(Launched {
        pid,
        stdout: out_r,
        stderr: err_r,
    })
}

/// Runs `f` with every signal blocked on this thread, so that no handler of the agent runs in
/// the child while it shares the agent's memory; the child unblocks them after resetting.
fn with_signals_blocked(f: impl FnOnce() -> c_int) -> c_int {
    // SAFETY: sigset_t values are plain data that sigfillset/pthread_sigmask initialise.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let r = f();
        let saved = io::Error::last_os_error();
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        if r < 0 {
            // Keep clone's errno for the caller's last_os_error.
            *libc::__errno_location() = saved.raw_os_error().unwrap_or(0);
        }
        r
    }
}

/// The child, between the clone and `exec`. Only async-signal-safe calls; no allocation.
extern "C" fn child_main(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` points at the parent's ChildArgs, alive while the parent is suspended.
    let args = unsafe { &*(arg as *const ChildArgs) };
    let fail = |step: i32| -> c_int {
        args.step.store(step, Ordering::Release);
        let errno = io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EINVAL);
        args.error.store(errno.max(1), Ordering::Release);
        // SAFETY: _exit ends the child at once without running the parent's atexit code.
        unsafe { libc::_exit(127) }
    };
    // SAFETY: each call below is async-signal-safe and reads only the parent's live data.
    unsafe {
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
            return fail(0);
        }
        if libc::getppid() != args.agent {
            *libc::__errno_location() = libc::ESRCH;
            return fail(1);
        }
        if libc::setpgid(0, 0) != 0 {
            return fail(2);
        }
        if libc::chdir(args.cwd) != 0 {
            return fail(3);
        }
        for (target, &fd) in args.stdio.iter().enumerate() {
            if libc::dup2(fd, target as c_int) < 0 {
                return fail(4);
            }
        }
        // Handlers are the agent's code: back to the default for every caught signal before
        // any can be delivered here, and SIGPIPE, which the Rust runtime ignores, too (as std
        // does for its children). Raw calls: glibc's wrapper refuses its own signals (32, 33).
        for signal in 1..=LAST_SIGNAL {
            let mut old = KernelSigaction::default();
            if rt_sigaction(signal, None, Some(&mut old)) != 0 {
                continue;
            }
            let caught = old.handler != libc::SIG_DFL && old.handler != libc::SIG_IGN;
            if caught || signal == libc::SIGPIPE {
                rt_sigaction(signal, Some(&KernelSigaction::default()), None);
            }
        }
        let none: u64 = 0;
        let unblocked = libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &none as *const u64,
            std::ptr::null_mut::<u64>(),
            8usize,
        );
        if unblocked != 0 {
            return fail(5);
        }
        libc::execve(args.program, args.argv, args.envp);
    }
    fail(6)
}

/// The kernel's `struct sigaction` (not glibc's): handler, flags, restorer, mask. All zero is
/// `SIG_DFL` with no flags.
#[repr(C)]
#[derive(Default)]
struct KernelSigaction {
    handler: libc::sighandler_t,
    flags: libc::c_ulong,
    restorer: libc::sighandler_t,
    mask: u64,
}

/// `rt_sigaction` without glibc's wrapper: async-signal-safe, and it takes every signal.
///
/// # Safety
/// Changes the calling process's signal dispositions.
unsafe fn rt_sigaction(
    signal: c_int,
    new: Option<&KernelSigaction>,
    old: Option<&mut KernelSigaction>,
) -> libc::c_long {
    let new = new.map_or(std::ptr::null(), |n| n as *const KernelSigaction);
    let old = old.map_or(std::ptr::null_mut(), |o| o as *mut KernelSigaction);
    libc::syscall(libc::SYS_rt_sigaction, signal, new, old, 8usize)
}

/// A pipe whose both ends close on exec (the child's copies at 1 and 2 do not).
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: pipe2 writes two new descriptors into the array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just opened and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A null-terminated array of pointers into `strings` (valid while they are).
fn pointers(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}
