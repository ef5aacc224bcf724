//! The scheduler services under faults: with any of their repository calls failing for a
//! while, each logs and carries on (the other sweepers still sweep), its own work is done on
//! the first pass after the fault clears, and the invariants hold.

use super::{Agent, Rig};
use crate::common::builders::{get_job, get_worker, heartbeat, job, result, worker_fault};
use crate::common::invariants::check_invariants;
use crate::common::server::fast_config;
use crate::common::{eventually, TestDb};
use gantry::clock::now_ms;
use gantry::config::{Retention, RetentionConfig, ServeConfig};
use gantry::model::{UploadInsertParams, WorkerHeartbeatParams};
use gantry::repo::faulty::{Fault, Plan, When};
use gantry::scheduler::leader::Leader;
use gantry::scheduler::placer::Placer;
use gantry::scheduler::Scheduler;
use gantry_api::JobStatus;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How long a world's slowest effect takes to fall due (the cooldown of `fast_config`, plus
/// a sweep).
const WORLD_DUE: Duration = Duration::from_millis(850);

/// How long recovering may take.
const WITHIN: Duration = Duration::from_secs(15);

/// Settings whose pruner has work at once: outputs, files and old rollups go after 1 ms,
/// finished jobs (kept an hour) are looked at but stay.
fn config(db: &TestDb) -> ServeConfig {
    let age = Retention::For(Duration::from_millis(1));
    ServeConfig {
        retention: RetentionConfig {
            output_retention: age,
            job_retention: Retention::For(Duration::from_secs(3600)),
            rollup_retention: age,
            rollup_delay: Duration::ZERO,
        },
        ..fast_config(db)
    }
}

/// What one sweeper (or one part of the pruner) does to a world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Effect {
    /// The silent worker is OFFLINE and its job requeued.
    Offline,
    /// The overdue job TIMED_OUT.
    TimedOut,
    /// The job never started went back to the queue.
    Requeued,
    /// The stopped attempt's hold ended (its reservation given back).
    HoldEnded,
    /// The cooled worker's cooldown ended.
    CooledDown,
    /// The finished job's output was cleared.
    OutputPruned,
    /// The unused input file was deleted.
    UploadPruned,
}

use Effect::*;

const EVERY_EFFECT: [Effect; 7] = [
    Offline,
    TimedOut,
    Requeued,
    HoldEnded,
    CooledDown,
    OutputPruned,
    UploadPruned,
];

/// The leader's calls, each with what its failure holds up (a failing part of the pruner holds
/// up only itself; the lease's failure stops everything).
const LEADER_CALLS: &[(&str, &[Effect])] = &[
    ("worker_expire_heartbeats", &[Offline]),
    ("job_expire_deadlines", &[TimedOut]),
    ("job_requeue_unstarted", &[Requeued]),
    ("job_end_holds", &[HoldEnded]),
    ("worker_end_cooldowns", &[CooledDown]),
    ("job_rollup", &[]),
    ("job_prune_outputs", &[OutputPruned]),
    ("job_prune", &[]),
    ("upload_prune", &[UploadPruned]),
    ("rollup_prune", &[]),
    ("database_compact", &[]),
    ("lease_acquire", &EVERY_EFFECT),
];

/// A world in which every sweeper has one thing to do.
struct World {
    silent: Agent,
    steady: Agent,
    cooled: Agent,
    lost: String,
    overdue: String,
    unstarted: String,
    held: String,
    finished: String,
    upload: String,
    /// When its last effect falls due.
    due: Instant,
}

