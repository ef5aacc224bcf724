//! Cross-replica wake-ups: every replica on one PostgreSQL database tells the others, through
//! `LISTEN`/`NOTIFY`, which workers have news (a job placed, a job cancelled), so a job placed
//! by replica A reaches an agent long-polling replica B at once instead of at B's recheck.
//!
//! Two tasks per replica: the publisher sends what [`Waiters`] queued, gathered into as few
//! messages as fit; the listener wakes local pollers for what the others sent. The listener
//! probes its own session after every (re)connect: a session that does not hear its own probe
//! (behind a transaction pooler, say) is reported, and the pollers' recheck carries on alone.
//! After a lost session it wakes every local poller, for what it may have missed.

pub mod message;

use crate::repo::postgres::wake_channel::{WakeReceiver, WakeSender};
use crate::waiters::{Waiters, Wake};
use message::Body;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How long a fresh listening session may take to hear its own probe.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// First wait before reconnecting a lost session; doubled per failure up to [`RECONNECT_MAX`].
pub const RECONNECT_MIN: Duration = Duration::from_millis(100);
/// Longest wait between reconnects.
pub const RECONNECT_MAX: Duration = Duration::from_secs(5);
/// Most wake-ups one send gathers.
const GATHER_MAX: usize = 1_024;

/// The running bus tasks.
pub struct WakeBus {
    tasks: JoinSet<()>,
}

impl WakeBus {
    /// Starts publishing `outbox` and listening, on the PostgreSQL database at `url`, as
    /// replica `replica`; the tasks stop when `shutdown` fires.
    pub fn start(
        url: &str,
        replica: String,
        waiters: Arc<Waiters>,
        outbox: mpsc::Receiver<Wake>,
        shutdown: CancellationToken,
    ) -> WakeBus {
        let mut tasks = JoinSet::new();
        tasks.spawn(publish(
            WakeSender::new(url),
            replica.clone(),
            outbox,
            shutdown.clone(),
        ));
        tasks.spawn(listen(url.to_string(), replica, waiters, shutdown));
        WakeBus { tasks }
    }

    /// Waits for the tasks to stop, at most `drain`.
    pub async fn join(mut self, drain: Duration) {
        let all = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(drain, all).await.is_err() {
            self.tasks.abort_all();
        }
    }
}

/// Sends queued wake-ups until `shutdown`. A failed send is logged once per outage and its
/// wake-ups dropped: the other replicas' pollers recheck the database anyway.
async fn publish(
    mut sender: WakeSender,
    replica: String,
    mut outbox: mpsc::Receiver<Wake>,
    shutdown: CancellationToken,
) {
    let mut failing = false;
    loop {
        let first = tokio::select! {
            _ = shutdown.cancelled() => return,
            wake = outbox.recv() => match wake {
                Some(wake) => wake,
                None => return,
            },
        };
        let mut wakes = vec![first];
        while wakes.len() < GATHER_MAX {
            match outbox.try_recv() {
                Ok(wake) => wakes.push(wake),
                Err(_) => break,
            }
        }
        for text in message::encode(&replica, &wakes) {
            match sender.send(&text).await {
                Ok(()) => {
                    if failing {
                        tracing::info!("wake-ups reach the other replicas again");
                        failing = false;
                    }
                    metrics::counter!(crate::metrics::WAKE_MESSAGES, "direction" => "sent")
                        .increment(1);
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(
                            "could not send wake-ups to the other replicas ({e}); their long \
                             polls fall back to the recheck"
                        );
                        failing = true;
                    }
                    break;
                }
            }
        }
    }
}

/// Listens until `shutdown`, reconnecting with backoff.
async fn listen(url: String, replica: String, waiters: Arc<Waiters>, shutdown: CancellationToken) {
    let mut backoff = RECONNECT_MIN;
    loop {
        set_listening(false);
        let session = tokio::select! {
            _ = shutdown.cancelled() => return,
            session = WakeReceiver::connect(&url) => session,
        };
        match session {
            Ok(receiver) => {
                // Whatever was sent while no session listened is unknown: re-read everything.
                waiters.wake_all_here();
                let heard = hear(receiver, &url, &replica, &waiters, &shutdown).await;
                if heard {
                    backoff = RECONNECT_MIN;
                }
                if shutdown.is_cancelled() {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(
                    "could not listen for other replicas' wake-ups ({e}); retrying in {backoff:?}"
                );
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(RECONNECT_MAX);
        waiters.wake_all_here();
    }
}

/// Reads one session until it is lost or `shutdown` fires; whether it heard its own probe.
async fn hear(
    mut receiver: WakeReceiver,
    url: &str,
    replica: &str,
    waiters: &Waiters,
    shutdown: &CancellationToken,
) -> bool {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    if let Err(e) = WakeSender::new(url)
        .send(&message::probe(replica, &nonce))
        .await
    {
        tracing::warn!("could not probe the wake-up session ({e})");
    }
    let probe_deadline = tokio::time::sleep(PROBE_TIMEOUT);
    tokio::pin!(probe_deadline);
    let mut verified = false;
    let mut reported = false;
    loop {
        let next = tokio::select! {
            _ = shutdown.cancelled() => return verified,
            _ = &mut probe_deadline, if !verified && !reported => {
                reported = true;
                tracing::warn!(
                    "the wake-up session did not hear its own probe within {PROBE_TIMEOUT:?}: \
                     is it behind a transaction pooler such as PgBouncer? Set \
                     GANTRY_WAKE_DATABASE_URL to a direct connection to PostgreSQL. Long polls \
                     find jobs placed by other replicas at their recheck meanwhile"
                );
                continue;
            }
            next = receiver.recv() => next,
        };
        let text = match next {
            Ok(Some(text)) => text,
            Ok(None) => {
                tracing::warn!("the wake-up session was lost; reconnecting");
                return verified;
            }
            Err(e) => {
                tracing::warn!("the wake-up session failed ({e}); reconnecting");
                return verified;
            }
        };
        let Some(msg) = message::decode(&text) else {
            tracing::debug!(text, "ignored a wake-up message gantry does not send");
            continue;
        };
        if msg.from == replica {
            if msg.body == Body::Probe(nonce.clone()) {
                verified = true;
                set_listening(true);
                if reported {
                    tracing::info!("the wake-up session hears its probe after all");
                }
            }
            continue;
        }
        metrics::counter!(crate::metrics::WAKE_MESSAGES, "direction" => "received").increment(1);
        match msg.body {
            Body::Workers(ids) => ids.iter().for_each(|id| waiters.wake_here(id)),
            Body::All => waiters.wake_all_here(),
            Body::Probe(_) => {}
        }
    }
}

/// Reports on `/metrics` whether this replica hears the others.
fn set_listening(up: bool) {
    metrics::gauge!(crate::metrics::WAKE_LISTENING).set(if up { 1.0 } else { 0.0 });
}
