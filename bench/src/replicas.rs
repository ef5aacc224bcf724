//! The replicas figure: 1, 2 and 3 `gantry serve` processes on one PostgreSQL database.
//! Batch throughput with agents and creating clients spread over the replicas; assignment
//! latency across replicas (an idle agent long-polls the last replica, the job is created on
//! the first, so the wake-up crosses through LISTEN/NOTIFY); and, with the most replicas, how
//! long the leader lease takes to move when its holder is SIGKILLed, beside the lease's TTL.

use crate::agents::{create, SimAgent};
use crate::stats::{percentile, ratio};
use crate::target::{Database, Launch, Target};
use crate::throughput::{self, Mode};
use crate::{BenchArgs, Figure};
use anyhow::Context;
use sqlx::Connection;
use std::time::{Duration, Instant};

/// The servers' sweep interval (Target's flag), which sets the lease's TTL.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);
/// How often the handover is looked for.
const HANDOVER_POLL: Duration = Duration::from_millis(5);

/// Every replica figure, on the PostgreSQL server of `launch` (none without one).
pub async fn run(args: &BenchArgs, launch: &Launch) -> anyhow::Result<Vec<Figure>> {
    if launch.postgres.is_none() {
        eprintln!("SKIPPED replicas: several replicas need PostgreSQL (--database-url)");
        return Ok(Vec::new());
    }
    let mut figures = Vec::new();
    let most = args.replica_counts.iter().copied().max().unwrap_or(1);
    for &n in &args.replica_counts {
        let database = Database::create(launch).await?;
        let url = database.url.clone();
        let mut replicas = vec![Target::start_on(launch, database, &[]).await?];
        for _ in 1..n {
            let shared = Database::shared(&url, "postgres");
            replicas.push(Target::start_on(launch, shared, &[]).await?);
        }
        let bases: Vec<String> = replicas.iter().map(|r| r.base.clone()).collect();
        let http = replicas[0].http.clone();
        let agents = args.agents.iter().copied().max().unwrap_or(16);
        let pids = replicas
            .iter()
            .map(Target::pid)
            .collect::<anyhow::Result<Vec<u32>>>()?;
        let before = CpuReading::take(&pids)?;
        let per_second =
            throughput::run_spread(&http, &bases, agents, args.jobs, Mode::Batch).await?;
        let used = CpuReading::take(&pids)?.since(&before);
        figures.push(figure(
            "replicas_throughput_batch",
            format!("{n} replicas, {agents} agents"),
            per_second,
            "jobs/s",
        ));
        figures.extend(used.figures(n, args.jobs));
        figures.extend(latency(&http, &bases, n, args.latency_samples).await?);
        let killed_first = n == most && n > 1;
        if killed_first {
            figures.extend(handover(&url, replicas.remove(0), n).await?);
        }
        // The first target drops the database when it stops: stop it last.
        while let Some(replica) = replicas.pop() {
            replica.stop().await;
        }
        if killed_first {
            let admin = launch.postgres.as_deref().expect("checked above");
            crate::postgres::drop_database(admin, &crate::postgres::database_name(&url)?).await?;
        }
    }
    Ok(figures)
}

/// p50 and p99 of assignments created on the first replica and polled on the last.
async fn latency(
    http: &reqwest::Client,
    bases: &[String],
    n: usize,
    samples: usize,
) -> anyhow::Result<Vec<Figure>> {
    let (first, last) = (&bases[0], &bases[bases.len() - 1]);
    let agent = SimAgent::register(http, last, "replica-poller", 1, true).await?;
    // One untimed round: the last replica's wake-up session may still be starting.
    let mut millis = Vec::with_capacity(samples);
    for i in 0..=samples {
        let poll = agent.clone();
        let waiting = tokio::spawn(async move {
            let jobs = poll.poll(1, 5_000).await?;
            anyhow::Ok((jobs, Instant::now()))
        });
        // Let the poll reach the server and wait there.
        tokio::time::sleep(Duration::from_millis(2)).await;
        create(http, first, "true").await?;
        let returned = Instant::now();
        let (jobs, received) = waiting.await??;
        let job = jobs.into_iter().next().context("no job within 5 s")?;
        if i > 0 {
            millis.push(received.saturating_duration_since(returned).as_secs_f64() * 1000.0);
        }
        agent.run_noop(&job).await?;
    }
    millis.sort_by(f64::total_cmp);
    Ok(vec![
        figure(
            "replicas_assignment_latency_p50",
            format!("{n} replicas, across"),
            percentile(&millis, 50.0),
            "ms",
        ),
        figure(
            "replicas_assignment_latency_p99",
            format!("{n} replicas, across"),
            percentile(&millis, 99.0),
            "ms",
        ),
    ])
}

