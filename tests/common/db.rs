//! Throwaway databases: a SQLite file in a temp folder, or a fresh PostgreSQL database in the
//! test cluster that `scripts/test-postgres.sh` starts.

use gantry::repo::{connect, Policy, Repo};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, OnceLock};

/// One test's database.
pub struct TestDb {
    /// Its URL, for a server under test.
    pub url: String,
    /// Which backend, for messages.
    pub backend: &'static str,
    /// Keeps the SQLite folder alive.
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A new SQLite database file.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("gantry.db").display());
        TestDb {
            url,
            backend: "sqlite",
            _dir: Some(dir),
        }
    }

    /// A new PostgreSQL database, or `None` (said loudly) when no PostgreSQL can be had here.
    /// With `GANTRY_REQUIRE_POSTGRES=1` a missing PostgreSQL fails the test instead.
    pub async fn postgres() -> Option<TestDb> {
        let Some(admin) = admin_url() else {
            let why = "no PostgreSQL: set GANTRY_TEST_POSTGRES_URL or install PostgreSQL";
            if std::env::var("GANTRY_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                panic!("{why} (GANTRY_REQUIRE_POSTGRES=1)");
            }
            eprintln!("SKIPPED (PostgreSQL): {why}");
            return None;
        };
        let name = format!("gantry_test_{}", uuid::Uuid::new_v4().simple());
        let pool = sqlx::PgPool::connect(admin)
            .await
            .expect("connect to the test cluster");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await
            .expect("create a test database");
        pool.close().await;
        let base = admin
            .rsplit_once('/')
            .map(|(base, _)| base)
            .unwrap_or(admin);
        Some(TestDb {
            url: format!("{base}/{name}"),
            backend: "postgres",
            _dir: None,
        })
    }

    /// A migrated repository on this database.
    pub async fn repo(&self, policy: Policy) -> Arc<dyn Repo> {
        let repo = connect(&self.url, policy).await.expect("connect");
        repo.migrate().await.expect("migrate");
        repo
    }
}

/// The admin URL of the test cluster: `GANTRY_TEST_POSTGRES_URL`, or the cluster the script
/// starts (once per test process, under a file lock so parallel test binaries agree).
fn admin_url() -> Option<&'static str> {
    static URL: OnceLock<Option<String>> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("GANTRY_TEST_POSTGRES_URL") {
            return Some(url);
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/test-postgres.sh");
        let out = Command::new("flock")
            .arg("/tmp/gantry-test-pg.lock")
            .arg(&script)
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!(
                "could not start the test PostgreSQL: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return None;
        }
        let url = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (!url.is_empty()).then_some(url)
    })
    .as_deref()
}
