//! The statements every dialect has, listed once: each dialect's `statements.rs` invokes
//! [`dialect_statements!`], which declares them there as constants holding that dialect's own
//! `sql/<name>.sql` text (and any statements only that dialect has).

/// Declares the listed statements in the invoking module, each as a constant holding the text
/// of `sql/<file>` beside that module, and `ALL` (name, text) for the tests.
macro_rules! declare_statements {
    ($($(#[$doc:meta])* $name:ident => $file:literal,)+) => {
        $($(#[$doc])* pub const $name: &str = include_str!(concat!("sql/", $file));)+

        /// Every statement as (name, SQL text).
        #[cfg(test)]
        pub const ALL: &[(&str, &str)] = &[$((stringify!($name), $name)),+];
    };
}

/// Declares every statement both dialects have, plus the invoking dialect's own (`$extra`,
/// in the same `NAME => "file.sql",` form).
macro_rules! dialect_statements {
    ($($extra:tt)*) => {
        $crate::repo::statements::declare_statements! {
            /// A job's history, oldest first.
            HISTORY_FOR_JOB => "history_for_job.sql",

            /// Appends one history row.
            HISTORY_INSERT => "history_insert.sql",

            /// Appends many history rows, in array order.
            HISTORY_INSERT_MANY => "history_insert_many.sql",

            /// The workers on which a job's attempts failed by the job's own fault, one row
            /// per such attempt (the evidence a later success elsewhere turns against them).
            HISTORY_JOB_FAULT_WORKERS => "history_job_fault_workers.sql",

            /// Keeps a job that fits no online worker out of the placement index, with the reason.
            JOB_BLOCK => "job_block.sql",

            /// The job holding an idempotency key.
            JOB_BY_IDEMPOTENCY_KEY => "job_by_idempotency_key.sql",

            /// Jobs per state that is not final, for the metrics gauge.
            JOB_COUNTS_LIVE => "job_counts_live.sql",

            /// One job.
            JOB_GET => "job_get.sql",

            /// Ends a job's hold on a worker (see migration V10).
            JOB_HOLD_CLEAR => "job_hold_clear.sql",

            /// Records a job's hold on a worker: worker, attempt, since, until.
            JOB_HOLD_SET => "job_hold_set.sql",

            /// One job, to change it (locked on PostgreSQL; SQLite's one writer is exclusive
            /// anyway).
            JOB_GET_FOR_UPDATE => "job_get_for_update.sql",

            /// Inserts a job with an idempotency key; on a used key inserts nothing and returns no
            /// row.
            JOB_INSERT => "job_insert.sql",

            /// Inserts a job without an idempotency key: it cannot conflict, and PostgreSQL's
            /// speculative insertion for ON CONFLICT would cost every insert extra work.
            JOB_INSERT_FRESH => "job_insert_fresh.sql",

            /// The earliest due time among PENDING jobs.
            JOB_NEXT_DUE => "job_next_due.sql",

            /// The worker started its attempt.
            JOB_START => "job_start.sql",

            /// Writes back every column a state change may touch.
            JOB_UPDATE => "job_update.sql",

            /// Marks many QUEUED jobs ASSIGNED (`$2` is now), each to its worker, as a new attempt.
            JOBS_ASSIGN_MANY => "jobs_assign_many.sql",

            /// Jobs by id, from a JSON array of ids.
            JOBS_BY_IDS => "jobs_by_ids.sql",

            /// Jobs by id from a JSON array of ids, to change them (on PostgreSQL locked in id
            /// order, so two batches touching the same jobs cannot deadlock).
            JOBS_BY_IDS_FOR_UPDATE => "jobs_by_ids_for_update.sql",

            /// Hands a worker its undelivered assigned jobs (at most `$2`, see the PostgreSQL file
            /// for why its pick is a materialized CTE).
            JOBS_DELIVER => "jobs_deliver.sql",

            /// Hands a worker its undelivered assigned jobs already RUNNING (at most `$2`), for
            /// an agent that starts each job the moment it arrives.
            JOBS_DELIVER_STARTED => "jobs_deliver_started.sql",

            /// Jobs that ended in a window, per final state, for the metrics counter.
            JOBS_FINISHED_BY_STATUS => "jobs_finished_by_status.sql",

            /// The jobs a worker holds, to change them (locked on PostgreSQL).
            JOBS_HELD_BY_WORKER => "jobs_held_by_worker.sql",

            /// Jobs whose hold on a worker reached its bound (migration V10), earliest first.
            JOBS_HOLDS_ENDED => "jobs_holds_ended.sql",

            /// The jobs holding a worker's reservation for an attempt that may still run there,
            /// to change them (locked on PostgreSQL).
            JOBS_HOLDS_ON_WORKER => "jobs_holds_on_worker.sql",

            /// Inserts many jobs; a row whose idempotency key is used inserts nothing and returns
            /// nothing.
            JOBS_INSERT_MANY => "jobs_insert_many.sql",

            /// Inserts many jobs none of which has an idempotency key (see `JOB_INSERT_FRESH`).
            JOBS_INSERT_MANY_FRESH => "jobs_insert_many_fresh.sql",

            /// RUNNING jobs past their deadline, oldest deadline first.
            JOBS_PAST_DEADLINE => "jobs_past_deadline.sql",

            /// Moves due PENDING jobs to QUEUED, at most `$2`.
            JOBS_PROMOTE_DUE => "jobs_promote_due.sql",

            /// Starts many ASSIGNED attempts of worker `$2` at `$3`; returns the ids and attempts
            /// it started.
            JOBS_START_MANY => "jobs_start_many.sql",

            /// Lets blocked jobs that fit a worker of this size back into the placement index.
            /// PENDING ones too: a job blocked at insert keeps its flag through promotion, so one
            /// left blocked here would never be placed.
            JOBS_UNBLOCK_FITTING => "jobs_unblock_fitting.sql",

            /// Whether a worker has an undelivered assignment (0 or 1), read before taking the
            /// write lock.
            JOBS_UNDELIVERED_EXIST => "jobs_undelivered_exist.sql",

            /// ASSIGNED jobs assigned long ago and never started.
            JOBS_UNSTARTED => "jobs_unstarted.sql",

            /// Writes back many jobs changed by lifecycle rules (`u_id` names each).
            JOBS_UPDATE_MANY => "jobs_update_many.sql",

            /// Takes or renews a lease unless another holder's is still valid.
            LEASE_ACQUIRE => "lease_acquire.sql",

            /// Checks the database answers.
            PING => "ping.sql",

            /// Queued jobs no larger than the given room, in queue order: what placement looks at
            /// when the head of the queue waits for room that is not free.
            QUEUE_FITTING => "queue_fitting.sql",

            /// The head of the queue (on PostgreSQL, rows another replica is placing are skipped).
            QUEUE_HEAD => "queue_head.sql",

            /// The first placeable job, if any, unlocked: whether a placement pass has anything to
            /// do.
            QUEUE_PEEK => "queue_peek.sql",

            /// Where a maintenance pass got to (`maintenance_cursors`).
            CURSOR_GET => "cursor_get.sql",

            /// As `CURSOR_GET`, locked for the pass that moves it (PostgreSQL).
            CURSOR_LOCK => "cursor_lock.sql",

            /// Moves a maintenance cursor.
            CURSOR_SET => "cursor_set.sql",

            /// The history rows of jobs (JSON array of ids), as the rollup reads them.
            HISTORY_FACTS => "history_facts.sql",

            /// Deletes the history rows of jobs (JSON array of ids).
            HISTORY_DELETE_FOR_JOBS => "history_delete_for_jobs.sql",

            /// Clears stdout and stderr of jobs (JSON array of ids).
            JOBS_CLEAR_OUTPUTS => "jobs_clear_outputs.sql",

            /// Deletes finished jobs (JSON array of ids).
            JOBS_DELETE => "jobs_delete.sql",

            /// Finished jobs past a cursor, in the order they ended.
            JOBS_ENDED_AFTER => "jobs_ended_after.sql",

            /// Finished jobs old enough to delete and already rolled up, oldest first.
            JOBS_PRUNABLE => "jobs_prunable.sql",

            /// What a prune would take, counted (`gantry prune --dry-run`).
            PRUNE_PREVIEW => "prune_preview.sql",

            /// Writes one rollup row whole.
            ROLLUP_UPSERT => "rollup_upsert.sql",

            /// Deletes the rollup rows of hours before a time.
            ROLLUPS_DELETE_BEFORE => "rollups_delete_before.sql",

            /// The rollup rows of the listed hours (JSON array).
            ROLLUPS_OF_HOURS => "rollups_of_hours.sql",

            /// The rollup rows of the hours in a window.
            ROLLUPS_IN_WINDOW => "rollups_in_window.sql",

            /// Deletes old input files no unfinished job names.
            UPLOADS_PRUNE => "uploads_prune.sql",

            /// One upload.
            UPLOAD_GET => "upload_get.sql",

            /// Stores an upload.
            UPLOAD_INSERT => "upload_insert.sql",

            /// The worker owning a token.
            WORKER_BY_TOKEN_HASH => "worker_by_token_hash.sql",

            /// The largest online capacity and the number of online workers, for reasons.
            WORKER_CAPACITY_SUMMARY => "worker_capacity_summary.sql",

            /// How many online workers could ever hold a job of this size (0 or 1).
            WORKER_FITS_ANY => "worker_fits_any.sql",

            /// One worker.
            WORKER_GET => "worker_get.sql",

            /// Records a heartbeat's metrics; brings an OFFLINE worker back.
            WORKER_HEARTBEAT => "worker_heartbeat.sql",

            /// Which jobs each worker holds.
            WORKER_HELD_JOB_IDS => "worker_held_job_ids.sql",

            /// Every worker.
            WORKER_LIST => "worker_list.sql",

            /// Marks a worker OFFLINE if it is still silent.
            WORKER_MARK_OFFLINE => "worker_mark_offline.sql",

            /// A failure: counts, and starts a cooldown (until $3) at the threshold ($2).
            WORKER_RECORD_FAILURE => "worker_record_failure.sql",

            /// A success: the failure count starts over.
            WORKER_RECORD_SUCCESS => "worker_record_success.sql",

            /// Gives back a held job's slot and resources.
            WORKER_RELEASE => "worker_release.sql",

            /// Gives back `$4` held jobs' slots and resources at once.
            WORKER_RELEASE_MANY => "worker_release_many.sql",

            /// Reserves `$4` slots and their resources on a worker at once, only if they are all
            /// free.
            WORKER_RESERVE_MANY => "worker_reserve_many.sql",

            /// Registers a worker or starts a new life of a known one.
            WORKER_UPSERT => "worker_upsert.sql",

            /// Ends cooldowns that ran out.
            WORKERS_END_COOLDOWNS => "workers_end_cooldowns.sql",

            /// Online workers, for placement: one row holding a JSON array of `WorkerCapacity`s in
            /// id order.
            WORKERS_FOR_PLACEMENT => "workers_for_placement.sql",

            /// Online workers silent since before $1.
            WORKERS_SILENT => "workers_silent.sql",

            $($extra)*
        }
    };
}

pub(crate) use declare_statements;
pub(crate) use dialect_statements;
