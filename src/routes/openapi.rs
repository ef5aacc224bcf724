//! The OpenAPI 3 document at `/api/openapi.json`, generated from the handlers' annotations.

use axum::Json;
use utoipa::OpenApi;

/// Every route of the REST API.
#[derive(OpenApi)]
#[openapi(
    info(title = "gantry", description = "A database-backed job execution service."),
    paths(
        super::workers::register,
        super::workers::heartbeat,
        super::workers::list,
        super::jobs::create,
        super::jobs::status,
        super::jobs::list,
        super::jobs::cancel,
        super::execute::execute,
        super::delivery::get_job,
        super::delivery::start,
        super::delivery::submit_result,
        super::batch::create,
        super::batch::start,
        super::batch::submit_results,
        super::reports::summary,
        super::uploads::upload,
        super::uploads::download,
        super::health::healthz,
        super::health::readyz,
        metrics_doc,
        openapi_json,
    ),
    tags(
        (name = "jobs", description = "Submit, follow and cancel jobs."),
        (name = "workers", description = "The fleet: registration, heartbeats, listing."),
        (name = "worker protocol", description = "What an agent calls to get and run its jobs."),
        (name = "uploads", description = "Input files for jobs."),
        (name = "reports", description = "Job history, summarised in SQL."),
        (name = "operations", description = "Health, readiness, metrics and this document."),
    )
)]
pub struct ApiDoc;

/// `GET /metrics` is served by `crate::metrics::render`; this stub only documents it.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
#[allow(dead_code)]
fn metrics_doc() {}

/// `GET /api/openapi.json`: this document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations",
    responses((status = 200, description = "the OpenAPI 3 document")))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
