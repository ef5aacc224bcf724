//! The servers a client may talk to: one base URL or several replicas of the same service.
//!
//! Agents and the CLI take a comma-separated list (`GANTRY_URL=http://a:8080,http://b:8080`).
//! Every replica serves the same API over the same database, so a client talks to one at a
//! time and moves to the next when that one cannot be reached.

use std::sync::atomic::{AtomicUsize, Ordering};

/// An ordered list of server base URLs and which one is in use.
#[derive(Debug)]
pub struct Servers {
    /// The base URLs, without trailing slashes; never empty.
    bases: Vec<String>,
    /// Index of the one in use.
    current: AtomicUsize,
}

impl Servers {
    /// Reads a comma-separated list of `http://` or `https://` base URLs.
    pub fn parse(list: &str) -> Result<Servers, String> {
        let mut bases = Vec::new();
        for part in list.split(',') {
            let base = part.trim().trim_end_matches('/');
            if base.is_empty() {
                continue;
            }
            if !base.starts_with("http://") && !base.starts_with("https://") {
                return Err(format!(
                    "a server URL must start with http:// or https://, got `{base}`"
                ));
            }
            if !bases.iter().any(|b| b == base) {
                bases.push(base.to_string());
            }
        }
        if bases.is_empty() {
            return Err("no server URL given".into());
        }
        Ok(Servers {
            bases,
            current: AtomicUsize::new(0),
        })
    }

    /// The base URL in use.
    pub fn current(&self) -> &str {
        &self.bases[self.current.load(Ordering::Relaxed) % self.bases.len()]
    }

    /// Every base URL, in order.
    pub fn all(&self) -> &[String] {
        &self.bases
    }

    /// How many servers there are.
    pub fn len(&self) -> usize {
        self.bases.len()
    }

    /// Always false: a list holds at least one server.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// `base` could not be reached: moves to the next server, unless another call already
    /// moved on from it. Returns the base now in use.
    pub fn failed(&self, base: &str) -> &str {
        let now = self.current.load(Ordering::Relaxed);
        if self.bases[now % self.bases.len()] == base {
            let next = (now + 1) % self.bases.len();
            let _ = self
                .current
                .compare_exchange(now, next, Ordering::Relaxed, Ordering::Relaxed);
        }
        self.current()
    }

    /// Whether `url` is on one of these servers (so it may be sent the worker's token).
    pub fn owns(&self, url: &str) -> bool {
        self.bases.iter().any(|b| {
            url.strip_prefix(b.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
        })
    }

    /// An absolute URL for `path` on the server in use (an absolute URL is kept as it is).
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else if path.starts_with('/') {
            format!("{}{path}", self.current())
        } else {
            format!("{}/{path}", self.current())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Servers;

    #[test]
    fn lists_are_read_trimmed_and_deduplicated() {
        let s = Servers::parse(" http://a:8080/, http://b:8080,,http://a:8080").unwrap();
        assert_eq!(s.all(), ["http://a:8080", "http://b:8080"]);
        assert_eq!(s.current(), "http://a:8080");
        assert!(Servers::parse("").is_err());
        assert!(Servers::parse("a:8080").unwrap_err().contains("http://"));
    }

    #[test]
    fn a_failure_moves_on_once_and_wraps_around() {
        let s = Servers::parse("http://a,http://b").unwrap();
        assert_eq!(s.failed("http://a"), "http://b");
        // A second call that also failed on a does not skip b.
        assert_eq!(s.failed("http://a"), "http://b");
        assert_eq!(s.failed("http://b"), "http://a");
    }

    #[test]
    fn urls_are_built_on_the_current_base_and_owned_by_any() {
        let s = Servers::parse("http://a:1,http://b:2").unwrap();
        assert_eq!(s.url("/api/x"), "http://a:1/api/x");
        assert_eq!(s.url("uploads/f"), "http://a:1/uploads/f");
        assert_eq!(s.url("https://files/f"), "https://files/f");
        assert!(s.owns("http://b:2/uploads/f"));
        assert!(!s.owns("http://b:23/uploads/f"));
        assert!(!s.owns("https://files/f"));
    }
}
