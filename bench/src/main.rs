//! The `gantry-bench` binary: parse the command line, set up logging, run.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    gantry::logging::init();
    gantry_bench::run(gantry_bench::BenchArgs::parse()).await
}
