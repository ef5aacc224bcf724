//! One job's page: its fields, its timeline from the history table, its output, and a cancel
//! button that works as a plain form post.

use super::html::{self, esc, Tab};
use super::PageResult;
use crate::clock::now_ms;
use crate::http::error::ApiError;
use crate::http::{actions, reads, validate};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use gantry_api::{HistoryEntry, Job};

fn fact(label: &str, value: String) -> String {
    format!("<dt>{label}</dt><dd>{value}</dd>")
}

fn opt_time(at: Option<i64>, now: i64) -> String {
    at.map(|t| {
        format!(
            "{} <span class=\"muted\">({})</span>",
            html::time(t),
            html::ago(t, now)
        )
    })
    .unwrap_or_else(|| "<span class=\"muted\">–</span>".into())
}

fn facts(job: &Job, now: i64) -> String {
    let mut out = String::from("<dl class=\"facts\">");
    out.push_str(&fact(
        "Worker",
        job.worker_id
            .as_deref()
            .map(|w| format!("<span class=\"mono\">{}</span>", esc(w)))
            .unwrap_or_else(|| "<span class=\"muted\">none yet</span>".into()),
    ));
    out.push_str(&fact(
        "Attempt",
        format!(
            "{} <span class=\"muted\">({} failed of {} retries allowed, {} lost to infrastructure)</span>",
            job.attempts, job.failed_attempts, job.max_retries, job.infra_retries
        ),
    ));
    let exit = match job.exit_code {
        Some(0) => "<span class=\"ok strong\">0</span>".to_string(),
        Some(code) => format!("<span class=\"bad strong\">{code}</span>"),
        None => "<span class=\"muted\">–</span>".into(),
    };
    let oom = if job.oom_killed {
        " <span class=\"bad\">out of memory</span>"
    } else {
        ""
    };
    out.push_str(&fact("Exit code", format!("{exit}{oom}")));
    out.push_str(&fact(
        "Took",
        super::jobs::run_time(job, now)
            .map(html::duration)
            .unwrap_or_else(|| "–".into()),
    ));
    if let Some(usage) = &job.usage {
        out.push_str(&fact(
            "Used",
            format!(
                "{} <span class=\"muted\">(last attempt; {} asked)</span>",
                esc(&usage.to_string()),
                html::mib(job.required_ram_mb)
            ),
        ));
    }
    out.push_str(&fact(
        "Image",
        job.image
            .as_deref()
            .map(|i| format!("<span class=\"mono\">{}</span>", esc(i)))
            .unwrap_or_else(|| "<span class=\"muted\">worker default</span>".into()),
    ));
    out.push_str(&fact(
        "Pull",
        job.pull
            .map(|p| esc(p.as_str()))
            .unwrap_or_else(|| "<span class=\"muted\">worker default</span>".into()),
    ));
    if let Some(phase) = &job.phase {
        out.push_str(&fact(
            "Phase",
            format!(
                "<span id=\"job-phase\" class=\"warn\">{}</span>",
                esc(phase)
            ),
        ));
    }
    out.push_str(&fact(
        "Resources",
        format!(
            "{} CPU · {} · timeout {}{}",
            html::cores(job.required_cpu),
            html::mib(job.required_ram_mb),
            html::duration(job.timeout_ms),
            if job.network { " · network" } else { "" }
        ),
    ));
    out.push_str(&fact("Priority", job.priority.to_string()));
    if let (Some(url), Some(name)) = (&job.file_url, &job.filename) {
        out.push_str(&fact(
            "File",
            format!("<a href=\"{}\">{}</a>", esc(url), esc(name)),
        ));
    }
    if !job.env.is_empty() {
        let env: Vec<String> = job
            .env
            .iter()
            .map(|(k, v)| format!("{}={}", esc(k), esc(v)))
            .collect();
        out.push_str(&fact(
            "Env",
            format!("<span class=\"mono\">{}</span>", env.join("<br>")),
        ));
    }
    out.push_str(&fact("Created", opt_time(Some(job.created_at), now)));
    out.push_str(&fact("Queued", opt_time(job.queued_at, now)));
    out.push_str(&fact("Assigned", opt_time(job.assigned_at, now)));
    out.push_str(&fact("Started", opt_time(job.started_at, now)));
    out.push_str(&fact("Finished", opt_time(job.finished_at, now)));
    out.push_str("</dl>");
    out
}

