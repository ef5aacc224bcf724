//! The gantry benchmark: a real server on a chosen database, driven over HTTP by simulated
//! agents.
//!
//! Figures: end-to-end throughput of no-op jobs; assignment latency to an idle, long-polling
//! agent (alone, behind queued jobs that fit no agent, and among many registered agents); the
//! cost of one scheduler pass; the server's memory; Docker's overhead; real agents (a fleet of
//! `gantry-worker` processes) beside the machine's own limits; a soak with retention on; the
//! load with a long transaction left open; the reads a user makes of a long history of
//! finished jobs. Each figure runs on a fresh database. Output: a table, or with `--json` one object per figure per line.
//! BENCHMARKS.md holds the figures and the commands that made them.

mod agents;
mod args;
mod binaries;
mod cpu;
mod docker;
mod figure;
mod fleet;
mod fleet_sim;
mod history;
mod latency;
mod limits;
mod load;
mod long_tx;
mod memory;
mod pgbench;
mod postgres;
mod replicas;
mod soak;
mod stats;
mod steady;
mod sweep;
mod target;
mod throughput;

pub use args::{BenchArgs, FIGURES};
pub use figure::Figure;

use target::{Launch, Target};

/// Runs every figure asked for (throughput, latency, memory, soak, sweep, Docker, the real
/// fleets, the history, the replicas, the simulated fleet, in that order), printing each as it
/// is made.
pub async fn run(mut args: BenchArgs) -> anyhow::Result<()> {
    args.check()?;
    args.apply_quick();
    let emit = |figure: Figure| figure.print(args.json);
    // The sweep calls the repository itself: alone, it needs no server binary.
    if !args.wants_server() {
        return sweep::run(&args, emit).await;
    }
    let launch = Launch {
        gantry: binaries::gantry()?,
        postgres: args.database_url.clone(),
    };
    if args.wants("throughput") {
        throughput_figures(&args, &launch, emit).await?;
    }
    if args.wants("latency") {
        for variant in latency::Variant::all(&args) {
            let target = Target::start(&launch).await?;
            latency::run(&target, &variant, args.latency_samples)
                .await?
                .into_iter()
                .for_each(emit);
            target.stop().await;
        }
    }
    if args.wants("memory") {
        let target = Target::start(&launch).await?;
        memory::run(&target, args.memory_jobs)
            .await?
            .into_iter()
            .for_each(emit);
        target.stop().await;
    }
    if args.wants("soak") {
        soak::run(
            &launch,
            args.soak_windows,
            args.soak_window,
            args.soak_job_retention.as_deref(),
        )
        .await?
        .into_iter()
        .for_each(emit);
    }
    if args.wants("long-tx") {
        long_tx::run(&launch, args.long_tx_windows, args.soak_window)
            .await?
            .into_iter()
            .for_each(emit);
    }
    if args.wants("sweep") {
        sweep::run(&args, emit).await?;
    }
    if args.wants("docker") {
        docker::run(&args, &launch)
            .await?
            .into_iter()
            .for_each(emit);
    }
    for (name, kind) in [
        ("fleet-process", fleet::Kind::Process),
        ("fleet-docker", fleet::Kind::Docker),
    ] {
        if args.wants(name) {
            fleet::run(&args, &launch, kind)
                .await?
                .into_iter()
                .for_each(emit);
        }
    }
    if args.wants("history") {
        history::run(&launch, args.history_jobs, emit).await?;
    }
    if args.wants("replicas") {
        replicas::run(&args, &launch)
            .await?
            .into_iter()
            .for_each(emit);
    }
    if args.wants("fleet") {
        let target = Target::start(&launch).await?;
        let figures = fleet_sim::run(&args, &target).await;
        target.stop().await;
        figures?.into_iter().for_each(emit);
    }
    Ok(())
}

/// Every throughput run: singly, then in batches, each at every `--agents` count; on
/// PostgreSQL first the server's pgbench ceilings, and at the end each figure over its ceiling.
async fn throughput_figures(
    args: &BenchArgs,
    launch: &Launch,
    emit: impl Fn(Figure),
) -> anyhow::Result<()> {
    let ceilings = match &launch.postgres {
        Some(admin) => pgbench::ceilings(admin, args.pgbench_seconds).await?,
        None => None,
    };
    let mut made = Vec::new();
    for mode in [throughput::Mode::Single, throughput::Mode::Batch] {
        for &agents in &args.agents {
            let target = Target::start(launch).await?;
            let figure = throughput::run(&target, agents, args.jobs, mode).await?;
            target.stop().await;
            made.push(figure.clone());
            emit(figure);
        }
    }
    if let Some(ceilings) = ceilings {
        pgbench::figures(ceilings, &made, args.pgbench_seconds)
            .into_iter()
            .for_each(emit);
    }
    Ok(())
}
