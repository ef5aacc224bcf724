//! The `gantry` command line.

use crate::config::{ServeConfig, DEFAULT_DATABASE_URL};
use clap::{Parser, Subcommand};

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
    /// Run the server: REST API, scheduler and database.
    Serve(ServeConfig),
    /// Apply database migrations and exit.
    Migrate {
        /// Database URL: sqlite://PATH or postgres://...
        #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
        database_url: String,
    },
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(config) => {
            crate::server::serve(config, crate::server::shutdown_on_signals()).await
        }
        Command::Migrate { database_url } => {
            let repo = crate::repo::connect(&database_url, Default::default()).await?;
            let applied = repo.migrate().await?;
            println!(
                "applied {applied} migration(s) to {}",
                crate::server::redact(&database_url)
            );
            Ok(())
        }
    }
}
