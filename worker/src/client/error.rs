//! Why a call to the server failed, and which failures are worth another try.

use gantry_api::ErrorBody;
use reqwest::StatusCode;

/// The most characters of a non-JSON error body kept in [`ClientError::Refused`].
const RAW_MESSAGE_CHARS: usize = 200;

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
        /// The request field the server blamed, when it named one.
        field: Option<String>,
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
    /// The server URL (or one of the list) is not an http:// or https:// URL.
    #[error("bad server URL: {0}")]
    BadUrl(String),
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

    /// Transport failures, 5xx and 429 are worth another try; other refusals are final.
    pub(super) fn is_retryable(&self) -> bool {
        match self {
            ClientError::Transport(_) => true,
            ClientError::Refused { status, .. } => {
                StatusCode::from_u16(*status).is_ok_and(|s| s.is_server_error())
                    || *status == StatusCode::TOO_MANY_REQUESTS.as_u16()
            }
            _ => false,
        }
    }
}

/// Turns a non-2xx answer into [`ClientError::Refused`], reading the server's error body.
pub(super) async fn refusal(resp: reqwest::Response) -> ClientError {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    refusal_from_body(status, &text)
}

/// A refusal from its status and body: the server's `{"error": {code, message}}` shape, or
/// `http_<status>` and the start of the body for anything else (a proxy's HTML page).
fn refusal_from_body(status: u16, text: &str) -> ClientError {
    match serde_json::from_str::<ErrorBody>(text) {
        Ok(body) => ClientError::Refused {
            status,
            code: body.error.code,
            message: body.error.message,
            field: body.error.field,
        },
        Err(_) => ClientError::Refused {
            status,
            code: format!("http_{status}"),
            message: text.chars().take(RAW_MESSAGE_CHARS).collect(),
            field: None,
        },
    }
}

/// Wraps a reqwest failure.
pub(super) fn transport(e: reqwest::Error) -> ClientError {
    ClientError::Transport(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: u16, code: &str) -> ClientError {
        ClientError::Refused {
            status,
            code: code.into(),
            message: String::new(),
            field: None,
        }
    }

    #[test]
    fn errors_classify() {
        let conflict = refused(409, "wrong_state");
        assert!(conflict.is_conflict() && !conflict.is_retryable());
        assert!(refused(404, "unknown_worker").is_unknown_worker());
        assert!(refused(503, "not_ready").is_retryable());
        assert!(ClientError::Transport("refused".into()).is_retryable());
    }

    #[test]
    fn too_many_requests_is_retried_other_refusals_are_not() {
        assert!(refused(429, "busy").is_retryable());
        assert!(!refused(400, "bad_request").is_retryable());
        assert!(!refused(404, "unknown_job").is_unknown_worker());
        assert!(!ClientError::Decode("x".into()).is_retryable());
        assert!(!ClientError::Abandoned.is_retryable());
    }

    #[test]
    fn refusals_read_the_servers_error_shape() {
        let body = r#"{"error": {"code": "unknown_worker", "message": "who?"}}"#;
        let err = refusal_from_body(404, body);
        assert!(err.is_unknown_worker(), "{err}");
        assert_eq!(
            err.to_string(),
            "server refused (404): unknown_worker: who?"
        );
    }

    #[test]
    fn refusals_without_the_shape_keep_the_start_of_the_body() {
        let page = format!("<html>{}</html>", "x".repeat(500));
        match refusal_from_body(502, &page) {
            ClientError::Refused {
                status,
                code,
                message,
                ..
            } => {
                assert_eq!((status, code.as_str()), (502, "http_502"));
                assert_eq!(message.chars().count(), RAW_MESSAGE_CHARS);
                assert!(message.starts_with("<html>"));
            }
            other => panic!("{other:?}"),
        }
    }
}
