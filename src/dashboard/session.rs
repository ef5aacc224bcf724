//! Who may see the dashboard: with an API token configured, a person signs in once with it and
//! gets a session cookie; scripts may send the token as a bearer header instead.
//!
//! The cookie holds a hash derived from the API token, never the token itself, so the server
//! keeps no session state (every replica accepts it) and changing the token signs everyone
//! out. It is `HttpOnly` (scripts cannot read it) and `SameSite=Strict` (other sites cannot
//! make a browser send it). Form posts are also refused when the browser says they come from
//! another site, which protects a server that runs without tokens on loopback.

use super::html;
use crate::routes::auth::token_hash;
use crate::state::AppState;
use axum::extract::{Form, Query, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

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

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// True when the request may use the dashboard and the client API: no API token is
/// configured, or it carries the session cookie or the token as a bearer header.
pub fn is_signed_in(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(expected) = state.config.api_token.as_deref() else {
        return true;
    };
    // Compare hashes, so the time taken says nothing about how much of a guess was right.
    let cookie_ok = cookie(headers, COOKIE_NAME)
        .is_some_and(|given| token_hash(given) == token_hash(&session_value(expected)));
    let bearer_ok = bearer(headers).is_some_and(|given| token_hash(given) == token_hash(expected));
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

/// Middleware of the dashboard pages: signed-in readers pass; others are sent to the login
/// page (or refused, for anything but a page view). Posts must come from this site.
pub async fn require_session(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::GET && !is_same_origin(request.headers()) {
        return html::error_page(StatusCode::FORBIDDEN, "cross-site form posts are refused");
    }
    if is_signed_in(&state, request.headers()) {
        return next.run(request).await;
    }
    if request.method() == Method::GET {
        let wanted = request
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let target = format!("/login?next={}", html::url_encode(wanted));
        return Redirect::to(&target).into_response();
    }
    html::error_page(StatusCode::UNAUTHORIZED, "sign in first")
}

/// Middleware of `POST /api/execute`: the client API token as for every client route, or a
/// dashboard session cookie (the form posts there); never a post from another site.
pub async fn require_client_or_session(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if !is_same_origin(request.headers()) {
        return crate::routes::error::ApiError::forbidden("cross-site posts are refused")
            .into_response();
    }
    if is_signed_in(&state, request.headers()) {
        return next.run(request).await;
    }
    crate::routes::error::ApiError::unauthorized(
        "send `Authorization: Bearer <API token>` or sign in to the dashboard",
    )
    .into_response()
}

/// `?next=` of the login page.
#[derive(Debug, Default, Deserialize)]
pub struct NextQuery {
    /// Where to go after signing in.
    next: Option<String>,
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    /// The API token.
    token: String,
    /// Where to go after signing in.
    next: Option<String>,
}

/// Only local paths, so the login page cannot be used to send people elsewhere.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.into(),
        _ => "/".into(),
    }
}

/// `GET /login`: the token field.
pub async fn login_page(State(state): State<AppState>, Query(q): Query<NextQuery>) -> Response {
    let next = safe_next(q.next.as_deref());
    if state.config.api_token.is_none() {
        return Redirect::to(&next).into_response();
    }
    html::login_page(&next, None, StatusCode::OK)
}

/// `POST /login`: checks the token and sets the session cookie.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    if !is_same_origin(&headers) {
        return html::error_page(StatusCode::FORBIDDEN, "cross-site form posts are refused");
    }
    let Some(expected) = state.config.api_token.as_deref() else {
        return Redirect::to(&next).into_response();
    };
    if token_hash(form.token.trim()) != token_hash(expected) {
        return html::login_page(
            &next,
            Some("That token is wrong."),
            StatusCode::UNAUTHORIZED,
        );
    }
    let cookie = format!(
        "{COOKIE_NAME}={}; Path=/; HttpOnly; SameSite=Strict",
        session_value(expected)
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response()
}

/// `POST /logout`: forgets the session cookie.
pub async fn logout(headers: HeaderMap) -> Response {
    if !is_same_origin(&headers) {
        return html::error_page(StatusCode::FORBIDDEN, "cross-site form posts are refused");
    }
    let cookie = format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/jobs?q=1")), "/jobs?q=1");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }

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
