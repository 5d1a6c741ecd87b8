//! Runs every fuzz target for a bounded time: `KEYPORT_FUZZ_SECONDS` each (default 2; `tests/run`
//! sets 30), on up to two threads, with the seed from `KEYPORT_FUZZ_SEED` or the clock, and at
//! most 3 s per input. Prints a
//! summary line per target, the details of any failure (message, saved input, how to replay
//! it), and `fuzz: N passed, M failed`; exits non-zero on any failure.
//!
//! A test binary without libtest (`harness = false`), so that its lines are printed as it goes.
//! It takes the arguments `cargo test` passes on: names filter the targets (a filter that
//! matches none, as `tests/run -- keyring_store`, runs none), `--list` lists them,
//! `--test-threads N` bounds the threads, `--ignored` runs none (none is ignored), and other
//! flags are ignored.

use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use keyport_fuzz::engine::{self, Report, Settings};
use keyport_fuzz::targets;

fn main() -> ExitCode {
    let mut filters = Vec::new();
    let (mut list, mut ignored_only, mut threads) = (false, false, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--list" => list = true,
            "--ignored" => ignored_only = true,
            "--test-threads" => threads = args.next().and_then(|n| n.parse::<usize>().ok()),
            "--skip" | "--color" | "--format" | "--logfile" | "-Z" => {
                args.next();
            }
            flag if flag.starts_with("--test-threads=") => threads = flag[15..].parse().ok(),
            flag if flag.starts_with('-') => {}
            name => filters.push(name.to_owned()),
        }
    }
    let chosen: Vec<&'static engine::Target> = targets::ALL
        .iter()
        .filter(|_| !ignored_only)
        .filter(|target| {
            filters.is_empty() || filters.iter().any(|f| format!("fuzz::{}", target.name).contains(f.as_str()))
        })
        .collect();
    if list {
        for target in &chosen {
            println!("fuzz::{}: test", target.name);
        }
        return ExitCode::SUCCESS;
    }
    if chosen.is_empty() {
        println!("fuzz: no target matches the filter");
        println!("fuzz: 0 passed, 0 failed");
        return ExitCode::SUCCESS;
    }

    let (duration, seed) = match (keyport_fuzz::seconds_from_env(2.0), keyport_fuzz::seed_from_env()) {
        (Ok(duration), Ok(seed)) => (duration, seed),
        (Err(err), _) | (_, Err(err)) => {
            eprintln!("fuzz: {err}");
            return ExitCode::FAILURE;
        }
    };
    let out_dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("keyport-fuzz");
    let threads = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, 2)
        .min(chosen.len());
    println!(
        "fuzz: {} targets, {:.0?} each, {threads} at a time, seed {seed:#x}, crash inputs under {}",
        chosen.len(),
        duration,
        out_dir.join("crashes").display()
    );

    let next = AtomicUsize::new(0);
    let reports: Mutex<Vec<Report>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                while let Some(target) = chosen.get(next.fetch_add(1, Ordering::Relaxed)) {
                    // Each target its own sequence, the same for the same seed.
                    let mut settings = Settings::new(
                        duration,
                        seed ^ keyport_fuzz::name_hash(target.name),
                        keyport_fuzz::corpus_dir(),
                        out_dir.clone(),
                    );
                    // The slowest inputs take a few milliseconds here, in the unoptimised test
                    // build; three seconds leaves room for a busy machine.
                    settings.time_limit = std::time::Duration::from_secs(3);
                    let report = engine::fuzz(target, &settings);
                    println!("{}", report.summary());
                    reports.lock().expect("lock").push(report);
                }
            });
        }
    });
    let reports = reports.into_inner().expect("lock");
    let failed: Vec<&Report> = reports.iter().filter(|report| !report.failures.is_empty()).collect();
    for report in &failed {
        print!("{}", report.failure_details());
    }
    let total: u64 = reports.iter().map(|r| r.execs).sum();
    println!("fuzz: {total} inputs in all, {} crashes", failed.iter().map(|r| r.failed_inputs()).sum::<u64>());
    println!("fuzz: {} passed, {} failed", reports.len() - failed.len(), failed.len());
    if failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