/// Where the cores went during a throughput run: CPU seconds of the replicas, of PostgreSQL
/// and of the whole machine, and the wall time.
#[derive(Debug, Clone, Copy)]
struct CpuReading {
    servers: f64,
    database: f64,
    machine: f64,
    at: Instant,
}

impl CpuReading {
    /// The counters now, for the replicas `pids`.
    fn take(pids: &[u32]) -> anyhow::Result<CpuReading> {
        let mut servers = 0.0;
        for pid in pids {
            servers += crate::cpu::process_seconds(*pid)?;
        }
        Ok(CpuReading {
            servers,
            database: crate::cpu::postgres_seconds(),
            machine: crate::cpu::machine_seconds()?,
            at: Instant::now(),
        })
    }

    /// What was used from `earlier` to this reading.
    fn since(&self, earlier: &CpuReading) -> CpuUsed {
        CpuUsed {
            servers: self.servers - earlier.servers,
            database: self.database - earlier.database,
            machine: self.machine - earlier.machine,
            seconds: (self.at - earlier.at).as_secs_f64(),
        }
    }
}

/// CPU seconds used between two [`CpuReading`]s, and the wall seconds between them.
#[derive(Debug, Clone, Copy)]
struct CpuUsed {
    servers: f64,
    database: f64,
    machine: f64,
    seconds: f64,
}

impl CpuUsed {
    /// The cores used on average (by the replicas, by PostgreSQL, by everything, beside the
    /// machine's cores), and PostgreSQL's CPU per job.
    fn figures(&self, n: usize, jobs: usize) -> Vec<Figure> {
        let seconds = self.seconds;
        let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
        let setting = |what: &str| format!("{n} replicas, {what}");
        vec![
            figure(
                "replicas_cpu_servers",
                setting("batch run"),
                self.servers / seconds,
                "cores",
            ),
            figure(
                "replicas_cpu_database",
                setting("batch run"),
                self.database / seconds,
                "cores",
            ),
            figure(
                "replicas_cpu_machine",
                setting(&format!("batch run, of {cores} cores")),
                self.machine / seconds,
                "cores",
            ),
            figure(
                "replicas_database_cpu_per_job",
                setting("batch run"),
                self.database * 1000.0 / jobs as f64,
                "ms",
            ),
        ]
    }
}

/// SIGKILLs `first`, the replica started first and so the one holding the leader lease, and
/// times until another replica holds it; its database is left for the caller to drop.
async fn handover(url: &str, first: Target, n: usize) -> anyhow::Result<Vec<Figure>> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let leader = loop {
        if let Some(h) = lease_holder(&mut conn).await? {
            break h;
        }
        anyhow::ensure!(Instant::now() < deadline, "no replica took the lease");
        tokio::time::sleep(HANDOVER_POLL).await;
    };
    // The holder is `<pid>-<uuid>`.
    let pid = first.pid()?;
    if !leader.starts_with(&format!("{pid}-")) {
        eprintln!("the first replica does not lead ({leader}); handover not measured");
        first.stop().await;
        return Ok(Vec::new());
    }
    first.kill9().await;
    let killed = Instant::now();
    let taken = loop {
        match lease_holder(&mut conn).await? {
            Some(h) if h != leader => break killed.elapsed(),
            _ => {}
        }
        anyhow::ensure!(
            killed.elapsed() < Duration::from_secs(60),
            "the lease never moved"
        );
        tokio::time::sleep(HANDOVER_POLL).await;
    };
    let ttl = SWEEP_INTERVAL * gantry::scheduler::leader::LEASE_SWEEPS;
    let _ = conn.close().await;
    let setting = format!("{n} replicas, ttl {}s", ttl.as_secs());
    Ok(vec![
        figure(
            "replicas_leader_handover",
            setting.clone(),
            taken.as_secs_f64() * 1000.0,
            "ms",
        ),
        figure(
            "replicas_handover_over_ttl",
            setting,
            ratio(taken.as_secs_f64(), ttl.as_secs_f64())?,
            "ratio",
        ),
    ])
}

/// Who holds the scheduler's lease now.
async fn lease_holder(conn: &mut sqlx::PgConnection) -> anyhow::Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT holder FROM leases WHERE name = 'scheduler'")
            .fetch_optional(conn)
            .await?,
    )
}

/// A figure of this PostgreSQL-only family.
fn figure(name: &'static str, setting: String, value: f64, unit: &'static str) -> Figure {
    Figure {
        figure: name,
        backend: "postgres",
        setting,
        value,
        unit,
    }
}
