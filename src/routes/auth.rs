//! Bearer-token checks: an API token for client routes, a join token for registration, and a
//! per-worker token that acts only for its own worker. With no tokens configured, every route
//! is open and the server refuses to listen beyond loopback (see `ServeConfig::validate` and
//! [`crate::http::auth::require_loopback_host`]).

use crate::http::auth::{bearer, token_hash, tokens_match};
use crate::http::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

/// A fresh random per-worker token.
pub fn new_worker_token() -> String {
    format!(
        "gw_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Middleware for client routes: the API token, when one is configured.
pub async fn require_client(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> ApiResult<Response> {
    if let Some(expected) = &state.config.api_token {
        match bearer(request.headers()) {
            None => {
                return Err(ApiError::unauthorized(
                    "send `Authorization: Bearer <API token>`",
                ))
            }
            Some(given) if !tokens_match(given, expected) => {
                return Err(ApiError::unauthorized("the API token is wrong"))
            }
            Some(_) => {}
        }
    }
    Ok(next.run(request).await)
}

/// Registration, when worker tokens are in use: the join token for a new worker (or one
/// registered before tokens), but for `worker_id` when it already has a token, that token or
/// the API token. Otherwise anyone holding the join token could take over a running worker's
/// id, and with it its jobs.
///
/// `worker_id` is the id asked for, when it is a valid one. Returns the worker's own token when
/// that is what the caller presented: the registration keeps it rather than issuing a new one,
/// so that an agent whose answer was lost can register again with the token it holds.
pub async fn require_register(
    state: &AppState,
    headers: &HeaderMap,
    worker_id: Option<&str>,
) -> ApiResult<Option<String>> {
    let Some(join) = &state.config.worker_token else {
        return Ok(None);
    };
    let Some(given) = bearer(headers) else {
        return Err(ApiError::unauthorized(
            "send `Authorization: Bearer <worker join token>`",
        ));
    };
    // A worker that is OFFLINE holds nothing (its jobs were requeued when it went silent), so
    // the join token may give its id a new life: the way back for an agent that lost its state
    // folder, once its old life has timed out.
    let existing_hash = match worker_id {
        Some(id) => state
            .repo
            .worker_get(id)
            .await?
            .filter(|w| w.offline_since.is_none())
            .and_then(|w| w.token_hash),
        None => None,
    };
    let Some(existing_hash) = existing_hash else {
        return if tokens_match(given, join) {
            Ok(None)
        } else {
            Err(ApiError::unauthorized("the worker join token is wrong"))
        };
    };
    let is_api_token = state
        .config
        .api_token
        .as_deref()
        .is_some_and(|api| tokens_match(given, api));
    let given_hash = token_hash(given);
    if given_hash == existing_hash {
        return Ok(Some(given.to_string()));
    }
    if is_api_token {
        return Ok(None);
    }
    let id = worker_id.unwrap_or_default();
    if tokens_match(given, join)
        || state
            .repo
            .worker_by_token_hash(&given_hash)
            .await?
            .is_some()
    {
        return Err(ApiError::forbidden(format!(
            "worker `{id}` is online with its own token: re-register with that token (or the \
             API token), pick another id, or wait until it is OFFLINE (one heartbeat timeout)"
        )));
    }
    Err(ApiError::unauthorized("the token is wrong"))
}

/// Worker routes: the token of exactly this worker, when worker tokens are in use.
pub async fn require_worker(
    state: &AppState,
    headers: &HeaderMap,
    worker_id: &str,
) -> ApiResult<()> {
    if state.config.worker_token.is_none() {
        return Ok(());
    }
    let Some(given) = bearer(headers) else {
        return Err(ApiError::unauthorized(
            "send `Authorization: Bearer <worker token>`",
        ));
    };
    match state.repo.worker_by_token_hash(&token_hash(given)).await? {
        Some(owner) if owner == worker_id => Ok(()),
        Some(_) => Err(ApiError::forbidden(format!(
            "this token belongs to another worker, not `{worker_id}`"
        ))),
        None => Err(ApiError::unauthorized(
            "unknown worker token; register again",
        )),
    }
}

/// Downloads of uploaded files: the API token or any worker's token.
pub async fn require_client_or_worker(state: &AppState, headers: &HeaderMap) -> ApiResult<()> {
    let api = state.config.api_token.as_deref();
    let workers_use_tokens = state.config.worker_token.is_some();
    // Without worker tokens agents send none, and must still fetch their jobs' files (such a
    // server listens on loopback only, or runs with --insecure-no-auth).
    if !workers_use_tokens {
        return Ok(());
    }
    let Some(given) = bearer(headers) else {
        return Err(ApiError::unauthorized(
            "send `Authorization: Bearer <token>`",
        ));
    };
    if api.is_some_and(|expected| tokens_match(given, expected)) {
        return Ok(());
    }
    if workers_use_tokens
        && state
            .repo
            .worker_by_token_hash(&token_hash(given))
            .await?
            .is_some()
    {
        return Ok(());
    }
    Err(ApiError::unauthorized("the token is wrong"))
}
