//! The checks' grammars as OpenAPI patterns (ECMA 262 regular expressions that Rust's `regex`
//! and Python's `re` read alike), for the document's schemas.
//!
//! A pattern says what a check always accepts. Where a check is more lenient than is worth
//! spelling out (any RFC 3339 time, a UUID in braces, a status in lower case), the pattern
//! names the canonical form, so every value it matches is accepted. The tests beside the checks
//! hold each pattern against its check.

use super::image_reference::MAX_TAG_LEN;
use super::{MAX_NAME_BYTES, MAX_WORKER_ID_LEN};
use gantry_api::JobStatus;

/// What [`super::worker_id`] accepts.
pub fn worker_id() -> String {
    format!("^[A-Za-z0-9._-]{{1,{MAX_WORKER_ID_LEN}}}$")
}

/// A worker id, or nothing: a batch's result may leave its `workerId` out or empty.
pub fn worker_id_or_empty() -> String {
    format!("^(?:[A-Za-z0-9._-]{{1,{MAX_WORKER_ID_LEN}}})?$")
}

/// The hyphenated UUIDs [`super::job_id`] accepts (it takes the other spellings of a UUID too).
pub const JOB_ID: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// A text with something other than white space in it and no NUL byte (a hostname; a command
/// is checked alike).
pub const NOT_BLANK: &str = r"^[^\x00]*[^\s\x00][^\x00]*$";

/// A text without a NUL byte (see [`super::text`]).
pub const NO_NUL: &str = r"^[^\x00]*$";

/// A variable name, as the job's `env` check accepts it.
pub const ENV_NAME: &str = "^[A-Za-z_][A-Za-z0-9_]*$";

/// What [`super::check_filename`] accepts: one path component, not `.` or `..`.
pub const FILENAME: &str = r"^(?:[^/\\\x00.][^/\\\x00]*|\.[^/\\\x00.][^/\\\x00]*|\.\.[^/\\\x00]+)$";

/// The `fileUrl`s `POST /api/uploads` hands out, `/uploads/ID/NAME` (the check takes any path
/// under `/uploads/` without a `..` part or white space).
pub fn file_url() -> String {
    let uuid = JOB_ID.trim_start_matches('^').trim_end_matches('$');
    format!(
        "^/uploads/{uuid}/[A-Za-z0-9_][A-Za-z0-9._-]{{0,{}}}$",
        MAX_NAME_BYTES - 1
    )
}

/// A time as [`super::parse_time_text`] reads it: epoch milliseconds, or an RFC 3339 time in
/// UTC from 1970 on (it takes any RFC 3339 time; days past the 28th are left out here so that
/// every match is a real date).
pub const TIME: &str = "^(?:[0-9]{1,18}|(?:19[7-9][0-9]|2[0-9]{3})-(?:0[1-9]|1[0-2])-\
                        (?:0[1-9]|1[0-9]|2[0-8])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\
                        (?:\\.[0-9]{1,9})?Z)$";

/// A comma-separated list of job states, as `GET /api/jobs/list` filters by (it takes any
/// case too); empty is no filter.
pub fn job_statuses() -> String {
    let one = JobStatus::ALL
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join("|");
    format!("^(?:(?:{one})(?:,(?:{one}))*)?$")
}

