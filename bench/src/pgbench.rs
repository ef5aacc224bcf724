//! The PostgreSQL server's own ceilings for a job queue, measured with pgbench in the same run
//! as the throughput figures and on the same server: a bare jobs table, and the cycle every job
//! goes through (insert, claim with `FOR UPDATE SKIP LOCKED`, complete), each statement its own
//! commit. Once with one job per statement (the ceiling of single calls), once with 100 (the
//! ceiling of batches). 16 clients, as the throughput figures have 16 creating clients.
//!
//! pgbench is `GANTRY_PGBENCH`, else PostgreSQL 15's (`/usr/lib/postgresql/15/bin/pgbench`),
//! else `pgbench` on the PATH; without it the ceilings are skipped loudly.

use crate::{postgres, Figure};
use anyhow::{bail, Context};
use std::path::PathBuf;

/// Concurrent pgbench clients.
const CLIENTS: usize = 16;

/// The bare jobs table and the indexes a queue needs (the queue, a client's running jobs).
const SCHEMA: &[&str] = &[
    "DROP TABLE IF EXISTS jobs",
    "CREATE TABLE jobs (id BIGSERIAL PRIMARY KEY, status TEXT NOT NULL, command TEXT NOT NULL,
     worker INT, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ)",
    "CREATE INDEX jobs_queued ON jobs (id) WHERE status = 'QUEUED'",
    "CREATE INDEX jobs_running ON jobs (worker) WHERE status = 'RUNNING'",
];

/// The cycle of `per` jobs: insert, claim, complete, three commits.
fn script(per: usize) -> String {
    format!(
        "INSERT INTO jobs (status, command) SELECT 'QUEUED', 'true' FROM generate_series(1, {per});
UPDATE jobs SET status = 'RUNNING', worker = :client_id, started_at = now() WHERE id IN (SELECT id FROM jobs WHERE status = 'QUEUED' ORDER BY id LIMIT {per} FOR UPDATE SKIP LOCKED);
UPDATE jobs SET status = 'DONE', finished_at = now() WHERE status = 'RUNNING' AND worker = :client_id;
"
    )
}

/// Jobs per second of each cycle on the server at `admin`: (one per statement, 100 per
/// statement); none when pgbench is missing (said on stderr).
pub async fn ceilings(admin: &str, seconds: u64) -> anyhow::Result<Option<(f64, f64)>> {
    let Some(bin) = pgbench() else {
        eprintln!(
            "SKIPPED (pgbench ceilings): no pgbench (set GANTRY_PGBENCH, or install \
             postgresql-15's client)"
        );
        return Ok(None);
    };
    let url = postgres::create_database(admin).await?;
    let measured = async {
        let one = cycle(&bin, &url, 1, seconds).await?;
        let hundred = cycle(&bin, &url, 100, seconds).await?;
        anyhow::Ok((one, hundred))
    }
    .await;
    postgres::drop_database(admin, &postgres::database_name(&url)?).await?;
    measured.map(Some)
}

/// The figures of the two ceilings and of `throughput` (the throughput figures) over them.
pub fn figures(ceilings: (f64, f64), throughput: &[Figure], seconds: u64) -> Vec<Figure> {
    let (one, hundred) = ceilings;
    let ceiling = |figure, value| Figure {
        figure,
        backend: "postgres",
        setting: format!("pgbench, {CLIENTS} clients, {seconds} s"),
        value,
        unit: "jobs/s",
    };
    let mut out = vec![
        ceiling("pg_ceiling_per_commit", one),
        ceiling("pg_ceiling_100_per_statement", hundred),
    ];
    for f in throughput {
        let (name, limit) = match f.figure {
            "throughput" => ("throughput_over_ceiling", one),
            "throughput_batch" => ("throughput_batch_over_ceiling", hundred),
            _ => continue,
        };
        if let Ok(x) = crate::stats::ratio(f.value, limit) {
            out.push(Figure {
                figure: name,
                backend: f.backend,
                setting: f.setting.clone(),
                value: x,
                unit: "x",
            });
        }
    }
    out
}

/// One pgbench run of the cycle of `per` jobs on a fresh table; jobs per second.
async fn cycle(bin: &PathBuf, url: &str, per: usize, seconds: u64) -> anyhow::Result<f64> {
    let pool = sqlx::PgPool::connect_with(postgres::options(url)?).await?;
    for sql in SCHEMA {
        sqlx::query(sql).execute(&pool).await?;
    }
    let dir = tempfile::tempdir()?;
    let path = dir.path().join(format!("cycle-{per}.sql"));
    std::fs::write(&path, script(per))?;
    let out = tokio::process::Command::new(bin)
        .args(["-n", "-j", "2", "-c", &CLIENTS.to_string()])
        .args(["-T", &seconds.to_string(), "-f"])
        .arg(&path)
        .arg(postgres::libpq_url(url)?)
        .output()
        .await
        .with_context(|| format!("run {}", bin.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "pgbench failed: {}{text}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let done: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status = 'DONE'")
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    let (cycles, tps) = parse(&text)?;
    crate::stats::rate(done as usize, cycles as f64 / tps)
}

/// Cycles run and cycles per second from pgbench's report.
fn parse(report: &str) -> anyhow::Result<(u64, f64)> {
    let field = |prefix: &str| {
        report
            .lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .with_context(|| format!("no `{prefix}` in pgbench's report:\n{report}"))
    };
    let cycles = field("number of transactions actually processed:")?
        .split('/')
        .next()
        .unwrap_or_default()
        .parse()?;
    let tps = field("tps =")?.parse()?;
    Ok((cycles, tps))
}

/// The pgbench binary, if there is one.
fn pgbench() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("GANTRY_PGBENCH") {
        return Some(PathBuf::from(path));
    }
    let fifteen = PathBuf::from("/usr/lib/postgresql/15/bin/pgbench");
    if fifteen.is_file() {
        return Some(fifteen);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("pgbench"))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgbench_reports_are_read() {
        let report = "transaction type: cycle-1.sql\nnumber of clients: 16\n\
            number of transactions actually processed: 20300\n\
            number of failed transactions: 0 (0.000%)\n\
            latency average = 7.9 ms\n\
            tps = 2030.123 (without initial connection time)\n";
        assert_eq!(parse(report).unwrap(), (20300, 2030.123));
        assert!(parse("pgbench: error").is_err());
    }

    #[test]
    fn throughput_is_put_over_its_own_ceiling() {
        let f = |figure, value| Figure {
            figure,
            backend: "postgres",
            setting: "4 agents".into(),
            value,
            unit: "jobs/s",
        };
        let out = figures(
            (2_000.0, 20_000.0),
            &[f("throughput", 400.0), f("throughput_batch", 7_000.0)],
            10,
        );
        let named = |n| out.iter().find(|f| f.figure == n).unwrap().value;
        assert_eq!(named("throughput_over_ceiling"), 0.2);
        assert_eq!(named("throughput_batch_over_ceiling"), 0.35);
        assert_eq!(named("pg_ceiling_per_commit"), 2_000.0);
    }
}
