//! The whole state machine as one table: every kind of job and worker transition, from which
//! states to which, who causes it and where it is applied (a pure function of this module,
//! or a set-based statement of the repository). `render()` prints it; the unit tests check
//! the functions and the statements against it.

use gantry_api::JobStatus::{self, *};
use gantry_api::WorkerStatus::{self, Busy, Idle, Offline, Unhealthy};
use std::fmt::Write;

/// Where a transition is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// By a pure function of this module, on a row loaded in a transaction.
    Rust(&'static str),
    /// By the repository's statements (named as their `.sql` files, without the suffix), for
    /// many rows at once.
    Sql(&'static [&'static str]),
}

/// One kind of change of a job's state.
#[derive(Debug, Clone, Copy)]
pub struct JobRule {
    /// Its name, as the issue tracker and the code say it.
    pub name: &'static str,
    /// The states it leaves; empty for the creation.
    pub from: &'static [JobStatus],
    /// The states it may lead to.
    pub to: &'static [JobStatus],
    /// Who causes it.
    pub by: &'static str,
    /// Where it is applied.
    pub applied: Applied,
}

/// Every job transition.
pub const JOB_RULES: [JobRule; 12] = [
    JobRule {
        name: "create",
        from: &[],
        to: &[Pending, Queued],
        by: "client",
        applied: Applied::Rust("job::create"),
    },
    JobRule {
        name: "promote",
        from: &[Pending],
        to: &[Queued],
        by: "scheduler, when run_at comes",
        applied: Applied::Sql(&["jobs_promote_due"]),
    },
    JobRule {
        name: "place",
        from: &[Queued],
        to: &[Assigned],
        by: "scheduler, best fit, resources reserved",
        applied: Applied::Sql(&["jobs_assign_many"]),
    },
    JobRule {
        name: "deliver",
        from: &[Assigned],
        to: &[Assigned],
        by: "worker's poll (marks the attempt handed over)",
        applied: Applied::Sql(&["jobs_deliver"]),
    },
    JobRule {
        name: "start",
        from: &[Assigned],
        to: &[Running],
        by: "worker holding the attempt",
        applied: Applied::Sql(&["job_start", "jobs_start_many"]),
    },
    JobRule {
        name: "start pulling",
        from: &[Assigned],
        to: &[Running],
        by: "worker holding the attempt, which pulls its image first (phase set, no deadline)",
        applied: Applied::Rust("job::start_pulling"),
    },
    JobRule {
        name: "pulled",
        from: &[Running],
        to: &[Running],
        by: "worker holding the attempt, its pull done (phase cleared, deadline from now)",
        applied: Applied::Rust("job::start"),
    },
    JobRule {
        name: "finish",
        from: &[Assigned, Running],
        to: &[Completed, Failed, TimedOut],
        by: "worker holding the attempt",
        applied: Applied::Rust("job::finish"),
    },
    JobRule {
        name: "retry",
        from: &[Assigned, Running],
        to: &[Pending, Queued],
        by: "a failure with retries left (after finish, time out or loss)",
        applied: Applied::Rust("job::finish, job::time_out, job::lose"),
    },
    JobRule {
        name: "lose",
        from: &[Assigned, Running],
        to: &[Queued, Failed],
        by: "sweeper or heartbeat: worker gone, restarted, silent, never started it, or an \
             orphan whose hold ran out (lifecycle::hold)",
        applied: Applied::Rust("job::lose, job::lose_unstarted"),
    },
    JobRule {
        name: "cancel",
        from: &[Pending, Queued, Assigned, Running],
        to: &[Cancelled],
        by: "client",
        applied: Applied::Rust("job::cancel"),
    },
    JobRule {
        name: "time out",
        from: &[Running],
        to: &[TimedOut],
        by: "sweeper, past deadline plus grace",
        applied: Applied::Rust("job::time_out"),
    },
];

