//! `keyport-fuzz-afl`: one fuzz target under AFL++, the coverage-guided route (feature `afl`).
//!
//! Built by `cargo afl build` (cargo-afl instruments the code with rustc's stable sanitizer
//! coverage and links AFL++'s runtime; no nightly compiler), run by `cargo afl fuzz` with the
//! target named in `KEYPORT_FUZZ_TARGET` (README, "Fuzzing"). A panic, a failed check of the
//! target, or an overflow aborts, which AFL++ records as a crash. Not built otherwise.

use keyport_fuzz::targets;

fn main() {
    let name = std::env::var("KEYPORT_FUZZ_TARGET").unwrap_or_default();
    let Some(target) = targets::by_name(&name) else {
        let names: Vec<&str> = targets::ALL.iter().map(|target| target.name).collect();
        eprintln!("keyport-fuzz-afl: set KEYPORT_FUZZ_TARGET to one of: {}", names.join(", "));
        std::process::exit(2);
    };
    afl::fuzz(true, |data| {
        let _ = (target.run)(data);
    });
}
