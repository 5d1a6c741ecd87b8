//! `keyport-fuzz`: runs the fuzz targets for as long as you like, or replays one input.
//!
//! ```text
//! cargo run --profile fuzz -p keyport-fuzz -- [TARGET...] [--seconds N] [--seed S] [--jobs J] [--out DIR]
//! cargo run -p keyport-fuzz -- --replay FILE TARGET
//! cargo run -p keyport-fuzz -- --list
//! ```
//!
//! Without targets it runs all of them, one after the other on each of `--jobs` threads
//! (default 1), `--seconds` each (default 60). Inputs that reach a new outcome are written to
//! `OUT/found/TARGET/` (promote good ones to `crates/keyport-fuzz/corpus/TARGET/`), failing
//! ones to `OUT/crashes/TARGET/`; OUT defaults to `target/keyport-fuzz`. Exits with 1 when a
//! target failed, 2 on bad usage.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use keyport_fuzz::engine::{self, Report, Settings, Target};
use keyport_fuzz::targets;

const USAGE: &str = "usage: keyport-fuzz [TARGET...] [--seconds N] [--seed S] [--jobs J] [--out DIR]
       keyport-fuzz --replay FILE TARGET
       keyport-fuzz --list";

struct Options {
    targets: Vec<&'static Target>,
    seconds: f64,
    seed: Option<u64>,
    jobs: usize,
    out: PathBuf,
    replay: Option<PathBuf>,
    list: bool,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        targets: Vec::new(),
        seconds: 60.0,
        seed: None,
        jobs: 1,
        out: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/keyport-fuzz")),
        replay: None,
        list: false,
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--seconds" => {
                options.seconds = value("--seconds")?.parse().map_err(|_| "--seconds takes a number".to_owned())?
            }
            "--seed" => options.seed = Some(keyport_fuzz::parse_seed(&value("--seed")?)?),
            "--jobs" => options.jobs = value("--jobs")?.parse().map_err(|_| "--jobs takes a number".to_owned())?,
            "--out" => options.out = PathBuf::from(value("--out")?),
            "--replay" => options.replay = Some(PathBuf::from(value("--replay")?)),
            "--list" => options.list = true,
            "-h" | "--help" => return Err(String::new()),
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            name => options.targets.push(
                targets::by_name(name)
                    .ok_or_else(|| format!("no target {name:?}; `keyport-fuzz --list` names them"))?,
            ),
        }
    }
    if options.targets.is_empty() {
        options.targets = targets::ALL.iter().collect();
    }
    if !(options.seconds.is_finite() && options.seconds >= 0.0) {
        return Err("--seconds takes a number of seconds".into());
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(err) => {
            if !err.is_empty() {
                eprintln!("keyport-fuzz: {err}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    if options.list {
        for target in targets::ALL {
            println!("{}", target.name);
        }
        return ExitCode::SUCCESS;
    }
    if let Some(file) = &options.replay {
        return replay(file, &options.targets);
    }

    let seed = options.seed.unwrap_or_else(engine::seed_from_clock);
    let duration = Duration::from_secs_f64(options.seconds);
    println!(
        "keyport-fuzz: {} targets, {duration:.0?} each, {} at a time, seed {seed:#x}, output in {}",
        options.targets.len(),
        options.jobs.max(1),
        options.out.display()
    );
    let next = AtomicUsize::new(0);
    let reports: Mutex<Vec<Report>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.clamp(1, options.targets.len()) {
            scope.spawn(|| {
                while let Some(target) = options.targets.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let mut settings = Settings::new(
                        duration,
                        seed ^ keyport_fuzz::name_hash(target.name),
                        keyport_fuzz::corpus_dir(),
                        options.out.clone(),
                    );
                    settings.save_found = true;
                    let report = engine::fuzz(target, &settings);
                    println!("{}", report.summary());
                    print!("{}", report.failure_details());
                    reports.lock().expect("lock").push(report);
                }
            });
        }
    });
    let failed = reports.into_inner().expect("lock").iter().filter(|r| !r.failures.is_empty()).count();
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// Runs one saved input through each named target and says what happened.
fn replay(file: &PathBuf, chosen: &[&'static Target]) -> ExitCode {
    let input = match std::fs::read(file) {
        Ok(input) => input,
        Err(err) => {
            eprintln!("keyport-fuzz: cannot read {}: {err}", file.display());
            return ExitCode::from(2);
        }
    };
    let mut failed = false;
    for target in chosen {
        match engine::run_once(target, &input) {
            Ok(label) => println!("{}: ok ({label})", target.name),
            Err(panic) => {
                failed = true;
                println!("{}: PANICKED: {panic}", target.name);
            }
        }
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
