//! The HTTP client the agent talks to the server with: bearer tokens, retries with capped,
//! jittered exponential backoff, and the server's error shape turned into [`ClientError`].

use gantry_api::{
    ErrorBody, GetJobRequest, GetJobResponse, HeartbeatRequest, HeartbeatResponse,
    RegisterWorkerRequest, RegisterWorkerResponse, StartJobRequest, SubmitResultRequest,
};
use rand::Rng;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;
use std::sync::RwLock;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

/// First wait between two tries of a call.
const BACKOFF_BASE: Duration = Duration::from_millis(200);
/// Longest wait between two tries of a call.
const BACKOFF_CAP: Duration = Duration::from_secs(10);
/// Time allowed for an ordinary call (long polls get their wait on top).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Time allowed to connect to the server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time allowed to download a job's input file.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// Why a call to the server did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with a 4xx (or a 5xx after the last try).
    #[error("server refused ({status}): {code}: {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The error code from the body, or `http_<status>` when the body had none.
        code: String,
        /// The error message from the body.
        message: String,
    },
    /// The server could not be reached, after the last try.
    #[error("server unreachable: {0}")]
    Transport(String),
    /// The answer was not the JSON expected.
    #[error("unexpected answer from server: {0}")]
    Decode(String),
    /// The caller stopped waiting (shutdown) before the call succeeded.
    #[error("call abandoned")]
    Abandoned,
    /// Writing a downloaded file failed.
    #[error("could not write file: {0}")]
    Io(#[from] std::io::Error),
}

impl ClientError {
    /// True for a 409: the attempt is no longer this worker's.
    pub fn is_conflict(&self) -> bool {
        matches!(self, ClientError::Refused { status: 409, .. })
    }

    /// True when the server no longer knows this worker and it must register again.
    pub fn is_unknown_worker(&self) -> bool {
        matches!(self, ClientError::Refused { status: 404, code, .. } if code == "unknown_worker")
    }
}

/// How persistently a call is retried.
#[derive(Debug, Clone)]
pub struct Retry {
    /// The most tries; `None` retries until the server answers or `give_up` fires.
    pub max_tries: Option<u32>,
    /// Stops retrying (the call returns [`ClientError::Abandoned`]).
    pub give_up: CancellationToken,
}

impl Retry {
    /// At most `tries` tries, abandoned early when `give_up` fires.
    pub fn times(tries: u32, give_up: &CancellationToken) -> Retry {
        Retry {
            max_tries: Some(tries.max(1)),
            give_up: give_up.clone(),
        }
    }

    /// Whether another try may follow try number `tries`.
    fn allows(&self, tries: u32) -> bool {
        match self.max_tries {
            Some(max) => tries < max,
            None => true,
        }
    }

    /// Until the server answers, or `give_up` fires.
    pub fn forever(give_up: &CancellationToken) -> Retry {
        Retry {
            max_tries: None,
            give_up: give_up.clone(),
        }
    }
}

/// The wait before try number `attempt + 1`: doubled per try, capped, with full jitter.
pub fn backoff_delay(attempt: u32) -> Duration {
    let exp = BACKOFF_BASE.saturating_mul(1u32 << attempt.min(16));
    let capped = exp.min(BACKOFF_CAP);
    let ms = capped.as_millis() as u64;
    Duration::from_millis(rand::rng().random_range(ms / 2..=ms.max(1)))
}

/// A client for the server's worker routes.
#[derive(Debug)]
pub struct ServerClient {
    /// The pooled HTTP client.
    http: reqwest::Client,
    /// The server's base URL, without a trailing slash.
    base: String,
    /// The join token sent with registration.
    join_token: Option<String>,
    /// The per-worker token returned by registration; a std lock since it is never held
    /// across an await.
    worker_token: RwLock<Option<String>>,
}

