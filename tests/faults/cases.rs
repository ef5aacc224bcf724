//! One case per route: the rows it needs, the request, and what it answers with and without
//! database faults.

use super::requests::Req;
use super::{Rig, API_TOKEN, JOIN_TOKEN};
use futures::future::BoxFuture;
use gantry::clock::now_ms;
use gantry::model::UploadInsertParams;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Makes the rows a case's request needs (ids and keys made from `tag`, unique per try) and
/// returns the request.
pub type Prepare = for<'a> fn(&'a Rig, &'a str) -> BoxFuture<'a, Req>;

/// A route under faults.
pub struct Case {
    /// For messages.
    pub name: &'static str,
    /// The rows and the request.
    pub prepare: Prepare,
    /// The answer without a fault.
    pub ok: StatusCode,
    /// A dashboard page: faults are answered with the HTML error page, not JSON.
    pub page: bool,
    /// Calls whose failure the route rides out, and what it then answers.
    pub tolerated: &'static [(&'static str, StatusCode)],
    /// Calls whose change, committed before the answer was lost, changes the answer to the
    /// same request sent again to [`Case::again`].
    pub committed: &'static [&'static str],
    /// The answer to the request sent again after one of [`Case::committed`] committed.
    pub again: StatusCode,
    /// A poll that hands over a job: sent again after a failure, it must still hand it over
    /// (a failed poll must not have used up the delivery), unless a committed delivery's
    /// answer was lost.
    pub hands_over: bool,
}

impl Case {
    const fn new(name: &'static str, prepare: Prepare, ok: StatusCode) -> Case {
        Case {
            name,
            prepare,
            ok,
            page: false,
            tolerated: &[],
            committed: &[],
            again: ok,
            hands_over: false,
        }
    }

    const fn handing_over(self) -> Case {
        Case {
            hands_over: true,
            ..self
        }
    }

    const fn page(self) -> Case {
        Case { page: true, ..self }
    }

    const fn tolerating(self, tolerated: &'static [(&'static str, StatusCode)]) -> Case {
        Case { tolerated, ..self }
    }

    const fn once(self, committed: &'static [&'static str], again: StatusCode) -> Case {
        Case {
            committed,
            again,
            ..self
        }
    }
}

const OK: StatusCode = StatusCode::OK;
const CREATED: StatusCode = StatusCode::CREATED;
const CONFLICT: StatusCode = StatusCode::CONFLICT;

/// Every route that reads or writes the database.
pub const CASES: &[Case] = &[
    Case::new("create", create, CREATED).once(&["job_insert"], OK),
    Case::new("create-batch", create_batch, CREATED),
    Case::new("status", status, OK),
    Case::new("list", list, OK),
    Case::new("cancel", cancel, OK).once(&["job_cancel"], CONFLICT),
    Case::new("workers-list", workers_list, OK),
    Case::new("report", report, OK),
    Case::new("upload", upload, CREATED),
    Case::new("download", download, OK),
    Case::new("execute", execute, StatusCode::ACCEPTED)
        .tolerating(&[("job_get", StatusCode::ACCEPTED)]),
    // A registration whose answer was lost leaves the worker online with a token its agent
    // never got: the join token may not take the id over until it is OFFLINE.
    Case::new("register", register, OK).once(&["worker_register"], StatusCode::FORBIDDEN),
    Case::new("heartbeat", heartbeat, OK),
    Case::new("get-job", get_job, OK)
        .once(&["job_deliver"], OK)
        .handing_over(),
    Case::new("get-job-long-poll", long_poll, OK),
    Case::new("start", start, OK),
    Case::new("start-pulling", start_pulling, OK),
    Case::new("submit-result", submit_result, OK).once(&["job_finish"], CONFLICT),
    Case::new("start-batch", start_batch, OK),
    Case::new("submit-result-batch", submit_results, OK),
    Case::new("dashboard-overview", overview_page, OK).page(),
    Case::new("dashboard-jobs", jobs_page, OK).page(),
    Case::new("dashboard-job", dashboard_job, OK).page(),
    Case::new("dashboard-cancel", dashboard_cancel, StatusCode::SEE_OTHER)
        .page()
        .once(&["job_cancel"], CONFLICT),
    Case::new("dashboard-workers", workers_page, OK).page(),
    Case::new("readyz", readyz, OK),
    // Scrapes still answer (the process's own timings stay readable); the database's
    // counts say they are stale through gantry_database_up.
    Case::new("metrics", metrics, OK).tolerating(&[
        ("job_counts_live", OK),
        ("job_finished_between", OK),
        ("worker_list", OK),
    ]),
];

/// The case of this name.
pub fn case(name: &str) -> &'static Case {
    CASES
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case {name}"))
}

fn client(req: Req) -> Req {
    req.bearer(API_TOKEN)
}

fn new_job(tag: &str) -> Value {
    json!({"command": format!("echo {tag}"), "idempotencyKey": format!("key-{tag}")})
}

