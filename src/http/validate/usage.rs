//! The check of what a worker says an attempt used: every figure a finite, non-negative
//! number, so that reports never average a NaN or a negative peak.

use crate::http::error::{ApiError, ApiResult};
use gantry_api::AttemptUsage;

/// Bounds no real attempt reaches (a year of CPU time, a pebibyte of memory, a year of pull or
/// run time): a value beyond them is a broken measurement, refused like a negative one.
pub const MAX_SECONDS: f64 = 365.0 * 24.0 * 3600.0;
/// See [`MAX_SECONDS`].
pub const MAX_MEMORY_MB: f64 = 1024.0 * 1024.0 * 1024.0;
/// See [`MAX_SECONDS`].
pub const MAX_MS: i64 = 365 * 24 * 3600 * 1000;

/// Checks the usage of a result; `None` and an empty usage both mean nothing was measured.
pub fn usage(u: Option<AttemptUsage>) -> ApiResult<Option<AttemptUsage>> {
    let Some(u) = u.filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    real("usage.cpuSeconds", u.cpu_seconds, MAX_SECONDS)?;
    real("usage.peakMemoryMb", u.peak_memory_mb, MAX_MEMORY_MB)?;
    millis("usage.pullMs", u.pull_ms)?;
    millis("usage.runMs", u.run_ms)?;
    Ok(Some(u))
}

/// A measured amount: finite, at least 0, at most `max`.
fn real(field: &str, value: Option<f64>, max: f64) -> ApiResult<()> {
    match value {
        Some(v) if !v.is_finite() => Err(ApiError::invalid(
            field,
            format!("{field} must be a finite number"),
        )),
        Some(v) if !(0.0..=max).contains(&v) => Err(ApiError::invalid(
            field,
            format!("{field} must be between 0 and {max}, not {v}"),
        )),
        _ => Ok(()),
    }
}

/// A measured time in milliseconds: at least 0, at most a year.
fn millis(field: &str, value: Option<i64>) -> ApiResult<()> {
    match value {
        Some(v) if !(0..=MAX_MS).contains(&v) => Err(ApiError::invalid(
            field,
            format!("{field} must be between 0 and {MAX_MS} ms, not {v}"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(u: AttemptUsage) -> Option<String> {
        usage(Some(u)).unwrap_err().field
    }

    #[test]
    fn measured_figures_pass_and_nothing_measured_is_none() {
        let u = AttemptUsage {
            cpu_seconds: Some(0.0),
            peak_memory_mb: Some(41.5),
            pull_ms: Some(0),
            run_ms: Some(812),
        };
        assert_eq!(usage(Some(u)).unwrap(), Some(u));
        assert_eq!(usage(Some(AttemptUsage::default())).unwrap(), None);
        assert_eq!(usage(None).unwrap(), None);
    }

    #[test]
    fn negative_or_non_finite_figures_name_their_field() {
        let cpu = |v| AttemptUsage {
            cpu_seconds: Some(v),
            ..AttemptUsage::default()
        };
        assert_eq!(field(cpu(-0.1)).as_deref(), Some("usage.cpuSeconds"));
        assert_eq!(field(cpu(f64::NAN)).as_deref(), Some("usage.cpuSeconds"));
        assert_eq!(
            field(cpu(f64::INFINITY)).as_deref(),
            Some("usage.cpuSeconds")
        );
        let mem = AttemptUsage {
            peak_memory_mb: Some(-1.0),
            ..AttemptUsage::default()
        };
        assert_eq!(field(mem).as_deref(), Some("usage.peakMemoryMb"));
        let pull = AttemptUsage {
            pull_ms: Some(-5),
            ..AttemptUsage::default()
        };
        assert_eq!(field(pull).as_deref(), Some("usage.pullMs"));
        let run = AttemptUsage {
            run_ms: Some(i64::MAX),
            ..AttemptUsage::default()
        };
        assert_eq!(field(run).as_deref(), Some("usage.runMs"));
    }
}
