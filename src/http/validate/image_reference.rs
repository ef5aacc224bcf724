//! Docker image references, read with the grammar of the distribution/reference package that
//! Docker parses them with, so a job can only name something Docker could pull (`../../etc` is
//! not an image):
//!
//! ```text
//! reference  := name [ ":" tag ] [ "@" digest ]
//! name       := [ host "/" ] component ( "/" component )*     at most 255 characters
//! host       := ( domain | "[" ipv6 "]" ) [ ":" port ]
//! domain     := label ( "." label )*                          labels [a-zA-Z0-9-], no edge "-"
//! component  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//! tag        := [\w][\w.-]{0,127}
//! digest     := algorithm ":" hex                             sha256, sha384 or sha512
//! ```
//!
//! The first part of a name is its registry host only when it holds a `.` or a `:` or is
//! `localhost`, as Docker reads it: `library/python` is two components, `ghcr.io/x` a host and one.
//! A digest is checked as Docker checks it before use: a known algorithm and its exact length of
//! lowercase hex.

/// Longest name, registry host included, tag and digest not.
pub const MAX_IMAGE_NAME_LEN: usize = 255;
/// Longest tag.
pub const MAX_TAG_LEN: usize = 128;
/// The digest algorithms Docker accepts, each with the length of its hex encoding.
const DIGEST_ALGORITHMS: [(&str, usize); 3] = [("sha256", 64), ("sha384", 96), ("sha512", 128)];

/// An image reference split into its parts, each a slice of the text it was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageReference<'a> {
    /// The registry host with its port, e.g. `127.0.0.1:5000`; `None` means Docker Hub.
    pub host: Option<&'a str>,
    /// The repository path within the registry, e.g. `library/python`.
    pub path: &'a str,
    /// The tag after `:`; Docker takes `latest` when there is neither tag nor digest.
    pub tag: Option<&'a str>,
    /// The content digest after `@`, e.g. `sha256:` and 64 hex digits.
    pub digest: Option<&'a str>,
}

/// What is wrong with a reference; each message names the part at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageReferenceError {
    /// Nothing at all was given.
    #[error("the reference is empty")]
    Empty,
    /// A tag or digest with no name before it, as in `:tag`.
    #[error("the name before the tag or digest is missing")]
    MissingName,
    /// The name (host and path) is longer than [`MAX_IMAGE_NAME_LEN`].
    #[error("the name is {0} characters long, more than {MAX_IMAGE_NAME_LEN}")]
    NameTooLong(usize),
    /// A `/`-separated part of the path is empty, as in `a//b` or `a/`.
    #[error("a `/`-separated part of the name is empty")]
    EmptyComponent,
    /// A path component with capital letters, which Docker refuses.
    #[error("`{0}` has capital letters; repository names must be lowercase")]
    Uppercase(String),
    /// A path component outside the grammar.
    #[error(
        "`{0}` is not a name component (lowercase letters and digits, separated by one `.`, \
         one or two `_`, or `-`s)"
    )]
    BadComponent(String),
    /// The first part looks like a registry host but is not one.
    #[error(
        "`{0}` is not a registry host (a domain name, an IPv4 address or a bracketed IPv6 \
         address, with an optional :port)"
    )]
    BadHost(String),
    /// The text after `:` is empty.
    #[error("the tag after `:` is empty")]
    EmptyTag,
    /// The tag is outside the grammar.
    #[error(
        "`{0}` is not a tag (1 to {MAX_TAG_LEN} letters, digits, `_`, `.` or `-`, not starting \
         with `.` or `-`)"
    )]
    BadTag(String),
    /// The digest is not a known algorithm with hex of the right length.
    #[error(
        "`{0}` is not a digest (sha256:, sha384: or sha512: followed by 64, 96 or 128 lowercase \
         hex digits)"
    )]
    BadDigest(String),
}

