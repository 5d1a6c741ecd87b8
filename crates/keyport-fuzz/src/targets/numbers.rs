//! Numbers from the network on their own: the `Retry-After` header
//! ([`keyport_core::fuzzing::retry_after`]) and the expiry arithmetic every flow uses
//! ([`keyport_core::fuzzing::expires_at`]).
//!
//! `retry_after`: the input is the header's value. Promise: a delay of at most
//! `MAX_RETRY_AFTER`, whatever the value. `expiry`: the first 8 bytes are a Unix time (little
//! endian; wrapped into `time`'s range when outside it), the next 8 a lifetime in seconds, the next 4 its nanoseconds.
//! Promise: the expiry is `now + min(lifetime, MAX_TOKEN_LIFETIME)` or, when that is past the
//! last representable moment, saturated; never a panic, never earlier than now.

use std::time::Duration;

use keyport_core::fuzzing;
use keyport_core::http::MAX_RETRY_AFTER;
use keyport_core::oauth::MAX_TOKEN_LIFETIME;
use time::OffsetDateTime;

use crate::input::now;

/// Header values: delay-seconds and HTTP dates.
pub const RETRY_AFTER_DICTIONARY: &[&[u8]] = &[
    b"120",
    b"Tue, 01 Jan 2030 12:02:00 GMT",
    b"Sun, 06 Nov 1994 08:49:37 GMT",
    b"Fri, 31 Dec 9999 23:59:59 GMT",
    b"Sunday, 06-Nov-94 08:49:37 GMT",
    b"Sun Nov  6 08:49:37 1994",
    b"+0000",
    b"-2359",
    b"UT",
    b"EST",
    b"Z",
    b"Feb",
    b"29",
    b"60",
    b":",
    b", ",
];

/// Runs one `Retry-After` value.
pub fn retry_after(data: &[u8]) -> String {
    let Ok(value) = http::HeaderValue::from_bytes(data) else { return "not a header value".into() };
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::RETRY_AFTER, value);
    match fuzzing::retry_after(&headers, now()) {
        Some(delay) => {
            assert!(delay <= MAX_RETRY_AFTER, "Retry-After gave {delay:?}");
            match delay {
                Duration::ZERO => "zero".into(),
                MAX_RETRY_AFTER => "max".into(),
                _ if data.iter().all(u8::is_ascii_digit) => "seconds".into(),
                _ => "date".into(),
            }
        }
        None => "unreadable".into(),
    }
}

/// Runs one (now, lifetime) pair.
pub fn expiry(data: &[u8]) -> String {
    let mut bytes = [0u8; 20];
    let len = data.len().min(20);
    bytes[..len].copy_from_slice(&data[..len]);
    let unix = i64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    let secs = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
    let nanos = u32::from_le_bytes(bytes[16..20].try_into().expect("4 bytes")) % 1_000_000_000;
    let first = OffsetDateTime::new_utc(time::Date::MIN, time::Time::MIDNIGHT).unix_timestamp();
    let last = OffsetDateTime::new_utc(time::Date::MAX, time::Time::MIDNIGHT).unix_timestamp();
    let unix = if (first..=last).contains(&unix) { unix } else { first + unix.rem_euclid(last - first) };
    let start = OffsetDateTime::from_unix_timestamp(unix).expect("in range");
    let lifetime = Duration::new(secs, nanos);

    let at = fuzzing::expires_at(start, lifetime);
    assert!(at >= start, "an expiry before now");
    let wanted = time::Duration::try_from(lifetime.min(MAX_TOKEN_LIFETIME)).expect("ten years fit");
    match start.checked_add(wanted) {
        Some(exact) => {
            assert_eq!(at, exact, "the expiry is not now + the clamped lifetime");
            if lifetime > MAX_TOKEN_LIFETIME { "clamped".into() } else { "exact".into() }
        }
        None => {
            assert_eq!(at, start.saturating_add(wanted), "an expiry past the end of time is not saturated");
            "saturated".into()
        }
    }
}
