//! What one container used: its CPU time and peak memory, sampled while it runs.
//!
//! A container's cgroup goes away the moment its process ends, so nothing can be read after
//! the end: the probe samples while the container runs and keeps the last CPU total and the
//! highest memory figure it saw. Where the agent sees the host's cgroup folders (an agent on
//! the host), it reads the cgroup files every `interval` (no engine call at all): cgroup v1
//! `memory.max_usage_in_bytes` (the kernel's own high-water mark, so a peak between two
//! samples is not missed) and `cpuacct.usage`; cgroup v2 `memory.peak` (or the highest
//! `memory.current` seen on kernels without it) and `cpu.stat`'s `usage_usec`. Elsewhere (an
//! agent in a container of its own) it streams the engine's stats API, one sample a second.
//!
//! CPU time is therefore a lower bound, short by what the container used after the last
//! sample (at most one interval's worth). A container that ended before its first sample
//! gives no figure: the field is absent, never 0.

use bollard::query_parameters::StatsOptionsBuilder;
use bollard::Docker;
use futures::StreamExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Where the host's cgroup hierarchies are mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// How long the end of the probe may take once the container stopped.
const PROBE_STOP_TIMEOUT: Duration = Duration::from_secs(2);
/// Bytes in a MiB.
const MIB: f64 = 1024.0 * 1024.0;

/// The largest figures seen so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Sample {
    /// CPU time used, nanoseconds (a running total: the last sample is the largest).
    pub(super) cpu_ns: Option<u64>,
    /// The most memory held at once, bytes.
    pub(super) peak_bytes: Option<u64>,
}

impl Sample {
    /// Keeps the larger of each figure. A reading with no memory charged at all is no
    /// reading (a stopped container's last stats sample is all zeros).
    fn merge(&mut self, cpu_ns: Option<u64>, memory_bytes: Option<u64>) {
        if memory_bytes.unwrap_or(0) == 0 {
            return;
        }
        self.peak_bytes = self.peak_bytes.max(memory_bytes);
        self.cpu_ns = self.cpu_ns.max(cpu_ns);
    }

    /// CPU seconds, when measured.
    pub(super) fn cpu_seconds(&self) -> Option<f64> {
        self.cpu_ns.map(|ns| ns as f64 / 1e9)
    }

    /// Peak memory in MiB, when measured.
    pub(super) fn peak_memory_mb(&self) -> Option<f64> {
        self.peak_bytes
            .map(|b| (b as f64 / MIB * 100.0).round() / 100.0)
    }
}

/// Samples one running container until [`UsageProbe::finish`].
pub(super) struct UsageProbe {
    /// Ends the sampling.
    stop: CancellationToken,
    /// The sampling task; it returns what it saw.
    task: JoinHandle<Sample>,
}

impl UsageProbe {
    /// Starts sampling the container `id` (its full id), which has just started.
    pub(super) fn start(docker: &Docker, id: &str, interval: Duration) -> UsageProbe {
        let stop = CancellationToken::new();
        let task = match CgroupFiles::find(Path::new(CGROUP_ROOT), id) {
            Some(files) => tokio::spawn(sample_files(files, interval, stop.clone())),
            None => tokio::spawn(sample_stats(docker.clone(), id.to_string(), stop.clone())),
        };
        UsageProbe { stop, task }
    }

    /// Ends the sampling (the container stopped) and returns what was seen.
    pub(super) async fn finish(self) -> Sample {
        self.stop.cancel();
        match tokio::time::timeout(PROBE_STOP_TIMEOUT, self.task).await {
            Ok(Ok(sample)) => sample,
            _ => Sample::default(),
        }
    }
}

/// Reads the cgroup files every `interval` until stopped or until the cgroup is gone.
async fn sample_files(files: CgroupFiles, interval: Duration, stop: CancellationToken) -> Sample {
    let mut seen = Sample::default();
    loop {
        let Some((cpu, memory)) = files.read() else {
            return seen; // the cgroup is gone: the container ended
        };
        seen.merge(cpu, memory);
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.cancelled() => {
                // One last look, in case the cgroup outlived the wait's answer.
                if let Some((cpu, memory)) = files.read() {
                    seen.merge(cpu, memory);
                }
                return seen;
            }
        }
    }
}

/// Streams the engine's stats of the container until stopped or until the stream ends.
async fn sample_stats(docker: Docker, id: String, stop: CancellationToken) -> Sample {
    let opts = StatsOptionsBuilder::default()
        .stream(true)
        .one_shot(false)
        .build();
    let mut stream = docker.stats(&id, Some(opts));
    let mut seen = Sample::default();
    loop {
        tokio::select! {
            next = stream.next() => match next {
                Some(Ok(s)) => {
                    let cpu = s.cpu_stats.and_then(|c| c.cpu_usage).and_then(|u| u.total_usage);
                    let memory = s.memory_stats.and_then(|m| m.max_usage.max(m.usage));
                    seen.merge(cpu, memory);
                }
                Some(Err(e)) => {
                    tracing::debug!(container = id, error = %e, "stats stream failed");
                    return seen;
                }
                None => return seen,
            },
            _ = stop.cancelled() => return seen,
        }
    }
}

