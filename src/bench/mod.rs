//! `gantry bench`: a real server on a chosen database, driven over HTTP by simulated agents.
//!
//! Figures so far: end-to-end throughput of no-op jobs, and assignment latency to an idle,
//! long-polling agent (alone, behind 100,000 queued jobs that fit no agent, and among 1,000
//! registered agents). Each figure runs on a fresh database. Output: a table, or with `--json`
//! one object per figure per line.

mod agents;
mod docker;
mod latency;
mod load;
mod memory;
mod soak;
mod sweep;
mod target;
mod throughput;

use serde::Serialize;

/// `gantry bench` settings.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Database to measure on: a PostgreSQL server URL (a fresh database is created on it per
    /// figure), or none for SQLite files in a temp folder.
    #[arg(long)]
    pub database_url: Option<String>,
    /// One JSON object per figure per line on stdout.
    #[arg(long)]
    pub json: bool,
    /// A few seconds in all (small N), to check the benchmark works.
    #[arg(long)]
    pub quick: bool,
    /// Jobs per throughput run.
    #[arg(long, default_value_t = 20_000)]
    pub jobs: usize,
    /// Agent counts of the throughput runs.
    #[arg(long, value_delimiter = ',', default_value = "4,16,64")]
    pub agents: Vec<usize>,
    /// Jobs timed per latency figure.
    #[arg(long, default_value_t = 1_000)]
    pub latency_samples: usize,
    /// Jobs queued (fitting no agent) behind which latency is measured again.
    #[arg(long, default_value_t = 100_000)]
    pub queued: usize,
    /// Registered agents among which latency is measured again.
    #[arg(long, default_value_t = 1_000)]
    pub registered: usize,
    /// Jobs queued (no agent yet) for the memory figure.
    #[arg(long, default_value_t = 100_000)]
    pub memory_jobs: usize,
    /// Windows of the soak (minutes in the full run).
    #[arg(long, default_value_t = 10)]
    pub soak_windows: usize,
    /// Length of one soak window.
    #[arg(long, default_value = "60s", value_parser = gantry_api::parse_duration)]
    pub soak_window: std::time::Duration,
    /// Which figures to run (all by default): throughput, latency, sweep, memory, docker, soak.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "throughput,latency,sweep,memory,docker,soak"
    )]
    pub figures: Vec<String>,
}

/// Every figure `--figures` may name.
pub const FIGURES: [&str; 6] = ["throughput", "latency", "sweep", "memory", "docker", "soak"];

impl BenchArgs {
    /// Whether the named figure was asked for.
    pub fn wants(&self, figure: &str) -> bool {
        self.figures.iter().any(|f| f == figure)
    }
}

/// One measured figure.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// What was measured.
    pub figure: &'static str,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// The setting that varies (agents, queued jobs, ...), as text.
    pub setting: String,
    /// The value.
    pub value: f64,
    /// Its unit.
    pub unit: &'static str,
}

/// Runs every figure and prints them; the exit code is 0 when all ran.
pub async fn bench(mut args: BenchArgs) -> anyhow::Result<()> {
    if let Some(unknown) = args.figures.iter().find(|f| !FIGURES.contains(&f.as_str())) {
        anyhow::bail!(
            "unknown figure `{unknown}`: pick from {}",
            FIGURES.join(", ")
        );
    }
    if args.quick {
        args.jobs = args.jobs.min(300);
        args.agents = vec![2];
        args.latency_samples = args.latency_samples.min(20);
        args.queued = args.queued.min(500);
        args.registered = args.registered.min(20);
        args.memory_jobs = args.memory_jobs.min(2_000);
        args.soak_windows = args.soak_windows.min(3);
        args.soak_window = args.soak_window.min(std::time::Duration::from_secs(2));
    }
    let mut figures = Vec::new();
    let throughput_agents = if args.wants("throughput") {
        args.agents.clone()
    } else {
        Vec::new()
    };
    for mode in [throughput::Mode::Single, throughput::Mode::Batch] {
        for &agents in &throughput_agents {
            let target = target::Target::start(args.database_url.as_deref()).await?;
            figures.push(throughput::run(&target, agents, args.jobs, mode).await?);
            print(&args, figures.last().expect("just pushed"));
            target.stop().await;
        }
    }
    let variants = if args.wants("latency") {
        latency::Variant::all(&args)
    } else {
        Vec::new()
    };
    for variant in variants {
        let target = target::Target::start(args.database_url.as_deref()).await?;
        for figure in latency::run(&target, &variant, args.latency_samples).await? {
            print(&args, &figure);
            figures.push(figure);
        }
        target.stop().await;
    }
    if args.wants("memory") {
        let target = target::Target::start(args.database_url.as_deref()).await?;
        for figure in memory::run(&target, args.memory_jobs).await? {
            print(&args, &figure);
            figures.push(figure);
        }
        target.stop().await;
    }
    if args.wants("soak") {
        let target = target::Target::start(args.database_url.as_deref()).await?;
        for figure in soak::run(&target, args.soak_windows, args.soak_window).await? {
            print(&args, &figure);
            figures.push(figure);
        }
        target.stop().await;
    }
    if args.wants("sweep") {
        sweep::run(&args, |figure| {
            print(&args, &figure);
            figures.push(figure);
        })
        .await?;
    }
    if args.wants("docker") {
        for figure in docker::run(&args).await? {
            print(&args, &figure);
            figures.push(figure);
        }
    }
    Ok(())
}

fn print(args: &BenchArgs, f: &Figure) {
    if args.json {
        println!("{}", serde_json::to_string(f).expect("figures serialize"));
    } else {
        println!(
            "{:<28} {:<9} {:<22} {:>12.2} {}",
            f.figure, f.backend, f.setting, f.value, f.unit
        );
    }
}

/// The p-th percentile (nearest rank) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(super::percentile(&v, 50.0), 50.0);
        assert_eq!(super::percentile(&v, 99.0), 99.0);
        assert_eq!(super::percentile(&[7.0], 95.0), 7.0);
    }
}
