//! The batch routes: create-batch refuses a batch with one bad job and creates nothing;
//! start-batch and submit-result-batch answer per item, and a refused item changes nothing;
//! a poll carries results the same way.

use super::*;
use gantry_api::JobStatus;

async fn create_batch_is_all_or_nothing_and_keeps_order(db: TestDb) {
    let server = TestServer::start_steady(&db).await;
    let good = json!({"command": "true", "requiredCpu": 0.1, "requiredRamMb": 16});
    let bad = json!({"command": "  "});
    assert_error(
        &server
            .post("/api/jobs/create-batch", &json!({"jobs": [good, bad]}))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        Some("jobs[1].command"),
    );
    assert_error(
        &server
            .post("/api/jobs/create-batch", &json!({"jobs": []}))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        Some("jobs"),
    );
    let too_many = vec![good.clone(); 1001];
    assert_error(
        &server
            .post("/api/jobs/create-batch", &json!({"jobs": too_many}))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        Some("jobs"),
    );
    assert_eq!(job_count(&server).await, 0, "nothing created");

    let keyed = json!({"command": "echo once", "idempotencyKey": "k"});
    let (status, body) = server
        .post(
            "/api/jobs/create-batch",
            &json!({"jobs": [good, keyed.clone(), {"command": "echo 3"}, keyed]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let jobs = body["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 4);
    assert_eq!(jobs[0]["command"], "true");
    assert_eq!(jobs[2]["command"], "echo 3");
    assert_eq!(jobs[1]["id"], jobs[3]["id"], "one key, one job");
    assert_eq!(job_count(&server).await, 3);
    server.stop().await;
}

async fn worker_batches_answer_per_item(db: TestDb) {
    let server = TestServer::start_steady(&db).await;
    let w1 = SimWorker::register(&server, "w1", 4.0, 4096, 8).await;
    let w2 = SimWorker::register(&server, "w2", 0.5, 64, 1).await;
    let (_, created) = server
        .post(
            "/api/jobs/create-batch",
            &json!({"jobs": vec![json!({"command": "true", "requiredCpu": 1, "requiredRamMb": 128}); 3]}),
        )
        .await;
    let ids: Vec<String> = created["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap().to_string())
        .collect();
    let mut got = Vec::new();
    while got.len() < 3 {
        got.extend(w1.poll(8, 2_000).await.jobs);
    }
    let starts: Vec<Value> = got
        .iter()
        .map(|j| json!({"jobId": j.id, "attempt": j.attempts}))
        .collect();
    start_batch_answers_per_item(&w1, &w2, &starts).await;
    submit_result_batch_answers_per_item(&server, &w1, &ids).await;
    server.stop().await;
}

/// A bad item refuses the whole start batch; otherwise each item gets its own answer: w2
/// holds none of `starts`, w1 starts them all, and an unknown job is named.
async fn start_batch_answers_per_item(w1: &SimWorker<'_>, w2: &SimWorker<'_>, starts: &[Value]) {
    assert_error(
        &w1.call(
            "/api/jobs/start-batch",
            json!({"workerId": "w1", "jobs": [{"jobId": "bad id!", "attempt": 1}]}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        Some("jobs[0].jobId"),
    );
    let (status, answer) = w2
        .call(
            "/api/jobs/start-batch",
            json!({"workerId": "w2", "jobs": starts}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["error"]["code"] == "not_holder"));

    let mut items = starts.to_vec();
    items.push(json!({"jobId": "00000000-0000-0000-0000-000000000000", "attempt": 1}));
    let (status, answer) = w1
        .call(
            "/api/jobs/start-batch",
            json!({"workerId": "w1", "jobs": items}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    for r in &results[..3] {
        assert_eq!(r["job"]["status"], "RUNNING", "{r}");
    }
    assert_eq!(results[3]["error"]["code"], "unknown_job");
}

/// A bad item refuses the whole result batch; otherwise each result is answered on its own,
/// and a repeated one is refused without giving a slot back twice. `ids` are w1's three
/// running jobs.
async fn submit_result_batch_answers_per_item(
    server: &TestServer,
    w1: &SimWorker<'_>,
    ids: &[String],
) {
    let result = |id: &str, exit: i64| json!({"jobId": id, "attempt": 1, "exitCode": exit});
    assert_error(
        &w1.call(
            "/api/jobs/submit-result-batch",
            json!({"workerId": "w1", "results": [{"workerId": "w2", "jobId": ids[0], "attempt": 1}]}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        Some("results[0].workerId"),
    );
    let (status, answer) = w1
        .call(
            "/api/jobs/submit-result-batch",
            json!({"workerId": "w1", "results": [result(&ids[0], 0), result(&ids[1], 2), result(&ids[0], 0)]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results[0]["job"]["status"], "COMPLETED");
    assert_eq!(results[1]["job"]["status"], "FAILED");
    assert_eq!(results[2]["error"]["code"], "wrong_state");
    assert_eq!(server.status(&ids[2]).await.job.status, JobStatus::Running);
    let workers = server.workers().await;
    let w1_state = workers.workers.iter().find(|w| w.id == "w1").unwrap();
    assert_eq!(
        (w1_state.current_job_ids.len(), w1_state.reserved_ram_mb),
        (1, 128),
        "two slots given back, once each"
    );
}

/// A poll can carry results, recorded before jobs are handed out (so the slot they free
/// takes the next job in the same call), and ask for its jobs started on delivery.
async fn a_poll_carries_results_and_delivers_jobs_started(db: TestDb) {
    let server = TestServer::start_steady(&db).await;
    let w1 = SimWorker::register(&server, "w1", 1.0, 1024, 1).await;
    let job = json!({"command": "true", "requiredCpu": 1, "requiredRamMb": 128});
    let (_, created) = server
        .post(
            "/api/jobs/create-batch",
            &json!({"jobs": [job.clone(), job]}),
        )
        .await;
    let ids: Vec<&str> = created["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    let poll = |results: Value| {
        json!({"workerId": "w1", "max": 1, "waitMs": 2000, "startOnDelivery": true,
            "runningJobIds": [], "results": results})
    };
    let (status, first) = w1.call("/api/jobs/get-job", poll(json!([]))).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["jobs"][0]["id"], ids[0]);
    assert_eq!(first["jobs"][0]["status"], "RUNNING", "started on delivery");
    assert!(
        first.get("results").is_none(),
        "no results carried, none answered"
    );

    let result = json!({"workerId": "w1", "jobId": ids[0], "attempt": 1, "exitCode": 0});
    let foreign = json!({"workerId": "w2", "jobId": ids[0], "attempt": 1, "exitCode": 0});
    assert_error(
        &w1.call("/api/jobs/get-job", poll(json!([foreign]))).await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        Some("results[0].workerId"),
    );
    assert_eq!(server.status(ids[0]).await.job.status, JobStatus::Running);

    let (status, second) = w1
        .call("/api/jobs/get-job", poll(json!([result.clone()])))
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["results"][0]["job"]["status"], "COMPLETED");
    assert_eq!(
        second["jobs"][0]["id"], ids[1],
        "the freed slot took the next job"
    );
    assert_eq!(second["jobs"][0]["status"], "RUNNING");
    let mut repeat = poll(json!([result]));
    repeat["waitMs"] = json!(0);
    let (_, again) = w1.call("/api/jobs/get-job", repeat).await;
    assert_eq!(again["results"][0]["error"]["code"], "wrong_state");
    server.stop().await;
}

crate::common::on_both_databases!(
    create_batch_is_all_or_nothing_and_keeps_order,
    worker_batches_answer_per_item,
    a_poll_carries_results_and_delivers_jobs_started,
);
