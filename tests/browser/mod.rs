//! The dashboard in a real browser: headless Chromium driven over WebDriver (chromedriver and
//! the `fantoccini` client) against the real `gantry` server binary and an agent.
//!
//! A person signs in with the API token, sees the worker with its status, submits a job
//! through the form and sees its output, and cancels a running job from its page. A
//! screenshot of the overview is kept in the target folder (`dashboard-screenshot.png`).
//!
//! The agent is `gantry-worker` (process executor) when `GANTRY_WORKER_BIN` names it, else a
//! simulated agent in this test that speaks the same worker routes and runs commands with
//! `sh -c`. Without chromium and chromedriver the test says SKIPPED (it fails instead with
//! `GANTRY_REQUIRE_BROWSER=1`); `scripts/install-browser-deps.sh` installs them.

mod agent;
mod procs;

use crate::common::optional::{skip_or_fail, Part};
use crate::common::process::free_port;
use fantoccini::{Client, ClientBuilder, Locator};
use futures::FutureExt;
use procs::{target_dir, wait_http, which, Proc};
use serde_json::json;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const TOKEN: &str = "browser-test-token";
const WORKER: &str = "browser-worker-1";

/// How long any one thing may take to show up on a page.
const PATIENCE: Duration = Duration::from_secs(20);

/// Waits until the element's text satisfies `want`; returns the text.
async fn wait_text(c: &Client, css: &str, what: &str, want: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + PATIENCE;
    let mut last = String::new();
    loop {
        // The live refresh replaces elements, so look the element up again each time.
        if let Ok(el) = c.find(Locator::Css(css)).await {
            if let Ok(text) = el.text().await {
                if want(&text) {
                    return text;
                }
                last = text;
            }
        }
        if Instant::now() > deadline {
            let url = c
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            panic!("waited {PATIENCE:?} for {what} ({css} on {url}); last text: {last:?}");
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Clicks the element, retrying while a live refresh swaps it out.
async fn click(c: &Client, css: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match c.find(Locator::Css(css)).await {
            Ok(el) => match el.click().await {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => panic!("click {css}: {e}"),
                Err(_) => {}
            },
            Err(e) if Instant::now() > deadline => panic!("find {css}: {e}"),
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn fill(c: &Client, css: &str, text: &str) {
    let el = c.find(Locator::Css(css)).await.expect(css);
    el.clear().await.expect("clear");
    el.send_keys(text).await.expect("type");
}

/// Submits a command through the overview's form; returns the new job's page URL.
async fn submit(c: &Client, base: &str, command: &str) -> String {
    let overview = format!("{base}/");
    if c.current_url().await.unwrap().as_str() != overview {
        c.goto(&overview).await.unwrap();
    }
    fill(c, "#command", command).await;
    fill(c, "#requiredCpu", "0.5").await;
    fill(c, "#requiredRamMb", "64").await;
    click(c, "#submit").await;
    wait_text(c, "#submit-result", "the created job", |t| {
        t.contains("Created job")
    })
    .await;
    let link = c.find(Locator::Css("#submitted-job")).await.unwrap();
    let href = link.attr("href").await.unwrap().expect("a link");
    format!("{base}{href}")
}

async fn save_screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    let path = target_dir().join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, png).unwrap();
    eprintln!("screenshot: {}", path.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_a_real_browser() {
    let (Some(chromium), Some(driver)) = (
        which(&["chromium", "chromium-browser", "google-chrome"]),
        which(&["chromedriver"]),
    ) else {
        let why = "no chromium/chromedriver: run scripts/install-browser-deps.sh";
        skip_or_fail(Part::Browser, why);
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let logs = target_dir().join("browser-test-logs");
    std::fs::create_dir_all(&logs).unwrap();
    let (mut server, base) = start_server(dir.path(), &logs).await;
    let _agent = start_agent(&base, dir.path(), &logs);
    let (chromedriver, c) = start_browser(&chromium, &driver, &logs).await;

    // Close the browser even when the walk fails, so no Chromium is left behind.
    let outcome = AssertUnwindSafe(walk(&c, &base)).catch_unwind().await;
    let _ = c.close().await;
    drop(chromedriver);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    server.assert_running();
}

/// The real server binary on a SQLite file in `dir`, with an API token so the login page is
/// part of the walk; returns it, ready, and its base URL.
async fn start_server(dir: &Path, logs: &Path) -> (Proc, String) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gantry"));
    cmd.arg("serve")
        .env("GANTRY_BIND", format!("127.0.0.1:{port}"))
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("g.db").display()),
        )
        .env("GANTRY_API_TOKEN", TOKEN)
        .env("HEARTBEAT_TIMEOUT", "10s")
        .env("SWEEP_INTERVAL", "500ms")
        .env_remove("GANTRY_WORKER_TOKEN");
    let mut server = Proc::spawn("gantry serve", cmd, &logs.join("server.log"));
    wait_http(&format!("{base}/readyz"), PATIENCE, &mut server).await;
    (server, base)
}

/// The agent: the real one when `GANTRY_WORKER_BIN` names it, else the simulated one; it
/// stops when the returned guard is dropped.
fn start_agent(base: &str, dir: &Path, logs: &Path) -> Box<dyn std::any::Any> {
    match std::env::var_os("GANTRY_WORKER_BIN") {
        Some(bin) => {
            let mut cmd = Command::new(bin);
            cmd.env("GANTRY_URL", base)
                .env("WORKER_ID", WORKER)
                .env("ENABLE_DOCKER", "false")
                .env("HEARTBEAT_INTERVAL", "1s")
                .env("JOB_POLL_INTERVAL", "1s")
                .env("GANTRY_WORK_DIR", dir.join("work"))
                .env("GANTRY_STATE_DIR", dir.join("state"));
            eprintln!("agent: gantry-worker");
            Box::new(Proc::spawn("gantry-worker", cmd, &logs.join("worker.log")))
        }
        None => {
            eprintln!("agent: simulated (set GANTRY_WORKER_BIN to use gantry-worker)");
            let task = tokio::spawn(agent::run(base.to_string(), WORKER.into()));
            Box::new(AbortOnDrop(task))
        }
    }
}

/// chromedriver, ready, and a WebDriver session on headless `chromium` through it.
async fn start_browser(chromium: &Path, driver: &Path, logs: &Path) -> (Proc, Client) {
    let driver_port = free_port();
    let mut cmd = Command::new(driver);
    cmd.arg(format!("--port={driver_port}"));
    let mut chromedriver = Proc::spawn("chromedriver", cmd, &logs.join("chromedriver.log"));
    let driver_url = format!("http://127.0.0.1:{driver_port}");
    wait_http(&format!("{driver_url}/status"), PATIENCE, &mut chromedriver).await;
    let caps = json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                     "--disable-background-networking", "--disable-dev-shm-usage",
                     "--window-size=1440,1000"]
        }
    });
    let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps.as_object().unwrap().clone())
        .connect(&driver_url)
        .await
        .expect("a WebDriver session");
    (chromedriver, c)
}

