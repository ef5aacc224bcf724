//! Liveness and readiness.

use crate::http::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

/// `GET /healthz`: the process answers.
#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "operations", responses((status = 200, description = "alive")))]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: the database answers and the server is not shutting down.
#[utoipa::path(get, path = "/readyz", operation_id = "readyz", tag = "operations",
    responses((status = 200, description = "ready"), (status = 503, description = "not ready", body = gantry_api::ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    if state.shutdown.is_cancelled() {
        return Err(ApiError::unavailable("shutting down"));
    }
    // The cause goes to the log, not to whoever probes (it may name hosts and users).
    state.repo.ping().await.map_err(|e| {
        tracing::warn!("readiness: the database does not answer: {e}");
        ApiError::unavailable("the database does not answer; see the server log")
    })?;
    Ok(Json(
        json!({"status": "ready", "database": format!("{:?}", state.repo.dialect())}),
    ))
}
