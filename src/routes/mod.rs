//! The REST API: one module per resource, all mounted by [`app`].

pub mod auth;
mod batch;
mod delivery;
pub mod error;
pub mod execute;
pub mod extract;
mod health;
pub(crate) mod jobs;
pub mod openapi;
mod reports;
mod uploads;
pub mod validate;
mod workers;

use crate::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use axum::Router;
use error::ApiError;
use tower_http::trace::TraceLayer;

/// Largest JSON body of a worker route (a result carries up to two capped outputs).
pub const MAX_WORKER_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Largest JSON body of a client route.
pub const MAX_CLIENT_BODY_BYTES: usize = 1024 * 1024;

/// Every route of the server.
pub fn app(state: AppState) -> Router {
    let upload_limit = state.config.max_upload_bytes + 64 * 1024;
    let client = Router::new()
        .route("/api/jobs/create", post(jobs::create))
        .route("/api/jobs/create-batch", post(batch::create))
        .route("/api/jobs/status", get(jobs::status))
        .route("/api/jobs/list", get(jobs::list))
        .route("/api/jobs/cancel", post(jobs::cancel))
        .route("/api/workers/list", get(workers::list))
        .route("/api/reports/summary", get(reports::summary))
        .layer(DefaultBodyLimit::max(MAX_CLIENT_BODY_BYTES))
        .merge(
            Router::new()
                .route("/api/uploads", post(uploads::upload))
                .layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route_layer(from_fn_with_state(state.clone(), auth::require_client));
    let worker = Router::new()
        .route("/api/workers/register", post(workers::register))
        .route("/api/workers/heartbeat", post(workers::heartbeat))
        .route("/api/jobs/get-job", post(delivery::get_job))
        .route("/api/jobs/start", post(delivery::start))
        .route("/api/jobs/submit-result", post(delivery::submit_result))
        .route("/api/jobs/start-batch", post(batch::start))
        .route("/api/jobs/submit-result-batch", post(batch::submit_results))
        .layer(DefaultBodyLimit::max(MAX_WORKER_BODY_BYTES));
    let execute = Router::new()
        .route("/api/execute", post(execute::execute))
        .layer(DefaultBodyLimit::max(upload_limit))
        .route_layer(from_fn_with_state(
            state.clone(),
            crate::dashboard::session::require_client_or_session,
        ));
    Router::new()
        .merge(client)
        .merge(worker)
        .merge(execute)
        .merge(crate::dashboard::router(state.clone()))
        .route("/uploads/{id}/{filename}", get(uploads::download))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(crate::metrics::render))
        .route("/api/openapi.json", get(openapi::openapi_json))
        // A route layer: it runs after routing, so it sees the matched route pattern.
        .route_layer(axum::middleware::from_fn(crate::metrics::track_http))
        .fallback(not_found)
        .layer(from_fn_with_state(
            state.clone(),
            auth::require_loopback_host,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no_route", "no such route; see the README for the API")
}
