//! Fuzzing Keyport's parsers of outside bytes on the stable toolchain.
//!
//! [`targets`] holds one target per parser (the listener's request head and `judge`, the
//! socket's framing and JSON-RPC decoding, discovery documents, token and error responses, the
//! device flow's responses, ID token claims, `Retry-After` and the expiry arithmetic), each a plain
//! `fn(&[u8]) -> String`; [`engine`] is a small mutation fuzzer that runs them for a time
//! budget. `cargo test` runs every target briefly (`tests/fuzz.rs`), and the `keyport-fuzz`
//! binary runs them for longer (README, "Fuzzing"). Nothing here is used by Keyport itself.

pub mod engine;
pub mod input;
pub mod targets;

use std::path::PathBuf;
use std::time::Duration;

/// The committed seed corpus: `crates/keyport-fuzz/corpus/TARGET/`.
pub fn corpus_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/corpus"))
}

/// Seconds per target from `KEYPORT_FUZZ_SECONDS` (fractions allowed), else `default`.
pub fn seconds_from_env(default: f64) -> Result<Duration, String> {
    match std::env::var("KEYPORT_FUZZ_SECONDS") {
        Ok(text) => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
            .ok_or_else(|| format!("KEYPORT_FUZZ_SECONDS={text:?} is not a number of seconds")),
        Err(_) => Ok(Duration::from_secs_f64(default)),
    }
}

/// The seed from `KEYPORT_FUZZ_SEED` (decimal or `0x` hex), else one from the clock.
pub fn seed_from_env() -> Result<u64, String> {
    match std::env::var("KEYPORT_FUZZ_SEED") {
        Ok(text) => parse_seed(&text),
        Err(_) => Ok(engine::seed_from_clock()),
    }
}

/// A seed in decimal or `0x` hex.
pub fn parse_seed(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|_| format!("{text:?} is not a seed (decimal or 0x hex)"))
}

/// A stable hash of a target's name (FNV-1a), mixed into the seed so each target of a run gets
/// its own sequence, the same again for the same seed.
pub fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}