/// A Docker image reference, with the grammar of [`super::image_reference`]: a registry host
/// only where Docker reads one (a `.` or a `:` in it, or `localhost`), path components, an
/// optional tag and an optional `sha256` digest (the check takes `sha384` and `sha512` too,
/// left out here: the lengths they add make a fuzzer's search for values at the length limit
/// several times slower, and registries use `sha256`). The name's own length limit is held by
/// the reference's (`MAX_NAME_BYTES`, no longer).
pub fn image() -> String {
    let separated = |separator: &str| format!("[a-z0-9]+(?:(?:{separator})[a-z0-9]+)*");
    let component = separated("[.]|_{1,2}|-+");
    // A first part with a `.` before a `/` is read as a host, never as a component.
    let first = separated("_{1,2}|-+");
    let label = "[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?";
    let port = "(?::[0-9]+)?";
    let host = format!(
        "(?:{label}(?:[.]{label})+{port}|{label}:[0-9]+|localhost|\\[[0-9A-Fa-f:]+\\]{port})"
    );
    let name =
        format!("(?:{host}/{component}(?:/{component})*|{first}(?:/{component})+|{component})");
    let tag = format!("[A-Za-z0-9_][A-Za-z0-9_.-]{{0,{}}}", MAX_TAG_LEN - 1);
    format!("^{name}(?::{tag})?(?:@sha256:[0-9a-f]{{64}})?$")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::validate;
    use regex::Regex;

    /// Short strings over `alphabet`, the same on every run (a xorshift from a fixed seed).
    fn samples(alphabet: &str, count: usize, max_len: usize) -> Vec<String> {
        let chars: Vec<char> = alphabet.chars().collect();
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..count)
            .map(|_| {
                let len = (next() % (max_len as u64 + 1)) as usize;
                (0..len)
                    .map(|_| chars[(next() % chars.len() as u64) as usize])
                    .collect()
            })
            .collect()
    }

    /// The pattern matches exactly what `check` accepts, on random and on given values.
    fn agrees(pattern: &str, alphabet: &str, given: &[&str], check: impl Fn(&str) -> bool) {
        let re = Regex::new(pattern).unwrap();
        let random = samples(alphabet, 20_000, 12);
        for value in given
            .iter()
            .copied()
            .chain(random.iter().map(String::as_str))
        {
            assert_eq!(
                re.is_match(value),
                check(value),
                "{pattern} and its check disagree on {value:?}"
            );
        }
    }

    /// Every value the pattern matches, the check accepts (a subset pattern).
    fn within(pattern: &str, given: &[&str], check: impl Fn(&str) -> bool) {
        let re = Regex::new(pattern).unwrap();
        for value in given {
            assert_eq!(re.is_match(value), check(value), "{pattern} on {value:?}");
        }
    }

    #[test]
    fn names_ids_and_files_match_their_checks_exactly() {
        let worker = worker_id();
        agrees(
            &worker,
            "aZ9._-/ é",
            &["", &"a".repeat(128), &"a".repeat(129)],
            |v| validate::worker_id("w", v).is_ok(),
        );
        agrees(
            FILENAME,
            "a..\\/\0 é",
            &[".", "..", "...", ".a", "..a"],
            |v| validate::check_filename("f", v).is_ok(),
        );
        let env_name = Regex::new(ENV_NAME).unwrap();
        for name in samples("aZ_0 -=", 5_000, 6) {
            let mut req = gantry_api::CreateJobRequest {
                command: "true".into(),
                ..Default::default()
            };
            req.env.insert(name.clone(), "v".into());
            let ok = validate::job_insert(req, "i".into(), 0, 1).is_ok();
            assert_eq!(env_name.is_match(&name), ok, "env name {name:?}");
        }
    }

    #[test]
    fn the_image_pattern_is_docker_s_grammar() {
        let sha = format!("sha256:{}", "0123456789abcdef".repeat(4));
        let digested = format!("ghcr.io/org/app@{sha}");
        let given = [
            "busybox",
            "python:3.12",
            "library/python:3.12-slim",
            "127.0.0.1:5000/gantry/busybox:t1",
            "localhost/x",
            "localhost:5000/x",
            "[::1]:5000/x:y",
            "a.b.c/d-e/f__g:v1.0",
            "host:5000",
            digested.as_str(),
            "a_b.c/x",
            "a_b.c",
            "Library/python",
            "a//b",
            ":tag",
            "a:",
            "a@sha256:00",
            "a:b:c",
            "-a",
            "a-",
            "a___b",
            "[]/x",
            "a.b:/x",
        ];
        agrees(&image(), "a0.:/_-@[]A", &given, |v| {
            validate::check_image(v).is_ok()
        });
        // The other digests are accepted, and left out of the pattern.
        let sha512 = format!("app@sha512:{}", "0123456789abcdef".repeat(8));
        validate::check_image(&sha512).unwrap();
        assert!(!Regex::new(&image()).unwrap().is_match(&sha512));
    }

    #[test]
    fn subset_patterns_match_only_what_their_checks_accept() {
        within(
            JOB_ID,
            &[
                "0190a6f0-0000-7000-8000-000000000000",
                "0190A6F0-0000-7000-8000-00000000000F",
            ],
            |v| validate::job_id("j", v).is_ok(),
        );
        within(
            TIME,
            &[
                "0",
                "1700000000000",
                "2026-01-01T12:00:00Z",
                "2026-02-28T23:59:59.123456789Z",
            ],
            |v| validate::parse_time_text("t", v).is_ok(),
        );
        let time = Regex::new(TIME).unwrap();
        for outside in ["-1", "1969-12-31T23:59:59Z", "2026-13-01T00:00:00Z", "soon"] {
            assert!(!time.is_match(outside), "{outside}");
        }
        let url = file_url();
        within(
            &url,
            &["/uploads/0190a6f0-0000-7000-8000-000000000000/in.zip"],
            |v| {
                let req = gantry_api::CreateJobRequest {
                    command: "true".into(),
                    file_url: Some(v.into()),
                    ..Default::default()
                };
                validate::job_insert(req, "i".into(), 0, 1).is_ok()
            },
        );
        let statuses = Regex::new(&job_statuses()).unwrap();
        for ok in ["QUEUED", "TIMED_OUT,CANCELLED"] {
            assert!(statuses.is_match(ok), "{ok}");
            for status in ok.split(',') {
                status.parse::<JobStatus>().unwrap();
            }
        }
        assert!(statuses.is_match(""), "empty is no filter");
        assert!(!statuses.is_match("QUEUED,"));
        let command = |v: &str| {
            let req = gantry_api::CreateJobRequest {
                command: v.into(),
                ..Default::default()
            };
            validate::job_insert(req, "i".into(), 0, 1).is_ok()
        };
        agrees(NOT_BLANK, "a \t\n\0", &[" x ", " \t\n", "x\0"], command);
    }
}