/// Parses `reference` as Docker would, or says what is wrong with it.
pub fn parse(reference: &str) -> Result<ImageReference<'_>, ImageReferenceError> {
    if reference.is_empty() {
        return Err(ImageReferenceError::Empty);
    }
    let (rest, digest) = match reference.split_once('@') {
        Some((rest, digest)) => (rest, Some(check_digest(digest)?)),
        None => (reference, None),
    };
    // A `:` after the last `/` starts the tag; one before it belongs to the host's port.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => {
            let colon = last_slash + i;
            (&rest[..colon], Some(check_tag(&rest[colon + 1..])?))
        }
        None => (rest, None),
    };
    if name.is_empty() {
        return Err(ImageReferenceError::MissingName);
    }
    if name.len() > MAX_IMAGE_NAME_LEN {
        return Err(ImageReferenceError::NameTooLong(name.len()));
    }
    let (host, path) = match name.split_once('/') {
        Some((first, path)) if is_host_like(first) => (Some(check_host(first)?), path),
        _ => (None, name),
    };
    for component in path.split('/') {
        check_component(component)?;
    }
    Ok(ImageReference {
        host,
        path,
        tag,
        digest,
    })
}

/// True when the first part of a name is read as a registry host rather than a component.
fn is_host_like(first: &str) -> bool {
    first.contains(['.', ':']) || first == "localhost"
}

/// `[a-z0-9]+` runs joined by one `.`, one or two `_`, or any number of `-`.
fn check_component(component: &str) -> Result<(), ImageReferenceError> {
    if component.is_empty() {
        return Err(ImageReferenceError::EmptyComponent);
    }
    if is_component(component) {
        return Ok(());
    }
    if component.bytes().any(|b| b.is_ascii_uppercase())
        && is_component(&component.to_ascii_lowercase())
    {
        return Err(ImageReferenceError::Uppercase(component.to_string()));
    }
    Err(ImageReferenceError::BadComponent(component.to_string()))
}

fn is_component(component: &str) -> bool {
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = component.as_bytes();
    let mut i = 0;
    loop {
        let run = bytes[i..].iter().take_while(|b| alnum(b)).count();
        if run == 0 {
            return false;
        }
        i += run;
        let separator = match bytes.get(i) {
            None => return true,
            Some(b'.') => 1,
            Some(b'_') => bytes[i..]
                .iter()
                .take(2)
                .take_while(|&&b| b == b'_')
                .count(),
            Some(b'-') => bytes[i..].iter().take_while(|&&b| b == b'-').count(),
            Some(_) => return false,
        };
        i += separator;
    }
}

/// A domain name or IPv4 address, or a bracketed IPv6 address, then an optional `:port`.
fn check_host(host: &str) -> Result<&str, ImageReferenceError> {
    let (address, port) = split_port(host);
    let address_ok = match address.strip_prefix('[').and_then(|a| a.strip_suffix(']')) {
        Some(ipv6) => !ipv6.is_empty() && ipv6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':'),
        None => is_domain(address),
    };
    let port_ok = match port {
        None => true,
        Some(p) => !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()),
    };
    if address_ok && port_ok {
        Ok(host)
    } else {
        Err(ImageReferenceError::BadHost(host.to_string()))
    }
}

/// Splits `address:port`; in a bracketed IPv6 address the port's `:` is the one after `]`.
fn split_port(host: &str) -> (&str, Option<&str>) {
    let from = if host.starts_with('[') {
        host.find(']').map_or(host.len(), |i| i + 1)
    } else {
        0
    };
    match host[from..].find(':') {
        Some(i) => (&host[..from + i], Some(&host[from + i + 1..])),
        None => (host, None),
    }
}

/// Labels of ASCII letters, digits and `-` (not at either end), joined by single dots.
fn is_domain(domain: &str) -> bool {
    domain.split('.').all(|label| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    })
}

/// `[\w][\w.-]{0,127}`, `\w` being ASCII letters, digits and `_`.
fn check_tag(tag: &str) -> Result<&str, ImageReferenceError> {
    if tag.is_empty() {
        return Err(ImageReferenceError::EmptyTag);
    }
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let ok = tag.len() <= MAX_TAG_LEN
        && tag.bytes().next().is_some_and(word)
        && tag.bytes().all(|b| word(b) || b == b'.' || b == b'-');
    if ok {
        Ok(tag)
    } else {
        Err(ImageReferenceError::BadTag(tag.to_string()))
    }
}

