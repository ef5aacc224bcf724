//! The user commands of the `gantry` binary: each talks to a server over REST.

pub mod jobs;
pub mod report;
pub mod submit;
pub mod table;
pub mod workers;

use crate::cli::client::Client;
use gantry_api::Servers;

/// Where the server is and how to reach it, shared by every user command.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// The server's URL, or a comma-separated list of its replicas (the next is tried when
    /// one cannot be reached).
    #[arg(
        long,
        env = "GANTRY_URL",
        default_value = "http://127.0.0.1:8080",
        global = true,
        value_parser = server_list
    )]
    pub url: String,

    /// The API token, when the server requires one.
    #[arg(long, env = "GANTRY_API_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,

    /// Print JSON instead of tables, for scripts.
    #[arg(long, global = true)]
    pub json: bool,
}

impl ServerArgs {
    /// A client for the server.
    pub fn client(&self) -> Client {
        let servers = Servers::parse(&self.url).expect("checked when the flags were read");
        Client::new(servers, self.token.clone())
    }
}

/// Checks a `--url` list when the flags are read, so a typo is a usage error.
fn server_list(list: &str) -> Result<String, String> {
    Servers::parse(list).map(|servers| servers.all().join(","))
}

/// Epoch milliseconds as an RFC 3339 time, for people.
pub fn format_time(ms: Option<i64>) -> String {
    match ms.and_then(|ms| u64::try_from(ms).ok()) {
        Some(ms) => {
            let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
            humantime::format_rfc3339_millis(at).to_string()
        }
        None => "-".into(),
    }
}

/// Prints a value as pretty JSON.
pub fn print_json<T: serde::Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("API types serialize")
    );
}
