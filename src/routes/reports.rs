//! `GET /api/reports/summary`: the job-history report, computed in SQL.

use crate::clock::now_ms;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::AppQuery;
use crate::http::validate::parse_time_text;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use gantry_api::ReportSummary;
use serde::Deserialize;

/// The groupings the report knows.
pub const GROUPINGS: &[&str] = &["hour", "day", "worker", "status", "image", "all"];
/// The window when `from` is not given: the last day.
pub const DEFAULT_WINDOW_MS: i64 = 24 * 3600 * 1000;

/// The report's window and grouping.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct SummaryQuery {
    /// Start (epoch ms or RFC 3339); a day before `to` when absent. Rounded down to a whole
    /// hour (UTC), as `to` is rounded up: the report's resolution is one hour.
    from: Option<String>,
    /// End, exclusive (epoch ms or RFC 3339); now when absent.
    to: Option<String>,
    /// hour, day, worker, status, image or all (the default).
    group_by: Option<String>,
}

/// `GET /api/reports/summary`.
#[utoipa::path(get, path = "/api/reports/summary", operation_id = "reportSummary", tag = "reports", params(SummaryQuery),
    responses((status = 200, description = "counts, success rate, queue wait and run time per group", body = ReportSummary),
        (status = 400, description = "bad input", body = gantry_api::ErrorBody),
        (status = 401, description = "missing or wrong token", body = gantry_api::ErrorBody)))]
pub async fn summary(
    State(state): State<AppState>,
    AppQuery(query): AppQuery<SummaryQuery>,
) -> ApiResult<Json<ReportSummary>> {
    let to = match &query.to {
        Some(t) => parse_time_text("to", t)?,
        None => now_ms() + 1,
    };
    let from = match &query.from {
        Some(t) => parse_time_text("from", t)?,
        None => to - DEFAULT_WINDOW_MS,
    };
    if from >= to {
        return Err(ApiError::invalid("from", "from must be before to"));
    }
    let group_by = query
        .group_by
        .map(|g| g.to_ascii_lowercase())
        .unwrap_or_else(|| "all".into());
    if !GROUPINGS.contains(&group_by.as_str()) {
        return Err(ApiError::invalid(
            "groupBy",
            format!("groupBy must be one of {}", GROUPINGS.join(", ")),
        ));
    }
    // Reports read hourly rollups: the window is the whole hours it touches, and the answer
    // says which.
    let (from, to) = crate::rollup::hours_covering(from, to);
    let groups = state.repo.report_summary(from, to, &group_by).await?;
    Ok(Json(ReportSummary {
        from,
        to,
        group_by,
        groups,
    }))
}
