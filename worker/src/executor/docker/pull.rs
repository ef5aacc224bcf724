//! Pulling images: one pull per image at a time on this agent, however many attempts wait
//! for it (each gets its result), bounded by the pull timeout, with the registry's answer
//! sorted into the job's fault (the image does not exist) or the infrastructure's (registry
//! unreachable, timeout, engine errors).

use super::credentials::{self, registry_of};
use bollard::errors::Error as DockerError;
use bollard::query_parameters::CreateImageOptionsBuilder;
use bollard::Docker;
use futures::future::{BoxFuture, FutureExt, Shared};
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Why a pull failed.
#[derive(Debug, Clone, PartialEq)]
pub struct PullError {
    /// The job can never succeed as it is: its image does not exist (or not for this
    /// platform) in its registry.
    pub permanent: bool,
    /// The image's registry is to blame (unreachable, refusing the login, too slow), not
    /// this host: another worker would likely meet the same.
    pub registry: bool,
    /// What went wrong, in words.
    pub message: String,
}

/// A pull under way, which every attempt needing the image awaits.
type InFlight = Shared<BoxFuture<'static, Result<(), PullError>>>;

/// The pulls under way on this agent, and when each image was last pulled, by reference
/// (with its tag).
#[derive(Debug, Default)]
pub(super) struct Pulls {
    /// Both maps, under one lock: a pull leaves `in_flight` as it enters `done`.
    state: Arc<Mutex<PullState>>,
}

/// What [`Pulls`] keeps.
#[derive(Debug, Default)]
struct PullState {
    /// The pull of each image being pulled now.
    in_flight: HashMap<String, InFlight>,
    /// When the last successful pull of each image ended (one entry per image this agent
    /// pulled: a handful).
    done: HashMap<String, Instant>,
}

impl Pulls {
    /// Pulls `image` (or waits for the pull of it already under way) within `timeout`; an
    /// attempt that found it needed the image at `needed_since` takes a pull that ended since
    /// then as its own (two jobs that both saw the image missing pull it once). The pull
    /// runs in a task of its own: an attempt cancelled meanwhile leaves it to the others.
    pub(super) async fn pull(
        &self,
        docker: &Docker,
        image: &str,
        timeout: Duration,
        needed_since: Instant,
    ) -> Result<(), PullError> {
        let image = with_tag(image);
        let pull = {
            let mut state = self.state.lock().expect("pulls lock");
            if let Some(pull) = state.in_flight.get(&image) {
                tracing::info!(image, "waiting for the pull of this image under way");
                pull.clone()
            } else if state.done.get(&image).is_some_and(|at| *at >= needed_since) {
                tracing::info!(image, "pulled meanwhile by another attempt");
                return Ok(());
            } else {
                let pull = self.start(docker.clone(), image.clone(), timeout);
                state.in_flight.insert(image.clone(), pull.clone());
                pull
            }
        };
        pull.await
    }

    /// Spawns the one pull of `image`; it leaves the in-flight map when it ends.
    fn start(&self, docker: Docker, image: String, timeout: Duration) -> InFlight {
        let state = self.state.clone();
        let task = tokio::spawn(async move {
            tracing::info!(image, "pulling image");
            let result = match tokio::time::timeout(timeout, pull_once(&docker, &image)).await {
                Ok(result) => result,
                Err(_) => Err(PullError {
                    permanent: false,
                    registry: true,
                    message: format!(
                        "pulling image `{image}` timed out after {}",
                        humantime::format_duration(timeout)
                    ),
                }),
            };
            match &result {
                Ok(()) => tracing::info!(image, "image pulled"),
                Err(e) => tracing::warn!(image, error = e.message, "pull failed"),
            }
            let mut state = state.lock().expect("pulls lock");
            state.in_flight.remove(&image);
            if result.is_ok() {
                state.done.insert(image, Instant::now());
            }
            result
        });
        async move {
            task.await.unwrap_or_else(|e| {
                Err(PullError {
                    permanent: false,
                    registry: false,
                    message: format!("the pull's task failed: {e}"),
                })
            })
        }
        .boxed()
        .shared()
    }
}

/// One pull through the engine, with this host's credentials for the image's registry.
async fn pull_once(docker: &Docker, image: &str) -> Result<(), PullError> {
    let opts = CreateImageOptionsBuilder::default()
        .from_image(image)
        .build();
    let mut stream = docker.create_image(Some(opts), None, credentials::for_reference(image));
    while let Some(item) = stream.next().await {
        if let Err(e) = item {
            return Err(classify(image, &e));
        }
    }
    Ok(())
}

