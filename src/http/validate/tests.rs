//! Unit tests of the input checks.

use super::*;

fn req(command: &str) -> CreateJobRequest {
    CreateJobRequest {
        command: command.into(),
        ..Default::default()
    }
}

#[test]
fn legacy_body_gets_defaults() {
    let mut r = req("echo test");
    r.file_url = Some("/uploads/abc/test.zip".into());
    let p = job_insert(r, "id".into(), 5, 1000).unwrap();
    assert_eq!(p.filename.as_deref(), Some("test.zip"));
    assert_eq!(p.required_cpu_milli, 250);
    assert_eq!(p.timeout_ms, 1000);
    assert_eq!(p.run_at, 5);
}

#[test]
fn bad_values_name_their_field() {
    assert_eq!(
        job_insert(req("  "), "i".into(), 0, 1)
            .unwrap_err()
            .field
            .as_deref(),
        Some("command")
    );
    let mut r = req("x");
    r.required_cpu = Some(-1.0);
    assert_eq!(
        job_insert(r, "i".into(), 0, 1)
            .unwrap_err()
            .field
            .as_deref(),
        Some("requiredCpu")
    );
    let mut r = req("x");
    r.required_ram_mb = Some(1 << 40);
    assert_eq!(
        job_insert(r, "i".into(), 0, 1)
            .unwrap_err()
            .field
            .as_deref(),
        Some("requiredRamMb")
    );
    let mut r = req("x");
    r.filename = Some("../etc/passwd".into());
    assert_eq!(
        job_insert(r, "i".into(), 0, 1)
            .unwrap_err()
            .field
            .as_deref(),
        Some("filename")
    );
    let mut r = req("x");
    r.run_at = Some(RunAt::Text("tomorrow".into()));
    assert_eq!(
        job_insert(r, "i".into(), 0, 1)
            .unwrap_err()
            .field
            .as_deref(),
        Some("runAt")
    );
}

#[test]
fn run_at_takes_rfc3339() {
    let ms = parse_time("runAt", &RunAt::Text("2026-01-01T00:00:00Z".into())).unwrap();
    assert_eq!(ms, 1_767_225_600_000);
}

#[test]
fn a_bad_image_names_its_field_and_its_fault() {
    let mut r = req("x");
    r.image = Some("../../etc".into());
    let e = job_insert(r, "i".into(), 0, 1).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("image"));
    assert!(
        e.message.contains("`..` is not a registry host"),
        "{}",
        e.message
    );
    let mut r = req("x");
    r.image = Some("ghcr.io/org/app:v1".into());
    assert_eq!(
        job_insert(r, "i".into(), 0, 1).unwrap().image.as_deref(),
        Some("ghcr.io/org/app:v1")
    );
}