fn timeline(history: &[HistoryEntry]) -> String {
    let mut out = String::from(
        "<table class=\"grid timeline\"><thead><tr><th>Time (UTC)</th><th class=\"num\">Attempt</th>\
         <th>Change</th><th>Worker</th><th>Fault</th><th>Reason</th></tr></thead><tbody>",
    );
    for h in history {
        let from = h
            .from_status
            .map(|s| format!("{} → ", html::job_badge(s)))
            .unwrap_or_default();
        out.push_str(&format!(
            "<tr><td class=\"nowrap mono\">{}</td><td class=\"num\">{}</td><td class=\"nowrap\">{from}{}</td>\
             <td class=\"mono\">{}</td><td class=\"fault\">{}</td><td>{}</td></tr>",
            html::time(h.at),
            h.attempt,
            html::job_badge(h.to_status),
            h.worker_id.as_deref().map(esc).unwrap_or_default(),
            h.fault.map(|f| f.as_str()).unwrap_or_default(),
            reason_and_usage(h),
        ));
    }
    out.push_str("</tbody></table>");
    out
}

/// A history entry's reason, followed by what the attempt used when the entry ended one.
fn reason_and_usage(h: &HistoryEntry) -> String {
    let reason = h.reason.as_deref().map(esc).unwrap_or_default();
    match &h.usage {
        Some(u) => format!(
            "{reason} <span class=\"muted usage\">({})</span>",
            esc(&u.to_string())
        ),
        None => reason,
    }
}

fn output(title: &str, id: &str, text: Option<&str>) -> String {
    match text.filter(|t| !t.is_empty()) {
        Some(t) => format!(
            "<h2>{title}</h2><pre id=\"{id}\" class=\"output\">{}</pre>",
            esc(t)
        ),
        None => format!("<h2>{title}</h2><pre id=\"{id}\" class=\"output empty\">(empty)</pre>"),
    }
}

/// The live part of the job page.
pub fn render(job: &Job, history: &[HistoryEntry], now: i64) -> String {
    let cancel = if job.status.is_terminal() {
        String::new()
    } else {
        format!(
            "<form method=\"post\" action=\"/jobs/{}/cancel\" class=\"inline\">\
             <button type=\"submit\" id=\"cancel\" class=\"danger\">Cancel job</button></form>",
            esc(&job.id)
        )
    };
    let notes = [
        job.reason
            .as_deref()
            .map(|r| format!("<p class=\"note\">Waiting: {}</p>", esc(r))),
        job.error
            .as_deref()
            .map(|e| format!("<p class=\"error\">{}</p>", esc(e))),
    ]
    .into_iter()
    .flatten()
    .collect::<String>();
    format!(
        "<div class=\"heading\"><h1>Job <span class=\"mono\">{id}</span></h1>\
         <span id=\"job-status\" data-status=\"{status}\">{badge}</span>{cancel}</div>{notes}\
         <div class=\"cols\"><section class=\"panel\">{facts}</section>\
         <section class=\"panel grow\"><h2>Command</h2><pre class=\"output cmd\">{command}</pre>\
         {stdout}{stderr}</section></div>\
         <section class=\"panel\"><h2>Timeline</h2>{timeline}</section>",
        id = esc(&job.id),
        status = job.status,
        badge = html::job_badge(job.status),
        facts = facts(job, now),
        command = esc(&job.command),
        stdout = output("Standard output", "stdout", job.stdout.as_deref()),
        stderr = output("Standard error", "stderr", job.stderr.as_deref()),
        timeline = timeline(history),
    )
}

async fn load(state: &AppState, raw_id: &str) -> Result<(Job, Vec<HistoryEntry>), ApiError> {
    let id = validate::job_id("id", raw_id)?;
    let status = reads::job_with_history(state, &id).await?;
    Ok((status.job, status.history))
}

/// `GET /jobs/{id}`.
pub async fn page(State(state): State<AppState>, Path(id): Path<String>) -> PageResult {
    let (job, history) = load(&state, &id).await?;
    let body = format!(
        "<div id=\"job\" data-live>{}</div>",
        render(&job, &history, now_ms())
    );
    let title = format!("Job {}", html::short_id(&job.id));
    Ok(html::respond(
        StatusCode::OK,
        html::page(&title, Tab::Jobs, state.config.api_token.is_some(), &body),
    ))
}

/// `POST /jobs/{id}/cancel`: cancels (as `POST /api/jobs/cancel` does) and shows the job.
pub async fn cancel(State(state): State<AppState>, Path(id): Path<String>) -> PageResult {
    let id = validate::job_id("id", &id)?;
    actions::cancel_job(&state, &id).await?;
    Ok(Redirect::to(&format!("/jobs/{id}")).into_response())
}
