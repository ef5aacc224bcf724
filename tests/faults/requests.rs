//! Requests that can be sent again (a retry is the same request), and the answers read back.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::response::Response;
use serde_json::Value;

/// Multipart boundary of the requests built here.
const BOUNDARY: &str = "gantry-fault-test-boundary";

/// One request, kept as parts so it can be built again.
#[derive(Debug, Clone)]
pub struct Req {
    method: Method,
    uri: String,
    headers: Vec<(header::HeaderName, String)>,
    body: Vec<u8>,
}

impl Req {
    /// Whether this scrapes `/metrics` (see `METRICS_SCRAPES`).
    pub fn is_metrics(&self) -> bool {
        self.uri == "/metrics"
    }

    /// A GET of `uri`.
    pub fn get(uri: &str) -> Req {
        Req {
            method: Method::GET,
            uri: uri.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A POST of `body` as JSON.
    pub fn post_json(uri: &str, body: &Value) -> Req {
        Req {
            method: Method::POST,
            uri: uri.to_string(),
            headers: vec![(header::CONTENT_TYPE, "application/json".into())],
            body: serde_json::to_vec(body).unwrap(),
        }
    }

    /// A POST without a body (a dashboard form's button).
    pub fn post_empty(uri: &str) -> Req {
        Req {
            method: Method::POST,
            ..Req::get(uri)
        }
    }

    /// A multipart POST of text `fields` and a `file` part.
    pub fn post_multipart(uri: &str, fields: &[(&str, &str)], file: (&str, &[u8])) -> Req {
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n\
                     {value}\r\n"
                )
                .as_bytes(),
            );
        }
        let (filename, content) = file;
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; \
                 filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
        Req {
            method: Method::POST,
            uri: uri.to_string(),
            headers: vec![(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )],
            body,
        }
    }

    /// The same request with this bearer token.
    pub fn bearer(mut self, token: &str) -> Req {
        self.headers
            .push((header::AUTHORIZATION, format!("Bearer {token}")));
        self
    }

    /// The request, ready to send.
    pub fn build(&self) -> Request<Body> {
        let mut builder = Request::builder()
            .method(self.method.clone())
            .uri(&self.uri)
            .header(header::HOST, "127.0.0.1");
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        builder.body(Body::from(self.body.clone())).unwrap()
    }

    /// `METHOD uri`, for messages.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.uri)
    }
}

/// An answer, read whole.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Its status.
    pub status: StatusCode,
    /// Its content type, empty when none.
    pub content_type: String,
    /// Its body.
    pub body: Vec<u8>,
}

impl Answer {
    /// Reads `response` to its end; `Err` when the body broke off.
    pub async fn read(response: Response) -> Result<Answer, String> {
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .map_err(|e| format!("the body broke off: {e}"))?;
        Ok(Answer {
            status,
            content_type,
            body: body.to_vec(),
        })
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}
