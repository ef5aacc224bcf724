//! The job list's bounded reads: a search looks through a window of the newest jobs and hands
//! back a cursor to go on behind it; a time window is a range of the time-ordered ids.

use super::*;
use gantry::model::SEARCH_WINDOW;

/// The ids of a page.
fn page_ids(page: &Value) -> Vec<String> {
    page["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap().to_string())
        .collect()
}

async fn a_search_stops_at_its_window_and_its_cursor_goes_on(db: TestDb) {
    let server = TestServer::start(&db).await;
    let needle = server.create(json!({"command": "echo needle"})).await;
    // A window's worth of newer jobs, in batches.
    let batch: Vec<Value> = (0..1000).map(|_| json!({"command": "true"})).collect();
    for _ in 0..SEARCH_WINDOW / 1000 {
        let (code, _) = server
            .post("/api/jobs/create-batch", &json!({ "jobs": batch }))
            .await;
        assert_eq!(code, StatusCode::CREATED);
    }
    let (code, first) = server.get("/api/jobs/list?q=needle&limit=10").await;
    assert_eq!(code, StatusCode::OK, "{first}");
    assert!(
        page_ids(&first).is_empty(),
        "the needle is behind the window"
    );
    let cursor = first["nextCursor"]
        .as_str()
        .expect("a cursor past the window");
    let (_, second) = server
        .get(&format!("/api/jobs/list?q=needle&limit=10&cursor={cursor}"))
        .await;
    assert_eq!(page_ids(&second), vec![needle.id]);
    assert!(second["nextCursor"].is_null(), "nothing further back");
    // A search whose window holds everything ends without a cursor.
    let (_, newest) = server.get("/api/jobs/list?q=true&limit=5").await;
    assert_eq!(page_ids(&newest).len(), 5);
    server.stop().await;
}

async fn a_time_window_lists_exactly_the_jobs_made_in_it(db: TestDb) {
    let server = TestServer::start(&db).await;
    let mut jobs = Vec::new();
    for i in 0..4 {
        jobs.push(server.create(json!({"command": format!("echo {i}")})).await);
        // Creation times a few milliseconds apart, so the window's bounds fall between jobs.
        let made = jobs[i].created_at;
        while gantry::clock::now_ms() < made + 3 {
            tokio::task::yield_now().await;
        }
    }
    let (from, to) = (jobs[1].created_at, jobs[2].created_at + 1);
    let (code, page) = server
        .get(&format!("/api/jobs/list?from={from}&to={to}"))
        .await;
    assert_eq!(code, StatusCode::OK, "{page}");
    assert_eq!(page_ids(&page), [jobs[2].id.clone(), jobs[1].id.clone()]);
    let (_, empty) = server
        .get(&format!(
            "/api/jobs/list?from={}&to={}",
            from - 10_000,
            from - 5_000
        ))
        .await;
    assert!(page_ids(&empty).is_empty());
    server.stop().await;
}

crate::common::on_both_databases!(
    a_search_stops_at_its_window_and_its_cursor_goes_on,
    a_time_window_lists_exactly_the_jobs_made_in_it,
);
