//! Throwaway databases: a SQLite file in a temp folder, or a fresh PostgreSQL database in the
//! test cluster that `scripts/test-postgres.sh` starts, dropped again when the test ends.
//!
//! With `GANTRY_TEST_PGBOUNCER_URL` set (the PgBouncer of `scripts/test-pgbouncer.sh`, in
//! transaction mode in front of that cluster), every PostgreSQL database is still made on the
//! cluster, but handed out through PgBouncer: its `url` is PgBouncer's and its `pooler` says
//! so, so servers and repositories under test go through it. Raw SQL of a test's own (a
//! fixture reading a table) goes to `direct_url`.

use super::optional::{skip_or_fail, Part};
use gantry::lifecycle::Policy;
use gantry::repo::{connect_through, Dialect, Pooler, Repo};
use sqlx::Connection;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, OnceLock};

/// One test's database, removed when dropped.
pub struct TestDb {
    /// Its URL, for a server under test.
    pub url: String,
    /// What stands between `url` and the database, for a server under test.
    pub pooler: Pooler,
    /// The database itself, bypassing any pooler: for a test's own raw SQL, which prepares
    /// statements as sqlx does by default.
    pub direct_url: String,
    /// Which database it is, for expectations that differ between the two and for messages.
    pub dialect: Dialect,
    /// What dropping it removes.
    owned: Owned,
}

/// What a [`TestDb`] removes when dropped.
enum Owned {
    /// The SQLite file's temp folder, removed by its own drop.
    Folder { _dir: tempfile::TempDir },
    /// A database `name` in the cluster at `admin`.
    Database { admin: String, name: String },
}

impl TestDb {
    /// A new SQLite database file.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("gantry.db").display());
        TestDb {
            direct_url: url.clone(),
            url,
            pooler: Pooler::None,
            dialect: Dialect::Sqlite,
            owned: Owned::Folder { _dir: dir },
        }
    }

    /// A new PostgreSQL database, or `None` when no PostgreSQL can be had here (the test then
    /// skips, or fails where PostgreSQL is required: see [`skip_or_fail`]).
    pub async fn postgres() -> Option<TestDb> {
        let Some(admin) = admin_url() else {
            let why = "no PostgreSQL: set GANTRY_TEST_POSTGRES_URL or install PostgreSQL";
            skip_or_fail(Part::Postgres, why);
            return None;
        };
        let mut db = TestDb::postgres_in(admin).await;
        if let Some(bouncer) = pgbouncer_url() {
            db.url = format!("{}/{}", server_of(&bouncer), db.name());
            db.pooler = Pooler::Transaction;
        }
        Some(db)
    }

    /// A new PostgreSQL database in the cluster at `admin` (a test's own cluster, or the
    /// shared one), reached directly.
    pub async fn postgres_in(admin: &str) -> TestDb {
        let name = format!("gantry_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin_conn = sqlx::PgConnection::connect(admin)
            .await
            .expect("connect to the test cluster");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin_conn)
            .await
            .expect("create a test database");
        let _ = admin_conn.close().await;
        let direct_url = format!("{}/{name}", server_of(admin));
        TestDb {
            url: direct_url.clone(),
            pooler: Pooler::None,
            direct_url,
            dialect: Dialect::Postgres,
            owned: Owned::Database {
                admin: admin.to_string(),
                name,
            },
        }
    }

    /// The database's name within its cluster (empty for SQLite).
    fn name(&self) -> &str {
        match &self.owned {
            Owned::Database { name, .. } => name,
            Owned::Folder { .. } => "",
        }
    }

    /// A repository on this database, as a server under test opens it, not migrated.
    pub async fn connect(&self, policy: Policy) -> Arc<dyn Repo> {
        connect_through(&self.url, self.pooler, policy)
            .await
            .expect("connect")
    }

    /// A migrated repository on this database.
    pub async fn repo(&self, policy: Policy) -> Arc<dyn Repo> {
        let repo = self.connect(policy).await;
        repo.migrate().await.expect("migrate");
        repo
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Owned::Database { admin, name } = &self.owned {
            if let Err(e) = drop_database(admin, name) {
                eprintln!("could not drop the test database {name}: {e}");
            }
        }
    }
}

/// Drops database `name`, closing whatever connections the test left open. Drop cannot await,
/// and the test's runtime may be the one running this drop, so a thread of its own with a
/// small runtime of its own does the work.
fn drop_database(admin: &str, name: &str) -> Result<(), String> {
    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    let admin = admin.to_string();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime
            .block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin).await?;
                sqlx::query(&sql).execute(&mut conn).await?;
                conn.close().await
            })
            .map_err(|e| e.to_string())
    })
    .join()
    .unwrap_or_else(|_| Err("the dropping thread panicked".into()))
}

/// A `postgres://` URL without its database: what a database name is put after.
fn server_of(url: &str) -> &str {
    url.rsplit_once('/').map(|(base, _)| base).unwrap_or(url)
}

/// The URL of the PgBouncer to hand the test databases out through, if any:
/// `GANTRY_TEST_PGBOUNCER_URL` (`scripts/test.sh` sets it for its run through PgBouncer).
fn pgbouncer_url() -> Option<String> {
    std::env::var("GANTRY_TEST_PGBOUNCER_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

/// The admin URL of the test cluster: `GANTRY_TEST_POSTGRES_URL`, or the cluster the script
/// starts (once per test process, under a file lock so parallel test processes agree).
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
