//! Durations as people write them in flags and environment variables.

use std::time::Duration;

/// Parses `10s`, `500ms`, `1h`, `2m30s` (any humantime form) or bare milliseconds.
///
/// One parser for the server's and the worker's settings, so a value means the same to both.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(ms) = text.parse::<u64>() {
        return Ok(Duration::from_millis(ms));
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration (try 10s, 500ms or 2m): {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_or_bare_milliseconds() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1500").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration(" 2m ").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("2m30s").unwrap(), Duration::from_secs(150));
        let err = parse_duration("soon").unwrap_err();
        assert!(
            err.contains("`soon` is not a duration (try 10s, 500ms or 2m)"),
            "{err}"
        );
        assert!(parse_duration("-5").is_err());
        // The server's flags' own cases.
        assert_eq!(parse_duration("250").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("200ms").unwrap(), Duration::from_millis(200));
    }
}
