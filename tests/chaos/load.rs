//! Steady load: a client creating one short job every [`EVERY`], on each replica in turn,
//! for as long as the test breaks things. A create that fails (the replica is dead, the
//! database is down) is counted and not retried: whether it was committed or not, the
//! database is what the checks read.

use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// The pause between creates.
const EVERY: Duration = Duration::from_millis(60);
/// Longest a create may take.
const CREATE_TIMEOUT: Duration = Duration::from_secs(5);

/// What the client saw.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sent {
    /// Creates answered 201.
    pub created: usize,
    /// Creates refused or unanswered.
    pub failed: usize,
}

/// The running client.
pub struct Load {
    stop: Arc<AtomicBool>,
    task: JoinHandle<Sent>,
}

impl Load {
    /// Starts creating jobs running `command` with `env`, on `bases` in turn.
    pub fn start(bases: Vec<String>, command: String, env: serde_json::Value) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(CREATE_TIMEOUT)
                .build()
                .expect("client");
            let body = json!({
                "command": command,
                "env": env,
                "requiredCpu": 0.1,
                "requiredRamMb": 32,
            });
            let mut sent = Sent::default();
            let mut next = 0;
            while !flag.load(Ordering::Relaxed) {
                let url = format!("{}/api/jobs/create", bases[next % bases.len()]);
                next += 1;
                match http.post(url).json(&body).send().await {
                    Ok(r) if r.status() == reqwest::StatusCode::CREATED => sent.created += 1,
                    _ => sent.failed += 1,
                }
                tokio::time::sleep(EVERY).await;
            }
            sent
        });
        Load { stop, task }
    }

    /// Stops creating; what was sent.
    pub async fn stop(self) -> Sent {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("the load task panicked")
    }
}
