//! `docker-compose.yml` is valid and wires what it should. No image can be pulled here, so the
//! file is checked with the Compose tool's own `config`, not by starting it.

use crate::common::optional::{skip_or_fail, Part};
use std::process::Command;

/// `docker compose` (v2) or `docker-compose` (v1), whichever this machine has.
fn compose() -> Option<Vec<&'static str>> {
    let works = |cmd: &[&str]| {
        Command::new(cmd[0])
            .args(&cmd[1..])
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    [vec!["docker", "compose"], vec!["docker-compose"]]
        .into_iter()
        .find(|cmd| works(cmd))
}

#[test]
fn compose_file_is_valid_and_complete() {
    let Some(cmd) = compose() else {
        skip_or_fail(
            Part::Docker,
            "no Compose tool to check docker-compose.yml with",
        );
        return;
    };
    let run = |with_tokens: bool| {
        let mut c = Command::new(cmd[0]);
        c.args(&cmd[1..])
            .args([
                "-f",
                concat!(env!("CARGO_MANIFEST_DIR"), "/docker-compose.yml"),
                "config",
            ])
            .env_remove("GANTRY_API_TOKEN")
            .env_remove("GANTRY_WORKER_TOKEN");
        if with_tokens {
            c.env("GANTRY_API_TOKEN", "api-token-for-the-check")
                .env("GANTRY_WORKER_TOKEN", "worker-token-for-the-check");
        }
        c.output().expect("run compose config")
    };
    let ok = run(true);
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    for service in ["postgres:", "server:", "worker-1:", "worker-2:"] {
        assert!(text.contains(service), "missing service {service}:\n{text}");
    }
    assert_eq!(
        text.matches("/var/run/docker.sock").count(),
        4,
        "both workers mount the socket:\n{text}"
    );
    assert!(text.contains("DATABASE_URL: postgres://"), "{text}");
    assert!(text.contains("GANTRY_URL: http://server:8080"), "{text}");

    let refused = run(false);
    assert!(!refused.status.success(), "the tokens are mandatory");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("GANTRY_API_TOKEN"));
}
