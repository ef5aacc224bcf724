//! CPU as the database keeps it (whole millicores) and as the wire shows it (cores).

/// Millicores to cores, for the wire.
pub fn milli_to_cores(milli: i64) -> f64 {
    milli as f64 / 1000.0
}

/// Cores to millicores, rounding to the nearest.
pub fn cores_to_milli(cores: f64) -> i64 {
    (cores * 1000.0).round() as i64
}
