//! The dashboard's sign-in as both the dashboard and `POST /api/execute` check it.
//!
//! With an API token configured, a person signs in once with it and gets a session cookie;
//! scripts may send the token as a bearer header instead. The cookie holds a hash derived
//! from the API token, never the token itself, so the server keeps no session state (every
//! replica accepts it) and changing the token signs everyone out. Form posts are also refused
//! when the browser says they come from another site, which protects a server that runs
//! without tokens on loopback.

use super::auth::{bearer, token_hash, tokens_match};
use super::error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Name of the session cookie.
pub const COOKIE_NAME: &str = "gantry_session";

/// The cookie value that proves a sign-in with `api_token`.
pub fn session_value(api_token: &str) -> String {
    token_hash(&format!("gantry-dashboard-session-v1\n{api_token}"))
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// True when the request may use the dashboard and the client API: no API token is
/// configured, or it carries the session cookie or the token as a bearer header.
pub fn is_signed_in(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(expected) = state.config.api_token.as_deref() else {
        return true;
    };
    let cookie_ok = cookie(headers, COOKIE_NAME)
        .is_some_and(|given| tokens_match(given, &session_value(expected)));
    let bearer_ok = bearer(headers).is_some_and(|given| tokens_match(given, expected));
    cookie_ok || bearer_ok
}

/// True unless the browser says the request comes from another site (`Sec-Fetch-Site`, or an
/// `Origin` naming another host). Requests from scripts carry neither and pass.
pub fn is_same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return false;
        }
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

/// Middleware of `POST /api/execute`: the client API token as for every client route, or a
/// dashboard session cookie (the form posts there); never a post from another site.
pub async fn require_client_or_session(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if !is_same_origin(request.headers()) {
        return ApiError::forbidden("cross-site posts are refused").into_response();
    }
    if is_signed_in(&state, request.headers()) {
        return next.run(request).await;
    }
    ApiError::unauthorized("send `Authorization: Bearer <API token>` or sign in to the dashboard")
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_sites_are_told_apart() {
        let mut h = HeaderMap::new();
        assert!(is_same_origin(&h));
        h.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        h.insert(header::ORIGIN, "http://127.0.0.1:8080".parse().unwrap());
        assert!(is_same_origin(&h));
        h.insert(header::ORIGIN, "http://evil.example".parse().unwrap());
        assert!(!is_same_origin(&h));
        h.remove(header::ORIGIN);
        h.insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert!(!is_same_origin(&h));
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=1; gantry_session=xyz".parse().unwrap());
        assert_eq!(cookie(&h, COOKIE_NAME), Some("xyz"));
        assert_eq!(cookie(&h, "b"), None);
    }
}