async fn world(rig: &Rig, tag: &str) -> World {
    let repo = rig.repo();
    rig.retire().await;
    // Three faults of its own in a row cool a worker down (for 700 ms).
    let cooled = rig.agent(&format!("{tag}-cooled")).await;
    for _ in 0..3 {
        let (id, attempt) = rig.running(&cooled).await;
        repo.job_finish(worker_fault(&cooled.id, &id, attempt, now_ms()))
            .await
            .unwrap();
    }
    assert!(get_worker(repo, &cooled.id).await.cooldown_until.is_some());
    rig.retire().await;

    // Silent for a minute, with a job on it.
    let silent = rig.agent(&format!("{tag}-silent")).await;
    let (lost, _) = rig.running(&silent).await;
    repo.worker_heartbeat(WorkerHeartbeatParams {
        draining: true,
        ..heartbeat(&silent.id, now_ms() - 60_000, &[&lost])
    })
    .await
    .unwrap();

    let steady = rig.agent(&format!("{tag}-steady")).await;
    let overdue = rig
        .insert(
            job(&uuid::Uuid::now_v7().to_string())
                .timeout_ms(1)
                .at(now_ms()),
        )
        .await;
    let attempt = rig.place(&steady, &overdue).await;
    rig.deliver(&steady, &overdue).await;
    rig.start(&steady, &overdue, attempt).await;
    let (unstarted, _) = rig.assigned(&steady).await;
    let (held, _) = rig.running(&steady).await;
    repo.job_cancel(&held, now_ms()).await.unwrap();
    assert!(get_job(repo, &held).await.held_on.is_some());
    let (finished, attempt) = rig.running(&steady).await;
    repo.job_finish(result(&steady.id, &finished, attempt, now_ms()))
        .await
        .unwrap();
    let upload = uuid::Uuid::now_v7().to_string();
    repo.upload_insert(UploadInsertParams {
        id: upload.clone(),
        filename: "unused.txt".into(),
        sha256: "0".repeat(64),
        content: b"unused".to_vec(),
        now: now_ms(),
    })
    .await
    .unwrap();
    World {
        silent,
        steady,
        cooled,
        lost,
        overdue,
        unstarted,
        held,
        finished,
        upload,
        due: Instant::now() + WORLD_DUE,
    }
}

/// The effects seen in `w` so far.
async fn effects(rig: &Rig, w: &World) -> BTreeSet<Effect> {
    let repo = rig.repo();
    let mut seen = BTreeSet::new();
    let lost = get_job(repo, &w.lost).await;
    if get_worker(repo, &w.silent.id).await.offline_since.is_some() && !lost.status.is_on_worker() {
        seen.insert(Offline);
    }
    if get_job(repo, &w.overdue).await.status == JobStatus::TimedOut {
        seen.insert(TimedOut);
    }
    if get_job(repo, &w.unstarted).await.status != JobStatus::Assigned {
        seen.insert(Requeued);
    }
    if get_job(repo, &w.held).await.held_on.is_none() {
        seen.insert(HoldEnded);
    }
    if get_worker(repo, &w.cooled.id)
        .await
        .cooldown_until
        .is_none()
    {
        seen.insert(CooledDown);
    }
    if get_job(repo, &w.finished).await.stdout.is_none() {
        seen.insert(OutputPruned);
    }
    if repo.upload_get(&w.upload).await.unwrap().is_none() {
        seen.insert(UploadPruned);
    }
    seen
}

/// One leader pass, with the steady worker's heartbeat before it (so only the silent one is).
async fn pass(rig: &Rig, leader: &Leader, w: &World) {
    rig.repo()
        .worker_heartbeat(heartbeat(&w.steady.id, now_ms(), &[]))
        .await
        .unwrap();
    leader.run_once().await;
}

async fn the_leader_sweeps_on_past_a_failing_call(db: TestDb) {
    let config = config(&db);
    let rig = Rig::with_config(config.clone(), db).await;
    let state = &rig.state;
    let leader = Leader::new(
        rig.faulty.clone(),
        &config,
        state.waiters.clone(),
        state.scheduler.clone(),
    );
    for (method, held_up) in LEADER_CALLS {
        let w = world(&rig, method).await;
        rig.faulty.inject(Plan::on(method, Fault::Fail));
        let want: BTreeSet<Effect> = EVERY_EFFECT
            .into_iter()
            .filter(|e| !held_up.contains(e))
            .collect();
        let what = format!("[{:?}] {method} failing", rig.db.dialect);
        let seen = eventually(&format!("{what}: {want:?}"), WITHIN, || async {
            pass(&rig, &leader, &w).await;
            let seen = effects(&rig, &w).await;
            (Instant::now() > w.due && want.is_subset(&seen)).then_some(seen)
        })
        .await;
        let fired = rig.faulty.clear();
        assert!(fired >= 1, "{what}: the fault never fired");
        assert!(
            held_up.iter().all(|e| !seen.contains(e)),
            "{what}: {seen:?} happened although it fails"
        );
        rig.faulty.take_calls();
        eventually(
            &format!("{what}, cleared: every effect"),
            WITHIN,
            || async {
                pass(&rig, &leader, &w).await;
                (effects(&rig, &w).await.len() == EVERY_EFFECT.len()).then_some(())
            },
        )
        .await;
        if let Err(e) = check_invariants(rig.repo()).await {
            panic!("{what}: {e}");
        }
    }
    // Every call the leader makes was broken once.
    let calls: BTreeSet<&str> = rig.faulty.take_calls().into_iter().collect();
    let broken: BTreeSet<&str> = LEADER_CALLS.iter().map(|(m, _)| *m).collect();
    assert!(calls.is_subset(&broken), "unbroken calls: {calls:?}");
}