impl ServerClient {
    /// A client for the server at `base_url` (no trailing slash), joining with `join_token`.
    pub fn new(base_url: &str, join_token: Option<String>) -> Result<ServerClient, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("gantry-worker/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        Ok(ServerClient {
            http,
            base: base_url.trim_end_matches('/').to_string(),
            join_token,
            worker_token: RwLock::new(None),
        })
    }

    /// The token for worker routes: the per-worker one, else the join token.
    fn token(&self) -> Option<String> {
        let worker = self.worker_token.read().expect("token lock").clone();
        worker.or_else(|| self.join_token.clone())
    }

    /// `POST /api/workers/register` with the join token; keeps the returned per-worker token.
    pub async fn register(
        &self,
        body: &RegisterWorkerRequest,
        retry: &Retry,
    ) -> Result<RegisterWorkerResponse, ClientError> {
        let token = self.join_token.clone();
        let resp: RegisterWorkerResponse = self
            .call_json("/api/workers/register", body, token, REQUEST_TIMEOUT, retry)
            .await?;
        if let Some(t) = &resp.token {
            *self.worker_token.write().expect("token lock") = Some(t.clone());
        }
        Ok(resp)
    }

    /// `POST /api/workers/heartbeat`.
    pub async fn heartbeat(
        &self,
        body: &HeartbeatRequest,
        retry: &Retry,
    ) -> Result<HeartbeatResponse, ClientError> {
        self.call_json(
            "/api/workers/heartbeat",
            body,
            self.token(),
            REQUEST_TIMEOUT,
            retry,
        )
        .await
    }

    /// `POST /api/jobs/get-job`, a long poll of up to `waitMs`.
    pub async fn get_job(
        &self,
        body: &GetJobRequest,
        retry: &Retry,
    ) -> Result<GetJobResponse, ClientError> {
        let wait = Duration::from_millis(body.wait_ms.unwrap_or(0).max(0) as u64);
        self.call_json(
            "/api/jobs/get-job",
            body,
            self.token(),
            REQUEST_TIMEOUT + wait,
            retry,
        )
        .await
    }

    /// `POST /api/jobs/start`.
    pub async fn start_job(
        &self,
        body: &StartJobRequest,
        retry: &Retry,
    ) -> Result<(), ClientError> {
        self.post_ignoring_answer("/api/jobs/start", body, retry)
            .await
    }

    /// `POST /api/jobs/submit-result`.
    pub async fn submit_result(
        &self,
        body: &SubmitResultRequest,
        retry: &Retry,
    ) -> Result<(), ClientError> {
        self.post_ignoring_answer("/api/jobs/submit-result", body, retry)
            .await
    }

    /// A worker call whose success is all that matters (the answer is the job, unused here).
    async fn post_ignoring_answer<B: Serialize + Sync>(
        &self,
        path: &str,
        body: &B,
        retry: &Retry,
    ) -> Result<(), ClientError> {
        let _: serde_json::Value = self
            .call_json(path, body, self.token(), REQUEST_TIMEOUT, retry)
            .await?;
        Ok(())
    }

    /// Downloads `file_url` (relative to the server, or absolute) into `dest`, streaming.
    /// The worker token is only sent to the server itself, never to another host.
    pub async fn download(
        &self,
        file_url: &str,
        dest: &Path,
        retry: &Retry,
    ) -> Result<u64, ClientError> {
        let url = self.url(file_url);
        let token = if url.starts_with(&format!("{}/", self.base)) {
            self.token()
        } else {
            None
        };
        let mut tries = 0;
        loop {
            tries += 1;
            let result = self.download_once(&url, token.as_deref(), dest).await;
            match result {
                Err(e) if retryable(&e) && retry.allows(tries) => {
                    tracing::warn!(url, error = %e, tries, "download failed, retrying");
                    self.pause(tries, retry).await?;
                }
                other => return other,
            }
        }
    }

    /// One try of [`ServerClient::download`].
    async fn download_once(
        &self,
        url: &str,
        token: Option<&str>,
        dest: &Path,
    ) -> Result<u64, ClientError> {
        let mut req = self.http.get(url).timeout(DOWNLOAD_TIMEOUT);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let mut resp = req.send().await.map_err(transport)?;
        if !resp.status().is_success() {
            return Err(refusal(resp).await);
        }
        let mut file = tokio::fs::File::create(dest).await?;
        let mut written = 0u64;
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            file.write_all(&chunk).await?;
            written += chunk.len() as u64;
        }
        file.flush().await?;
        Ok(written)
    }

    /// An absolute URL for a server path (or an already absolute URL).
    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else if path.starts_with('/') {
            format!("{}{}", self.base, path)
        } else {
            format!("{}/{}", self.base, path)
        }
    }

    /// POSTs `body` as JSON to `path` and decodes the JSON answer, retrying per `retry`.
    async fn call_json<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        token: Option<String>,
        timeout: Duration,
        retry: &Retry,
    ) -> Result<R, ClientError> {
        let url = self.url(path);
        let mut tries = 0;
        loop {
            tries += 1;
            let mut req = self
                .http
                .request(Method::POST, &url)
                .timeout(timeout)
                .json(body);
            if let Some(t) = &token {
                req = req.bearer_auth(t);
            }
            let result = tokio::select! {
                r = send_json::<R>(req) => r,
                _ = retry.give_up.cancelled() => return Err(ClientError::Abandoned),
            };
            match result {
                Err(e) if retryable(&e) && retry.allows(tries) => {
                    if tries >= 3 {
                        tracing::warn!(path, error = %e, tries, "server call failed, retrying");
                    } else {
                        tracing::debug!(path, error = %e, tries, "server call failed, retrying");
                    }
                    self.pause(tries, retry).await?;
                }
                other => return other,
            }
        }
    }

    /// Sleeps the backoff after try `tries`, or returns early when the caller gives up.
    async fn pause(&self, tries: u32, retry: &Retry) -> Result<(), ClientError> {
        tokio::select! {
            _ = tokio::time::sleep(backoff_delay(tries - 1)) => Ok(()),
            _ = retry.give_up.cancelled() => Err(ClientError::Abandoned),
        }
    }
}

