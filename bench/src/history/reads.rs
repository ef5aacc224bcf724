//! The reads a user makes of a long history, each timed over HTTP as the median of
//! [`CALLS`] calls after a warm-up: the dashboard's pages, the API's lists (filtered, a time
//! window, a search), a job's status, the workers, the reports and the metrics.
//!
//! A search looks through a window of the newest jobs per call and answers a `nextCursor`
//! to look further back: the search for a week-old job is timed over every page a user
//! follows until it shows, and its first page alone.

use super::seed::DAY_MS;
use crate::stats::median;
use crate::target::Target;
use crate::Figure;
use anyhow::{bail, ensure, Context};
use std::time::Instant;

/// Timed calls per read (the median is reported).
const CALLS: usize = 21;
/// An hour, in milliseconds.
const HOUR_MS: i64 = DAY_MS / 24;
/// The page size of the API's lists, as the dashboard's.
const LIMIT: usize = 50;

/// The jobs and times the reads name, picked from the seeded history.
pub(super) struct Picks {
    /// A job from the middle of the history, for its page and its status.
    pub middle: String,
    /// The run id (`r…`, the end of its command) of a job that ended a week ago.
    pub run_id: String,
    /// When the reads start: the reports cover the hour and the day before it.
    pub now: i64,
}

/// One read: its name in the figure's setting, its path, and how many jobs it must list when
/// that is known.
struct Read {
    /// E.g. `api list status=FAILED`.
    name: &'static str,
    /// Path and query.
    path: String,
    /// The length of the answer's `jobs`, checked on the warm-up call.
    lists: Option<usize>,
    /// Follows `nextCursor` until a page lists a job or none is left (a search).
    pages: bool,
}

/// Every read, in the order they are timed.
fn reads(p: &Picks) -> Vec<Read> {
    let now = p.now;
    let week_ago = now - 7 * DAY_MS;
    let list = |query: &str| format!("/api/jobs/list?limit={LIMIT}{query}");
    let report =
        |from: i64, query: &str| format!("/api/reports/summary?from={from}&to={now}{query}");
    let read = |name, path| Read {
        name,
        path,
        lists: None,
        pages: false,
    };
    let search = list(&format!("&q={}", p.run_id));
    vec![
        read("dashboard overview", "/".into()),
        read("dashboard jobs", "/jobs".into()),
        read("dashboard jobs status=failed", "/jobs?status=failed".into()),
        read("dashboard job page", format!("/jobs/{}", p.middle)),
        read("dashboard workers", "/workers".into()),
        Read {
            lists: Some(LIMIT),
            ..read("api list", list(""))
        },
        read("api list status=FAILED", list("&status=FAILED")),
        read("api list workerId=w-07", list("&workerId=w-07")),
        read(
            "api list 1 h a week ago",
            list(&format!("&from={week_ago}&to={}", week_ago + HOUR_MS)),
        ),
        read("api list q=<run id> first page", search.clone()),
        Read {
            lists: Some(1),
            pages: true,
            ..read("api list q=<run id> until found", search)
        },
        read(
            "api job status",
            format!("/api/jobs/status?jobId={}", p.middle),
        ),
        read("api workers", "/api/workers/list".into()),
        read("report last hour", report(now - HOUR_MS, "")),
        read("report last day", report(now - DAY_MS, "")),
        read(
            "report last day by hour",
            report(now - DAY_MS, "&groupBy=hour"),
        ),
        read("metrics", "/metrics".into()),
    ]
}

/// Times every read on `target`, whose database holds `jobs` finished jobs; one
/// `history_read` figure (the median, in ms) per read.
pub(super) async fn time_all(
    target: &Target,
    picks: &Picks,
    jobs: i64,
) -> anyhow::Result<Vec<Figure>> {
    let mut figures = Vec::new();
    for read in reads(picks) {
        let (listed, pages) = call(target, &read).await?;
        if let Some(want) = read.lists {
            ensure!(
                listed == want,
                "history: GET {} listed {listed} jobs over {pages} pages, not {want}",
                read.path
            );
        }
        let mut samples = Vec::with_capacity(CALLS);
        for _ in 0..CALLS {
            let started = Instant::now();
            call(target, &read).await?;
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        let over = if read.pages {
            let plural = if pages == 1 { "" } else { "s" };
            format!(" ({pages} page{plural})")
        } else {
            String::new()
        };
        figures.push(Figure {
            figure: "history_read",
            backend: target.backend,
            setting: format!("{}{over}, {jobs} jobs", read.name),
            value: median(samples),
            unit: "ms",
        });
    }
    Ok(figures)
}

/// Makes the read once: the jobs it listed (when it lists or pages) and the pages it took.
async fn call(target: &Target, read: &Read) -> anyhow::Result<(usize, usize)> {
    let first = format!("{}{}", target.base, read.path);
    let (mut url, mut listed, mut pages) = (first.clone(), 0, 0);
    loop {
        let body = get(&target.http, &url).await?;
        pages += 1;
        if read.lists.is_none() && !read.pages {
            return Ok((0, pages));
        }
        let answer: serde_json::Value = serde_json::from_slice(&body)?;
        listed += answer["jobs"].as_array().map_or(0, Vec::len);
        match answer["nextCursor"].as_str() {
            Some(cursor) if read.pages && listed == 0 => url = format!("{first}&cursor={cursor}"),
            _ => return Ok((listed, pages)),
        }
    }
}

/// The whole body of `GET url`; an error naming the read for any answer but a 2xx.
async fn get(http: &reqwest::Client, url: &str) -> anyhow::Result<Vec<u8>> {
    let response = http
        .get(url)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = response.status();
    let body = response.bytes().await?;
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body);
        bail!(
            "history: GET {url} answered {status}: {}",
            text.chars().take(300).collect::<String>()
        );
    }
    Ok(body.to_vec())
}
