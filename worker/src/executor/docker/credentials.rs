//! Registry credentials from the agent host's Docker config (`$DOCKER_CONFIG/config.json`,
//! else `~/.docker/config.json`): the `auths` entries, matched by the registry host of the
//! image reference. They stay on this host: the server never sees them.
//!
//! Not supported: credential helpers and stores (`credsStore`, `credHelpers`); an entry of
//! that kind is reported once in the log and the pull goes without credentials.

use base64::Engine;
use bollard::auth::DockerCredentials;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;

/// What Docker calls its Hub in references and config keys, as one name.
pub(super) const DOCKER_HUB: &str = "docker.io";

/// The part of a Docker config file this reads.
#[derive(Debug, Default, Deserialize)]
struct DockerConfigFile {
    /// Per registry: the base64 `user:password` (`auth`) or an identity token.
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    /// A credential store for every registry (not supported).
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
    /// Credential helpers per registry (not supported).
    #[serde(default, rename = "credHelpers")]
    cred_helpers: HashMap<String, String>,
}

/// One `auths` entry.
#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    /// base64 of `user:password`.
    #[serde(default)]
    auth: Option<String>,
    /// An OAuth identity token, as `docker login` stores for some registries.
    #[serde(default, rename = "identitytoken")]
    identity_token: Option<String>,
}

/// The registry a reference pulls from: its first path component when that names a host
/// (has a `.` or a `:`, or is `localhost`), else Docker Hub.
pub(super) fn registry_of(reference: &str) -> String {
    match reference.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            normalize_registry(first)
        }
        _ => DOCKER_HUB.to_string(),
    }
}

/// A config key or host as one name: no scheme, no path, Docker Hub's aliases as `docker.io`.
fn normalize_registry(key: &str) -> String {
    let key = key
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = key.split('/').next().unwrap_or(key).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            DOCKER_HUB.to_string()
        }
        _ => host,
    }
}

/// The Docker config file this host's Docker CLI uses.
fn config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker/config.json"))
}

/// The credentials for pulling `reference`, read from the Docker config now (so a changed
/// login applies to the next pull); `None` when there are none or the file is unreadable.
pub(super) fn for_reference(reference: &str) -> Option<DockerCredentials> {
    let text = std::fs::read_to_string(config_path()?).ok()?;
    let config: DockerConfigFile = match serde_json::from_str(&text) {
        Ok(config) => config,
        Err(e) => {
            tracing::warn!(error = %e, "the Docker config file is not valid JSON: pulling without credentials");
            return None;
        }
    };
    lookup(&config, &registry_of(reference))
}

/// The credentials `config` holds for `registry` (already normalised).
fn lookup(config: &DockerConfigFile, registry: &str) -> Option<DockerCredentials> {
    let entry = config
        .auths
        .iter()
        .find(|(key, _)| normalize_registry(key) == registry)
        .map(|(_, entry)| entry);
    let Some(entry) = entry else {
        if config.creds_store.is_some()
            || config
                .cred_helpers
                .keys()
                .any(|k| normalize_registry(k) == registry)
        {
            tracing::warn!(
                registry,
                "the Docker config names a credential helper, which gantry does not support: \
                 put the login in `auths` (docker login without a helper) to use it"
            );
        }
        return None;
    };
    let server = Some(registry.to_string());
    if let Some(token) = &entry.identity_token {
        return Some(DockerCredentials {
            identitytoken: Some(token.clone()),
            serveraddress: server,
            ..DockerCredentials::default()
        });
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(entry.auth.as_deref()?.trim())
        .ok()?;
    let (user, password) = String::from_utf8(decoded)
        .ok()?
        .split_once(':')
        .map(|(u, p)| (u.to_string(), p.to_string()))?;
    Some(DockerCredentials {
        username: Some(user),
        password: Some(password),
        serveraddress: server,
        ..DockerCredentials::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_their_registry() {
        assert_eq!(registry_of("busybox"), "docker.io");
        assert_eq!(registry_of("library/busybox:1"), "docker.io");
        assert_eq!(registry_of("docker.io/library/busybox"), "docker.io");
        assert_eq!(registry_of("127.0.0.1:5000/app:v1"), "127.0.0.1:5000");
        assert_eq!(registry_of("localhost/app"), "localhost");
        assert_eq!(registry_of("ghcr.io/org/app"), "ghcr.io");
    }

    #[test]
    fn auths_are_matched_by_host_with_hub_aliases() {
        let config: DockerConfigFile = serde_json::from_str(
            r#"{"auths": {
                "https://index.docker.io/v1/": {"auth": "aHViOnNlY3JldA=="},
                "127.0.0.1:5056": {"auth": "Z2FudHJ5OnB3OndpdGg6Y29sb25z"},
                "https://ghcr.io": {"identitytoken": "tok"}
            }}"#,
        )
        .unwrap();
        let hub = lookup(&config, "docker.io").unwrap();
        assert_eq!(
            (hub.username.as_deref(), hub.password.as_deref()),
            (Some("hub"), Some("secret"))
        );
        let local = lookup(&config, "127.0.0.1:5056").unwrap();
        assert_eq!(local.username.as_deref(), Some("gantry"));
        assert_eq!(local.password.as_deref(), Some("pw:with:colons"));
        assert_eq!(local.serveraddress.as_deref(), Some("127.0.0.1:5056"));
        assert_eq!(
            lookup(&config, "ghcr.io").unwrap().identitytoken.as_deref(),
            Some("tok")
        );
        assert!(lookup(&config, "127.0.0.1:5055").is_none());
    }
}
