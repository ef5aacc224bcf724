//! Usage in results: a negative figure is refused with a 400 naming it, on the single and the
//! batch route, and changes nothing; a good one shows in status, on the job and on the
//! history entry that ended the attempt.

use super::*;
use gantry_api::JobStatus;

async fn results_carry_checked_usage_into_status(db: TestDb) {
    let server = TestServer::start_steady(&db).await;
    let w = SimWorker::register(&server, "w1", 4.0, 4096, 8).await;
    for _ in 0..3 {
        server
            .create(json!({"command": "true", "requiredRamMb": 64}))
            .await;
    }
    let mut jobs = Vec::new();
    while jobs.len() < 3 {
        jobs.extend(w.poll(8, 2_000).await.jobs);
    }
    for job in &jobs {
        assert_eq!(w.start(job).await.0, StatusCode::OK);
    }

    let bad = json!({"exitCode": 0, "usage": {"cpuSeconds": -0.5, "peakMemoryMb": 10.0}});
    assert_error(
        &w.finish_with(&jobs[0], bad).await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        Some("usage.cpuSeconds"),
    );
    let item = |i: usize, usage: Value| json!({"jobId": jobs[i].id, "attempt": jobs[i].attempts, "exitCode": 0, "usage": usage});
    let good = json!({"cpuSeconds": 0.25, "peakMemoryMb": 41.5, "runMs": 640});
    assert_error(
        &w.call(
            "/api/jobs/submit-result-batch",
            json!({"workerId": "w1", "results": [item(1, good.clone()), item(2, json!({"peakMemoryMb": -3}))]}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        Some("results[1].usage.peakMemoryMb"),
    );
    for job in &jobs {
        let status = server.status(&job.id).await;
        assert_eq!(status.job.status, JobStatus::Running, "nothing changed");
        assert_eq!(status.job.usage, None);
    }

    let one = json!({"exitCode": 0, "usage": {"cpuSeconds": 1.75, "peakMemoryMb": 300.0, "pullMs": 12, "runMs": 2100}});
    assert_eq!(w.finish_with(&jobs[0], one).await.0, StatusCode::OK);
    let (status, answer) = w
        .call(
            "/api/jobs/submit-result-batch",
            json!({"workerId": "w1", "results": [item(1, good), item(2, json!({}))]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (_, raw) = server
        .get(&format!("/api/jobs/status?jobId={}", jobs[0].id))
        .await;
    assert_eq!(
        raw["usage"],
        json!({"cpuSeconds": 1.75, "peakMemoryMb": 300.0, "pullMs": 12, "runMs": 2100})
    );
    let s1 = server.status(&jobs[1].id).await;
    let u1 = s1.job.usage.expect("usage of the batch result");
    assert_eq!(
        (u1.cpu_seconds, u1.peak_memory_mb, u1.pull_ms, u1.run_ms),
        (Some(0.25), Some(41.5), None, Some(640))
    );
    let ended = s1.history.last().unwrap();
    assert_eq!(
        (ended.to_status, ended.usage),
        (JobStatus::Completed, Some(u1))
    );
    let page = reqwest::get(server.url(&format!("/jobs/{}", jobs[0].id)))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("CPU 1.75 s, peak 300.0 MiB, pull 12 ms, run 2100 ms"),
        "the job page shows it: {page}"
    );
    let s2 = server.status(&jobs[2].id).await;
    assert_eq!(
        (s2.job.status, s2.job.usage),
        (JobStatus::Completed, None),
        "nothing measured"
    );
    server.stop().await;
}

crate::common::on_both_databases!(results_carry_checked_usage_into_status,);
