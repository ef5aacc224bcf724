//! The optional parts of a test machine (PostgreSQL, Docker, a browser): one place decides
//! whether a test that lacks one skips or fails.
//!
//! A bare machine skips loudly, so `cargo test` works anywhere; CI sets
//! `GANTRY_REQUIRE_<PART>=1` so that a missing part fails instead of hiding behind a skip.

/// A part of the machine that some tests need and a bare machine may lack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// A PostgreSQL cluster to create test databases in.
    Postgres,
    /// A Docker engine (and, for some tests, the local test image or a Compose tool).
    Docker,
    /// Headless Chromium and chromedriver.
    Browser,
}

impl Part {
    /// The variable that, set to `1`, makes a missing part fail the tests that need it.
    fn require_var(self) -> &'static str {
        match self {
            Part::Postgres => "GANTRY_REQUIRE_POSTGRES",
            Part::Docker => "GANTRY_REQUIRE_DOCKER",
            Part::Browser => "GANTRY_REQUIRE_BROWSER",
        }
    }

    /// True when this machine must have the part (its `GANTRY_REQUIRE_<PART>` is `1`).
    pub fn required(self) -> bool {
        std::env::var(self.require_var()).is_ok_and(|v| v == "1")
    }
}

/// Skips the running test for want of `part`, saying `SKIPPED <test>: <why>` on stderr; fails
/// it with `why` instead when the part is required. The caller returns after this.
pub fn skip_or_fail(part: Part, why: &str) {
    if part.required() {
        panic!("{why} ({}=1)", part.require_var());
    }
    // libtest names each test's thread after the test, and `#[tokio::test]` runs the test's
    // body on that thread.
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("<unnamed test>");
    eprintln!("SKIPPED {test}: {why}");
}
