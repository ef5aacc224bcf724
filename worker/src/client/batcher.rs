//! Coalesces the start and result calls of concurrent attempts into the batch routes: each
//! call waits at most the batching window (counted from the first call of a batch) for others
//! to join it, a batch holds at most a cap of calls, and every caller gets back exactly what
//! the single route would have told it (the job, or the refusal: a conflict is "not ours").
//!
//! A batch is sent on its own task, so the next one gathers while one is in flight (a result
//! retried for minutes holds back nobody else). A whole batch refused as bad input (400), or
//! still failing after a few tries (a 5xx, the server unreachable), is sent again call by
//! call with the caller's own retry, so one bad item fails alone and never holds back the
//! others, as it would on its own.

use super::{ClientError, Retry, ServerClient};
use gantry_api::{
    BatchOutcome, BatchResponse, ErrorDetail, Job, JobAttempt, StartJobRequest, StartJobsRequest,
    SubmitResultRequest, SubmitResultsRequest,
};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

/// What a caller gets back: the job as the call left it, or why not.
pub type CallResult = Result<Job, ClientError>;

/// How calls are gathered into batches.
#[derive(Debug, Clone, Copy)]
pub struct BatchSettings {
    /// The longest a call waits for others; zero sends what is already queued at once.
    pub window: Duration,
    /// The most calls in one batch.
    pub max_items: usize,
}

/// One kind of call sent in batches: how to send a batch of them, and one alone.
#[async_trait::async_trait]
pub trait BatchRoute: Send + Sync + 'static {
    /// The single call's body.
    type Item: Send + Sync + 'static;

    /// The worker the call is made for (a batch names one).
    fn worker_of(item: &Self::Item) -> &str;

    /// Sends `items` (all for `worker_id`) as one batch call.
    async fn send_batch(
        &self,
        worker_id: &str,
        items: &[Self::Item],
        retry: &Retry,
    ) -> Result<BatchResponse, ClientError>;

    /// Sends one call on the single route.
    async fn send_one(&self, item: &Self::Item, retry: &Retry) -> CallResult;
}

/// Tries of one batch call before its calls are sent one by one.
const BATCH_TRIES: u32 = 3;

/// A queued call and where its answer goes.
pub type Queued<I> = (I, oneshot::Sender<CallResult>);

/// The calls waiting to be sent, shared by the callers, the gathering task and whoever takes
/// calls to carry them on another request ([`Batcher::take_queued`]).
struct Queue<I> {
    /// The calls, oldest first, each with the time it was queued.
    calls: Mutex<VecDeque<(Queued<I>, Instant)>>,
    /// Woken when a call is queued, and when the batcher is dropped.
    changed: Notify,
    /// Set when the batcher is dropped: the task sends what is left and ends.
    closed: AtomicBool,
}

impl<I> Queue<I> {
    /// Takes up to `max` calls, oldest first.
    fn take(&self, max: usize) -> Vec<Queued<I>> {
        let mut calls = self.calls.lock().expect("batch queue lock");
        let n = max.min(calls.len());
        calls.drain(..n).map(|(call, _)| call).collect()
    }
}

/// The front of a batcher: callers hand it calls and wait for their own answer.
pub struct Batcher<R: BatchRoute> {
    /// Shared with the gathering task.
    queue: Arc<Queue<R::Item>>,
}

impl<R: BatchRoute> Batcher<R> {
    /// A batcher sending on `route` with `retry` (the per-kind retry policy), gathering per
    /// `settings`. Its task ends when the batcher is dropped and the queue is empty.
    pub fn start(route: R, settings: BatchSettings, retry: Retry) -> Batcher<R> {
        let queue = Arc::new(Queue {
            calls: Mutex::new(VecDeque::new()),
            changed: Notify::new(),
            closed: AtomicBool::new(false),
        });
        tokio::spawn(gather(Arc::new(route), settings, retry, queue.clone()));
        Batcher { queue }
    }

    /// Makes one call through a batch; the answer is the single route's.
    pub async fn call(&self, item: R::Item) -> CallResult {
        self.enqueue(item).await
    }

