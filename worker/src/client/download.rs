//! Downloading a job's input file into its work folder, streamed to disk.

use super::error::{refusal, transport};
use super::{ClientError, Retry, ServerClient};
use std::path::Path;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Time allowed to download a job's input file.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(600);

impl ServerClient {
    /// Downloads `file_url` (relative to the server, or absolute) into `dest`, streaming.
    /// The worker token is only sent to the server itself, never to another host.
    pub async fn download(
        &self,
        file_url: &str,
        dest: &Path,
        retry: &Retry,
    ) -> Result<u64, ClientError> {
        let mut tries = 0;
        let mut failovers_in_row = 0;
        loop {
            tries += 1;
            // A relative URL is on whichever replica is in use: it moves with a failover.
            let base = self.servers.current().to_string();
            let url = self.url(file_url);
            let token = if self.servers.owns(&url) {
                self.token()
            } else {
                None
            };
            let result = self.download_once(&url, token.as_deref(), dest).await;
            match result {
                Err(e) if e.is_retryable() && retry.allows(tries) => {
                    tracing::warn!(url, error = %e, tries, "download failed, retrying");
                    let on_server = self.servers.owns(&url);
                    let unreachable = matches!(e, ClientError::Transport(_));
                    if !(on_server && unreachable && self.fail_over(&base, &mut failovers_in_row)) {
                        self.pause(tries, retry).await?;
                    }
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
}