/// Sends one request and decodes its answer.
async fn send_json<R: DeserializeOwned>(req: reqwest::RequestBuilder) -> Result<R, ClientError> {
    let resp = req.send().await.map_err(transport)?;
    if !resp.status().is_success() {
        return Err(refusal(resp).await);
    }
    let bytes = resp.bytes().await.map_err(transport)?;
    let bytes = if bytes.is_empty() {
        &b"null"[..]
    } else {
        &bytes[..]
    };
    serde_json::from_slice(bytes).map_err(|e| ClientError::Decode(e.to_string()))
}

/// Turns a non-2xx answer into [`ClientError::Refused`], reading the server's error body.
async fn refusal(resp: reqwest::Response) -> ClientError {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(body) => ClientError::Refused {
            status: status.as_u16(),
            code: body.error.code,
            message: body.error.message,
        },
        Err(_) => ClientError::Refused {
            status: status.as_u16(),
            code: format!("http_{}", status.as_u16()),
            message: text.chars().take(200).collect(),
        },
    }
}

/// Wraps a reqwest failure.
fn transport(e: reqwest::Error) -> ClientError {
    ClientError::Transport(e.to_string())
}

/// Transport failures, 5xx and 429 are worth another try; other refusals are final.
fn retryable(e: &ClientError) -> bool {
    match e {
        ClientError::Transport(_) => true,
        ClientError::Refused { status, .. } => {
            StatusCode::from_u16(*status).is_ok_and(|s| s.is_server_error())
                || *status == StatusCode::TOO_MANY_REQUESTS.as_u16()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 0..30 {
            let d = backoff_delay(attempt);
            assert!(d <= BACKOFF_CAP, "{d:?}");
        }
        assert!(backoff_delay(0) <= BACKOFF_BASE);
        assert!(backoff_delay(20) >= BACKOFF_CAP / 2);
    }

    #[test]
    fn errors_classify() {
        let conflict = ClientError::Refused {
            status: 409,
            code: "wrong_state".into(),
            message: String::new(),
        };
        assert!(conflict.is_conflict() && !retryable(&conflict));
        let unknown = ClientError::Refused {
            status: 404,
            code: "unknown_worker".into(),
            message: String::new(),
        };
        assert!(unknown.is_unknown_worker());
        let busy = ClientError::Refused {
            status: 503,
            code: "not_ready".into(),
            message: String::new(),
        };
        assert!(retryable(&busy));
        assert!(retryable(&ClientError::Transport("refused".into())));
    }
}
