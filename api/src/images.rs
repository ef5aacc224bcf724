//! Images: how a job's image is fetched, and which images an agent already holds.

use serde::{Deserialize, Serialize};

/// When the agent pulls a job's image from its registry before running it.
#[derive(
    Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, Hash, utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum PullPolicy {
    /// Pull only when the host does not have the image (the default).
    #[default]
    IfNotPresent,
    /// Pull before every attempt (a moving tag such as `latest` is refreshed).
    Always,
    /// Never pull: an image the host lacks fails the job.
    Never,
}

impl PullPolicy {
    /// The name used on the wire, in flags and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::IfNotPresent => "if-not-present",
            PullPolicy::Always => "always",
            PullPolicy::Never => "never",
        }
    }
}

impl std::str::FromStr for PullPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<PullPolicy, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "if-not-present" | "ifnotpresent" | "missing" => Ok(PullPolicy::IfNotPresent),
            "always" => Ok(PullPolicy::Always),
            "never" => Ok(PullPolicy::Never),
            other => Err(format!(
                "unknown pull policy `{other}` (use if-not-present, always or never)"
            )),
        }
    }
}

impl std::fmt::Display for PullPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One image an agent's engine holds, as its heartbeat reports it (a bounded list).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageHeld {
    /// `repository:tag`, as a job names it (for example `python:3.12`).
    pub reference: String,
    /// The image's content digest (`sha256:...`), when the engine knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}
