//! The HTTP client the CLI uses: the server's URL and API token, JSON in and out, and the
//! server's error shape turned into a readable error.

use gantry_api::{ErrorBody, Servers};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;
use thiserror::Error;

/// Why a call to the server failed.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The server could not be reached.
    #[error("cannot reach the gantry server at {url}: {source}")]
    Unreachable {
        /// The server's URL.
        url: String,
        /// The transport error.
        source: reqwest::Error,
    },
    /// The server answered with an error.
    #[error("{message} ({status}, {code})")]
    Api {
        /// HTTP status.
        status: StatusCode,
        /// The error code from the body.
        code: String,
        /// The message from the body.
        message: String,
    },
    /// The answer was not what the API promises.
    #[error("unexpected answer from the server: {0}")]
    Decode(String),
}

impl ClientError {
    /// The process exit code for this error: 2 for bad input, 3 for unknown ids, 4 for a
    /// refused state change, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            ClientError::Api { status, .. } if *status == StatusCode::BAD_REQUEST => 2,
            ClientError::Api { status, .. } if *status == StatusCode::NOT_FOUND => 3,
            ClientError::Api { status, .. } if *status == StatusCode::CONFLICT => 4,
            _ => 1,
        }
    }
}

/// A client for one server, or for one of several replicas of it.
#[derive(Clone, Debug)]
pub struct Client {
    /// The replicas' base URLs and which one is in use.
    servers: Arc<Servers>,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    /// A client for `servers` (e.g. `http://127.0.0.1:8080`, or several replicas).
    pub fn new(servers: Servers, token: Option<String>) -> Client {
        Client {
            servers: Arc::new(servers),
            token,
            http: reqwest::Client::new(),
        }
    }

    fn request(&self, base: &str, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, format!("{base}{path}"));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// GETs a path and decodes the JSON answer.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.send(|base| self.request(base, Method::GET, path))
            .await
    }

    /// POSTs JSON and decodes the JSON answer.
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.send(|base| self.request(base, Method::POST, path).json(body))
            .await
    }

    /// Uploads a file as multipart and decodes the answer.
    pub async fn upload<T: DeserializeOwned>(
        &self,
        path: &str,
        filename: &str,
        bytes: Vec<u8>,
    ) -> Result<T, ClientError> {
        self.send(|base| {
            let part =
                reqwest::multipart::Part::bytes(bytes.clone()).file_name(filename.to_string());
            let form = reqwest::multipart::Form::new().part("file", part);
            self.request(base, Method::POST, path).multipart(form)
        })
        .await
    }

    /// Sends the request `build` makes for a server's base URL and decodes the answer. A
    /// server that cannot be connected to hands the request to the next replica: nothing
    /// reached it, so even a create is safe to send again.
    async fn send<T, F>(&self, build: F) -> Result<T, ClientError>
    where
        T: DeserializeOwned,
        F: Fn(&str) -> RequestBuilder,
    {
        let mut tried = 0;
        let (base, response) = loop {
            let base = self.servers.current().to_string();
            match build(&base).send().await {
                Ok(response) => break (base, response),
                Err(e) if e.is_connect() && tried + 1 < self.servers.len() => {
                    tried += 1;
                    let next = self.servers.failed(&base);
                    eprintln!("gantry: cannot reach {base}; trying {next}");
                }
                Err(source) => return Err(ClientError::Unreachable { url: base, source }),
            }
        };
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|source| ClientError::Unreachable { url: base, source })?;
        if !status.is_success() {
            let (code, message) = match serde_json::from_str::<ErrorBody>(&text) {
                Ok(body) => (body.error.code, body.error.message),
                Err(_) => ("http".to_string(), text),
            };
            return Err(ClientError::Api {
                status,
                code,
                message,
            });
        }
        serde_json::from_str(&text).map_err(|e| ClientError::Decode(format!("{e}: {text}")))
    }
}
