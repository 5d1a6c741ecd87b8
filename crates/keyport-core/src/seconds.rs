//! Counts of seconds that come from outside (token and code lifetimes, polling intervals,
//! `Retry-After`, JWT dates): read without trusting them, and added to times without overflow.
//!
//! A provider may write `3600`, `"3600"` (Azure AD v1, ADFS), `3600.0`, `-1`,
//! `18446744073709551615` or `"soon"`. [`Reading`] takes any of them: a number of any size or
//! sign is saturated to an `i64`, a string holding a number counts as that number, and anything
//! else is [`Reading::Unreadable`], so that one odd field never costs the rest of a response (a
//! rotated refresh token, say). What an unreadable or out-of-range value means is each caller's
//! decision, stated where it clamps. Left out: a JSON number beyond `f64`'s range (`1e400`)
//! fails in `serde_json` itself, before any of this runs, so such a response is refused whole.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use time::OffsetDateTime;

/// A number of seconds as a provider wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Reading {
    /// The field is missing or `null`.
    #[default]
    Absent,
    /// A number (or a string holding one), truncated toward zero and saturated to `i64`.
    Number(i64),
    /// Something that is not a number: a word, `true`, an object...
    Unreadable,
}

impl Reading {
    /// The reading as a duration between zero and `max`: negative numbers count as zero, larger
    /// ones as `max`. `None` when absent or unreadable.
    pub fn clamped(self, max: Duration) -> Option<Duration> {
        match self {
            Self::Number(secs) => Some(clamp(secs, max)),
            Self::Absent | Self::Unreadable => None,
        }
    }
}

/// `secs` as a duration between zero and `max`.
pub(crate) fn clamp(secs: i64, max: Duration) -> Duration {
    Duration::from_secs(u64::try_from(secs).unwrap_or(0)).min(max)
}

/// `at + by`, saturating at the last moment `time` can represent instead of panicking.
pub(crate) fn after(at: OffsetDateTime, by: Duration) -> OffsetDateTime {
    let by = time::Duration::try_from(by).unwrap_or(time::Duration::MAX);
    at.saturating_add(by)
}

impl<'de> serde::Deserialize<'de> for Reading {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ReadingVisitor)
    }
}

struct ReadingVisitor;

