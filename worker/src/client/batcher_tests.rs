//! The batcher against a scripted route (window, cap, per-item outcomes, refusals, the
//! fallback to single calls) and against a fake server that fails once (the retry).

use super::*;
use crate::fixtures::job;
use gantry_api::BatchOutcome;
use std::sync::Mutex;
use tokio_util::sync::CancellationToken;

/// An item: the worker and the job it names.
type Item = (String, String);

/// Answers every item by its job id: `gone*` unknown, `late*` refused as not ours, `bad*`
/// refuses the whole batch as bad input; records what was sent how.
#[derive(Default)]
struct Scripted {
    /// Each batch sent, as its worker and job ids.
    batches: Mutex<Vec<(String, Vec<String>)>>,
    /// Each single call, as its job id.
    singles: Mutex<Vec<String>>,
}

fn answer_for(id: &str) -> BatchOutcome {
    let refuse = |code: &str| BatchOutcome {
        job_id: id.into(),
        job: None,
        error: Some(ErrorDetail {
            code: code.into(),
            message: "no".into(),
            field: None,
        }),
    };
    if id.starts_with("gone") {
        refuse("unknown_job")
    } else if id.starts_with("late") {
        refuse("wrong_state")
    } else {
        BatchOutcome {
            job_id: id.into(),
            job: Some(job(id, 1)),
            error: None,
        }
    }
}

#[async_trait::async_trait]
impl BatchRoute for Arc<Scripted> {
    type Item = Item;

    fn worker_of(item: &Item) -> &str {
        &item.0
    }

    async fn send_batch(
        &self,
        worker_id: &str,
        items: &[Item],
        _retry: &Retry,
    ) -> Result<BatchResponse, ClientError> {
        let ids: Vec<String> = items.iter().map(|i| i.1.clone()).collect();
        self.batches
            .lock()
            .unwrap()
            .push((worker_id.into(), ids.clone()));
        if ids.iter().any(|i| i.starts_with("bad")) {
            return Err(ClientError::Refused {
                status: 400,
                code: "invalid_input".into(),
                message: "results[1].stdout".into(),
                field: None,
            });
        }
        if ids.iter().any(|i| i.starts_with("down")) {
            return Err(ClientError::Transport("connection refused".into()));
        }
        let results = ids.iter().map(|i| answer_for(i)).collect();
        Ok(BatchResponse { results })
    }

    async fn send_one(&self, item: &Item, _retry: &Retry) -> CallResult {
        self.singles.lock().unwrap().push(item.1.clone());
        if item.1.starts_with("down") {
            return Err(ClientError::Transport("connection refused".into()));
        }
        if item.1.starts_with("bad") {
            return Err(ClientError::Refused {
                status: 400,
                code: "invalid_input".into(),
                message: "stdout".into(),
                field: None,
            });
        }
        outcome_of(answer_for(&item.1).job, answer_for(&item.1).error)
    }
}

fn settings(window_ms: u64, max_items: usize) -> BatchSettings {
    BatchSettings {
        window: Duration::from_millis(window_ms),
        max_items,
    }
}

fn batcher(window_ms: u64, max_items: usize) -> (Arc<Scripted>, Arc<Batcher<Arc<Scripted>>>) {
    let route = Arc::new(Scripted::default());
    let retry = Retry::times(1, &CancellationToken::new());
    let b = Batcher::start(route.clone(), settings(window_ms, max_items), retry);
    (route, Arc::new(b))
}

/// Makes the calls at once and returns their answers in order.
async fn call_all(b: &Arc<Batcher<Arc<Scripted>>>, items: &[(&str, &str)]) -> Vec<CallResult> {
    let calls = items.iter().map(|(w, id)| {
        let b = b.clone();
        let item = (w.to_string(), id.to_string());
        tokio::spawn(async move { b.call(item).await })
    });
    let mut out = Vec::new();
    for call in calls.collect::<Vec<_>>() {
        out.push(call.await.unwrap());
    }
    out
}

#[tokio::test]
async fn calls_within_the_window_go_in_one_batch_and_none_waits_much_longer() {
    let (route, b) = batcher(50, 100);
    let began = std::time::Instant::now();
    let answers = call_all(&b, &[("w", "a"), ("w", "b"), ("w", "c")]).await;
    let waited = began.elapsed();
    assert!(answers.iter().all(|a| a.is_ok()), "{answers:?}");
    let batches = route.batches.lock().unwrap().clone();
    assert_eq!(
        batches,
        vec![("w".into(), vec!["a".into(), "b".into(), "c".into()])]
    );
    assert!(waited < Duration::from_millis(500), "held back {waited:?}");

    // One call alone waits out the window, then goes on the single route.
    let began = std::time::Instant::now();
    b.call(("w".into(), "d".into())).await.unwrap();
    let waited = began.elapsed();
    assert!(waited >= Duration::from_millis(45), "{waited:?}");
    assert!(waited < Duration::from_millis(500), "{waited:?}");
    assert_eq!(*route.singles.lock().unwrap(), vec!["d".to_string()]);
}

#[tokio::test]
async fn a_zero_window_sends_at_once() {
    let (route, b) = batcher(0, 100);
    let began = std::time::Instant::now();
    for id in ["a", "b"] {
        b.call(("w".into(), id.into())).await.unwrap();
    }
    assert!(began.elapsed() < Duration::from_millis(200));
    assert_eq!(
        route.singles.lock().unwrap().len(),
        2,
        "nothing to wait for"
    );
}

