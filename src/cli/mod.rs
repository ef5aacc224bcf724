//! The `gantry` command line: the binary's own code, not library API. The user commands talk
//! to a server over REST ([`client`]); `serve`, `up`, `migrate`, `backup` and `prune` call the
//! library;
//! `bench` runs `gantry-bench`.

mod client;
mod commands;
mod database;
mod up;

use clap::{Parser, Subcommand};
use commands::submit::SubmitArgs;
use commands::{jobs, report, submit, workers, ServerArgs};
use database::DatabaseArgs;
use gantry::config::{RetentionConfig, ServeConfig, DEFAULT_DATABASE_URL};
use up::UpConfig;

/// gantry: a database-backed job execution service.
#[derive(Debug, Parser)]
#[command(name = "gantry", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run everything on this machine: the server (SQLite at ./gantry.db) and a local agent.
    Up(UpConfig),
    /// Run the server: REST API, scheduler and database.
    Serve(ServeConfig),
    /// Submit a job: `gantry submit [OPTIONS] -- CMD...`.
    Submit {
        /// What to run, and with what resources.
        #[command(flatten)]
        job: SubmitArgs,
        /// Where the server is, its token, and the output format.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Show a job with its timeline.
    Status {
        /// The job's id.
        id: String,
        /// Where the server is, its token, and the output format.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Print a job's output (stdout to stdout, stderr to stderr).
    Logs {
        /// The job's id.
        id: String,
        /// Where the server is, its token, and the output format.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Cancel a job.
    Cancel {
        /// The job's id.
        id: String,
        /// Where the server is, its token, and the output format.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List jobs, newest first.
    Jobs {
        /// Only these states, comma-separated (e.g. running,queued).
        #[arg(long)]
        status: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Where the server is, its token, and the output format.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List the workers.
    Workers {
        /// Where the server is, its token, and the output format.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Summarise the job history: counts, success rate, queue wait and run time.
    Report {
        /// How far back (e.g. 1h, 24h, 7d).
        #[arg(long, default_value = "24h", value_parser = gantry_api::parse_duration)]
        since: std::time::Duration,
        /// hour, day, worker, status, image or all.
        #[arg(long, default_value = "all")]
        group_by: String,
        /// Where the server is, its token, and the output format.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Measure throughput and assignment latency of a real server (see BENCHMARKS.md): runs
    /// the `gantry-bench` binary with these arguments.
    #[command(disable_help_flag = true)]
    Bench {
        /// `gantry-bench`'s arguments, passed on as they are (`gantry bench --help` lists them).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Copy a SQLite database to a new file while the server runs (a consistent snapshot).
    Backup {
        /// The file to write; it must not exist yet.
        file: std::path::PathBuf,
        /// Database URL: sqlite://PATH (PostgreSQL is backed up with pg_dump).
        #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
        database_url: String,
    },
    /// Delete finished work past its age now, as the server's pruner does (rolling finished
    /// jobs up for the reports first), or with --dry-run only count what would go.
    Prune {
        /// Count what would go, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// The database.
        #[command(flatten)]
        database: DatabaseArgs,
        /// The ages (the server's flags and defaults).
        #[command(flatten)]
        retention: RetentionConfig,
    },
    /// Apply database migrations and exit.
    Migrate {
        /// The database.
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// Runs a parsed command line; returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    let outcome = match cli.command {
        Command::Submit { job, server } => submit::submit(&server, job).await,
        Command::Status { id, server } => jobs::status(&server, &id).await,
        Command::Logs { id, server } => jobs::logs(&server, &id).await,
        Command::Cancel { id, server } => jobs::cancel(&server, &id).await,
        Command::Jobs {
            status,
            limit,
            server,
        } => jobs::list(&server, status.as_deref(), limit).await,
        Command::Workers { server } => workers::workers(&server).await,
        Command::Report {
            since,
            group_by,
            server,
        } => report::report(&server, since, &group_by).await,
        Command::Bench { args } => return bench(&args).await,
        Command::Backup { file, database_url } => {
            return Ok(exit_code(database::backup(&database_url, &file).await))
        }
        Command::Prune {
            dry_run,
            database,
            retention,
        } => {
            let prune = database::prune(&database, &retention, dry_run);
            return Ok(exit_code(prune.await));
        }
        other => return run_service(other).await.map(|()| 0),
    };
    match outcome {
        Ok(code) => Ok(code),
        Err(e) => {
            eprintln!("error: {e}");
            Ok(e.exit_code())
        }
    }
}

/// A database command's exit code; its error printed (exit code 1).
fn exit_code(outcome: anyhow::Result<i32>) -> i32 {
    outcome.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        1
    })
}

async fn run_service(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Up(config) => up::up(config, gantry::server::shutdown_on_signals()).await,
        Command::Serve(config) => {
            gantry::server::serve(config, gantry::server::shutdown_on_signals()).await
        }
        Command::Migrate { database } => {
            let DatabaseArgs {
                database_url,
                database_pooler,
            } = database;
            let repo =
                gantry::repo::connect_through(&database_url, database_pooler, Default::default())
                    .await?;
            let applied = repo.migrate().await?;
            println!(
                "applied {applied} migration(s) to {}",
                gantry::server::redact(&database_url)
            );
            Ok(())
        }
        _ => unreachable!("user commands are handled by run"),
    }
}

/// `gantry bench ARGS`: runs `gantry-bench ARGS` (beside this executable, else from `PATH`)
/// with `GANTRY_BIN` naming this executable as the server to measure; its exit code.
async fn bench(args: &[String]) -> anyhow::Result<i32> {
    let exe = std::env::current_exe()?;
    let beside = exe.with_file_name("gantry-bench");
    let bin = if beside.is_file() {
        beside
    } else {
        "gantry-bench".into()
    };
    let mut command = tokio::process::Command::new(&bin);
    command.args(args);
    if std::env::var_os("GANTRY_BIN").is_none() {
        command.env("GANTRY_BIN", &exe);
    }
    let status = match command.status().await {
        Ok(status) => status,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => anyhow::bail!(
            "`gantry bench` runs gantry-bench, which is neither beside {} nor on PATH: build it \
             with `cargo build --release -p gantry-bench`",
            exe.display()
        ),
        Err(e) => return Err(anyhow::Error::new(e).context(format!("run {}", bin.display()))),
    };
    Ok(status.code().unwrap_or(1))
}