impl<'de> Visitor<'de> for ReadingVisitor {
    type Value = Reading;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number of seconds")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Reading, E> {
        Ok(Reading::Number(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Reading, E> {
        Ok(Reading::Number(i64::try_from(v).unwrap_or(i64::MAX)))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Reading, E> {
        Ok(Reading::Number(saturate_i128(v)))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Reading, E> {
        Ok(Reading::Number(i64::try_from(v).unwrap_or(i64::MAX)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Reading, E> {
        Ok(from_f64(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Reading, E> {
        Ok(from_text(v))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Reading, E> {
        Ok(Reading::Unreadable)
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Reading, E> {
        Ok(Reading::Unreadable)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Reading, E> {
        Ok(Reading::Absent)
    }

    fn visit_none<E: de::Error>(self) -> Result<Reading, E> {
        Ok(Reading::Absent)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Reading, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Reading, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Reading::Unreadable)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Reading, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Reading::Unreadable)
    }
}

fn saturate_i128(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// Truncates toward zero; `as` saturates at the `i64` bounds (and maps NaN, which JSON cannot
/// carry, to 0).
fn from_f64(v: f64) -> Reading {
    if v.is_nan() { Reading::Unreadable } else { Reading::Number(v as i64) }
}

/// A string holding a number in JSON's notation; words such as `inf` or `NaN` are not numbers.
fn from_text(text: &str) -> Reading {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E')) {
        return Reading::Unreadable;
    }
    if let Ok(whole) = text.parse::<i128>() {
        return Reading::Number(saturate_i128(whole));
    }
    // Rust's float parser reads any length of digits, giving infinity past f64's range.
    text.parse::<f64>().map_or(Reading::Unreadable, from_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> Reading {
        #[derive(serde::Deserialize)]
        struct Doc {
            #[serde(default)]
            n: Reading,
        }
        serde_json::from_str::<Doc>(&format!(r#"{{"n": {json}}}"#)).map(|doc| doc.n).unwrap_or_else(|err| {
            panic!("{json}: {err}");
        })
    }

    #[test]
    fn numbers_of_any_size_and_sign_saturate() {
        assert_eq!(read("3600"), Reading::Number(3600));
        assert_eq!(read("0"), Reading::Number(0));
        assert_eq!(read("-1"), Reading::Number(-1));
        assert_eq!(read("18446744073709551615"), Reading::Number(i64::MAX));
        assert_eq!(read("-9223372036854775808"), Reading::Number(i64::MIN));
        // Past u64, serde_json reads an integer as a float.
        assert_eq!(read("1000000000000000000000000000000"), Reading::Number(i64::MAX));
        assert_eq!(read("-1000000000000000000000000000000"), Reading::Number(i64::MIN));
        assert_eq!(read("3600.9"), Reading::Number(3600));
        assert_eq!(read("-0.5"), Reading::Number(0));
        assert_eq!(read("1e300"), Reading::Number(i64::MAX));
        assert_eq!(read("-1e300"), Reading::Number(i64::MIN));
    }

    #[test]
    fn strings_holding_numbers_count_and_other_values_are_unreadable() {
        assert_eq!(read(r#""3599""#), Reading::Number(3599));
        assert_eq!(read(r#"" 60 ""#), Reading::Number(60));
        assert_eq!(read(r#""-7""#), Reading::Number(-7));
        assert_eq!(read(r#""1e400""#), Reading::Number(i64::MAX));
        assert_eq!(read(r#""99999999999999999999999999999999999999999""#), Reading::Number(i64::MAX));
        for other in [r#""soon""#, r#""""#, r#""inf""#, r#""NaN""#, r#""1-""#, "true", "[1]", r#"{"a":1}"#] {
            assert_eq!(read(other), Reading::Unreadable, "{other}");
        }
        assert_eq!(read("null"), Reading::Absent);
        let missing: serde_json::Value = serde_json::json!({});
        #[derive(serde::Deserialize)]
        struct Doc {
            #[serde(default)]
            n: Reading,
        }
        assert_eq!(serde_json::from_value::<Doc>(missing).unwrap().n, Reading::Absent);
    }

    #[test]
    fn a_number_beyond_f64_is_refused_by_serde_json_itself() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Doc {
            n: Reading,
        }
        let err = serde_json::from_str::<Doc>(r#"{"n": 1e400}"#).unwrap_err();
        assert!(err.to_string().contains("number out of range"), "{err}");
    }

    #[test]
    fn clamping_keeps_durations_between_zero_and_the_bound() {
        let max = Duration::from_secs(100);
        assert_eq!(Reading::Number(i64::MIN).clamped(max), Some(Duration::ZERO));
        assert_eq!(Reading::Number(-1).clamped(max), Some(Duration::ZERO));
        assert_eq!(Reading::Number(42).clamped(max), Some(Duration::from_secs(42)));
        assert_eq!(Reading::Number(i64::MAX).clamped(max), Some(max));
        assert_eq!(Reading::Absent.clamped(max), None);
        assert_eq!(Reading::Unreadable.clamped(max), None);
    }

    #[test]
    fn adding_any_duration_to_a_time_saturates() {
        let now = time::macros::datetime!(2030-01-01 00:00 UTC);
        assert_eq!(after(now, Duration::from_secs(60)), time::macros::datetime!(2030-01-01 00:01 UTC));
        let far = after(now, Duration::MAX);
        assert!(far > now && far.year() >= 9999, "{far}");
        assert_eq!(after(far, Duration::MAX), far);
        let edge = OffsetDateTime::new_utc(time::Date::MAX, time::Time::MIDNIGHT);
        assert!(after(edge, Duration::from_secs(u64::MAX)) >= edge);
    }
}
