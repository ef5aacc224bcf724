//! A mergeable histogram of non-negative amounts (milliseconds, MiB, seconds, percent).
//!
//! Percentiles cannot be added up, histograms can: an hour's rollup row and the jobs that
//! ended since the last rollup pass merge into one histogram, and the report's percentiles
//! come from it. So the report gives the same answer whether an hour's rows are still stored
//! or only its rollup is left.
//!
//! Each bucket holds the amounts that round up to the same two significant digits (40, 41, ...
//! 99, 100, 110, ... 990, 1000, 1100, ...): a percentile is read as its bucket's upper bound,
//! never more than 2.5% (one part in 40) above the amount it stands for, and never above the
//! largest amount seen, which is kept exactly, as are the count and the sum.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Mantissas per decade: the upper bounds of a decade are 10..=99 times its unit.
const MANTISSAS: i32 = 90;

/// Tolerance for the float division that finds an amount's mantissa (0.4 / 0.01 is
/// 40.000000000000004, which must stay in bucket 40).
const EPSILON: f64 = 1e-9;

/// The bucket of amounts at or below zero.
const ZERO_BUCKET: i32 = i32::MIN;

/// Counts of amounts by bucket, with their exact count, sum and largest value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// How many amounts.
    pub count: i64,
    /// Their sum.
    pub sum: f64,
    /// The largest (0 when there are none).
    pub max: f64,
    /// How many amounts fell in each bucket, by bucket number (see [`bucket_of`]).
    pub buckets: BTreeMap<i32, i64>,
}

impl Histogram {
    /// Counts one amount (a negative one counts as zero).
    pub fn record(&mut self, value: f64) {
        let value = value.max(0.0);
        if !value.is_finite() {
            return;
        }
        self.max = if self.count == 0 {
            value
        } else {
            self.max.max(value)
        };
        self.count += 1;
        self.sum += value;
        *self.buckets.entry(bucket_of(value)).or_insert(0) += 1;
    }

    /// Adds another histogram's amounts to this one.
    pub fn merge(&mut self, other: &Histogram) {
        if other.count == 0 {
            return;
        }
        self.max = if self.count == 0 {
            other.max
        } else {
            self.max.max(other.max)
        };
        self.count += other.count;
        self.sum += other.sum;
        for (bucket, n) in &other.buckets {
            *self.buckets.entry(*bucket).or_insert(0) += n;
        }
    }

    /// The nearest-rank `pct` percentile (the smallest amount at least `pct`% of the amounts
    /// are at or below), at the histogram's resolution; `None` when empty.
    pub fn percentile(&self, pct: i64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        // The smallest rank k with k * 100 >= pct * count, as the SQL reports computed it.
        let rank = (pct * self.count + 99) / 100;
        let mut seen = 0;
        for (bucket, n) in &self.buckets {
            seen += n;
            if seen >= rank.max(1) {
                return Some(upper_bound(*bucket).min(self.max));
            }
        }
        Some(self.max)
    }
}

/// The bucket of a non-negative amount: `decade * 90 + mantissa - 10`, where the amount
/// rounded up to two significant digits is `mantissa * 10^(decade - 1)`.
pub fn bucket_of(value: f64) -> i32 {
    if value <= 0.0 {
        return ZERO_BUCKET;
    }
    let mut decade = value.log10().floor() as i32;
    let mut mantissa = (value / unit(decade) - EPSILON).ceil() as i32;
    // log10 may land a hair beside an exact power of ten.
    if mantissa < 10 {
        decade -= 1;
        mantissa = (value / unit(decade) - EPSILON).ceil() as i32;
    }
    if mantissa > 99 {
        decade += 1;
        mantissa = 10;
    }
    decade * MANTISSAS + mantissa - 10
}

/// The largest amount a bucket holds.
pub fn upper_bound(bucket: i32) -> f64 {
    if bucket == ZERO_BUCKET {
        return 0.0;
    }
    let decade = bucket.div_euclid(MANTISSAS);
    let mantissa = f64::from(bucket.rem_euclid(MANTISSAS) + 10);
    // Divide by a power of ten rather than multiply by its inverse: 40 / 100 is exactly
    // the double nearest 0.4, 40 * 0.01 is not.
    if decade >= 1 {
        mantissa * 10f64.powi(decade - 1)
    } else {
        mantissa / 10f64.powi(1 - decade)
    }
}

/// Ten to the power `decade - 1`: the unit of a decade's mantissas.
fn unit(decade: i32) -> f64 {
    if decade >= 1 {
        10f64.powi(decade - 1)
    } else {
        1.0 / 10f64.powi(1 - decade)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_round_up_to_two_significant_digits() {
        for (value, bound) in [
            (0.4, 0.4),
            (1.5, 1.5),
            (64.0, 64.0),
            (100.0, 100.0),
            (101.0, 110.0),
            (128.0, 130.0),
            (78.125, 79.0),
            (999.0, 1000.0),
            (2300.0, 2300.0),
            (0.000_123, 0.000_13),
            (1.0, 1.0),
            (9.99, 10.0),
            (1e9, 1e9),
        ] {
            let b = bucket_of(value);
            assert_eq!(upper_bound(b), bound, "{value}");
            assert!(
                upper_bound(b) >= value && upper_bound(b) <= value * 1.1,
                "{value}"
            );
        }
        assert_eq!(upper_bound(bucket_of(0.0)), 0.0);
        assert!(bucket_of(99.0) < bucket_of(100.0) && bucket_of(100.0) < bucket_of(101.0));
    }

    #[test]
    fn percentiles_are_nearest_rank_and_never_above_the_largest_amount() {
        let mut h = Histogram::default();
        for v in [500.0, 500.0, 1000.0, 2000.0, 3800.0] {
            h.record(v);
        }
        assert_eq!(h.percentile(50), Some(1000.0));
        assert_eq!(h.percentile(95), Some(3800.0));
        let mut other = Histogram::default();
        other.record(78.125);
        assert_eq!(other.percentile(50), Some(78.125), "capped by the max");
        h.merge(&other);
        assert_eq!((h.count, h.sum, h.max), (6, 7878.125, 3800.0));
        // Once the largest amount is larger, the bucket's bound stands for 78.125.
        assert_eq!(h.percentile(1), Some(79.0));
        assert_eq!(Histogram::default().percentile(50), None);
    }

    #[test]
    fn merging_in_any_order_gives_the_same_histogram() {
        let values = [3.0, 0.0, 17.5, 1200.0, 0.02, 99.5];
        let mut whole = Histogram::default();
        values.iter().for_each(|v| whole.record(*v));
        let (mut a, mut b) = (Histogram::default(), Histogram::default());
        values[..2].iter().for_each(|v| a.record(*v));
        values[2..].iter().for_each(|v| b.record(*v));
        b.merge(&a);
        assert_eq!(b.buckets, whole.buckets);
        assert_eq!((b.count, b.max), (whole.count, whole.max));
    }
}
