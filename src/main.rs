//! The `gantry` binary: parse the command line, set up logging, run.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    gantry::logging::init();
    let code = gantry::cli::run(gantry::cli::Cli::parse()).await?;
    std::process::exit(code);
}
