//! The commands that work on the database itself, beside a running server: `gantry backup`
//! and `gantry prune`.

use gantry::config::{RetentionConfig, DEFAULT_DATABASE_URL};
use gantry::model::PruneCounts;
use gantry::repo::Pooler;
use gantry::scheduler::maintenance::{Pruner, RollupPass};

/// Which database a command works on, and through what, shared by `gantry prune` and
/// `gantry migrate` (the same flags and defaults as `gantry serve`).
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArgs {
    /// Database URL: sqlite://PATH or postgres://...
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// What stands between gantry and PostgreSQL: none or transaction (as `gantry serve`).
    #[arg(
        long,
        env = "GANTRY_DATABASE_POOLER",
        value_enum,
        default_value = "none"
    )]
    pub database_pooler: Pooler,
}

/// `gantry backup FILE`: refuses (exit code 2, nothing written) an existing FILE, a SQLite file
/// that is not there (opening it would make an empty database) and PostgreSQL; otherwise
/// copies the database and says how big the copy is. Database failures are errors (1).
pub async fn backup(database_url: &str, file: &std::path::Path) -> anyhow::Result<i32> {
    let refuse = |why: String| {
        eprintln!("error: {why}");
        Ok(2)
    };
    if file.exists() {
        return refuse(format!(
            "{} exists: gantry backup writes a new file, and never over one",
            file.display()
        ));
    }
    if let Some(why) = missing_sqlite_file(database_url) {
        return refuse(why);
    }
    let Some(dest) = file.to_str() else {
        return refuse(format!("{} is not a UTF-8 path", file.display()));
    };
    let repo = gantry::repo::connect(database_url, Default::default()).await?;
    match repo.database_backup(dest).await {
        Ok(()) => {}
        Err(gantry::repo::RepoError::Unsupported(why)) => return refuse(why),
        Err(e) => return Err(e.into()),
    }
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    println!(
        "copied {} to {} ({:.1} MiB)",
        gantry::server::redact(database_url),
        file.display(),
        size as f64 / (1024.0 * 1024.0)
    );
    Ok(0)
}

/// `gantry prune`: folds every finished job old enough into the rollups, then prunes
/// everything past its age, batch by batch until nothing is left; with `dry_run`, counts
/// what that would take and changes nothing. A SQLite path that is not there is refused
/// (exit code 2): opening it would make an empty database.
pub async fn prune(
    database: &DatabaseArgs,
    retention: &RetentionConfig,
    dry_run: bool,
) -> anyhow::Result<i32> {
    let database_url = database.database_url.as_str();
    if let Some(why) = missing_sqlite_file(database_url) {
        eprintln!("error: {why}");
        return Ok(2);
    }
    let repo =
        gantry::repo::connect_through(database_url, database.database_pooler, Default::default())
            .await?;
    repo.migrate().await?;
    let now = gantry::clock::now_ms();
    let pruner = Pruner {
        repo: repo.clone(),
        retention: retention.clone(),
    };
    if dry_run {
        let counts = repo.prune_preview(pruner.cutoffs(now)).await?;
        println!(
            "would prune (dry run, nothing changed): {}",
            describe(&counts)
        );
        return Ok(0);
    }
    let rollup = RollupPass {
        repo: repo.clone(),
        delay_ms: gantry::config::millis(retention.rollup_delay),
    };
    let mut folded = 0;
    loop {
        let n = rollup.fold(now).await?;
        folded += n;
        if n == 0 {
            break;
        }
    }
    let mut counts = PruneCounts::default();
    loop {
        let pass = pruner.prune(now).await?;
        counts.add(pass);
        if pass.total() == 0 {
            break;
        }
    }
    println!("rolled up {folded} job(s); pruned: {}", describe(&counts));
    Ok(0)
}

/// Why a `sqlite://` URL names no database file (opening it would make an empty one), if it
/// does not.
fn missing_sqlite_file(database_url: &str) -> Option<String> {
    let path = database_url.strip_prefix("sqlite://")?;
    let path = path.split('?').next().unwrap_or(path);
    (!std::path::Path::new(path).is_file())
        .then(|| format!("no SQLite database at {path}: name it with --database-url sqlite://PATH"))
}

/// The counts in words.
fn describe(c: &PruneCounts) -> String {
    format!(
        "outputs of {} job(s), {} job(s) with {} history row(s), {} input file(s), {} rollup row(s)",
        c.outputs, c.jobs, c.history, c.uploads, c.rollups
    )
}