    /// Queues one call now; the returned future is its answer (as [`Batcher::call`]'s).
    pub fn enqueue(&self, item: R::Item) -> impl std::future::Future<Output = CallResult> {
        let (tx, rx) = oneshot::channel();
        self.requeue(vec![(item, tx)]);
        async move { rx.await.unwrap_or(Err(ClientError::Abandoned)) }
    }

    /// Takes up to `max` queued calls off the queue, oldest first, for the caller to send
    /// another way and answer each (with [`outcome`]); what it cannot send goes back through
    /// [`Batcher::requeue`].
    pub fn take_queued(&self, max: usize) -> Vec<Queued<R::Item>> {
        self.queue.take(max)
    }

    /// How many calls wait to be sent.
    pub fn queued(&self) -> usize {
        self.queue.calls.lock().expect("batch queue lock").len()
    }

    /// Queues calls (again), to be sent in the next batch.
    pub fn requeue(&self, calls: Vec<Queued<R::Item>>) {
        let now = Instant::now();
        self.queue
            .calls
            .lock()
            .expect("batch queue lock")
            .extend(calls.into_iter().map(|c| (c, now)));
        self.queue.changed.notify_one();
    }
}

impl<R: BatchRoute> Drop for Batcher<R> {
    fn drop(&mut self) {
        self.queue.closed.store(true, Ordering::Release);
        self.queue.changed.notify_one();
    }
}

/// An item's outcome in a batch answer, as the single route would have answered it.
pub fn outcome(item: BatchOutcome) -> CallResult {
    outcome_of(item.job, item.error)
}

/// Gathers calls into batches and sends each on its own task: a batch goes when it is full
/// or when its oldest call has waited the window.
async fn gather<R: BatchRoute>(
    route: Arc<R>,
    settings: BatchSettings,
    retry: Retry,
    queue: Arc<Queue<R::Item>>,
) {
    let cap = settings.max_items.max(1);
    loop {
        let changed = queue.changed.notified();
        let (oldest, len) = {
            let calls = queue.calls.lock().expect("batch queue lock");
            (calls.front().map(|(_, at)| *at), calls.len())
        };
        let Some(oldest) = oldest else {
            if queue.closed.load(Ordering::Acquire) {
                return;
            }
            changed.await;
            continue;
        };
        let due = oldest + settings.window;
        let closed = queue.closed.load(Ordering::Acquire);
        if len < cap && !closed && Instant::now() < due {
            tokio::select! {
                _ = changed => {}
                _ = tokio::time::sleep_until(due) => {}
            }
            continue;
        }
        let batch = queue.take(cap);
        if batch.is_empty() {
            continue;
        }
        let (route, retry) = (route.clone(), retry.clone());
        tokio::spawn(async move { send(&*route, batch, &retry).await });
    }
}

/// Sends a gathered batch (split per worker id) and answers every caller.
async fn send<R: BatchRoute>(route: &R, mut batch: Vec<Queued<R::Item>>, retry: &Retry) {
    while !batch.is_empty() {
        let worker = R::worker_of(&batch[0].0).to_string();
        let split = batch
            .iter()
            .position(|(item, _)| R::worker_of(item) != worker)
            .unwrap_or(batch.len());
        let rest = batch.split_off(split);
        send_group(route, &worker, batch, retry).await;
        batch = rest;
    }
}

/// Sends calls of one worker as one batch; falls back to single calls on a 400.
async fn send_group<R: BatchRoute>(
    route: &R,
    worker: &str,
    group: Vec<Queued<R::Item>>,
    retry: &Retry,
) {
    let (items, replies): (Vec<_>, Vec<_>) = group.into_iter().unzip();
    if let ([item], [_]) = (&items[..], &replies[..]) {
        let one = route.send_one(item, retry).await;
        if let Some(reply) = replies.into_iter().next() {
            let _ = reply.send(one);
        }
        return;
    }
    // A batch is tried a few times only: a failure that outlasts them may be one item's (a
    // result the server cannot store), so each call is then sent alone with its own retry.
    let batch_retry = Retry::times(
        retry
            .max_tries
            .map_or(BATCH_TRIES, |max| max.min(BATCH_TRIES)),
        &retry.give_up,
    );
    match route.send_batch(worker, &items, &batch_retry).await {
        Ok(resp) if resp.results.len() == items.len() => {
            for (outcome, reply) in resp.results.into_iter().zip(replies) {
                let _ = reply.send(outcome_of(outcome.job, outcome.error));
            }
        }
        Ok(resp) => {
            let e = format!("{} outcomes for {} items", resp.results.len(), items.len());
            for reply in replies {
                let _ = reply.send(Err(ClientError::Decode(e.clone())));
            }
        }
        Err(e) if e.is_retryable() || matches!(e, ClientError::Refused { status: 400, .. }) => {
            for (item, reply) in items.iter().zip(replies) {
                let _ = reply.send(route.send_one(item, retry).await);
            }
        }
        Err(e) => {
            for reply in replies {
                let _ = reply.send(Err(duplicate(&e)));
            }
        }
    }
}

