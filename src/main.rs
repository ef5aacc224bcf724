//! The `gantry` binary: parse the command line, set up logging, run.

mod cli;

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    gantry::logging::init();
    let code = cli::run(cli::Cli::parse()).await?;
    std::process::exit(code);
}
