//! CPU time from Linux `/proc`: of one process, of every PostgreSQL process on the machine, and
//! of the whole machine, so a figure can say where the cores went while it ran.

use anyhow::Context;

/// Ticks per second of `/proc`'s CPU counters.
fn ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) as f64 }
}

/// A process's user plus system CPU time so far, in seconds.
pub fn process_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    Ok(ticks_of(&stat)? / ticks_per_second())
}

/// utime + stime of a `/proc/PID/stat` line: the 12th and 13th fields after the command's
/// closing parenthesis.
fn ticks_of(stat: &str) -> anyhow::Result<f64> {
    let rest = stat.rsplit_once(')').context("a /proc stat line")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Ok(fields[11].parse::<f64>()? + fields[12].parse::<f64>()?)
}

/// The CPU time so far of every process named `postgres` (the postmaster and its backends),
/// in seconds. Backends that ended since an earlier reading take their time with them, so a
/// reading over a run counts only backends alive at its end: the bench's pooled connections
/// are.
pub fn postgres_seconds() -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    let mut ticks = 0.0;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if stat.contains("(postgres)") {
            ticks += ticks_of(&stat).unwrap_or(0.0);
        }
    }
    ticks / ticks_per_second()
}

/// The whole machine's busy CPU time so far (all cores, not idle or waiting), in seconds.
pub fn machine_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let line = stat.lines().next().context("/proc/stat is empty")?;
    let fields: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let busy: f64 = fields.iter().take(8).sum::<f64>() - fields[3] - fields[4];
    Ok(busy / ticks_per_second())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_gives_its_cpu_ticks() {
        let line = "42 (gantry serve) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0";
        assert_eq!(ticks_of(line).unwrap(), 300.0);
    }

    #[test]
    fn this_process_and_the_machine_have_used_some_cpu() {
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(process_seconds(std::process::id()).unwrap() > 0.0);
        assert!(machine_seconds().unwrap() > 0.0);
    }
}
