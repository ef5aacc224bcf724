//! Percentiles of measured samples.

/// The p-th percentile (nearest rank) of sorted values; NaN for none.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// The median (nearest rank) of unsorted values.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    percentile(&values, 50.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(super::percentile(&v, 50.0), 50.0);
        assert_eq!(super::percentile(&v, 99.0), 99.0);
        assert_eq!(super::percentile(&[7.0], 95.0), 7.0);
    }
}

/// `count` events in `seconds`, per second; an error for a span that is not positive (a run
/// that measured nothing must not print as infinitely fast).
pub fn rate(count: usize, seconds: f64) -> anyhow::Result<f64> {
    if !(seconds.is_finite() && seconds > 0.0) {
        anyhow::bail!("{count} events in {seconds} s: no rate");
    }
    Ok(count as f64 / seconds)
}

/// `value` as a multiple of the machine's `limit` (0.5 = half the limit); an error for a limit
/// that is not positive.
pub fn ratio(value: f64, limit: f64) -> anyhow::Result<f64> {
    if !(limit.is_finite() && limit > 0.0 && value.is_finite()) {
        anyhow::bail!("{value} against a limit of {limit}: no ratio");
    }
    Ok(value / limit)
}

#[cfg(test)]
mod rate_tests {
    #[test]
    fn rates_and_ratios_refuse_empty_spans_and_limits() {
        assert_eq!(super::rate(50, 0.5).unwrap(), 100.0);
        assert!(super::rate(50, 0.0).is_err());
        assert!(super::rate(50, f64::NAN).is_err());
        assert_eq!(super::ratio(253.0, 1_000.0).unwrap(), 0.253);
        assert!(super::ratio(1.0, 0.0).is_err());
        assert!(super::ratio(f64::INFINITY, 2.0).is_err());
    }
}
