//! A fault-injecting repository: [`FaultyRepo`] wraps any [`Repo`] and makes chosen calls
//! fail as a dropped connection would, lose their answer after committing, hang, or run
//! slowly; it also records every call, so a test can list the calls a route or a scheduler
//! service makes and break each in turn.
//!
//! It is for tests and benchmarks (the server never builds one). Each repository method is
//! named by its own name (`"job_finish"`); [`METHODS`] lists them all.

use super::{
    Dialect, JobBatchRepo, JobRepo, MaintenanceRepo, Repo, RepoError, RepoResult, ReportRepo,
    SchedulerRepo, UploadRepo, WorkerRepo,
};
use crate::model::{
    HeartbeatOutcome, HistoryRecord, JobFinishParams, JobInsertParams, JobListParams, JobRecord,
    PlaceOutcome, PruneCounts, PruneCutoffs, SweepCounts, UploadInsertParams, UploadRecord,
    WorkerHeartbeatParams, WorkerRecord, WorkerRegisterParams,
};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A hang that never ends by itself, as a call stuck behind a lock nobody releases (clearing
/// the plan does not wake a call already hung).
pub const FOREVER: Duration = Duration::MAX;

/// What a faulty call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Fails at once with the error a dropped connection gives; nothing reaches the database.
    Fail,
    /// Runs the call, then fails as a connection dropped during the commit's answer does: the
    /// change is made, the caller hears an error.
    FailAfterCommit,
    /// Waits this long, then fails as a pool with no free connection does (`FOREVER`: never
    /// answers). Nothing reaches the database.
    Hang(Duration),
    /// Waits this long, then runs the call normally.
    Delay(Duration),
}

/// Which of the matching calls a plan breaks, counted from when it was injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Every one, until the plan is cleared.
    Every,
    /// Only the n-th (1 is the first).
    Nth(u64),
    /// The first n: an outage that passes by itself.
    First(u64),
}

impl When {
    fn covers(self, n: u64) -> bool {
        match self {
            When::Every => true,
            When::Nth(k) => n == k,
            When::First(k) => n <= k,
        }
    }
}

/// One fault to inject: which calls, which of them, and what they do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The method to break, by name; `None` breaks every method.
    pub method: Option<&'static str>,
    /// Which of its calls.
    pub when: When,
    /// What they do.
    pub fault: Fault,
}

impl Plan {
    /// Breaks every call of `method` with `fault`. Panics on a name no method has, so a typo
    /// cannot make a test pass by breaking nothing.
    pub fn on(method: &'static str, fault: Fault) -> Plan {
        assert!(
            METHODS.contains(&method),
            "the repository has no method `{method}`"
        );
        Plan {
            method: Some(method),
            when: When::Every,
            fault,
        }
    }

    /// Breaks every call of every method with `fault`: the database is gone.
    pub fn everything(fault: Fault) -> Plan {
        Plan {
            method: None,
            when: When::Every,
            fault,
        }
    }

    /// The same plan, breaking only the calls `when` says.
    pub fn when(self, when: When) -> Plan {
        Plan { when, ..self }
    }
}

/// A plan in force, with how many calls it matched and broke.
#[derive(Debug)]
struct Armed {
    plan: Plan,
    matched: u64,
    fired: u64,
}

/// What the wrapper keeps between calls.
#[derive(Debug, Default)]
struct Book {
    /// Plans in force; the first that matches a call decides it.
    plans: Vec<Armed>,
    /// Every call since the last [`FaultyRepo::take_calls`], in order.
    calls: Vec<&'static str>,
    /// Calls broken since the last [`FaultyRepo::clear`].
    fired: u64,
}

/// A [`Repo`] that passes every call to `inner`, except those its plans break.
pub struct FaultyRepo {
    inner: Arc<dyn Repo>,
    // A std mutex: held only to look up and count, never across an await.
    book: Mutex<Book>,
}

impl FaultyRepo {
    /// Wraps `inner`, breaking nothing until a plan is injected.
    pub fn new(inner: Arc<dyn Repo>) -> FaultyRepo {
        FaultyRepo {
            inner,
            book: Mutex::new(Book::default()),
        }
    }

    /// The repository it wraps (to read the truth around the faults).
    pub fn inner(&self) -> &Arc<dyn Repo> {
        &self.inner
    }