/// The reference with `:latest` when it names neither tag nor digest: the engine would pull
/// every tag of a bare name.
pub(super) fn with_tag(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') || last.contains(':') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

/// The engine's words for an image that is not in its registry (for any platform or for
/// this one). A 404 from the engine means the same.
const NOT_FOUND_SIGNS: [&str; 4] = [
    "manifest unknown",
    "repository does not exist",
    "no matching manifest",
    "not found: manifest",
];

/// The engine's words for a registry it could not talk to or that refused it (the Go HTTP
/// client's `Get "https://..."`/`Head "..."` errors, DNS, TCP and TLS failures, a missing or
/// refused login, rate limits). Anything else (disk full while extracting, an engine error)
/// is this host's.
const REGISTRY_SIGNS: [&str; 14] = [
    "dial tcp",
    "no such host",
    "connection refused",
    "connection reset",
    "i/o timeout",
    "tls:",
    "x509:",
    "no basic auth credentials",
    "unauthorized",
    "authentication required",
    "toomanyrequests",
    "server gave http response to https client",
    "context deadline exceeded",
    "unexpected eof",
];

/// Sorts an engine error of a pull into the job's fault or the infrastructure's.
///
/// As Docker 20.10+ reports them: an unknown tag or repository is an HTTP 404 "manifest for
/// x:y not found: manifest unknown: manifest unknown" (Docker Hub says "pull access denied
/// for x, repository does not exist or may require 'docker login'"); a platform the image
/// lacks is "no matching manifest for linux/amd64 in the manifest list entries"; an
/// unreachable registry or a missing login is an HTTP 500 ("dial tcp ...: connection
/// refused", "no basic auth credentials"), which another worker may not have.
pub(super) fn classify(image: &str, error: &DockerError) -> PullError {
    let (status, message) = match error {
        DockerError::DockerResponseServerError {
            status_code,
            message,
        } => (Some(*status_code), message.clone()),
        DockerError::DockerStreamError { error } => (None, error.clone()),
        other => (None, other.to_string()),
    };
    let lower = message.to_ascii_lowercase();
    let not_found = status == Some(404) || NOT_FOUND_SIGNS.iter().any(|s| lower.contains(s));
    let registry = registry_of(image);
    if not_found {
        let why = if lower.contains("no matching manifest") {
            "no manifest for this platform".to_string()
        } else if lower.contains("manifest unknown") {
            "manifest unknown".to_string()
        } else {
            message
        };
        return PullError {
            permanent: true,
            registry: false,
            message: format!("image `{image}` not found in registry {registry}: {why}"),
        };
    }
    PullError {
        permanent: false,
        registry: REGISTRY_SIGNS.iter().any(|s| lower.contains(s)),
        message: format!("could not pull image `{image}` from registry {registry}: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(status_code: u16, message: &str) -> DockerError {
        DockerError::DockerResponseServerError {
            status_code,
            message: message.into(),
        }
    }

    #[test]
    fn a_missing_tag_or_platform_is_the_jobs_fault() {
        let e = classify(
            "127.0.0.1:5000/app:nope",
            &server(
                404,
                "manifest for 127.0.0.1:5000/app:nope not found: manifest unknown: manifest unknown",
            ),
        );
        assert!(e.permanent);
        assert_eq!(
            e.message,
            "image `127.0.0.1:5000/app:nope` not found in registry 127.0.0.1:5000: manifest unknown"
        );
        let hub = classify(
            "nosuchthing:1",
            &server(404, "pull access denied for nosuchthing, repository does not exist or may require 'docker login'"),
        );
        assert!(hub.permanent && hub.message.contains("registry docker.io"));
        let platform = classify(
            "app:1",
            &DockerError::DockerStreamError {
                error: "no matching manifest for linux/amd64 in the manifest list entries".into(),
            },
        );
        assert!(platform.permanent);
        assert!(platform.message.ends_with("no manifest for this platform"));
    }

    #[test]
    fn an_unreachable_registry_or_a_missing_login_is_the_infrastructures() {
        for message in [
            "Get \"http://127.0.0.1:5999/v2/\": dial tcp 127.0.0.1:5999: connect: connection refused",
            "Head \"http://127.0.0.1:5056/v2/app/manifests/v1\": no basic auth credentials",
        ] {
            let e = classify("127.0.0.1:5999/app:v1", &server(500, message));
            assert!(!e.permanent, "{message}");
            assert!(e.registry, "{message}");
            assert!(e.message.starts_with("could not pull image `127.0.0.1:5999/app:v1`"));
        }
    }

    #[test]
    fn a_host_error_while_pulling_is_the_workers() {
        let e = classify(
            "app:1",
            &server(
                500,
                "failed to register layer: write /var/lib/docker/x: no space left on device",
            ),
        );
        assert!(!e.permanent && !e.registry, "{e:?}");
    }

    #[tokio::test]
    async fn an_attempt_takes_a_pull_that_ended_after_it_saw_the_image_missing() {
        // Never asked: the engine client connects on first use, and no pull starts.
        let docker = Docker::connect_with_local_defaults().unwrap();
        let pulls = Pulls::default();
        let needed_since = Instant::now();
        let ended = Instant::now();
        pulls
            .state
            .lock()
            .unwrap()
            .done
            .insert("app:v1".into(), ended);
        let timeout = Duration::from_secs(1);
        assert_eq!(
            pulls.pull(&docker, "app:v1", timeout, needed_since).await,
            Ok(())
        );
        assert!(
            pulls.state.lock().unwrap().in_flight.is_empty(),
            "no new pull"
        );

        // A pull that ended before the attempt needed the image does not count: a new one
        // starts (here against an engine address where nothing answers).
        let nowhere =
            Docker::connect_with_http("http://127.0.0.1:1", 1, bollard::API_DEFAULT_VERSION)
                .unwrap();
        let later = Instant::now();
        let e = pulls
            .pull(&nowhere, "app:v1", timeout, later)
            .await
            .unwrap_err();
        assert!(!e.permanent, "{e:?}");
    }

    #[test]
    fn bare_names_pull_latest_not_every_tag() {
        assert_eq!(with_tag("busybox"), "busybox:latest");
        assert_eq!(with_tag("127.0.0.1:5000/app"), "127.0.0.1:5000/app:latest");
        assert_eq!(with_tag("127.0.0.1:5000/app:v1"), "127.0.0.1:5000/app:v1");
        assert_eq!(with_tag("app@sha256:abc"), "app@sha256:abc");
    }
}