/// The files of one container's cgroup that hold its CPU time and peak memory.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum CgroupFiles {
    /// cgroup v1: a folder per controller.
    V1 {
        /// The memory controller's folder.
        memory: PathBuf,
        /// The cpuacct controller's folder.
        cpuacct: PathBuf,
    },
    /// cgroup v2: one folder.
    V2 {
        /// The container's folder.
        dir: PathBuf,
    },
}

impl CgroupFiles {
    /// The container's cgroup under `root`, for the cgroupfs and the systemd drivers, or
    /// `None` when it cannot be seen from here.
    pub(super) fn find(root: &Path, id: &str) -> Option<CgroupFiles> {
        let leaves = [
            format!("docker/{id}"),
            format!("system.slice/docker-{id}.scope"),
        ];
        let first = |base: &Path| {
            leaves
                .iter()
                .map(|leaf| base.join(leaf))
                .find(|dir| dir.is_dir())
        };
        if root.join("cgroup.controllers").exists() {
            return first(root).map(|dir| CgroupFiles::V2 { dir });
        }
        let memory = first(&root.join("memory"))?;
        let cpuacct = ["cpuacct", "cpu,cpuacct"]
            .iter()
            .find_map(|c| first(&root.join(c)))?;
        Some(CgroupFiles::V1 { memory, cpuacct })
    }

    /// (CPU ns, peak memory bytes) now; `None` when the cgroup is gone.
    pub(super) fn read(&self) -> Option<(Option<u64>, Option<u64>)> {
        match self {
            CgroupFiles::V1 { memory, cpuacct } => {
                let peak = number(&memory.join("memory.max_usage_in_bytes"))
                    .or_else(|| number(&memory.join("memory.usage_in_bytes")))?;
                Some((number(&cpuacct.join("cpuacct.usage")), Some(peak)))
            }
            CgroupFiles::V2 { dir } => {
                let peak = number(&dir.join("memory.peak"))
                    .or_else(|| number(&dir.join("memory.current")))?;
                let cpu = std::fs::read_to_string(dir.join("cpu.stat"))
                    .ok()
                    .and_then(|text| usage_usec(&text))
                    .map(|us| us.saturating_mul(1000));
                Some((cpu, Some(peak)))
            }
        }
    }
}

/// The number a cgroup file holds.
fn number(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The `usage_usec` line of a v2 `cpu.stat`.
fn usage_usec(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix("usage_usec "))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_reads_v1_and_v2_cgroups() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        assert_eq!(CgroupFiles::find(r, "abc"), None);
        let (mem, cpu) = (
            r.join("memory/docker/abc"),
            r.join("cpu,cpuacct/docker/abc"),
        );
        std::fs::create_dir_all(&mem).unwrap();
        std::fs::create_dir_all(&cpu).unwrap();
        std::fs::write(mem.join("memory.max_usage_in_bytes"), "44040192\n").unwrap();
        std::fs::write(cpu.join("cpuacct.usage"), "512000000\n").unwrap();
        let v1 = CgroupFiles::find(r, "abc").unwrap();
        assert_eq!(v1.read(), Some((Some(512_000_000), Some(44_040_192))));
        std::fs::remove_dir_all(&mem).unwrap();
        assert_eq!(v1.read(), None, "gone with its container");

        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::write(r.join("cgroup.controllers"), "cpu memory\n").unwrap();
        let dir = r.join("system.slice/docker-abc.scope");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("memory.current"), "1048576\n").unwrap();
        std::fs::write(dir.join("cpu.stat"), "usage_usec 250000\nuser_usec 1\n").unwrap();
        let v2 = CgroupFiles::find(r, "abc").unwrap();
        assert_eq!(v2, CgroupFiles::V2 { dir: dir.clone() });
        assert_eq!(v2.read(), Some((Some(250_000_000), Some(1_048_576))));
        std::fs::write(dir.join("memory.peak"), "2097152\n").unwrap();
        assert_eq!(v2.read(), Some((Some(250_000_000), Some(2_097_152))));
    }

    #[test]
    fn samples_keep_the_largest_figures_and_ignore_empty_ones() {
        let mut s = Sample::default();
        s.merge(Some(0), Some(0));
        assert_eq!(
            s,
            Sample::default(),
            "a stopped container's zeros are no reading"
        );
        assert_eq!((s.cpu_seconds(), s.peak_memory_mb()), (None, None));
        s.merge(Some(100_000_000), Some(40 * 1024 * 1024));
        s.merge(Some(600_000_000), Some(2 * 1024 * 1024));
        assert_eq!(s.cpu_seconds(), Some(0.6));
        assert_eq!(s.peak_memory_mb(), Some(40.0));
    }
}