async fn the_placer_places_once_the_database_answers(db: TestDb) {
    let rig = Rig::new(db).await;
    let shutdown = CancellationToken::new();
    let placer = Placer {
        repo: rig.faulty.clone(),
        waiters: rig.state.waiters.clone(),
        handle: rig.state.scheduler.clone(),
        sweep_interval: Duration::from_millis(50),
    };
    let task = tokio::spawn(placer.run(shutdown.clone()));
    let plans = [
        Plan::on("job_place", Fault::Fail),
        Plan::on("job_place", Fault::FailAfterCommit),
        Plan::on("job_place", Fault::Hang(Duration::from_millis(30))),
        Plan::on("job_next_due", Fault::Fail),
        Plan::on("job_next_due", Fault::Hang(Duration::from_millis(30))),
    ];
    for (i, plan) in plans.into_iter().enumerate() {
        let what = format!("[{:?}] {plan:?}", rig.db.dialect);
        rig.retire().await;
        rig.faulty.inject(plan);
        let agent = rig.agent(&format!("placer-{i}")).await;
        let id = rig.job().await;
        rig.state.scheduler.trigger();
        // It keeps trying, pass after pass.
        eventually(&format!("{what}: passes go on"), WITHIN, || async {
            (rig.faulty.fired() >= 3).then_some(())
        })
        .await;
        rig.faulty.clear();
        let placed = eventually(&format!("{what}: placed"), WITHIN, || async {
            let j = get_job(rig.repo(), &id).await;
            (j.status == JobStatus::Assigned).then_some(j)
        })
        .await;
        assert_eq!(placed.worker_id.as_deref(), Some(agent.id.as_str()));
        rig.assert_consistent(&what).await;
    }
    shutdown.cancel();
    task.await.unwrap();
}

async fn the_scheduler_rides_out_a_database_outage(db: TestDb) {
    let rig = Rig::new(db).await;
    let agent = rig.agent("outage").await;
    let mut jobs = Vec::new();
    for _ in 0..3 {
        jobs.push(rig.job().await);
    }
    // Every call fails until this many have: an outage that passes by itself.
    rig.faulty
        .inject(Plan::everything(Fault::Fail).when(When::First(40)));
    let shutdown = CancellationToken::new();
    let config = rig.state.config.clone();
    let scheduler = Scheduler::start(
        rig.faulty.clone(),
        &config,
        rig.state.waiters.clone(),
        rig.state.scheduler.clone(),
        None,
        shutdown.clone(),
    );
    eventually("every job placed after the outage", WITHIN, || async {
        for id in &jobs {
            let j = get_job(rig.repo(), id).await;
            if j.status != JobStatus::Assigned || j.worker_id.as_deref() != Some(&agent.id) {
                return None;
            }
        }
        Some(())
    })
    .await;
    assert_eq!(rig.faulty.fired(), 40, "the outage was the first 40 calls");
    // The leader is back too: the agent, silent all along, goes OFFLINE and its jobs back.
    eventually(
        "the silent agent swept after the outage",
        WITHIN,
        || async {
            let w = get_worker(rig.repo(), &agent.id).await;
            w.offline_since.is_some().then_some(())
        },
    )
    .await;
    shutdown.cancel();
    scheduler.join(Duration::from_secs(5)).await;
    rig.assert_consistent("an outage").await;
}

async fn a_scheduler_stuck_in_the_database_still_stops(db: TestDb) {
    let rig = Rig::new(db).await;
    rig.faulty
        .inject(Plan::everything(Fault::Hang(gantry::repo::faulty::FOREVER)));
    let shutdown = CancellationToken::new();
    let config = rig.state.config.clone();
    let scheduler = Scheduler::start(
        rig.faulty.clone(),
        &config,
        rig.state.waiters.clone(),
        rig.state.scheduler.clone(),
        None,
        shutdown.clone(),
    );
    eventually("both services stuck", WITHIN, || async {
        (rig.faulty.fired() >= 2).then_some(())
    })
    .await;
    shutdown.cancel();
    let started = Instant::now();
    let drain = Duration::from_millis(200);
    tokio::time::timeout(Duration::from_secs(5), scheduler.join(drain))
        .await
        .expect("the scheduler did not stop");
    assert!(started.elapsed() >= drain, "it waited for the drain first");
}

crate::common::on_both_databases!(
    the_leader_sweeps_on_past_a_failing_call,
    the_placer_places_once_the_database_answers,
    the_scheduler_rides_out_a_database_outage,
    a_scheduler_stuck_in_the_database_still_stops,
);
