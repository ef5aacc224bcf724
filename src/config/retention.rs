//! How long finished work is kept: the pruner's ages, shared by `gantry serve` and
//! `gantry prune`.

use gantry_api::parse_duration;
use std::time::Duration;

/// The pruner's settings.
#[derive(Debug, Clone, clap::Args)]
pub struct RetentionConfig {
    /// Finished jobs keep their stdout, stderr and input file this long (`forever` keeps them).
    #[arg(long, env = "GANTRY_OUTPUT_RETENTION", default_value = "7d", value_parser = parse_retention)]
    pub output_retention: Retention,

    /// Finished jobs and their history are deleted this long after they ended, once rolled
    /// up for the reports (`forever` keeps them).
    #[arg(long, env = "GANTRY_JOB_RETENTION", default_value = "30d", value_parser = parse_retention)]
    pub job_retention: Retention,

    /// The reports' hourly rollups are kept this long (`forever`, the default, keeps them).
    #[arg(long, env = "GANTRY_ROLLUP_RETENTION", default_value = "forever", value_parser = parse_retention)]
    pub rollup_retention: Retention,

    /// How long after a job ended the rollup folds it in: a finish whose transaction commits
    /// later than this after its end time would be missed by the reports.
    #[arg(long, env = "GANTRY_ROLLUP_DELAY", default_value = "30s", value_parser = parse_duration)]
    pub rollup_delay: Duration,
}

/// How long something is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Never pruned.
    Forever,
    /// Pruned once this old.
    For(Duration),
}

impl Retention {
    /// The epoch-ms cutoff at `now`: what is older goes; `None` for [`Retention::Forever`].
    pub fn cutoff(self, now: i64) -> Option<i64> {
        match self {
            Retention::Forever => None,
            Retention::For(age) => Some(now.saturating_sub(super::millis(age))),
        }
    }
}

/// Parses `forever` (or `never`, `off`) or a duration such as `7d`, `12h` or `90m`.
pub fn parse_retention(text: &str) -> Result<Retention, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "forever" | "never" | "off" => Ok(Retention::Forever),
        _ => match parse_duration(text)? {
            age if age.is_zero() => Err(format!(
                "a retention of `{text}` would prune at once; give an age such as 7d, or `forever`"
            )),
            age => Ok(Retention::For(age)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retentions_are_ages_or_forever() {
        assert_eq!(
            parse_retention("7d").unwrap(),
            Retention::For(Duration::from_secs(7 * 86_400))
        );
        assert_eq!(parse_retention("Forever").unwrap(), Retention::Forever);
        assert!(parse_retention("0").unwrap_err().contains("prune at once"));
        assert!(parse_retention("a week").is_err());
        assert_eq!(
            Retention::For(Duration::from_secs(1)).cutoff(5_000),
            Some(4_000)
        );
        assert_eq!(Retention::Forever.cutoff(5_000), None);
    }
}
