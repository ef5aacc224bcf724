//! Image pulls for real: a real `docker-registry` on 127.0.0.1 (open, and one with htpasswd
//! auth; `scripts/test-registry.sh`), a real server and real Docker agents. Pull on first
//! use, one pull shared by several jobs, `never` with a missing image, a tag the registry
//! lacks (the job's fault, once), a registry that is down (the infrastructure's, retried),
//! and registry logins from the agent host's Docker config.

use super::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The log line the agent writes once per pull it makes (not for a pull it waits on).
const PULL_LINE: &str = "pulling image";
/// The agent's log level: the pulls at info, the rest as usual.
const PULL_LOG: &str = "gantry_worker::executor::docker::pull=info,warn";

/// The registries, as `scripts/test-registry.sh` prints them.
#[derive(Debug, Clone)]
struct Registries {
    /// The open one, `127.0.0.1:port`.
    open: String,
    /// The one asking for a login.
    auth: String,
    /// Its user.
    user: String,
    /// Its password.
    password: String,
}

/// Starts (or finds) the registries once per test binary; `None` (after a loud skip, or a
/// failure with GANTRY_REQUIRE_DOCKER=1) when Docker or the registry cannot run here.
fn registries() -> Option<Registries> {
    static STARTED: OnceLock<Option<Registries>> = OnceLock::new();
    if !docker_ready() {
        return None;
    }
    let started = STARTED.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/test-registry.sh");
        let out = Command::new(script).output().ok()?;
        if !out.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&out.stderr));
            return None;
        }
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let get = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))
                .map(str::to_string)
        };
        Some(Registries {
            open: get("GANTRY_TEST_REGISTRY")?,
            auth: get("GANTRY_TEST_AUTH_REGISTRY")?,
            user: get("GANTRY_TEST_REGISTRY_USER")?,
            password: get("GANTRY_TEST_REGISTRY_PASSWORD")?,
        })
    });
    if started.is_none() {
        skip_or_fail(
            Part::Docker,
            "the test registry could not start (scripts/test-registry.sh)",
        );
    }
    started.clone()
}

