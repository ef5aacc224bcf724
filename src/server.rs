//! `gantry serve`: open the database, migrate, start the scheduler, serve HTTP until shutdown;
//! and [`app`], the whole HTTP application.

use crate::config::ServeConfig;
use crate::http::auth::require_loopback_host;
use crate::http::error::ApiError;
use crate::routes::metrics::track_http;
use crate::scheduler::{Scheduler, SchedulerHandle};
use crate::state::AppState;
use crate::waiters::Waiters;
use crate::wake_bus::WakeBus;
use anyhow::Context;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::Router;
use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::trace::TraceLayer;

/// How long shutdown waits for in-flight requests and scheduler passes.
pub const SHUTDOWN_DRAIN: Duration = Duration::from_secs(10);

/// The whole HTTP application: the REST API and the dashboard, behind the loopback-host guard,
/// timed per route, traced, and answering unknown paths and methods with the API's JSON 404
/// and 405.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(crate::routes::router(&state))
        .merge(crate::dashboard::router(state.clone()))
        .method_not_allowed_fallback(method_not_allowed)
        // A route layer: it runs after routing, so it sees the matched route pattern.
        .route_layer(from_fn(track_http))
        .fallback(not_found)
        .layer(from_fn_with_state(state.clone(), require_loopback_host))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

async fn not_found() -> ApiError {
    ApiError::not_found("no_route", "no such route; see the README for the API")
}

/// Checks the settings, binds the address, and serves until `shutdown` fires.
pub async fn serve(config: ServeConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    config.validate().map_err(anyhow::Error::msg)?;
    let listener = TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("could not listen on {}", config.bind))?;
    run(config, listener, shutdown).await
}

/// Serves on an already bound listener (tests bind `127.0.0.1:0`).
pub async fn run(
    config: ServeConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    let (state, scheduler) = build(config, shutdown.clone()).await?;
    let config = &state.config;
    if config.api_token.is_none() || config.worker_token.is_none() {
        tracing::warn!(
            "authentication is off for {}: anyone who can reach {addr} can run commands on your \
             workers. Set GANTRY_API_TOKEN and GANTRY_WORKER_TOKEN to turn it on",
            match (&config.api_token, &config.worker_token) {
                (None, None) => "clients and workers",
                (None, Some(_)) => "clients",
                _ => "workers",
            }
        );
    }
    tracing::info!("gantry listening on http://{addr}");
    serve_state(state, scheduler, listener, shutdown, SHUTDOWN_DRAIN).await?;
    tracing::info!("gantry stopped");
    Ok(())
}

/// Serves `state` on `listener` until `shutdown` fires, then waits at most `drain` for the
/// requests in flight and as long again for the scheduler. A request stuck in the database (a
/// lock that is not released, a connection gone quiet) is left behind rather than keeping the
/// process from stopping.
pub async fn serve_state(
    state: AppState,
    scheduler: Scheduler,
    listener: TcpListener,
    shutdown: CancellationToken,
    drain: Duration,
) -> anyhow::Result<()> {
    let served = axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .into_future();
    let drain_over = async {
        shutdown.cancelled().await;
        tokio::time::sleep(drain).await;
    };
    tokio::select! {
        served = served => served.context("the HTTP server failed")?,
        _ = drain_over => {
            tracing::warn!("requests still in flight {drain:?} after shutdown; leaving them");
        }
    }
    shutdown.cancel();
    scheduler.join(drain).await;
    Ok(())
}

/// Opens and migrates the database and starts the scheduler: everything but the listener.
pub async fn build(
    config: ServeConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<(AppState, Scheduler)> {
    crate::metrics::handle();
    let repo = crate::repo::connect_through(
        &config.database_url,
        config.database_pooler,
        config.policy(),
    )
    .await
    .with_context(|| {
        format!(
            "could not open the database {}",
            redact(&config.database_url)
        )
    })?;
    let applied = repo
        .migrate()
        .await
        .context("could not migrate the database")?;
    if applied > 0 {
        tracing::info!(applied, "applied database migrations");
    }
    let (waiters, bus) = match config.wake_url() {
        Some(url) => {
            let (waiters, outbox) = Waiters::with_outbox();
            let waiters = Arc::new(waiters);
            let replica = uuid::Uuid::new_v4().simple().to_string();
            let bus = WakeBus::start(
                url,
                replica,
                waiters.clone(),
                outbox,
                shutdown.child_token(),
            );
            (waiters, Some(bus))
        }
        None => (Arc::new(Waiters::default()), None),
    };
    let handle = SchedulerHandle::default();
    let scheduler = Scheduler::start(
        repo.clone(),
        &config,
        waiters.clone(),
        handle.clone(),
        bus,
        shutdown.child_token(),
    );
    let state = AppState {
        repo,
        config: Arc::new(config),
        waiters,
        scheduler: handle,
        shutdown,
        endings: Arc::new(crate::metrics::EndingsCounter::starting_at(
            crate::clock::now_ms(),
        )),
    };
    Ok((state, scheduler))
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// A token that fires on SIGTERM or Ctrl-C.
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let fire = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutdown signal received; finishing in-flight requests");
        fire.cancel();
    });
    token
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact("sqlite://gantry.db"), "sqlite://gantry.db");
    }
}
