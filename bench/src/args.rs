//! The bench's command line: which figures, on which database, at which sizes.

use std::time::Duration;

/// Every figure `--figures` may name, in the order they run.
pub const FIGURES: [&str; 12] = [
    "throughput",
    "latency",
    "sweep",
    "memory",
    "docker",
    "fleet-process",
    "fleet-docker",
    "soak",
    "long-tx",
    "history",
    "replicas",
    "fleet",
];

/// gantry-bench: measure throughput and assignment latency of a real gantry server (see
/// BENCHMARKS.md).
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "gantry-bench", version)]
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
    /// How long the soak's server keeps finished jobs (`forever` turns pruning off, to compare);
    /// two soak windows when not given.
    #[arg(long)]
    pub soak_job_retention: Option<String>,
    /// Windows (of `--soak-window`) the long-tx figure keeps its transaction open.
    #[arg(long, default_value_t = 3)]
    pub long_tx_windows: usize,
    /// Length of one soak window.
    #[arg(long, default_value = "60s", value_parser = gantry_api::parse_duration)]
    pub soak_window: Duration,
    /// Real agents (`gantry-worker` processes) of the fleet-process figure.
    #[arg(long, default_value_t = 4)]
    pub fleet_agents: usize,
    /// Slots (MAX_PARALLEL_JOBS) of each fleet-process agent.
    #[arg(long, default_value_t = 8)]
    pub fleet_slots: usize,
    /// Jobs (`true`) of the fleet-process figure.
    #[arg(long, default_value_t = 2_000)]
    pub fleet_jobs: usize,
    /// Real agents with Docker of the fleet-docker figure.
    #[arg(long, default_value_t = 2)]
    pub fleet_docker_agents: usize,
    /// Slots of each fleet-docker agent.
    #[arg(long, default_value_t = 4)]
    pub fleet_docker_slots: usize,
    /// Jobs (`true` in the busybox test image) of the fleet-docker figure.
    #[arg(long, default_value_t = 200)]
    pub fleet_docker_jobs: usize,
    /// Finished jobs stored for the history figure.
    #[arg(long, default_value_t = 1_000_000)]
    pub history_jobs: usize,
    /// Replica counts of the replicas figure (PostgreSQL only).
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    pub replica_counts: Vec<usize>,
    /// Simulated agents of the fleet figure.
    #[arg(long, default_value_t = 10_000)]
    pub fleet_sim_agents: usize,
    /// How many of the fleet figure's agents long-poll at once.
    #[arg(long, default_value_t = 1_000)]
    pub fleet_sim_pollers: usize,
    /// Heartbeat interval of the fleet figure's agents.
    #[arg(long, default_value = "10s", value_parser = gantry_api::parse_duration)]
    pub fleet_sim_interval: Duration,
    /// How long the fleet figure measures, after one full heartbeat round.
    #[arg(long, default_value = "30s", value_parser = gantry_api::parse_duration)]
    pub fleet_sim_seconds: Duration,
    /// Seconds each pgbench ceiling runs (PostgreSQL throughput figures).
    #[arg(long, default_value_t = 10)]
    pub pgbench_seconds: u64,
    /// Which figures to run (all by default): throughput, latency, sweep, memory, docker,
    /// fleet-process, fleet-docker, soak, long-tx, history, replicas (PostgreSQL only), fleet.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "throughput,latency,sweep,memory,docker,fleet-process,fleet-docker,soak,long-tx,history,replicas,fleet"
    )]
    pub figures: Vec<String>,
}

impl BenchArgs {
    /// Whether the named figure was asked for.
    pub fn wants(&self, figure: &str) -> bool {
        self.figures.iter().any(|f| f == figure)
    }

    /// Whether a figure that starts a `gantry serve` was asked for (all but the sweep).
    pub fn wants_server(&self) -> bool {
        self.figures.iter().any(|f| f != "sweep")
    }

    /// Fails on a figure name `--figures` does not know.
    pub fn check(&self) -> anyhow::Result<()> {
        if let Some(unknown) = self.figures.iter().find(|f| !FIGURES.contains(&f.as_str())) {
            anyhow::bail!(
                "unknown figure `{unknown}`: pick from {}",
                FIGURES.join(", ")
            );
        }
        if let Some(url) = &self.database_url {
            crate::postgres::options(url)?;
        }
        Ok(())
    }

    /// With `--quick`, caps every size so the whole run takes a few seconds.
    pub fn apply_quick(&mut self) {
        if !self.quick {
            return;
        }
        self.jobs = self.jobs.min(300);
        self.agents = vec![2];
        self.latency_samples = self.latency_samples.min(20);
        self.queued = self.queued.min(500);
        self.registered = self.registered.min(20);
        self.memory_jobs = self.memory_jobs.min(2_000);
        self.soak_windows = self.soak_windows.min(3);
        self.long_tx_windows = self.long_tx_windows.min(1);
        self.soak_window = self.soak_window.min(Duration::from_secs(2));
        self.fleet_agents = self.fleet_agents.min(1);
        self.fleet_slots = self.fleet_slots.min(2);
        self.fleet_jobs = self.fleet_jobs.min(50);
        self.fleet_docker_agents = self.fleet_docker_agents.min(1);
        self.fleet_docker_slots = self.fleet_docker_slots.min(2);
        self.fleet_docker_jobs = self.fleet_docker_jobs.min(6);
        self.pgbench_seconds = self.pgbench_seconds.min(1);
        self.history_jobs = self.history_jobs.min(2_000);
        self.replica_counts = vec![1, 2];
        self.fleet_sim_agents = self.fleet_sim_agents.min(200);
        self.fleet_sim_pollers = self.fleet_sim_pollers.min(20);
        self.fleet_sim_interval = self.fleet_sim_interval.min(Duration::from_secs(1));
        self.fleet_sim_seconds = self.fleet_sim_seconds.min(Duration::from_secs(2));
    }
}