/// Pushes the test image to the open registry under a tag of its own (so tests running at
/// once never share a reference) and removes it locally: the next use must pull it.
fn pushed(registry: &str, what: &str) -> String {
    let reference = format!(
        "{registry}/gantry-test-busybox:{what}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    docker(&["tag", IMAGE, &reference]);
    docker(&["push", &reference]);
    docker(&["rmi", &reference]);
    reference
}

/// Runs a docker command that must succeed.
fn docker(args: &[&str]) {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Removes a pulled reference (only its tag: the image is the local test image).
fn forget(reference: &str) {
    let _ = Command::new("docker").args(["rmi", reference]).output();
}

/// True when the engine holds `reference`.
fn present(reference: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", reference])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A fresh folder under the temp dir.
fn temp_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "gantry-e2e-{what}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// How many pulls the agent logged.
fn pulls_logged(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(PULL_LINE))
        .count()
}

/// A cluster whose server retries infrastructure losses `budget` times.
async fn cluster_with_budget(budget: &str) -> Cluster {
    let db = TestDb::sqlite().await;
    let mut flags = SERVE_FLAGS.to_vec();
    flags.extend(["--infra-retry-budget", budget]);
    let process = ServerProcess::spawn(&db, free_port(), &flags);
    let server = TestServer::attach(process.base.clone()).await;
    Cluster {
        server,
        _process: process,
        _db: db,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_is_pulled_on_first_use_once_for_all_the_jobs_that_need_it() {
    let Some(reg) = registries() else { return };
    let reference = pushed(&reg.open, "shared");
    let c = Cluster::start().await;
    let dir = temp_dir("pull-log");
    let log = dir.join("agent.log");
    let agent = AgentProcess::spawn_logging(
        &c.server.base,
        "e2e-puller",
        &[("MAX_PARALLEL_JOBS", "4"), ("RUST_LOG", PULL_LOG)],
        Some(&log),
    );
    c.wait_worker("e2e-puller", WorkerStatus::Idle).await;
    let mut ids = Vec::new();
    for i in 0..4 {
        let job = c
            .server
            .create(json!({"command": format!("echo shared {i}"), "image": reference, "requiredCpu": 0.1}))
            .await;
        ids.push(job.id);
    }
    for id in &ids {
        let job = c.wait_end(id).await;
        assert_eq!(job.status, JobStatus::Completed, "{job:?}");
        assert_eq!(job.phase, None);
    }
    assert_eq!(
        pulls_logged(&log),
        1,
        "one pull for four jobs:\n{}",
        std::fs::read_to_string(&log).unwrap()
    );
    let history = c.server.status(&ids[0]).await.history;
    let reasons: Vec<String> = history.into_iter().filter_map(|h| h.reason).collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.ends_with(&format!("pulling {reference}"))),
        "the job showed its pull: {reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r == gantry::lifecycle::job::PULLED),
        "{reasons:?}"
    );

    // Present now: the next job does not pull, and the worker says it holds the image.
    let again = c
        .run(json!({"command": "echo again", "image": reference}))
        .await;
    assert_eq!(again.status, JobStatus::Completed, "{again:?}");
    assert_eq!(pulls_logged(&log), 1, "no pull for an image the host has");
    eventually("the worker to list the image", WAIT, || async {
        let workers = c.server.workers().await.workers;
        workers
            .iter()
            .any(|w| w.images.iter().any(|i| i.reference == reference))
            .then_some(())
    })
    .await;
    stop_leaving_no_container(vec![agent], &["e2e-puller"]).await;
    forget(&reference);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_pulls_and_a_missing_tag_fails_once_as_the_jobs_fault() {
    let Some(reg) = registries() else { return };
    let reference = pushed(&reg.open, "never");
    let c = Cluster::start().await;
    let agent = c.agent("e2e-no-pull", &[]);
    c.wait_worker("e2e-no-pull", WorkerStatus::Idle).await;

    let never = c
        .run(json!({"command": "true", "image": reference, "pull": "never"}))
        .await;
    assert_eq!(never.status, JobStatus::Failed, "{never:?}");
    assert!(
        never
            .error
            .as_deref()
            .unwrap()
            .contains("pull policy is `never`"),
        "{never:?}"
    );
    assert!(!present(&reference), "nothing was pulled");

    let missing = format!("{}/gantry-test-busybox:no-such-tag", reg.open);
    let typo = c
        .run(json!({"command": "true", "image": missing, "maxRetries": 3}))
        .await;
    assert_eq!(
        (typo.status, typo.attempts),
        (JobStatus::Failed, 1),
        "{typo:?}"
    );
    let want = format!(
        "image `{missing}` not found in registry {}: manifest unknown",
        reg.open
    );
    assert_eq!(typo.error.as_deref(), Some(want.as_str()));
    let history = c.server.status(&typo.id).await.history;
    assert_eq!(history.last().unwrap().fault, Some(gantry_api::Fault::Job));
    let w = c.wait_worker("e2e-no-pull", WorkerStatus::Idle).await;
    assert_eq!(w.consecutive_failures, 0, "the worker is not blamed");
    stop_leaving_no_container(vec![agent], &["e2e-no-pull"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_that_is_down_is_an_infrastructure_retry() {
    if registries().is_none() {
        return;
    }
    // A budget of 3: were the registry's outage held against the worker, its third loss in
    // a row would cool it down (COOLDOWN_AFTER_FAILURES 3).
    let c = cluster_with_budget("3").await;
    let agent = c.agent("e2e-registry-down", &[]);
    c.wait_worker("e2e-registry-down", WorkerStatus::Idle).await;
    // Nothing listens there.
    let reference = format!("127.0.0.1:{}/gantry-test-busybox:v1", free_port());
    let job = c
        .run(json!({"command": "true", "image": reference, "maxRetries": 3}))
        .await;
    assert_eq!(job.status, JobStatus::Failed, "{job:?}");
    assert_eq!(
        job.infra_retries, 4,
        "retried three times from the budget of 3, then ended: {job:?}"
    );
    assert_eq!(
        job.failed_attempts, 0,
        "never counted as the job's own failure"
    );
    let error = job.error.unwrap();
    assert!(
        error.contains("connection refused") && error.contains("infrastructure retries exhausted"),
        "{error}"
    );
    let history = c.server.status(&job.id).await.history;
    let ends: Vec<_> = history.iter().filter(|h| h.fault.is_some()).collect();
    assert_eq!(ends.len(), 4, "{history:?}");
    for end in &ends {
        assert_eq!(end.fault, Some(gantry_api::Fault::Registry), "{end:?}");
    }
    for retry in &ends[..3] {
        // Each retry waits the backoff before asking the registry again.
        assert_eq!(retry.to_status, JobStatus::Pending, "{retry:?}");
        assert!(
            retry.reason.as_deref().unwrap_or_default().contains(" ms"),
            "{retry:?}"
        );
    }
    let w = c.wait_worker("e2e-registry-down", WorkerStatus::Idle).await;
    assert_eq!(
        (w.consecutive_failures, w.cooldown_until),
        (0, None),
        "a registry outage is not the worker's fault"
    );
    stop_leaving_no_container(vec![agent], &["e2e-registry-down"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_come_from_the_agent_hosts_docker_config() {
    let Some(reg) = registries() else { return };
    let reference = format!("{}/gantry-test-busybox:v1", reg.auth);
    forget(&reference);
    let c = cluster_with_budget("0").await;

    // Without a login the registry refuses: the registry's side of the fault (it counts
    // against this worker only once the job succeeds on another, which may have a login).
    let empty = temp_dir("docker-config-empty");
    let refused_agent = c.agent(
        "e2e-no-login",
        &[("DOCKER_CONFIG", empty.to_str().unwrap())],
    );
    c.wait_worker("e2e-no-login", WorkerStatus::Idle).await;
    let refused = c.run(json!({"command": "true", "image": reference})).await;
    assert_eq!(refused.status, JobStatus::Failed, "{refused:?}");
    assert!(
        refused
            .error
            .as_deref()
            .unwrap()
            .contains("no basic auth credentials"),
        "{refused:?}"
    );
    assert!(!present(&reference));
    stop_leaving_no_container(vec![refused_agent], &["e2e-no-login"]).await;

    // With one in the agent's DOCKER_CONFIG the pull works.
    let config = temp_dir("docker-config");
    let auth = base64_encode(&format!("{}:{}", reg.user, reg.password));
    let file = json!({"auths": {(reg.auth.clone()): {"auth": auth}}});
    std::fs::write(config.join("config.json"), file.to_string()).unwrap();
    let agent = c.agent("e2e-login", &[("DOCKER_CONFIG", config.to_str().unwrap())]);
    c.wait_worker("e2e-login", WorkerStatus::Idle).await;
    let job = c
        .run(json!({"command": "echo logged in", "image": reference}))
        .await;
    assert_eq!(job.status, JobStatus::Completed, "{job:?}");
    assert_eq!(job.stdout.as_deref(), Some("logged in\n"));
    stop_leaving_no_container(vec![agent], &["e2e-login"]).await;
    forget(&reference);
    let _ = std::fs::remove_dir_all(empty);
    let _ = std::fs::remove_dir_all(config);
}

/// Standard base64, as `docker login` writes `auth`.
fn base64_encode(text: &str) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
