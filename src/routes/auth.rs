//! Bearer-token checks: an API token for client routes, a join token for registration, and a
//! per-worker token that acts only for its own worker. With no tokens configured, every route
//! is open and the server refuses to listen beyond loopback (see `ServeConfig::validate`).

use super::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};

/// Hex SHA-256 of a token: what the database stores, and what comparisons use, so comparing
/// never leaks how much of a guessed token was right.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A fresh random per-worker token.
pub fn new_worker_token() -> String {
    format!(
        "gw_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn matches(given: &str, expected: &str) -> bool {
    token_hash(given) == token_hash(expected)
}

/// Middleware for client routes: the API token, when one is configured.
pub async fn require_client(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> ApiResult<Response> {
    if let Some(expected) = &state.config.api_token {
        match bearer(request.headers()) {
            None => {
                return Err(ApiError::unauthorized(
                    "send `Authorization: Bearer <API token>`",
                ))
            }
            Some(given) if !matches(given, expected) => {
                return Err(ApiError::unauthorized("the API token is wrong"))
            }
            Some(_) => {}
        }
    }
    Ok(next.run(request).await)
}

/// Registration: the join token, when one is configured.
pub fn require_join(state: &AppState, headers: &HeaderMap) -> ApiResult<()> {
    let Some(expected) = &state.config.worker_token else {
        return Ok(());
    };
    match bearer(headers) {
        None => Err(ApiError::unauthorized(
            "send `Authorization: Bearer <worker join token>`",
        )),
        Some(given) if matches(given, expected) => Ok(()),
        Some(_) => Err(ApiError::unauthorized("the worker join token is wrong")),
    }
}

/// Worker routes: the token of exactly this worker, when worker tokens are in use.
pub async fn require_worker(
    state: &AppState,
    headers: &HeaderMap,
    worker_id: &str,
) -> ApiResult<()> {
    if state.config.worker_token.is_none() {
        return Ok(());
    }
    let Some(given) = bearer(headers) else {
        return Err(ApiError::unauthorized(
            "send `Authorization: Bearer <worker token>`",
        ));
    };
    match state.repo.worker_by_token_hash(&token_hash(given)).await? {
        Some(owner) if owner == worker_id => Ok(()),
        Some(_) => Err(ApiError::forbidden(format!(
            "this token belongs to another worker, not `{worker_id}`"
        ))),
        None => Err(ApiError::unauthorized(
            "unknown worker token; register again",
        )),
    }
}

/// Downloads of uploaded files: the API token or any worker's token.
pub async fn require_client_or_worker(state: &AppState, headers: &HeaderMap) -> ApiResult<()> {
    let api = state.config.api_token.as_deref();
    let workers_use_tokens = state.config.worker_token.is_some();
    // Without worker tokens agents send none, and must still fetch their jobs' files (such a
    // server listens on loopback only, or runs with --insecure-no-auth).
    if !workers_use_tokens {
        return Ok(());
    }
    let Some(given) = bearer(headers) else {
        return Err(ApiError::unauthorized(
            "send `Authorization: Bearer <token>`",
        ));
    };
    if api.is_some_and(|expected| matches(given, expected)) {
        return Ok(());
    }
    if workers_use_tokens
        && state
            .repo
            .worker_by_token_hash(&token_hash(given))
            .await?
            .is_some()
    {
        return Ok(());
    }
    Err(ApiError::unauthorized("the token is wrong"))
}

/// Middleware against DNS rebinding: a server without an API token (open to anyone who can
/// reach it, so loopback only) answers only requests that name it by a loopback address. A web
/// page whose domain an attacker points at 127.0.0.1 is otherwise "same origin" with it.
pub async fn require_loopback_host(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> ApiResult<Response> {
    if state.config.api_token.is_none() && !state.config.insecure_no_auth {
        let host = request
            .headers()
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if !is_loopback_host(host) {
            return Err(ApiError::forbidden(format!(
                "this server has no API token and only answers requests for a loopback address \
                 (127.0.0.1, localhost, [::1]), not `{host}`; set GANTRY_API_TOKEN to serve \
                 other names"
            )));
        }
    }
    Ok(next.run(request).await)
}

/// True for `localhost`, `127.x.x.x` and `[::1]`, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn only_loopback_names_pass() {
        for ok in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:1",
            "127.1.2.3",
            "[::1]:8080",
            "[::1]",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8080",
            "10.0.0.1:80",
            "",
            "localhost.evil.com",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }
}
