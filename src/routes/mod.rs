//! The REST API: one module per resource, mounted by [`router`].
//!
//! Each handler's `#[utoipa::path]` annotation is the one place its method and path are
//! written: `routes!` mounts the handler from it and adds it to the OpenAPI document, so the
//! router and `/api/openapi.json` cannot disagree.

pub mod auth;
mod batch;
mod delivery;
pub mod execute;
mod health;
mod jobs;
pub mod metrics;
pub mod openapi;
mod openapi_limits;
mod reports;
mod uploads;
mod workers;

use crate::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::{Extension, Router};
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Largest JSON body of a worker route (a result carries up to two capped outputs).
pub const MAX_WORKER_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Largest JSON body of a client route.
pub const MAX_CLIENT_BODY_BYTES: usize = 1024 * 1024;
/// Room for the multipart framing and text fields around an upload's largest file.
const UPLOAD_OVERHEAD_BYTES: usize = 64 * 1024;

/// Every REST route, with its body limit and credential check, and `GET /api/openapi.json`
/// serving the document the routes were mounted from, with the checks' limits written in.
pub fn router(state: &AppState) -> Router<AppState> {
    let (router, mut doc) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(client_routes(state))
        .merge(worker_routes())
        .merge(execute_route(state))
        .merge(open_routes())
        .routes(routes!(openapi::openapi_json))
        .split_for_parts();
    openapi_limits::constrain(&mut doc);
    router.layer(Extension(Arc::new(doc)))
}

/// Largest body of a route that takes a file.
fn upload_limit(state: &AppState) -> usize {
    state.config.max_upload_bytes + UPLOAD_OVERHEAD_BYTES
}

/// What clients call, behind the API token.
fn client_routes(state: &AppState) -> OpenApiRouter<AppState> {
    let uploads = OpenApiRouter::default()
        .routes(routes!(uploads::upload))
        .layer(DefaultBodyLimit::max(upload_limit(state)));
    OpenApiRouter::default()
        .routes(routes!(workers::list))
        .routes(routes!(jobs::create))
        .routes(routes!(jobs::status))
        .routes(routes!(jobs::list))
        .routes(routes!(jobs::cancel))
        .routes(routes!(batch::create))
        .routes(routes!(reports::summary))
        .layer(DefaultBodyLimit::max(MAX_CLIENT_BODY_BYTES))
        .merge(uploads)
        .route_layer(from_fn_with_state(state.clone(), auth::require_client))
}

/// What worker agents call; each handler checks the worker's own token.
fn worker_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(workers::register))
        .routes(routes!(workers::heartbeat))
        .routes(routes!(delivery::get_job))
        .routes(routes!(delivery::start))
        .routes(routes!(delivery::submit_result))
        .routes(routes!(batch::start))
        .routes(routes!(batch::submit_results))
        .layer(DefaultBodyLimit::max(MAX_WORKER_BODY_BYTES))
}

/// `POST /api/execute`: the API token or a dashboard session, since the dashboard's form
/// posts there.
fn execute_route(state: &AppState) -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(execute::execute))
        .layer(DefaultBodyLimit::max(upload_limit(state)))
        .route_layer(from_fn_with_state(
            state.clone(),
            crate::http::session::require_client_or_session,
        ))
}

/// Routes without a route-level check: downloads check their own token, the rest is public.
fn open_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(uploads::download))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(metrics::render))
}
