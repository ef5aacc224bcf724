//! `gantry up`: the whole service on one machine, like `nomad agent -dev`: the server on
//! SQLite plus one local worker agent, in one process.

use anyhow::Context;
use clap::Parser;
use gantry::config::ServeConfig;
use gantry_worker::executor::docker::{DockerExecutor, DockerSettings};
use gantry_worker::executor::Executor;
use std::path::Path;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The worker id of the local agent, unless `WORKER_ID` names another.
pub const LOCAL_WORKER_ID: &str = "local";

/// `gantry up` settings: the server's, plus how the local agent runs jobs.
#[derive(Debug, Clone, clap::Args)]
pub struct UpConfig {
    /// The server's settings, as `gantry serve` takes them.
    #[command(flatten)]
    pub serve: ServeConfig,

    /// Run jobs in Docker containers: `auto` (when an engine answers), `true` or `false`.
    #[arg(long = "docker", env = "ENABLE_DOCKER", default_value = "auto")]
    pub docker: String,
}

/// Starts the server and the local agent; stops both on SIGTERM or Ctrl-C.
pub async fn up(config: UpConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    config.serve.validate().map_err(anyhow::Error::msg)?;
    let listener = TcpListener::bind(config.serve.bind)
        .await
        .with_context(|| format!("could not listen on {}", config.serve.bind))?;
    let addr = listener.local_addr()?;
    let url = format!("http://{addr}");

    // The agent reads its usual environment (MAX_PARALLEL_JOBS, DOCKER_MEMORY_LIMIT, ...).
    let mut agent = gantry_worker::Config::try_parse_from(["gantry-worker"])
        .context("the worker agent's settings")?;
    agent.server_url = url.clone();
    agent.worker_token = config.serve.worker_token.clone();
    agent.worker_id = agent.worker_id.or_else(|| Some(LOCAL_WORKER_ID.into()));
    let (use_docker, how) = choose_executor(&config.docker, &agent).await?;
    agent.enable_docker = use_docker;

    let server_stop = CancellationToken::new();
    let server = tokio::spawn(gantry::server::run(
        config.serve.clone(),
        listener,
        server_stop.clone(),
    ));
    println!("gantry is up at {url}");
    println!("  dashboard: {url}/");
    println!(
        "  database:  {}",
        gantry::server::redact(&config.serve.database_url)
    );
    println!("  jobs run:  {how}");
    println!("  try:       curl -s -XPOST {url}/api/execute?wait=true -H 'content-type: application/json' -d '{{\"command\":\"echo hello from gantry\"}}'");

    let agent_stop = CancellationToken::new();
    let agent_task = tokio::spawn(gantry_worker::run(agent, agent_stop.clone()));
    shutdown.cancelled().await;
    // The agent first, so it can hand back what it runs while the server still listens.
    agent_stop.cancel();
    match agent_task.await {
        Ok(Err(e)) => tracing::error!("the local agent failed: {e:#}"),
        Err(e) => tracing::error!("the local agent panicked: {e}"),
        Ok(Ok(())) => {}
    }
    server_stop.cancel();
    server.await.context("the server task")??;
    Ok(())
}

/// Docker when asked for, or when `auto` and an engine answers with the agent's default image
/// at hand (built from `scripts/build-test-image.sh` when missing); else local processes.
async fn choose_executor(
    mode: &str,
    agent: &gantry_worker::Config,
) -> anyhow::Result<(bool, String)> {
    let mode = mode.to_ascii_lowercase();
    let process = |why: &str| {
        (
            false,
            format!("as local processes (ENABLE_DOCKER=false): {why}; they are NOT sandboxed"),
        )
    };
    if matches!(mode.as_str(), "false" | "0" | "no") {
        return Ok(process("Docker is turned off"));
    }
    let required = matches!(mode.as_str(), "true" | "1" | "yes");
    let settings = DockerSettings {
        kill_grace: agent.kill_grace,
        max_output_bytes: agent.max_output_bytes,
        allow_network: agent.allow_network,
        pids_limit: agent.pids_limit,
        usage_interval: agent.usage_interval,
        pull_timeout: agent.pull_timeout,
    };
    let docker = match DockerExecutor::connect(settings).await {
        Ok(docker) if docker.healthy().await => docker,
        _ if required => anyhow::bail!("ENABLE_DOCKER=true but no Docker engine answers"),
        _ => return Ok(process("no Docker engine answers")),
    };
    let image = &agent.default_image;
    if !docker.image_exists(image).await {
        build_test_image(image).await;
    }
    if docker.image_exists(image).await {
        return Ok((
            true,
            format!("in Docker containers (default image {image})"),
        ));
    }
    if required {
        anyhow::bail!(
            "the default image {image} is not in the local Docker engine and could not be built"
        );
    }
    Ok(process(&format!(
        "the default image {image} is missing (run scripts/build-test-image.sh)"
    )))
}

/// Builds the local test image with the repository's script, when run from a checkout.
async fn build_test_image(image: &str) {
    let script = Path::new("scripts/build-test-image.sh");
    if !script.exists() || image != gantry_worker::config::DEFAULT_IMAGE {
        return;
    }
    println!(
        "building the local image {image} with {} ...",
        script.display()
    );
    let run = tokio::process::Command::new("bash").arg(script).status();
    match tokio::time::timeout(Duration::from_secs(300), run).await {
        Ok(Ok(status)) if status.success() => {}
        other => println!("could not build {image}: {other:?}"),
    }
}