/// One item's outcome as the single route would have answered it.
fn outcome_of(job: Option<Job>, error: Option<ErrorDetail>) -> CallResult {
    match (job, error) {
        (_, Some(e)) => Err(ClientError::Refused {
            status: status_of(&e.code),
            code: e.code,
            message: e.message,
            field: e.field,
        }),
        (Some(job), None) => Ok(job),
        (None, None) => Err(ClientError::Decode(
            "an outcome with no job and no error".into(),
        )),
    }
}

/// The HTTP status the single route gives a refusal with this code: the unknowns are 404,
/// bad input 400, every other refusal of a job's state a 409.
fn status_of(code: &str) -> u16 {
    match code {
        "unknown_job" | "unknown_worker" | "not_found" => 404,
        "invalid_input" => 400,
        "unauthorized" => 401,
        "forbidden" => 403,
        _ => 409,
    }
}

/// The same failure again, for each caller of a batch that failed as a whole.
fn duplicate(e: &ClientError) -> ClientError {
    match e {
        ClientError::Refused {
            status,
            code,
            message,
            field,
        } => ClientError::Refused {
            status: *status,
            code: code.clone(),
            message: message.clone(),
            field: field.clone(),
        },
        ClientError::Transport(m) => ClientError::Transport(m.clone()),
        ClientError::Decode(m) => ClientError::Decode(m.clone()),
        ClientError::BadUrl(m) => ClientError::BadUrl(m.clone()),
        ClientError::Abandoned => ClientError::Abandoned,
        ClientError::Io(e) => ClientError::Io(std::io::Error::new(e.kind(), e.to_string())),
    }
}

/// Starts on `POST /api/jobs/start-batch` (pulling starts too: the item says so).
pub struct StartRoute(pub Arc<ServerClient>);

#[async_trait::async_trait]
impl BatchRoute for StartRoute {
    type Item = StartJobRequest;

    fn worker_of(item: &StartJobRequest) -> &str {
        &item.worker_id
    }

    async fn send_batch(
        &self,
        worker_id: &str,
        items: &[StartJobRequest],
        retry: &Retry,
    ) -> Result<BatchResponse, ClientError> {
        let body = StartJobsRequest {
            worker_id: worker_id.to_string(),
            jobs: items
                .iter()
                .map(|s| JobAttempt {
                    job_id: s.job_id.clone(),
                    attempt: s.attempt,
                    pulling: s.pulling,
                })
                .collect(),
        };
        self.0.start_jobs(&body, retry).await
    }

    async fn send_one(&self, item: &StartJobRequest, retry: &Retry) -> CallResult {
        self.0.start_job(item, retry).await
    }
}

/// Results on `POST /api/jobs/submit-result-batch`.
pub struct ResultRoute(pub Arc<ServerClient>);

#[async_trait::async_trait]
impl BatchRoute for ResultRoute {
    type Item = SubmitResultRequest;

    fn worker_of(item: &SubmitResultRequest) -> &str {
        &item.worker_id
    }

    async fn send_batch(
        &self,
        worker_id: &str,
        items: &[SubmitResultRequest],
        retry: &Retry,
    ) -> Result<BatchResponse, ClientError> {
        let body = SubmitResultsRequest {
            worker_id: worker_id.to_string(),
            results: items.to_vec(),
        };
        self.0.submit_results(&body, retry).await
    }

    async fn send_one(&self, item: &SubmitResultRequest, retry: &Retry) -> CallResult {
        self.0.submit_result(item, retry).await
    }
}

#[cfg(test)]
#[path = "batcher_tests.rs"]
mod tests;