#[tokio::test]
async fn a_batch_holds_at_most_the_cap() {
    let (route, b) = batcher(100, 2);
    let items = [("w", "a"), ("w", "b"), ("w", "c"), ("w", "d"), ("w", "e")];
    let answers = call_all(&b, &items).await;
    assert!(answers.iter().all(|a| a.is_ok()));
    let batches = route.batches.lock().unwrap().clone();
    let sent: usize = batches.iter().map(|(_, ids)| ids.len()).sum::<usize>()
        + route.singles.lock().unwrap().len();
    assert_eq!(sent, 5, "{batches:?}");
    assert!(batches.iter().all(|(_, ids)| ids.len() <= 2), "{batches:?}");
}

#[tokio::test]
async fn each_caller_gets_its_own_items_outcome() {
    let (_route, b) = batcher(50, 100);
    let answers = call_all(&b, &[("w", "a"), ("w", "late-1"), ("w", "gone-1")]).await;
    assert_eq!(answers[0].as_ref().unwrap().id, "a");
    let late = answers[1].as_ref().unwrap_err();
    assert!(late.is_conflict(), "a refused start is not ours: {late}");
    match &answers[2] {
        Err(ClientError::Refused { status, code, .. }) => {
            assert_eq!((*status, code.as_str()), (404, "unknown_job"))
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_batch_refused_as_bad_input_is_sent_again_call_by_call() {
    let (route, b) = batcher(50, 100);
    let answers = call_all(&b, &[("w", "a"), ("w", "bad-1"), ("w", "c")]).await;
    assert!(answers[0].is_ok() && answers[2].is_ok(), "{answers:?}");
    assert!(matches!(
        answers[1],
        Err(ClientError::Refused { status: 400, .. })
    ));
    assert_eq!(route.singles.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn a_failed_batch_is_sent_call_by_call_and_workers_are_never_mixed() {
    let (route, b) = batcher(50, 100);
    let answers = call_all(&b, &[("w", "down-1"), ("w", "b"), ("v", "c"), ("v", "d")]).await;
    // Only the item the server cannot take fails; its neighbour is answered on its own.
    assert!(matches!(answers[0], Err(ClientError::Transport(_))));
    assert!(answers[1].is_ok() && answers[2].is_ok() && answers[3].is_ok());
    assert_eq!(*route.singles.lock().unwrap(), ["down-1", "b"]);
    for (worker, ids) in route.batches.lock().unwrap().iter() {
        let want = if worker == "w" {
            ["down-1", "b"]
        } else {
            ["c", "d"]
        };
        assert_eq!(ids, &want, "{worker}");
    }
}

/// A fake server whose result batch route fails with a 503 first, then takes the batch.
async fn flaky_server(calls: Arc<Mutex<u32>>) -> String {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/api/jobs/submit-result-batch",
        post(move |axum::Json(body): axum::Json<SubmitResultsRequest>| {
            let calls = calls.clone();
            async move {
                *calls.lock().unwrap() += 1;
                if *calls.lock().unwrap() == 1 {
                    return Err(axum::http::StatusCode::SERVICE_UNAVAILABLE);
                }
                let results = body.results.iter().map(|r| answer_for(&r.job_id)).collect();
                Ok(axum::Json(BatchResponse { results }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn result(id: &str) -> SubmitResultRequest {
    SubmitResultRequest {
        worker_id: "w".into(),
        job_id: id.into(),
        attempt: 1,
        exit_code: Some(0),
        stdout: None,
        stderr: None,
        duration_ms: Some(1),
        error: None,
        timed_out: false,
        oom_killed: false,
        infrastructure_error: false,
        permanent: false,
        registry_error: false,
        usage: None,
    }
}

#[tokio::test]
async fn a_server_error_is_retried_and_the_batch_then_answered() {
    let calls = Arc::new(Mutex::new(0));
    let base = flaky_server(calls.clone()).await;
    let client = Arc::new(ServerClient::new(&base, None).unwrap());
    let retry = Retry::forever(&CancellationToken::new());
    let b = Arc::new(Batcher::start(
        ResultRoute(client),
        settings(50, 100),
        retry,
    ));
    let calls_made = ["a", "late-1"].map(|id| {
        let b = b.clone();
        tokio::spawn(async move { b.call(result(id)).await })
    });
    let [a, late] = calls_made;
    assert_eq!(a.await.unwrap().unwrap().id, "a");
    assert!(late.await.unwrap().unwrap_err().is_conflict());
    assert_eq!(*calls.lock().unwrap(), 2, "one 503, then the batch");
}

#[tokio::test]
async fn queued_calls_can_be_taken_answered_elsewhere_or_put_back() {
    let (route, b) = batcher(200, 100);
    let first = b.enqueue(("w".into(), "a".into()));
    let second = b.enqueue(("w".into(), "b".into()));
    assert_eq!(b.queued(), 2);
    // Taken before the window ends (as a poll carrying results does): never sent here.
    let mut taken = b.take_queued(1);
    assert_eq!(taken.len(), 1);
    let (item, reply) = taken.pop().unwrap();
    assert_eq!(item.1, "a");
    let _ = reply.send(outcome(answer_for("late-a")));
    assert!(matches!(
        first.await,
        Err(ClientError::Refused { status: 409, .. })
    ));
    // Put back, it goes with the next batch, beside the call still queued.
    let (tx, rx) = oneshot::channel();
    b.requeue(vec![(("w".into(), "c".into()), tx)]);
    assert!(second.await.is_ok());
    assert!(rx.await.unwrap().is_ok());
    assert_eq!(
        route.batches.lock().unwrap().clone(),
        vec![("w".into(), vec!["b".into(), "c".into()])]
    );
    assert!(route.singles.lock().unwrap().is_empty());
}