/// One kind of change of a worker's (derived) state.
#[derive(Debug, Clone, Copy)]
pub struct WorkerRule {
    /// Its name, as the table prints it.
    pub name: &'static str,
    /// The states it leaves; empty for a first registration.
    pub from: &'static [WorkerStatus],
    /// The states it may lead to.
    pub to: &'static [WorkerStatus],
    /// What changes in the worker's row.
    pub when: &'static str,
    /// Where it is applied.
    pub applied: Applied,
}

/// Every worker transition.
pub const WORKER_RULES: [WorkerRule; 6] = [
    WorkerRule {
        name: "register",
        from: &[],
        to: &[Idle, Unhealthy],
        when: "an agent joins, or joins again (its held jobs are lost; a cooldown stays)",
        applied: Applied::Sql(&["worker_upsert"]),
    },
    WorkerRule {
        name: "busy",
        from: &[Idle, Busy],
        to: &[Busy, Idle],
        when: "placement reserves a job on it; a result, cancel or loss releases one",
        applied: Applied::Sql(&[
            "worker_reserve_many",
            "worker_release",
            "worker_release_many",
        ]),
    },
    WorkerRule {
        name: "cooldown",
        from: &[Idle, Busy, Unhealthy],
        to: &[Unhealthy, Idle, Busy],
        when: "failures in a row by its fault reach the threshold; the sweeper ends it",
        applied: Applied::Sql(&["worker_record_failure", "workers_end_cooldowns"]),
    },
    WorkerRule {
        name: "offline",
        from: &[Idle, Busy, Unhealthy],
        to: &[Offline],
        when: "no heartbeat for the heartbeat timeout (its jobs are lost)",
        applied: Applied::Sql(&["worker_mark_offline"]),
    },
    WorkerRule {
        name: "back",
        from: &[Offline],
        to: &[Idle, Unhealthy],
        when: "a heartbeat or registration from an OFFLINE worker",
        applied: Applied::Sql(&["worker_heartbeat", "worker_upsert"]),
    },
    WorkerRule {
        name: "draining",
        from: &[Idle, Busy],
        to: &[Idle, Busy],
        when: "its agent says it shuts down: same state, but placement gives it nothing",
        applied: Applied::Sql(&["worker_heartbeat"]),
    },
];

impl JobRule {
    /// True when this rule may move a job from `from` to `to`.
    pub fn allows(&self, from: JobStatus, to: JobStatus) -> bool {
        self.from.contains(&from) && self.to.contains(&to)
    }
}

/// The rule of this name.
pub fn job_rule(name: &str) -> Option<&'static JobRule> {
    JOB_RULES.iter().find(|r| r.name == name)
}

/// True when some rule may move a job from `from` to `to`.
pub fn job_allows(from: JobStatus, to: JobStatus) -> bool {
    JOB_RULES.iter().any(|r| r.allows(from, to))
}

/// Both tables as text, one line a rule.
pub fn render() -> String {
    let names = |s: &[String]| {
        if s.is_empty() {
            "(new)".to_string()
        } else {
            s.join("|")
        }
    };
    let mut out = String::from("JOB TRANSITIONS\n");
    for r in &JOB_RULES {
        let from: Vec<String> = r.from.iter().map(|s| s.to_string()).collect();
        let to: Vec<String> = r.to.iter().map(|s| s.to_string()).collect();
        let _ = writeln!(
            out,
            "  {:<9} {:>32} -> {:<28} by {}; {}",
            r.name,
            names(&from),
            names(&to),
            r.by,
            applied(r.applied)
        );
    }
    out.push_str("WORKER TRANSITIONS (the state is derived from the row's facts)\n");
    for r in &WORKER_RULES {
        let from: Vec<String> = r.from.iter().map(|s| s.to_string()).collect();
        let to: Vec<String> = r.to.iter().map(|s| s.to_string()).collect();
        let _ = writeln!(
            out,
            "  {:<9} {:>24} -> {:<20} {}; {}",
            r.name,
            names(&from),
            names(&to),
            r.when,
            applied(r.applied)
        );
    }
    out
}

fn applied(a: Applied) -> String {
    match a {
        Applied::Rust(f) => format!("lifecycle::{f}"),
        Applied::Sql(files) => format!("SQL {}", files.join(", ")),
    }
}
