//! API fuzzing in the suite: `scripts/fuzz-api.sh` runs schemathesis against the real
//! `gantry serve` binary and its own OpenAPI document (no 5xx, every response as documented, the
//! server healthy afterwards), once per database.
//!
//! The script installs schemathesis from PyPI into a venv of its own; where no Python or no PyPI
//! can be had the test skips loudly, and `GANTRY_REQUIRE_FUZZ=1` (set by `.ci/run`) makes that a
//! failure.

use crate::common::TestDb;
use std::path::Path;
use std::process::Command;

/// The script's exit status for "cannot run here" (no Python, no PyPI).
const CANNOT_RUN: i32 = 77;
/// The fuzzing's time budget per database, in seconds (schemathesis fills it): the two runs,
/// side by side, take about two minutes of the suite.
const BUDGET_SECONDS: &str = "75";

/// Fewer answers than this fail a run: it tested too little (each run gets 400 or more even
/// beside the other and a loaded machine).
const MIN_ANSWERS: &str = "200";

/// Runs the fuzz script against a server on `db` and fails the test on any finding.
async fn fuzz_api(db: TestDb) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/fuzz-api.sh");
    let url = db.url.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(script)
            .env("GANTRY_BIN", env!("CARGO_BIN_EXE_gantry"))
            .env("GANTRY_FUZZ_DATABASE_URL", url)
            .env("GANTRY_FUZZ_MAX_TIME", BUDGET_SECONDS)
            .env("GANTRY_FUZZ_MIN_ANSWERS", MIN_ANSWERS)
            .output()
            .expect("run scripts/fuzz-api.sh")
    })
    .await
    .expect("the fuzz run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0) => println!("{stdout}\n{stderr}"),
        Some(CANNOT_RUN) => {
            let why = stderr
                .lines()
                .last()
                .unwrap_or("the fuzz script cannot run here");
            if std::env::var("GANTRY_REQUIRE_FUZZ").is_ok_and(|v| v == "1") {
                panic!("{why} (GANTRY_REQUIRE_FUZZ=1)");
            }
            eprintln!("SKIPPED fuzz_api on {:?}: {why}", db.dialect);
        }
        status => panic!(
            "the API fuzzing on {:?} found faults (exit {status:?}):\n{stdout}\n{stderr}",
            db.dialect
        ),
    }
}

crate::common::on_both_databases!(fuzz_api);
