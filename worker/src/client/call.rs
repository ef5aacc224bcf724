//! One JSON call to the server: its URL, bearer token and timeout, retried per [`Retry`]
//! with backoff, and the answer decoded.

use super::error::{refusal, transport};
use super::retry::backoff_delay;
use super::{ClientError, Retry, ServerClient};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

/// From this try on, a failed call is logged as a warning (earlier ones only at debug).
const WARN_FROM_TRY: u32 = 3;

impl ServerClient {
    /// An absolute URL for a server path on the server in use (or an already absolute URL).
    pub(super) fn url(&self, path: &str) -> String {
        self.servers.url(path)
    }

    /// After a try that could not reach the server in use: moves to the next replica, and
    /// says whether to try it at once (while replicas not yet tried in this row remain)
    /// rather than after the backoff.
    pub(super) fn fail_over(&self, base: &str, failovers_in_row: &mut usize) -> bool {
        if self.servers.len() < 2 {
            return false;
        }
        let next = self.servers.failed(base);
        if next != base {
            tracing::info!(
                from = base,
                to = next,
                "server unreachable; moving to the next one"
            );
        }
        *failovers_in_row += 1;
        if *failovers_in_row < self.servers.len() {
            true
        } else {
            *failovers_in_row = 0;
            false
        }
    }

    /// POSTs `body` as JSON to `path` and decodes the JSON answer, retrying per `retry`; a
    /// server that cannot be reached hands the call to the next one of the list.
    pub(super) async fn call_json<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        token: Option<String>,
        timeout: Duration,
        retry: &Retry,
    ) -> Result<R, ClientError> {
        let mut tries = 0;
        let mut failovers_in_row = 0;
        loop {
            tries += 1;
            let base = self.servers.current().to_string();
            let url = self.url(path);
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
                Err(e) if e.is_retryable() && retry.allows(tries) => {
                    if tries >= WARN_FROM_TRY {
                        tracing::warn!(path, error = %e, tries, "server call failed, retrying");
                    } else {
                        tracing::debug!(path, error = %e, tries, "server call failed, retrying");
                    }
                    let unreachable = matches!(e, ClientError::Transport(_));
                    if !(unreachable && self.fail_over(&base, &mut failovers_in_row)) {
                        self.pause(tries, retry).await?;
                    }
                }
                other => return other,
            }
        }
    }

    /// Sleeps the backoff after try `tries`, or returns early when the caller gives up.
    pub(super) async fn pause(&self, tries: u32, retry: &Retry) -> Result<(), ClientError> {
        tokio::select! {
            _ = tokio::time::sleep(backoff_delay(tries - 1)) => Ok(()),
            _ = retry.give_up.cancelled() => Err(ClientError::Abandoned),
        }
    }
}

/// Sends one request and decodes its answer (an empty body reads as `null`).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_built_on_the_base_unless_absolute() {
        let client = ServerClient::new("http://server:8080/", None).unwrap();
        assert_eq!(client.url("/api/x"), "http://server:8080/api/x");
        assert!(ServerClient::new("server:8080", None).is_err());
        assert_eq!(client.url("uploads/f"), "http://server:8080/uploads/f");
        assert_eq!(client.url("https://files/f"), "https://files/f");
    }
}