fn create<'a>(_: &'a Rig, tag: &'a str) -> BoxFuture<'a, Req> {
    Box::pin(async move { client(Req::post_json("/api/jobs/create", &new_job(tag))) })
}

fn create_batch<'a>(_: &'a Rig, tag: &'a str) -> BoxFuture<'a, Req> {
    Box::pin(async move {
        let jobs = json!({"jobs": [new_job(&format!("{tag}-a")), new_job(&format!("{tag}-b"))]});
        client(Req::post_json("/api/jobs/create-batch", &jobs))
    })
}

fn status<'a>(rig: &'a Rig, tag: &'a str) -> BoxFuture<'a, Req> {
    Box::pin(async move {
        let (id, _) = rig.running(&rig.agent(tag).await).await;
        client(Req::get(&format!("/api/jobs/status?jobId={id}")))
    })
}

fn list<'a>(rig: &'a Rig, _: &'a str) -> BoxFuture<'a, Req> {
    Box::pin(async move {
        rig.job().await;
        // A search whose page is not full also asks where its window ended.
        client(Req::get("/api/jobs/list?q=echo&limit=1000"))
    })
}

fn cancel<'a>(rig: &'a Rig, tag: &'a str) -> BoxFuture<'a, Req> {
    Box::pin(async move {
        let (id, _) = rig.running(&rig.agent(tag).await).await;
        client(Req::post_json("/api/jobs/cancel", &json!({"jobId": id})))
    })
}

fn workers_list<'a>(rig: &'a Rig, tag: &'a str) -> BoxFuture<'a, Req> {
    Box::pin(async move {
        rig.running(&rig.agent(tag).await).await;
        client(Req::get("/api/workers/list"))
    })
}

fn report<'a>(rig: &'a Rig, tag: &'a str) -> BoxFuture<'a, Req> {
    Box::pin(async move {
        let agent = rig.agent(tag).await;
        let (id, attempt) = rig.running(&agent).await;
        rig.repo()
            .job_finish(crate::common::builders::result(
                &agent.id,
                &id,
                attempt,
                now_ms(),
            ))
            .await
            .expect("job_finish");
        client(Req::get("/api/reports/summary?groupBy=status"))
    })
}

fn upload<'a>(_: &'a Rig, tag: &'a str) -> BoxFuture<'a, Req> {
    Box::pin(async move {
        let name = format!("input-{tag}.txt");
        client(Req::post_multipart(
            "/api/uploads",
            &[],
            (&name, b"some input"),
        ))
    })
}

fn download<'a>(rig: &'a Rig, tag: &'a str) -> BoxFuture<'a, Req> {
    Box::pin(async move {
        let agent = rig.agent(tag).await;
        let id = uuid::Uuid::now_v7().to_string();
        rig.repo()
            .upload_insert(UploadInsertParams {
                id: id.clone(),
                filename: "input.txt".into(),
                sha256: "0".repeat(64),
                content: b"some input".to_vec(),
                now: now_ms(),
            })
            .await
            .expect("upload_insert");
        Req::get(&format!("/uploads/{id}/input.txt")).bearer(&agent.token)
    })
}

fn execute<'a>(_: &'a Rig, tag: &'a str) -> BoxFuture<'a, Req> {
    Box::pin(async move {
        let key = format!("key-{tag}");
        // No worker takes it: the wait runs out (202), re-reading the job meanwhile.
        client(Req::post_multipart(
            "/api/execute?wait=true&waitMs=150",
            &[("command", "cat input.txt"), ("idempotencyKey", &key)],
            ("input.txt", b"some input"),
        ))
    })
}

fn register<'a>(_: &'a Rig, tag: &'a str) -> BoxFuture<'a, Req> {
    Box::pin(async move {
        let body = json!({"workerId": format!("reg-{tag}"), "hostname": "h", "cpuCores": 2,
            "ramTotalMb": 2048, "ramFreeMb": 2048, "cpuUsage": 1, "maxParallelJobs": 2});
        Req::post_json("/api/workers/register", &body).bearer(JOIN_TOKEN)
    })
}

fn heartbeat<'a>(rig: &'a Rig, tag: &'a str) -> BoxFuture<'a, Req> {
    Box::pin(async move {
        let agent = rig.agent(tag).await;
        let (id, _) = rig.running(&agent).await;
        let body = json!({"workerId": agent.id, "cpuUsage": 5, "ramFreeMb": 1000,
            "ramTotalMb": 2048, "runningJobIds": [id]});
        Req::post_json("/api/workers/heartbeat", &body).bearer(&agent.token)
    })
}

fn get_job<'a>(rig: &'a Rig, tag: &'a str) -> BoxFuture<'a, Req> {
    Box::pin(async move {
        let agent = rig.agent(tag).await;
        rig.assigned(&agent).await;
        let body = json!({"workerId": agent.id, "max": 4, "waitMs": 0});
        Req::post_json("/api/jobs/get-job", &body).bearer(&agent.token)
    })
}

