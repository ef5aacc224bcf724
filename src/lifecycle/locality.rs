//! Image locality: which image references two names mean alike, so that placement can prefer
//! a worker whose engine already holds a job's image (the fleet pulls an image once per host,
//! not once per job).

use gantry_api::ImageHeld;
use std::collections::HashSet;

/// Docker Hub's names for itself, which a reference may leave out.
const HUB_PREFIXES: [&str; 3] = [
    "docker.io/library/",
    "docker.io/",
    "index.docker.io/library/",
];

/// The reference as one spelling: `busybox`, `busybox:latest`, `library/busybox` and
/// `docker.io/library/busybox:latest` all give `busybox:latest`; a reference with a digest
/// keeps it as it is written.
pub fn normalize(reference: &str) -> String {
    let mut name = reference.trim();
    for prefix in HUB_PREFIXES {
        if let Some(rest) = name.strip_prefix(prefix) {
            name = rest;
            break;
        }
    }
    let name = name.strip_prefix("library/").unwrap_or(name);
    if name.contains('@') {
        return name.to_string();
    }
    // A tag follows the last `:` after the last `/` (a `:` before it is a registry's port).
    let last = name.rsplit('/').next().unwrap_or(name);
    if last.contains(':') {
        name.to_string()
    } else {
        format!("{name}:latest")
    }
}

/// The normalised references of a worker's stored image list (JSON of [`ImageHeld`]); an
/// unreadable list counts as empty (locality is a preference, never a reason to fail).
pub fn held_references(images: Option<&str>) -> HashSet<String> {
    let Some(text) = images else {
        return HashSet::new();
    };
    serde_json::from_str::<Vec<ImageHeld>>(text)
        .map(|list| list.iter().map(|i| normalize(&i.reference)).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_image_has_one_spelling() {
        for same in [
            "busybox",
            "busybox:latest",
            "library/busybox",
            "docker.io/busybox",
            "docker.io/library/busybox:latest",
        ] {
            assert_eq!(normalize(same), "busybox:latest", "{same}");
        }
        assert_eq!(normalize("python:3.12"), "python:3.12");
        assert_eq!(normalize("127.0.0.1:5000/app"), "127.0.0.1:5000/app:latest");
        assert_eq!(normalize("127.0.0.1:5000/app:v1"), "127.0.0.1:5000/app:v1");
        assert_eq!(normalize("app@sha256:abc"), "app@sha256:abc");
        assert_ne!(normalize("busybox:1"), normalize("busybox"));
    }

    #[test]
    fn stored_lists_are_read_normalised_and_bad_ones_are_empty() {
        let held = held_references(Some(r#"[{"reference":"busybox"},{"reference":"a:1"}]"#));
        assert!(held.contains("busybox:latest") && held.contains("a:1"));
        assert!(held_references(Some("not json")).is_empty());
        assert!(held_references(None).is_empty());
    }
}
