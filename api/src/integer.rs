//! Integer fields as JSON Schema reads them: `8` and `8.0` are the same integer.
//!
//! JSON has one number type, and the OpenAPI document's `"type": "integer"` admits any number
//! without a fractional part, so a client that computes a memory size in floating point and
//! sends `4096.0` sends a valid integer. serde alone refuses it for an `i64` field; the request
//! types read their integer fields through [`int`] and [`option`] instead. A fraction, or a
//! number beyond `i64`, is still refused.

use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// Reads an integer field; use as `#[serde(deserialize_with = "crate::integer::int")]`.
pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    d.deserialize_any(Integer)
}

/// Reads an optional integer field (`null` is `None`); use with `#[serde(default)]`.
pub fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    d.deserialize_option(OptionalInteger)
}

/// The visitor of [`int`]: whole numbers, as integers or as floats.
struct Integer;

impl Visitor<'_> for Integer {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
        // -2^63 is exact as a float; 2^63 is the first float past i64::MAX.
        const LIMIT: f64 = 9_223_372_036_854_775_808.0;
        if v.fract() == 0.0 && (-LIMIT..LIMIT).contains(&v) {
            Ok(v as i64)
        } else {
            Err(E::invalid_value(de::Unexpected::Float(v), &self))
        }
    }
}

/// The visitor of [`option`]: `null`, or what [`Integer`] reads.
struct OptionalInteger;

impl<'de> Visitor<'de> for OptionalInteger {
    type Value = Option<i64>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<i64>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<i64>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<i64>, D::Error> {
        int(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Body {
        #[serde(deserialize_with = "super::int")]
        n: i64,
        #[serde(default, deserialize_with = "super::option")]
        m: Option<i64>,
    }

    fn read(json: &str) -> Result<Body, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn whole_numbers_are_integers_however_written() {
        assert_eq!(read(r#"{"n": 8}"#).unwrap(), Body { n: 8, m: None });
        assert_eq!(
            read(r#"{"n": 8.0, "m": -3.0}"#).unwrap(),
            Body { n: 8, m: Some(-3) }
        );
        assert_eq!(read(r#"{"n": 1e3, "m": null}"#).unwrap().n, 1000);
        assert_eq!(read(r#"{"n": -9223372036854775808}"#).unwrap().n, i64::MIN);
        assert_eq!(read(r#"{"n": 9223372036854775807}"#).unwrap().n, i64::MAX);
    }

    #[test]
    fn fractions_text_and_out_of_range_numbers_are_refused() {
        for bad in [
            r#"{"n": 8.5}"#,
            r#"{"n": "8"}"#,
            r#"{"n": 9223372036854775808}"#,
            r#"{"n": 9.3e18}"#,
            r#"{"n": 1, "m": 0.1}"#,
            r#"{"n": 1, "m": "2"}"#,
            r#"{"n": null}"#,
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
    }
}