/// A result as an agent sends it.
fn result(worker_id: &str, job_id: &str, attempt: i64) -> Value {
    json!({"workerId": worker_id, "jobId": job_id, "attempt": attempt, "exitCode": 0,
        "stdout": "out", "stderr": "", "durationMs": 5})
}

fn long_poll<'a>(rig: &'a Rig, tag: &'a str) -> BoxFuture<'a, Req> {
    Box::pin(async move {
        let agent = rig.agent(tag).await;
        let (id, attempt) = rig.running(&agent).await;
        // Carries the result of its one job, then waits for work that does not come: two
        // rounds of reads, before and after the wait.
        let body = json!({"workerId": agent.id, "max": 1, "waitMs": 150,
            "startOnDelivery": true, "results": [result(&agent.id, &id, attempt)]});
        Req::post_json("/api/jobs/get-job", &body).bearer(&agent.token)
    })
}

fn start<'a>(rig: &'a Rig, tag: &'a str) -> BoxFuture<'a, Req> {
    Box::pin(async move {
        let agent = rig.agent(tag).await;
        let (id, attempt) = rig.delivered(&agent).await;
        let body = json!({"workerId": agent.id, "jobId": id, "attempt": attempt});
        Req::post_json("/api/jobs/start", &body).bearer(&agent.token)
    })
}

fn start_pulling<'a>(rig: &'a Rig, tag: &'a str) -> BoxFuture<'a, Req> {
    Box::pin(async move {
        let agent = rig.agent(tag).await;
        let (id, attempt) = rig.delivered(&agent).await;
        let body = json!({"workerId": agent.id, "jobId": id, "attempt": attempt, "pulling": true});
        Req::post_json("/api/jobs/start", &body).bearer(&agent.token)
    })
}

fn submit_result<'a>(rig: &'a Rig, tag: &'a str) -> BoxFuture<'a, Req> {
    Box::pin(async move {
        let agent = rig.agent(tag).await;
        let (id, attempt) = rig.running(&agent).await;
        Req::post_json("/api/jobs/submit-result", &result(&agent.id, &id, attempt))
            .bearer(&agent.token)
    })
}

fn start_batch<'a>(rig: &'a Rig, tag: &'a str) -> BoxFuture<'a, Req> {
    Box::pin(async move {
        let agent = rig.agent(tag).await;
        let (a, attempt_a) = rig.delivered(&agent).await;
        let (b, attempt_b) = rig.delivered(&agent).await;
        let body = json!({"workerId": agent.id, "jobs": [{"jobId": a, "attempt": attempt_a},
            {"jobId": b, "attempt": attempt_b, "pulling": true}]});
        Req::post_json("/api/jobs/start-batch", &body).bearer(&agent.token)
    })
}

fn submit_results<'a>(rig: &'a Rig, tag: &'a str) -> BoxFuture<'a, Req> {
    Box::pin(async move {
        let agent = rig.agent(tag).await;
        let (a, attempt_a) = rig.running(&agent).await;
        let (b, attempt_b) = rig.running(&agent).await;
        let body = json!({"workerId": agent.id, "results": [result(&agent.id, &a, attempt_a),
            result(&agent.id, &b, attempt_b)]});
        Req::post_json("/api/jobs/submit-result-batch", &body).bearer(&agent.token)
    })
}

/// A dashboard page at `path`, with a running job to show.
fn page<'a>(rig: &'a Rig, tag: &'a str, path: &'static str) -> BoxFuture<'a, Req> {
    Box::pin(async move {
        rig.running(&rig.agent(tag).await).await;
        client(Req::get(path))
    })
}

fn overview_page<'a>(rig: &'a Rig, tag: &'a str) -> BoxFuture<'a, Req> {
    page(rig, tag, "/")
}

fn jobs_page<'a>(rig: &'a Rig, tag: &'a str) -> BoxFuture<'a, Req> {
    page(rig, tag, "/jobs")
}

fn workers_page<'a>(rig: &'a Rig, tag: &'a str) -> BoxFuture<'a, Req> {
    page(rig, tag, "/workers")
}

fn dashboard_job<'a>(rig: &'a Rig, tag: &'a str) -> BoxFuture<'a, Req> {
    Box::pin(async move {
        let (id, _) = rig.running(&rig.agent(tag).await).await;
        client(Req::get(&format!("/jobs/{id}")))
    })
}

fn dashboard_cancel<'a>(rig: &'a Rig, tag: &'a str) -> BoxFuture<'a, Req> {
    Box::pin(async move {
        let (id, _) = rig.running(&rig.agent(tag).await).await;
        client(Req::post_empty(&format!("/jobs/{id}/cancel")))
    })
}

fn readyz<'a>(_: &'a Rig, _: &'a str) -> BoxFuture<'a, Req> {
    Box::pin(async move { Req::get("/readyz") })
}

fn metrics<'a>(rig: &'a Rig, tag: &'a str) -> BoxFuture<'a, Req> {
    Box::pin(async move {
        rig.running(&rig.agent(tag).await).await;
        Req::get("/metrics")
    })
}