/// The walk through the dashboard.
async fn walk(c: &Client, base: &str) {
    // Signing in: the pages send us to the login form, whose cookie keeps the session.
    c.goto(&format!("{base}/")).await.unwrap();
    wait_text(c, "h1", "the login page", |t| t == "Sign in").await;
    fill(c, "#token", TOKEN).await;
    click(c, "button[type=submit]").await;

    // The worker shows up with its status.
    let row = format!("#worker-{WORKER}");
    wait_text(c, &row, "the worker's row", |t| {
        t.contains(WORKER) && (t.contains("IDLE") || t.contains("BUSY"))
    })
    .await;

    // A job submitted through the form runs; the overview shows it end without a reload
    // (a marker set in the page survives), then its page shows its output.
    c.execute("window.gantryMarker = 42;", vec![])
        .await
        .unwrap();
    let job_page = submit(c, base, "echo hello from the browser; echo done >&2").await;
    wait_text(c, "#recent", "the job completed, live", |t| {
        t.contains("COMPLETED")
    })
    .await;
    let marker = c
        .execute("return window.gantryMarker;", vec![])
        .await
        .unwrap();
    assert_eq!(
        marker,
        json!(42),
        "the overview was reloaded instead of updated"
    );
    c.goto(&job_page).await.unwrap();
    wait_text(c, "#job-status", "COMPLETED", |t| t == "COMPLETED").await;
    wait_text(c, "#stdout", "the output", |t| {
        t.contains("hello from the browser")
    })
    .await;
    wait_text(c, "#stderr", "the error output", |t| t.contains("done")).await;
    save_screenshot(c, "dashboard-job-screenshot.png").await;

    // A running job is cancelled from its page with the button.
    let job_page = submit(c, base, "sleep 600").await;
    c.goto(&job_page).await.unwrap();
    wait_text(c, "#job-status", "RUNNING", |t| t == "RUNNING").await;
    click(c, "#cancel").await;
    wait_text(c, "#job-status", "CANCELLED", |t| t == "CANCELLED").await;

    // The overview keeps up without a reload: the worker is back to IDLE.
    c.goto(&format!("{base}/")).await.unwrap();
    wait_text(c, &row, "the worker idle again", |t| t.contains("IDLE")).await;
    wait_text(c, "#recent", "both jobs listed", |t| {
        t.contains("COMPLETED") && t.contains("CANCELLED")
    })
    .await;
    save_screenshot(c, "dashboard-screenshot.png").await;

    // The job list filters by status without JavaScript's help.
    c.goto(&format!("{base}/jobs?status=cancelled"))
        .await
        .unwrap();
    wait_text(c, "#jobs", "the cancelled job only", |t| {
        t.contains("sleep 600") && !t.contains("hello from the browser")
    })
    .await;
    save_screenshot(c, "dashboard-jobs-screenshot.png").await;
}

/// Aborts the simulated agent's task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
