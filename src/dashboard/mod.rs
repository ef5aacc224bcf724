//! The dashboard: server-rendered pages at `/` for people, readable without JavaScript.
//!
//! Pages read the repository directly and render HTML on the server ([`html`] escapes every
//! user value). A small script (`assets/app.js`, served by the binary, no CDN) refreshes the
//! regions marked `data-live` every 2 s by fetching the same page again, and posts the submit
//! form to `/api/execute` with `fetch`. With an API token configured, pages need a session
//! cookie from the login page ([`login`]).

mod assets;
pub mod html;
mod job;
mod jobs;
mod login;
mod overview;
mod workers;

use crate::http::error::ApiError;
use crate::repo::RepoError;
use crate::state::AppState;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use html::error_page;

/// A page handler's failure, answered as an HTML error page.
#[derive(Debug)]
pub struct PageError(ApiError);

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        PageError(e)
    }
}

impl From<RepoError> for PageError {
    fn from(e: RepoError) -> Self {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status;
        if status.is_server_error() {
            // The ApiError conversion already logged the cause; say nothing internal here.
            return error_page(status, "the server could not answer; see its log");
        }
        error_page(status, &self.0.message)
    }
}

/// What page handlers return.
pub type PageResult = Result<Response, PageError>;

/// Every dashboard route: pages (behind the session check), sign-in, and static assets.
pub fn router(state: AppState) -> Router<AppState> {
    let pages = Router::new()
        .route("/", get(overview::page))
        .route("/jobs", get(jobs::page))
        .route("/jobs/{id}", get(job::page))
        .route("/jobs/{id}/cancel", post(job::cancel))
        .route("/workers", get(workers::page))
        .route_layer(from_fn_with_state(state, login::require_session));
    Router::new()
        .merge(pages)
        .route("/login", get(login::login_page).post(login::login))
        .route("/logout", post(login::logout))
        .route("/assets/{name}", get(assets::serve))
}