/// A known algorithm, `:`, and exactly its length of lowercase hex.
fn check_digest(digest: &str) -> Result<&str, ImageReferenceError> {
    let ok = digest.split_once(':').is_some_and(|(algorithm, hex)| {
        DIGEST_ALGORITHMS.iter().any(|&(name, len)| {
            algorithm == name
                && hex.len() == len
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
    });
    if ok {
        Ok(digest)
    } else {
        Err(ImageReferenceError::BadDigest(digest.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn docker_references_parse() {
        let digest_ref = format!("ghcr.io/org/app@{SHA}");
        let good = [
            ("busybox", None, "busybox", None),
            ("python:3.12", None, "python", Some("3.12")),
            (
                "library/python:3.12-slim",
                None,
                "library/python",
                Some("3.12-slim"),
            ),
            (
                "127.0.0.1:5000/gantry/busybox:t1",
                Some("127.0.0.1:5000"),
                "gantry/busybox",
                Some("t1"),
            ),
            ("localhost/x", Some("localhost"), "x", None),
            ("localhost:5000/x", Some("localhost:5000"), "x", None),
            ("[::1]:5000/x:y", Some("[::1]:5000"), "x", Some("y")),
            (
                "a.b.c/d-e/f__g:v1.0",
                Some("a.b.c"),
                "d-e/f__g",
                Some("v1.0"),
            ),
            (
                "gantry-test-busybox:latest",
                None,
                "gantry-test-busybox",
                Some("latest"),
            ),
            ("a--b__c/d.e", None, "a--b__c/d.e", None),
            (
                "Registry.Example.com/x",
                Some("Registry.Example.com"),
                "x",
                None,
            ),
            (digest_ref.as_str(), Some("ghcr.io"), "org/app", None),
        ];
        for (text, host, path, tag) in good {
            let parsed = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(
                (parsed.host, parsed.path, parsed.tag),
                (host, path, tag),
                "{text}"
            );
        }
        let both = format!("x:1@{SHA}");
        let parsed = parse(&both).unwrap();
        assert_eq!((parsed.tag, parsed.digest), (Some("1"), Some(SHA)));
    }

    #[test]
    fn malformed_references_say_what_is_wrong() {
        use ImageReferenceError as E;
        let long_name = "a".repeat(300);
        let long_tag = format!("x:{}", "t".repeat(MAX_TAG_LEN + 1));
        let bad = [
            ("", E::Empty),
            ("../../etc", E::BadHost("..".into())),
            ("x/../etc", E::BadComponent("..".into())),
            ("a_b.c/d", E::BadHost("a_b.c".into())),
            ("UPPER", E::Uppercase("UPPER".into())),
            ("x:", E::EmptyTag),
            (":tag", E::MissingName),
            ("@sha256:abc", E::BadDigest("sha256:abc".into())),
            ("a//b", E::EmptyComponent),
            ("a/", E::EmptyComponent),
            ("/a", E::EmptyComponent),
            ("-a", E::BadComponent("-a".into())),
            ("a-", E::BadComponent("a-".into())),
            ("a..b", E::BadComponent("a..b".into())),
            ("a___b", E::BadComponent("a___b".into())),
            ("has space", E::BadComponent("has space".into())),
            ("a:bad tag", E::BadTag("bad tag".into())),
            ("a:.tag", E::BadTag(".tag".into())),
            (long_tag.as_str(), E::BadTag(long_tag[2..].to_string())),
            ("a@sha256:xyz", E::BadDigest("sha256:xyz".into())),
            (
                "a@md5:0123456789abcdef0123456789abcdef",
                E::BadDigest("md5:0123456789abcdef0123456789abcdef".into()),
            ),
            ("a@b@c", E::BadDigest("b@c".into())),
            (long_name.as_str(), E::NameTooLong(300)),
            ("-bad.host/x", E::BadHost("-bad.host".into())),
            ("host:port/x", E::BadHost("host:port".into())),
            ("host:/x", E::BadHost("host:".into())),
            ("[zz]:1/x", E::BadHost("[zz]:1".into())),
            ("[]:1/x", E::BadHost("[]:1".into())),
            ("[::1/x", E::BadHost("[::1".into())),
        ];
        for (text, error) in bad {
            assert_eq!(parse(text), Err(error), "{text}");
        }
        let sha_upper = format!("a@{}", SHA.to_ascii_uppercase().replace("SHA", "sha"));
        assert!(matches!(parse(&sha_upper), Err(E::BadDigest(_))));
    }
}
