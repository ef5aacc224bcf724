//! Wake-ups for workers long-polling `get-job`.
//!
//! Only connection state lives here (one `Notify` per worker that ever polled), never a job
//! or a worker's state: the database stays the one source of truth, and a poller re-reads it
//! when woken. On PostgreSQL every wake-up is also handed to the wake bus
//! ([`crate::wake_bus`]), which tells the other replicas; pollers still re-read the database
//! on a short timer, for a message that was lost.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, Notify};

/// Wake-ups queued for the other replicas before new ones are dropped (the pollers' recheck
/// still finds the jobs): only reached while the bus cannot send.
pub const OUTBOX_CAPACITY: usize = 4_096;

/// A wake-up for the other replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wake {
    /// One worker has news (a job placed on it, one of its jobs cancelled).
    Worker(String),
    /// Every worker may have news (a sweep stopped jobs anywhere).
    All,
}

/// One wake-up signal per worker, and the outbox to the other replicas.
#[derive(Debug, Default)]
pub struct Waiters {
    // A std mutex: it is held only to look up or insert an entry, never across an await.
    by_worker: Mutex<HashMap<String, Arc<Notify>>>,
    /// Where wake-ups for the other replicas go; `None` with a single replica's database
    /// (SQLite) or with the bus turned off.
    outbox: Option<mpsc::Sender<Wake>>,
}

impl Waiters {
    /// Waiters that also queue every wake-up for the other replicas, and the queue's end.
    pub fn with_outbox() -> (Waiters, mpsc::Receiver<Wake>) {
        let (tx, rx) = mpsc::channel(OUTBOX_CAPACITY);
        let waiters = Waiters {
            by_worker: Mutex::default(),
            outbox: Some(tx),
        };
        (waiters, rx)
    }

    /// The signal a poller of `worker_id` waits on.
    pub fn subscribe(&self, worker_id: &str) -> Arc<Notify> {
        let mut map = self.by_worker.lock().expect("waiters lock");
        map.entry(worker_id.to_string())
            .or_insert_with(|| Arc::new(Notify::new()))
            .clone()
    }

    /// Wakes the pollers of one worker, here and on the other replicas: something changed
    /// for it.
    pub fn wake(&self, worker_id: &str) {
        self.wake_here(worker_id);
        self.publish(Wake::Worker(worker_id.to_string()));
    }

    /// Wakes every poller, here and on the other replicas (after a sweep that may have
    /// stopped jobs anywhere).
    pub fn wake_all(&self) {
        self.wake_all_here();
        self.publish(Wake::All);
    }

    /// Wakes the pollers of one worker on this replica only (a message from another one).
    pub fn wake_here(&self, worker_id: &str) {
        let map = self.by_worker.lock().expect("waiters lock");
        if let Some(notify) = map.get(worker_id) {
            notify.notify_waiters();
        }
    }

    /// Wakes every poller on this replica only.
    pub fn wake_all_here(&self) {
        let map = self.by_worker.lock().expect("waiters lock");
        for notify in map.values() {
            notify.notify_waiters();
        }
    }

    /// Queues a wake-up for the other replicas; dropped when the outbox is full, since a
    /// poller's recheck finds the news anyway.
    fn publish(&self, wake: Wake) {
        if let Some(outbox) = &self.outbox {
            let _ = outbox.try_send(wake);
        }
    }
}