    /// Puts a plan in force beside those already in force.
    pub fn inject(&self, plan: Plan) {
        self.book().plans.push(Armed {
            plan,
            matched: 0,
            fired: 0,
        });
    }

    /// Ends every plan: from now on every call goes through. Returns how many calls the plans
    /// broke.
    pub fn clear(&self) -> u64 {
        let mut book = self.book();
        book.plans.clear();
        std::mem::take(&mut book.fired)
    }

    /// How many calls the plans in force broke so far.
    pub fn fired(&self) -> u64 {
        self.book().fired
    }

    /// Every call since the last time this was called, in order, and forgets them.
    pub fn take_calls(&self) -> Vec<&'static str> {
        std::mem::take(&mut self.book().calls)
    }

    /// How often each method was called since [`FaultyRepo::take_calls`] was last called.
    pub fn call_counts(&self) -> BTreeMap<&'static str, u64> {
        let mut counts = BTreeMap::new();
        for name in &self.book().calls {
            *counts.entry(*name).or_default() += 1;
        }
        counts
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        // A test that panicked while holding it leaves nothing half-written worth refusing.
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a call of `method` and says what it must do.
    fn decide(&self, method: &'static str) -> Option<Fault> {
        let mut book = self.book();
        book.calls.push(method);
        let armed = book
            .plans
            .iter_mut()
            .find(|a| a.plan.method.map_or(true, |m| m == method))?;
        armed.matched += 1;
        if !armed.plan.when.covers(armed.matched) {
            return None;
        }
        armed.fired += 1;
        let fault = armed.plan.fault;
        book.fired += 1;
        Some(fault)
    }

    /// Runs the call `work` of `method` as the plans say.
    async fn call<T>(
        &self,
        method: &'static str,
        work: impl Future<Output = RepoResult<T>> + Send,
    ) -> RepoResult<T> {
        match self.decide(method) {
            None => work.await,
            Some(Fault::Fail) => Err(dropped(method)),
            Some(Fault::FailAfterCommit) => {
                let _ = work.await;
                Err(dropped(method))
            }
            Some(Fault::Hang(how_long)) => {
                tokio::time::sleep(how_long).await;
                Err(RepoError::Database(sqlx::Error::PoolTimedOut))
            }
            Some(Fault::Delay(how_long)) => {
                tokio::time::sleep(how_long).await;
                work.await
            }
        }
    }
}

/// The error of a connection that went away under `method`, as sqlx reports it.
fn dropped(method: &str) -> RepoError {
    RepoError::Database(sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        format!("connection reset by peer (injected into {method})"),
    )))
}

/// Implements a repository trait for [`FaultyRepo`], each method passing its arguments to
/// the inner repository through [`FaultyRepo::call`] under its own name; and lists the names
/// of those and of `Repo`'s own methods (written out by hand below).
macro_rules! forward {
    (
        Repo { $($own:ident),* }
        $( $trait:ident { $( fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty; )* } )*
    ) => {
        /// Every repository method that can be broken, by name.
        pub const METHODS: &[&str] = &[$(stringify!($own),)* $($(stringify!($name),)*)*];

        $(
            #[async_trait]
            impl $trait for FaultyRepo {
                $(
                    async fn $name(&self $(, $arg: $ty)*) -> $ret {
                        self.call(stringify!($name), self.inner.$name($($arg),*)).await
                    }
                )*
            }
        )*
    };
}

