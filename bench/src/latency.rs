//! Figure 2: assignment latency: an idle agent long-polls; a job is created; the time from the
//! create call's return to the agent holding the job (0 when the poll answered first).

use crate::agents::{create, SimAgent};
use crate::stats::percentile;
use crate::target::Target;
use crate::{BenchArgs, Figure};
use gantry::model::JobInsertParams;
use std::time::Instant;

/// The state the latency is measured in.
pub struct Variant {
    /// Its setting in the output: `idle`, `N queued` or `N agents`.
    pub name: String,
    /// Jobs queued that fit no agent.
    pub queued: usize,
    /// Extra registered agents (not polling).
    pub registered: usize,
}

impl Variant {
    /// Alone; behind queued jobs; among many agents.
    pub fn all(args: &BenchArgs) -> Vec<Variant> {
        vec![
            Variant {
                name: "idle".into(),
                queued: 0,
                registered: 0,
            },
            Variant {
                name: format!("{} queued", args.queued),
                queued: args.queued,
                registered: 0,
            },
            Variant {
                name: format!("{} agents", args.registered),
                queued: 0,
                registered: args.registered,
            },
        ]
    }
}

/// p50, p95 and p99 of `samples` assignments, in milliseconds.
pub async fn run(
    target: &Target,
    variant: &Variant,
    samples: usize,
) -> anyhow::Result<Vec<Figure>> {
    for i in 0..variant.queued {
        let now = gantry::clock::now_ms();
        target
            .repo
            .job_insert(JobInsertParams {
                id: uuid::Uuid::now_v7().to_string(),
                command: format!("unplaceable {i}"),
                image: None,
                file_url: None,
                filename: None,
                env: Default::default(),
                required_cpu_milli: 10_000_000,
                required_ram_mb: 8,
                timeout_ms: 60_000,
                max_retries: 0,
                priority: 0,
                network: false,
                run_at: now,
                idempotency_key: None,
                pull: None,
                now,
            })
            .await?;
    }
    for i in 0..variant.registered {
        SimAgent::register(&target.http, &target.base, &format!("extra-{i}"), 1, false).await?;
    }
    let agent = SimAgent::register(&target.http, &target.base, "poller", 1, true).await?;
    let mut millis = Vec::with_capacity(samples);
    for _ in 0..samples {
        let poll = agent.clone();
        let waiting = tokio::spawn(async move {
            let jobs = poll.poll(1, 5_000).await?;
            anyhow::Ok((jobs, Instant::now()))
        });
        // Let the poll reach the server and wait there.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        create(&target.http, &target.base, "true").await?;
        let returned = Instant::now();
        let (jobs, received) = waiting.await??;
        let job = jobs
            .into_iter()
            .next()
            .ok_or_else(|| anyhow::anyhow!("no job within 5 s"))?;
        millis.push(received.saturating_duration_since(returned).as_secs_f64() * 1000.0);
        agent.run_noop(&job).await?;
    }
    millis.sort_by(f64::total_cmp);
    Ok([50.0, 95.0, 99.0]
        .into_iter()
        .map(|p| Figure {
            figure: match p as u32 {
                50 => "assignment_latency_p50",
                95 => "assignment_latency_p95",
                _ => "assignment_latency_p99",
            },
            backend: target.backend,
            setting: variant.name.clone(),
            value: percentile(&millis, p),
            unit: "ms",
        })
        .collect())
}
