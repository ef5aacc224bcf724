//! An agent keeps its identity across restarts (its state folder), and the join token alone
//! cannot take a registered worker over.

use super::{free_port, AgentProcess, SERVE_FLAGS};
use crate::common::process::ServerProcess;
use crate::common::{eventually, TestDb, TestServer};
use gantry_api::{WorkerStatus, WorkersListResponse};
use std::time::{Duration, Instant};

const API_TOKEN: &str = "e2e-api-token-0123456789";
const JOIN_TOKEN: &str = "e2e-join-token-0123456789";

/// The fleet, read with the API token when the server has one.
async fn fleet(server: &TestServer, token: Option<&str>) -> WorkersListResponse {
    let mut request = server.http.get(server.url("/api/workers/list"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().json().await.unwrap()
}

/// Waits until exactly one worker is registered and online; its id and registration time.
async fn one_online(server: &TestServer, token: Option<&str>, after: i64) -> (String, i64) {
    eventually("one online worker", Duration::from_secs(20), || async {
        let list = fleet(server, token).await;
        let w = list.workers.first()?;
        (list.total_workers == 1 && w.status != WorkerStatus::Offline && w.registered_at > after)
            .then(|| (w.id.clone(), w.registered_at))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_agent_resumes_as_the_same_worker() {
    let db = TestDb::sqlite().await;
    let process = ServerProcess::spawn(&db, free_port(), SERVE_FLAGS);
    let server = TestServer::attach(process.base.clone()).await;
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().to_str().unwrap();
    // No WORKER_ID: the server names the worker, and the agent keeps the name.
    let env = [
        ("WORKER_ID", ""),
        ("ENABLE_DOCKER", "false"),
        ("GANTRY_STATE_DIR", dir),
    ];
    let mut first = AgentProcess::spawn(&server.base, "", &env);
    let (id, registered) = one_online(&server, None, 0).await;
    assert!(id.starts_with("worker-"), "a name the server gave: {id}");
    first.kill9();
    let _second = AgentProcess::spawn(&server.base, "", &env);
    let (again, _) = one_online(&server, None, registered).await;
    assert_eq!(again, id, "the same worker, not a second one for this host");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_join_token_cannot_take_over_a_running_worker() {
    let db = TestDb::sqlite().await;
    let mut flags = SERVE_FLAGS.to_vec();
    flags.extend(["--api-token", API_TOKEN, "--worker-token", JOIN_TOKEN]);
    let process = ServerProcess::spawn(&db, free_port(), &flags);
    let server = TestServer::attach(process.base.clone()).await;
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().to_str().unwrap();
    let env = [
        ("ENABLE_DOCKER", "false"),
        ("GANTRY_WORKER_TOKEN", JOIN_TOKEN),
        ("GANTRY_STATE_DIR", dir),
    ];
    let mut first = AgentProcess::spawn(&server.base, "e2e-keeper", &env);
    let (_, registered) = one_online(&server, Some(API_TOKEN), 0).await;
    first.kill9();
    // The same agent again (its state folder): it proves it is that worker.
    let _second = AgentProcess::spawn(&server.base, "e2e-keeper", &env);
    let (id, _) = one_online(&server, Some(API_TOKEN), registered).await;
    assert_eq!(id, "e2e-keeper");

    // Another process claiming the id with only the join token is refused and gives up.
    let elsewhere = tempfile::tempdir().unwrap();
    let impostor_env = [
        ("ENABLE_DOCKER", "false"),
        ("GANTRY_WORKER_TOKEN", JOIN_TOKEN),
        ("GANTRY_STATE_DIR", elsewhere.path().to_str().unwrap()),
    ];
    let mut impostor = AgentProcess::spawn(&server.base, "e2e-keeper", &impostor_env);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = impostor.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the impostor was not refused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!status.success(), "its registration was refused");
    let list = fleet(&server, Some(API_TOKEN)).await;
    assert_eq!(list.total_workers, 1);
    assert_ne!(
        list.workers[0].status,
        WorkerStatus::Offline,
        "the real one runs on"
    );
}
