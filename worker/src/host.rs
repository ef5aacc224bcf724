//! The host's CPU and memory load, sampled with sysinfo and reported at registration and in
//! every heartbeat.

use sysinfo::{CpuRefreshKind, MemoryRefreshKind, RefreshKind, System};

/// Bytes in a MiB.
const MIB: u64 = 1024 * 1024;

/// One sample of the host's load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostMetrics {
    /// CPU usage over all cores since the previous sample, 0-100.
    pub cpu_usage: f64,
    /// Total memory in MiB.
    pub ram_total_mb: i64,
    /// Memory available to new work in MiB.
    pub ram_free_mb: i64,
    /// Logical CPU cores.
    pub cpu_cores: usize,
}

/// Samples the host; keeps the previous CPU reading so usage is measured between samples.
#[derive(Debug)]
pub struct HostSampler {
    /// sysinfo's view of the system, refreshed on each sample.
    system: Option<System>,
}

impl HostSampler {
    /// A sampler; the first CPU reading is taken now so the next sample has a baseline.
    pub fn new() -> HostSampler {
        let kind = RefreshKind::nothing()
            .with_cpu(CpuRefreshKind::nothing().with_usage())
            .with_memory(MemoryRefreshKind::nothing().with_ram());
        let system = System::new_with_specifics(kind).ok();
        HostSampler { system }
    }

    /// Takes a sample. On a platform sysinfo does not support, reports the core count only.
    pub fn sample(&mut self) -> HostMetrics {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let Some(system) = self.system.as_mut() else {
            return HostMetrics {
                cpu_usage: 0.0,
                ram_total_mb: 0,
                ram_free_mb: 0,
                cpu_cores: cores,
            };
        };
        system.refresh_cpu_usage();
        system.refresh_memory();
        let usage = f64::from(system.global_cpu_usage());
        HostMetrics {
            cpu_usage: if usage.is_finite() {
                usage.clamp(0.0, 100.0)
            } else {
                0.0
            },
            ram_total_mb: (system.total_memory() / MIB) as i64,
            ram_free_mb: (system.available_memory() / MIB) as i64,
            cpu_cores: system.cpus().len().max(cores),
        }
    }
}

impl Default for HostSampler {
    fn default() -> Self {
        HostSampler::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_plausible() {
        let mut sampler = HostSampler::new();
        std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
        let m = sampler.sample();
        assert!(m.cpu_cores >= 1);
        assert!((0.0..=100.0).contains(&m.cpu_usage));
        assert!(m.ram_total_mb > 0);
        assert!(m.ram_free_mb <= m.ram_total_mb);
    }
}
