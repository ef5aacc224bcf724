//! The job list: a table with a status filter, a search over id and command, and cursor
//! paging, newest first.

use super::html::{self, esc, Tab};
use super::PageResult;
use crate::clock::now_ms;
use crate::http::error::ApiError;
use crate::http::{reads, validate};
use crate::model::JobListParams;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use gantry_api::{Job, JobStatus};
use serde::Deserialize;

/// Rows per page of `/jobs`.
pub const PAGE_SIZE: i64 = 50;

/// Filters of `/jobs`.
#[derive(Debug, Default, Deserialize)]
pub struct JobsQuery {
    /// One state, any case; empty for all.
    status: Option<String>,
    /// Text in the id or command.
    q: Option<String>,
    /// The id below which the page starts (the previous page's last id).
    cursor: Option<String>,
}

/// A page of jobs, newest first, and the cursor of the next page.
pub async fn load(
    state: &AppState,
    status: Option<JobStatus>,
    search: Option<String>,
    cursor: Option<String>,
    limit: i64,
) -> Result<(Vec<Job>, Option<String>), ApiError> {
    let params = JobListParams {
        statuses: status.into_iter().collect(),
        search,
        before_id: cursor,
        limit,
        ..JobListParams::default()
    };
    reads::job_page(state, params).await
}

/// How long the job ran, or has been running.
pub fn run_time(job: &Job, now: i64) -> Option<i64> {
    job.duration_ms.or(match (job.started_at, job.finished_at) {
        (Some(start), Some(end)) => Some(end - start),
        (Some(start), None) if job.status == JobStatus::Running => Some(now - start),
        _ => None,
    })
}

/// The jobs table.
pub fn table(jobs: &[Job], now: i64, empty: &str) -> String {
    if jobs.is_empty() {
        return format!("<p class=\"empty\">{}</p>", esc(empty));
    }
    let mut out = String::from(
        "<table class=\"grid jobs\"><thead><tr><th>Job</th><th>Status</th><th>Command</th>\
         <th>Image</th><th>Worker</th><th class=\"num\">Attempt</th><th class=\"num\">Prio</th>\
         <th>Created</th><th class=\"num\">Took</th><th class=\"num\">Exit</th></tr></thead><tbody>",
    );
    for job in jobs {
        let id = esc(&job.id);
        let short = esc(html::short_id(&job.id));
        let took = run_time(job, now).map(html::duration).unwrap_or_default();
        let exit = match job.exit_code {
            Some(0) => "<span class=\"ok\">0</span>".to_string(),
            Some(code) => format!("<span class=\"bad\">{code}</span>"),
            None => String::new(),
        };
        let worker = job
            .worker_id
            .as_deref()
            .map(|w| format!("<span class=\"mono\">{}</span>", esc(w)))
            .unwrap_or_default();
        let image = job.image.as_deref().map(esc).unwrap_or_default();
        out.push_str(&format!(
            "<tr id=\"job-{id}\" data-status=\"{status}\">\
             <td class=\"mono\"><a href=\"/jobs/{id}\" title=\"{id}\">{short}</a></td>\
             <td>{badge}{phase}</td>\
             <td class=\"cmd\"><code title=\"{cmd_full}\">{cmd}</code></td>\
             <td class=\"sub\">{image}</td><td>{worker}</td>\
             <td class=\"num\">{attempts}</td><td class=\"num\">{prio}</td>\
             <td class=\"nowrap\">{created}</td><td class=\"num\">{took}</td>\
             <td class=\"num\">{exit}</td></tr>",
            status = job.status,
            badge = html::job_badge(job.status),
            // What a RUNNING job does before its command runs (`pulling <image>`).
            phase = job
                .phase
                .as_deref()
                .map(|p| format!(" <span class=\"sub\">{}</span>", esc(p)))
                .unwrap_or_default(),
            cmd_full = esc(&job.command),
            cmd = esc(&html::truncate(&job.command, 80)),
            attempts = job.attempts,
            prio = job.priority,
            created = html::when(job.created_at, now),
        ));
    }
    out.push_str("</tbody></table>");
    out
}

fn filter_bar(status: Option<JobStatus>, q: &str) -> String {
    let mut tabs = String::new();
    let chip = |label: &str, value: &str, current: bool| {
        let href = if value.is_empty() && q.is_empty() {
            "/jobs".to_string()
        } else {
            format!(
                "/jobs?status={}&amp;q={}",
                html::url_encode(value),
                html::url_encode(q)
            )
        };
        let class = if current { "chip current" } else { "chip" };
        format!("<a class=\"{class}\" href=\"{href}\">{label}</a>")
    };
    tabs.push_str(&chip("All", "", status.is_none()));
    for s in JobStatus::ALL {
        tabs.push_str(&chip(s.as_str(), s.as_str(), status == Some(*s)));
    }
    let mut options = String::from("<option value=\"\">any status</option>");
    for s in JobStatus::ALL {
        let selected = if status == Some(*s) { " selected" } else { "" };
        options.push_str(&format!("<option{selected}>{s}</option>"));
    }
    format!(
        "<div class=\"chips\">{tabs}</div>\
         <form method=\"get\" action=\"/jobs\" class=\"filters\">\
         <select name=\"status\" aria-label=\"status\">{options}</select>\
         <input type=\"search\" name=\"q\" value=\"{}\" placeholder=\"Search id or command\" \
         aria-label=\"search\"><button type=\"submit\">Filter</button></form>",
        esc(q)
    )
}

/// `GET /jobs?status=&q=&cursor=`.
pub async fn page(State(state): State<AppState>, Query(query): Query<JobsQuery>) -> PageResult {
    let status = match query.status.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(
            text.parse::<JobStatus>()
                .map_err(|e| ApiError::invalid("status", e.to_string()))?,
        ),
    };
    let q = query.q.unwrap_or_default().trim().to_string();
    let cursor = query
        .cursor
        .filter(|c| !c.is_empty())
        .map(|c| validate::job_id("cursor", &c))
        .transpose()?;
    let first_page = cursor.is_none();
    let search = (!q.is_empty()).then(|| q.clone());
    let (jobs, next) = load(&state, status, search, cursor, PAGE_SIZE).await?;
    let now = now_ms();
    let keep = format!(
        "status={}&amp;q={}",
        html::url_encode(status.map(|s| s.as_str()).unwrap_or("")),
        html::url_encode(&q)
    );
    let mut pager = String::new();
    if !first_page {
        pager.push_str(&format!("<a href=\"/jobs?{keep}\">« Newest</a>"));
    }
    if let Some(next) = next {
        pager.push_str(&format!(
            "<a href=\"/jobs?{keep}&amp;cursor={}\" rel=\"next\">Older »</a>",
            html::url_encode(&next)
        ));
    }
    let body = format!(
        "<div class=\"heading\"><h1>Jobs</h1></div>{}\
         <section id=\"jobs\" {live} class=\"panel\">{}<nav class=\"pager\">{pager}</nav></section>",
        filter_bar(status, &q),
        table(&jobs, now, "No job matches."),
        // Only the first page follows new jobs live; older pages stay put while read.
        live = if first_page { "data-live" } else { "" },
    );
    Ok(html::respond(
        StatusCode::OK,
        html::page("Jobs", Tab::Jobs, state.config.api_token.is_some(), &body),
    ))
}
