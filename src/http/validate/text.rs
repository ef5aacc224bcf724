//! Free text from clients and agents, and NUL bytes in it.
//!
//! PostgreSQL's `text` cannot hold a NUL byte (SQLite's can): a value with one made the
//! statement fail, and the route answer 503 "the database is unavailable" for every retry, on
//! one database and not the other. So text a client chooses (a command, a hostname, an
//! idempotency key, a search) is refused with a 400 naming the field, and text a worker
//! captured from a job (its output, its error) has each NUL replaced by U+FFFD, as invalid
//! UTF-8 already is, so that a job printing binary still gets its result recorded.

use crate::http::error::{ApiError, ApiResult};

/// What stands in for a NUL byte in captured output.
pub const NUL_REPLACEMENT: &str = "\u{FFFD}";

/// Refuses `value` when it holds a NUL byte or is longer than `max_bytes`.
pub fn check(field: &str, value: &str, max_bytes: usize) -> ApiResult<()> {
    if value.contains('\0') {
        return Err(ApiError::invalid(
            field,
            format!("{field} must not hold a NUL byte"),
        ));
    }
    if value.len() > max_bytes {
        return Err(ApiError::invalid(
            field,
            format!("{field} is longer than {max_bytes} bytes"),
        ));
    }
    Ok(())
}

/// Captured output as it can be stored: each NUL byte replaced by [`NUL_REPLACEMENT`].
pub fn captured(output: Option<String>) -> Option<String> {
    output.map(|text| {
        if text.contains('\0') {
            text.replace('\0', NUL_REPLACEMENT)
        } else {
            text
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_bytes_are_refused_in_chosen_text_and_replaced_in_output() {
        assert!(check("hostname", "host-1", 10).is_ok());
        let nul = check("hostname", "ho\0st", 10).unwrap_err();
        assert_eq!(nul.field.as_deref(), Some("hostname"));
        assert!(nul.message.contains("NUL"), "{}", nul.message);
        assert!(check("version", &"v".repeat(11), 10).is_err());
        assert_eq!(
            captured(Some("bin\0ary\0".into())).as_deref(),
            Some("bin\u{FFFD}ary\u{FFFD}")
        );
        assert_eq!(captured(Some("plain".into())).as_deref(), Some("plain"));
        assert_eq!(captured(None), None);
    }
}
