//! `GET /metrics` and the HTTP timing middleware.
//!
//! Counts that live in the database are read from it at scrape time (see [`crate::metrics`]
//! for what each replica reports).

use crate::clock::now_ms;
use crate::lifecycle::worker;
use crate::metrics::{self, DATABASE_UP, HTTP_REQUESTS, JOBS, WORKERS};
use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gantry_api::WorkerStatus;
use std::time::Instant;

/// Records an HTTP request's duration under its route pattern (never the raw path, so ids do
/// not explode the label set).
pub async fn track_http(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(request).await;
    ::metrics::histogram!(HTTP_REQUESTS, "method" => method, "route" => route,
        "status" => response.status().as_u16().to_string())
    .record(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`: the Prometheus text format. It answers while the database does not (this
/// process's own timings are worth reading then most), saying so in `gantry_database_up`.
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn render(State(state): State<AppState>) -> Response {
    let up = match refresh_from_database(&state).await {
        Ok(()) => 1.0,
        Err(e) => {
            tracing::warn!("metrics: could not read counts from the database: {e}");
            0.0
        }
    };
    ::metrics::gauge!(DATABASE_UP).set(up);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        metrics::handle().render(),
    )
        .into_response()
}

async fn refresh_from_database(state: &AppState) -> crate::repo::RepoResult<()> {
    for (status, n) in state.repo.job_counts_live().await? {
        ::metrics::gauge!(JOBS, "status" => status).set(n as f64);
    }
    let now = now_ms();
    let repo = &state.repo;
    state
        .endings
        .advance(now, |from, to| repo.job_finished_between(from, to))
        .await?;
    let workers = state.repo.worker_list().await?;
    for status in WorkerStatus::ALL {
        let n = workers
            .iter()
            .filter(|(w, _)| worker::status(w, now) == *status)
            .count();
        ::metrics::gauge!(WORKERS, "status" => status.as_str()).set(n as f64);
    }
    Ok(())
}
