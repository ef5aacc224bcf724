//! HTML building blocks of the dashboard: the sign-in page, status badges and number formats
//! (the page frame and escaping are shared with the API, in [`crate::http::page`]).
//!
//! Every value that comes from a user or a worker (commands, output, names, reasons) goes
//! through [`esc`] before it lands in a page; the rest of the markup is fixed text.

use axum::http::StatusCode;
use axum::response::Response;
use gantry_api::{JobStatus, WorkerStatus};
use std::fmt::Write;
use std::time::{Duration, UNIX_EPOCH};

pub use crate::http::page::{error_page, esc, page, respond, Tab, CSP};

/// Percent-encodes a query-string value.
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The sign-in page.
pub fn login_page(next: &str, error: Option<&str>, status: StatusCode) -> Response {
    let error = error
        .map(|e| format!("<p class=\"error\">{}</p>", esc(e)))
        .unwrap_or_default();
    let body = format!(
        "<section class=\"panel narrow\"><h1>Sign in</h1>\
         <p class=\"muted\">This server needs its API token (<code>GANTRY_API_TOKEN</code>). \
         It is kept in a cookie for this browser session.</p>{error}\
         <form method=\"post\" action=\"/login\" class=\"stack\">\
         <input type=\"hidden\" name=\"next\" value=\"{}\">\
         <label>API token <input type=\"password\" name=\"token\" id=\"token\" \
         autocomplete=\"current-password\" required autofocus></label>\
         <button type=\"submit\" class=\"primary\">Sign in</button></form></section>",
        esc(next)
    );
    respond(status, page("Sign in", Tab::None, false, &body))
}

/// The colour class of a job state.
pub fn job_class(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Pending => "s-pending",
        JobStatus::Queued => "s-queued",
        JobStatus::Assigned => "s-assigned",
        JobStatus::Running => "s-running",
        JobStatus::Completed => "s-completed",
        JobStatus::Failed => "s-failed",
        JobStatus::TimedOut => "s-timedout",
        JobStatus::Cancelled => "s-cancelled",
    }
}

/// A coloured badge for a job state.
pub fn job_badge(status: JobStatus) -> String {
    format!(
        "<span class=\"badge {}\">{}</span>",
        job_class(status),
        status
    )
}

/// A coloured badge for a worker state: IDLE green, BUSY blue, UNHEALTHY orange, OFFLINE grey.
pub fn worker_badge(status: WorkerStatus) -> String {
    let class = match status {
        WorkerStatus::Idle => "w-idle",
        WorkerStatus::Busy => "w-busy",
        WorkerStatus::Unhealthy => "w-unhealthy",
        WorkerStatus::Offline => "w-offline",
    };
    format!("<span class=\"badge {class}\">{status}</span>")
}

/// A small bar with a label: `part` of `whole`.
pub fn meter(part: f64, whole: f64, label: &str) -> String {
    let pct = if whole > 0.0 {
        (part / whole * 100.0).clamp(0.0, 100.0)
    } else {
        0.0
    };
    let level = if pct >= 90.0 {
        " hot"
    } else if pct >= 70.0 {
        " warm"
    } else {
        ""
    };
    format!(
        "<div class=\"meter{level}\" title=\"{pct:.0}%\"><span style=\"width:{pct:.1}%\"></span></div>\
         <div class=\"meter-label\">{}</div>",
        esc(label)
    )
}

/// Mebibytes as MiB or GiB.
pub fn mib(mb: i64) -> String {
    if mb.abs() >= 1024 {
        format!("{:.1} GiB", mb as f64 / 1024.0)
    } else {
        format!("{mb} MiB")
    }
}

/// CPU cores without needless decimals.
pub fn cores(c: f64) -> String {
    let text = format!("{c:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A duration in milliseconds, short: `850ms`, `12.3s`, `4m 05s`, `2h 10m`.
pub fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    match ms {
        0..=999 => format!("{ms}ms"),
        1_000..=59_999 => format!("{:.1}s", ms as f64 / 1000.0),
        60_000..=3_599_999 => format!("{}m {:02}s", ms / 60_000, ms / 1000 % 60),
        _ => format!("{}h {:02}m", ms / 3_600_000, ms / 60_000 % 60),
    }
}

/// How long ago `at` was: `4s ago`.
pub fn ago(at: i64, now: i64) -> String {
    let ms = now - at;
    if ms < 1000 {
        return "just now".into();
    }
    let s = ms / 1000;
    match s {
        0..=59 => format!("{s}s ago"),
        60..=3599 => format!("{}m ago", s / 60),
        3600..=86_399 => format!("{}h ago", s / 3600),
        _ => format!("{}d ago", s / 86_400),
    }
}

/// An epoch-ms time as UTC `2026-01-01 12:00:00`.
pub fn time(at: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(at.max(0) as u64);
    humantime::format_rfc3339_seconds(t)
        .to_string()
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_string()
}

/// A `<time>` element showing the age, with the exact time on hover.
pub fn when(at: i64, now: i64) -> String {
    format!("<time title=\"{} UTC\">{}</time>", time(at), ago(at, now))
}

/// A job id, shortened to its last 8 characters: the start of a UUIDv7 is its creation time,
/// shared by jobs made in the same minute, while the end is random.
pub fn short_id(id: &str) -> &str {
    id.get(id.len().saturating_sub(8)..).unwrap_or(id)
}

/// The first `max` characters of `text` with an ellipsis when cut.
pub fn truncate(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    let cut: String = line.chars().take(max).collect();
    if cut.len() < text.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn formats_are_short() {
        assert_eq!(mib(512), "512 MiB");
        assert_eq!(mib(2048), "2.0 GiB");
        assert_eq!(cores(0.5), "0.5");
        assert_eq!(cores(4.0), "4");
        assert_eq!(duration(1500), "1.5s");
        assert_eq!(duration(65_000), "1m 05s");
        assert_eq!(ago(0, 5_000), "5s ago");
        assert_eq!(time(1_767_225_600_000), "2026-01-01 00:00:00");
        assert_eq!(url_encode("/jobs?q=a b"), "/jobs%3Fq%3Da%20b");
        assert_eq!(truncate("abcdef", 3), "abc…");
    }
}
