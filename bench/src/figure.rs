//! One measured figure and how it is printed: a table row, or with `--json` one JSON line.

use serde::Serialize;

/// One measured figure, as the table and `--json` show it.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// What was measured, e.g. `throughput_batch` or `assignment_latency_p99`.
    pub figure: &'static str,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// The setting that varies (agents, queued jobs, ...), as text.
    pub setting: String,
    /// The measured number, in `unit`.
    pub value: f64,
    /// What `value` counts: `ms`, `jobs/s`, `rows/s`, `MiB`, `rows`, `x` or `ratio`.
    pub unit: &'static str,
}

impl Figure {
    /// Prints the figure on stdout: one JSON object per line, or a table row.
    pub fn print(&self, json: bool) {
        if json {
            println!(
                "{}",
                serde_json::to_string(self).expect("figures serialize")
            );
        } else {
            println!(
                "{:<30} {:<9} {:<26} {:>12.2} {}",
                self.figure, self.backend, self.setting, self.value, self.unit
            );
        }
    }
}
