//! Wake-ups for workers long-polling `get-job`.
//!
//! Only connection state lives here (one `Notify` per worker that ever polled), never a job
//! or a worker's state: the database stays the one source of truth, and a poller re-reads it
//! when woken. Several server replicas do not share these wake-ups, so pollers also re-read
//! the database on a short timer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// One wake-up signal per worker.
#[derive(Debug, Default)]
pub struct Waiters {
    // A std mutex: it is held only to look up or insert an entry, never across an await.
    by_worker: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Waiters {
    /// The signal a poller of `worker_id` waits on.
    pub fn subscribe(&self, worker_id: &str) -> Arc<Notify> {
        let mut map = self.by_worker.lock().expect("waiters lock");
        map.entry(worker_id.to_string())
            .or_insert_with(|| Arc::new(Notify::new()))
            .clone()
    }

    /// Wakes the pollers of one worker: something changed for it.
    pub fn wake(&self, worker_id: &str) {
        let map = self.by_worker.lock().expect("waiters lock");
        if let Some(notify) = map.get(worker_id) {
            notify.notify_waiters();
        }
    }

    /// Wakes every poller (after a sweep that may have stopped jobs anywhere).
    pub fn wake_all(&self) {
        let map = self.by_worker.lock().expect("waiters lock");
        for notify in map.values() {
            notify.notify_waiters();
        }
    }
}
