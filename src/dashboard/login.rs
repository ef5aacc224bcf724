//! Who may see the dashboard: the guard of its pages, and the sign-in and sign-out forms.
//!
//! The session itself (cookie value, sign-in and same-site checks) is in
//! [`crate::http::session`], shared with `POST /api/execute`. The cookie is `HttpOnly`
//! (scripts cannot read it) and `SameSite=Strict` (other sites cannot make a browser send it).

use super::html;
use crate::http::auth::tokens_match;
use crate::http::session::{is_same_origin, is_signed_in, session_value, COOKIE_NAME};
use crate::state::AppState;
use axum::extract::{Form, Query, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

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
    if !tokens_match(form.token.trim(), expected) {
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
}