forward! {
    Repo { migrate, ping, database_backup }
    JobRepo {
        fn job_insert(&self, p: JobInsertParams) -> RepoResult<(JobRecord, bool)>;
        fn job_get(&self, id: &str) -> RepoResult<Option<JobRecord>>;
        fn job_history(&self, id: &str) -> RepoResult<Vec<HistoryRecord>>;
        fn job_list(&self, p: JobListParams) -> RepoResult<Vec<JobRecord>>;
        fn job_list_window_end(&self, p: &JobListParams) -> RepoResult<Option<String>>;
        fn job_deliver(&self, worker_id: &str, max: i64, now: i64) -> RepoResult<Vec<JobRecord>>;
        fn job_deliver_started(&self, worker_id: &str, max: i64, now: i64)
            -> RepoResult<Vec<JobRecord>>;
        fn job_start(&self, worker_id: &str, job_id: &str, attempt: i64, now: i64)
            -> RepoResult<JobRecord>;
        fn job_start_pulling(&self, worker_id: &str, job_id: &str, attempt: i64, now: i64)
            -> RepoResult<JobRecord>;
        fn job_finish(&self, p: JobFinishParams) -> RepoResult<JobRecord>;
        fn job_cancel(&self, id: &str, now: i64) -> RepoResult<JobRecord>;
    }
    JobBatchRepo {
        fn job_insert_many(&self, ps: Vec<JobInsertParams>)
            -> RepoResult<Vec<(JobRecord, bool)>>;
        fn job_start_many(&self, worker_id: &str, attempts: &[(String, i64)], now: i64)
            -> RepoResult<Vec<RepoResult<JobRecord>>>;
        fn job_finish_many(&self, ps: Vec<JobFinishParams>)
            -> RepoResult<Vec<RepoResult<JobRecord>>>;
    }
    WorkerRepo {
        fn worker_register(&self, p: WorkerRegisterParams) -> RepoResult<WorkerRecord>;
        fn worker_heartbeat(&self, p: WorkerHeartbeatParams) -> RepoResult<HeartbeatOutcome>;
        fn worker_stop_list(&self, worker_id: &str, running_job_ids: &[String])
            -> RepoResult<Vec<gantry_api::StopJob>>;
        fn worker_get(&self, id: &str) -> RepoResult<Option<WorkerRecord>>;
        fn worker_by_token_hash(&self, hash: &str) -> RepoResult<Option<String>>;
        fn worker_list(&self) -> RepoResult<Vec<(WorkerRecord, Vec<String>)>>;
    }
    SchedulerRepo {
        fn job_place(&self, now: i64, limit: i64) -> RepoResult<PlaceOutcome>;
        fn job_next_due(&self) -> RepoResult<Option<i64>>;
        fn job_expire_deadlines(&self, deadline_before: i64, now: i64, limit: i64)
            -> RepoResult<SweepCounts>;
        fn job_requeue_unstarted(&self, assigned_before: i64, now: i64, limit: i64)
            -> RepoResult<SweepCounts>;
        fn worker_expire_heartbeats(&self, heartbeat_before: i64, now: i64, limit: i64)
            -> RepoResult<SweepCounts>;
        fn job_end_holds(&self, now: i64, limit: i64) -> RepoResult<SweepCounts>;
        fn worker_end_cooldowns(&self, now: i64) -> RepoResult<SweepCounts>;
        fn lease_acquire(&self, name: &str, holder: &str, now: i64, expires_at: i64)
            -> RepoResult<bool>;
    }
    ReportRepo {
        fn job_counts_live(&self) -> RepoResult<Vec<(String, i64)>>;
        fn job_finished_between(&self, from: i64, to: i64) -> RepoResult<Vec<(String, i64)>>;
        fn report_summary(&self, from: i64, to: i64, group_by: &str)
            -> RepoResult<Vec<gantry_api::ReportGroup>>;
    }
    MaintenanceRepo {
        fn job_rollup(&self, ended_before: i64, limit: i64) -> RepoResult<u64>;
        fn job_prune_outputs(&self, ended_before: i64, limit: i64) -> RepoResult<(u64, u64)>;
        fn job_prune(&self, ended_before: i64, limit: i64) -> RepoResult<(u64, u64)>;
        fn upload_prune(&self, stored_before: i64, limit: i64) -> RepoResult<u64>;
        fn rollup_prune(&self, hour_before: i64) -> RepoResult<u64>;
        fn prune_preview(&self, cutoffs: PruneCutoffs) -> RepoResult<PruneCounts>;
        fn database_compact(&self) -> RepoResult<()>;
    }
    UploadRepo {
        fn upload_insert(&self, p: UploadInsertParams) -> RepoResult<()>;
        fn upload_get(&self, id: &str) -> RepoResult<Option<UploadRecord>>;
    }
}

#[async_trait]
impl Repo for FaultyRepo {
    fn dialect(&self) -> Dialect {
        self.inner.dialect()
    }

    async fn migrate(&self) -> RepoResult<usize> {
        self.call("migrate", self.inner.migrate()).await
    }

    async fn ping(&self) -> RepoResult<()> {
        self.call("ping", self.inner.ping()).await
    }

    async fn database_backup(&self, dest: &str) -> RepoResult<()> {
        self.call("database_backup", self.inner.database_backup(dest))
            .await
    }
}
