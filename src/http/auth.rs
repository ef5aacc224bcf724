//! Credentials as every part of the server reads them: the one bearer-header parser, token
//! hashing and comparison, and the loopback-host guard of a server without an API token.

use super::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
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

/// True when `given` is `expected`, compared through their hashes (see [`token_hash`]).
pub fn tokens_match(given: &str, expected: &str) -> bool {
    token_hash(given) == token_hash(expected)
}

/// The token of an `Authorization: Bearer <token>` header, if the request has one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
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
            .get(header::HOST)
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
