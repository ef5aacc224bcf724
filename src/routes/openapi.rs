//! The OpenAPI 3 document at `/api/openapi.json`: its title and tags here, its paths from the
//! handlers' annotations as [`super::router`] mounts them.

use axum::{Extension, Json};
use std::sync::Arc;
use utoipa::OpenApi;

/// The document's frame: title, description and the tags the handlers are grouped by.
#[derive(OpenApi)]
#[openapi(
    info(title = "gantry", description = "A database-backed job execution service."),
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

/// `GET /api/openapi.json`: this document.
#[utoipa::path(get, path = "/api/openapi.json", operation_id = "openapiDocument", tag = "operations",
    responses((status = 200, description = "the OpenAPI 3 document")))]
pub async fn openapi_json(
    Extension(doc): Extension<Arc<utoipa::openapi::OpenApi>>,
) -> Json<utoipa::openapi::OpenApi> {
    Json((*doc).clone())
}
