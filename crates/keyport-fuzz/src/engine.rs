//! A small mutation fuzzer that needs nothing but the stable toolchain.
//!
//! [`fuzz`] runs one [`Target`] for a time budget: first every seed of its committed corpus as
//! it is, then mutations of the corpus (bit flips, interesting bytes, inserts, deletes,
//! duplicated ranges, splices of two inputs, dictionary tokens, numbers swapped for absurd
//! ones), a few stacked per input. Each target returns a short label of what the input led to
//! (`Ok`, which error); an input that reaches a label not seen before joins the corpus, so the
//! search spreads over the outcomes a parser has instead of circling its first error. That is
//! the only guidance: there is no coverage instrumentation, which needs a nightly compiler or
//! an external tool (see the README's "Fuzzing" section for a coverage-guided route).
//!
//! A panic (including a failed `assert!` of a target's own checks, and an arithmetic overflow
//! in builds with overflow checks) is caught, its input saved under `out/crashes/TARGET/`, and
//! fuzzing goes on; an input slower than the per-input limit (twice in a row, so one scheduling
//! hiccup does not count) is saved the same way; a watchdog ends the process when one input
//! hangs. Left out on purpose: forking, sanitizers, and minimising crash inputs.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

/// One fuzz target: a parser of outside bytes and what it must never do.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// The target's name; its seeds are in `corpus/NAME/`.
    pub name: &'static str,
    /// Runs one input and returns a short label of the outcome. Panics on a broken invariant.
    pub run: fn(&[u8]) -> String,
    /// Tokens worth inserting, on top of [`COMMON_TOKENS`].
    pub dictionary: &'static [&'static [u8]],
    /// Longest input tried.
    pub max_len: usize,
}

/// Tokens useful to every target: JSON syntax, numbers at and past every boundary, and
/// bytes that often confuse parsers.
pub const COMMON_TOKENS: &[&[u8]] = &[
    b"0",
    b"-1",
    b"-0",
    b"1.5",
    b"1e400",
    b"-1e400",
    b"1e308",
    b"1E2",
    b"4294967295",
    b"4294967296",
    b"9223372036854775807",
    b"9223372036854775808",
    b"-9223372036854775808",
    b"-9223372036854775809",
    b"18446744073709551615",
    b"18446744073709551616",
    b"99999999999999999999999999999999999999999",
    b"NaN",
    b"Infinity",
    b"null",
    b"true",
    b"false",
    b"\"\"",
    b"[]",
    b"{}",
    b"\"3600\"",
    b"\\u0000",
    b"\\ud800",
    b"\\\"",
    b"\r\n",
    b"\n",
    b"\0",
    b"%00",
    b"%",
    b"\xff",
    b"\xc3\xa9",
    b"\xf0\x9f\x94\x91",
];

/// How a run is set up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long to fuzz the target.
    pub duration: Duration,
    /// Seed of the mutation sequence (the same seed and corpus give the same inputs).
    pub seed: u64,
    /// The committed corpus: seeds are read from `corpus_dir/TARGET/`.
    pub corpus_dir: PathBuf,
    /// Where crashes (`crashes/TARGET/`) and, with `save_found`, new corpus inputs
    /// (`found/TARGET/`) are written.
    pub out_dir: PathBuf,
    /// Longest time one input may take.
    pub time_limit: Duration,
    /// Write every input that reached a new outcome to `out_dir/found/TARGET/`.
    pub save_found: bool,
    /// Largest corpus kept in memory.
    pub max_corpus: usize,
}

impl Settings {
    /// Defaults: a one-second limit per input and a corpus of at most 4096 inputs.
    pub fn new(duration: Duration, seed: u64, corpus_dir: PathBuf, out_dir: PathBuf) -> Self {
        Self {
            duration,
            seed,
            corpus_dir,
            out_dir,
            time_limit: Duration::from_secs(1),
            save_found: false,
            max_corpus: 4096,
        }
    }
}

/// Why an input failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// It panicked (a crash, an overflow, or a broken invariant of the target).
    Panic,
    /// It took longer than the per-input limit, twice.
    Slow,
}

/// An input that failed, kept once per panic location (or once for slowness).
#[derive(Debug, Clone)]
pub struct Failure {
    /// Panic or slowness.
    pub kind: FailureKind,
    /// The panic message and location, or the time taken.
    pub message: String,
    /// The input.
    pub input: Vec<u8>,
    /// Where the input was saved, when it could be.
    pub saved_to: Option<PathBuf>,
    /// How many inputs failed the same way.
    pub count: u64,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Report {
    /// The target's name.
    pub target: &'static str,
    /// Inputs run.
    pub execs: u64,
    /// Time spent.
    pub elapsed: Duration,
    /// Committed seeds read.
    pub seeds: usize,
    /// Inputs added to the corpus because they reached a new outcome.
    pub found: usize,
    /// Distinct outcome labels seen.
    pub outcomes: usize,
    /// The slowest input's time.
    pub slowest: Duration,
    /// The seed of the mutation sequence.
    pub seed: u64,
    /// Failures, one per distinct kind and panic location.
    pub failures: Vec<Failure>,
}

impl Report {
    /// Inputs that failed, of any kind.
    pub fn failed_inputs(&self) -> u64 {
        self.failures.iter().map(|failure| failure.count).sum()
    }

    /// The one-line summary printed after each target.
    pub fn summary(&self) -> String {
        let secs = self.elapsed.as_secs_f64();
        format!(
            "fuzz {:<18} {:>9} execs in {:>5.1} s ({:>6.0}/s), corpus {} seeds + {} found, {} outcomes, slowest {:.1} ms, \
             {} crashes, seed {:#x}",
            self.target,
            self.execs,
            secs,
            self.execs as f64 / secs.max(1e-9),
            self.seeds,
            self.found,
            self.outcomes,
            self.slowest.as_secs_f64() * 1000.0,
            self.failed_inputs(),
            self.seed,
        )
    }

    /// A paragraph per failure: message, where the input was saved, and the input itself.
    pub fn failure_details(&self) -> String {
        let mut text = String::new();
        for failure in &self.failures {
            let kind = match failure.kind {
                FailureKind::Panic => "panicked",
                FailureKind::Slow => "was too slow",
            };
            text.push_str(&format!(
                "fuzz {}: {} input(s) {kind}: {}\n  input saved to {}\n  replay: cargo run -p keyport-fuzz -- --replay {} {}\n  input ({} bytes): {}\n",
                self.target,
                failure.count,
                failure.message,
                failure.saved_to.as_ref().map_or("(could not be saved)".into(), |p| p.display().to_string()),
                failure.saved_to.as_ref().map_or("FILE".into(), |p| p.display().to_string()),
                self.target,
                failure.input.len(),
                escape(&failure.input, 2048),
            ));
        }
        text
    }
}

/// `bytes` as a Rust byte-string literal, cut after `limit` bytes.
pub fn escape(bytes: &[u8], limit: usize) -> String {
    let shown: String = bytes.iter().take(limit).flat_map(|b| std::ascii::escape_default(*b)).map(char::from).collect();
    let cut = if bytes.len() > limit { format!("... ({} more bytes)", bytes.len() - limit) } else { String::new() };
    format!("b\"{shown}\"{cut}")
}

thread_local! {
    /// Set while this thread runs a target: its panics are recorded, not printed.
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
    /// The last captured panic of this thread.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs (once) a panic hook that records the panics of targets instead of printing them;
/// panics anywhere else still print as usual.
pub fn capture_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if CAPTURING.with(Cell::get) {
                let payload = info.payload();
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(a panic without a message)".into());
                let location =
                    info.location().map_or("unknown location".into(), |l| format!("{}:{}", l.file(), l.line()));
                LAST_PANIC.with(|last| *last.borrow_mut() = Some(format!("{message} (at {location})")));
            } else {
                default(info);
            }
        }));
    });
}

/// Runs `input` once, returning the outcome label or the panic.
pub fn run_once(target: &Target, input: &[u8]) -> Result<String, String> {
    capture_panics();
    CAPTURING.with(|c| c.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
    CAPTURING.with(|c| c.set(false));
    result.map_err(|_| LAST_PANIC.with(|last| last.borrow_mut().take()).unwrap_or_else(|| "a panic".into()))
}

/// The committed seeds of `target`, sorted by file name (empty when the folder is missing).
pub fn seeds(corpus_dir: &Path, target: &str) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(corpus_dir.join(target)) else { return Vec::new() };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file() && !path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .collect();
    paths.sort();
    paths.into_iter().filter_map(|path| std::fs::read(path).ok()).collect()
}

/// A fast, reproducible pseudo-random sequence (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// The sequence for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next_u64() % n as u64) as usize }
    }
}

/// A seed from the clock, for runs that do not name one.
pub fn seed_from_clock() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    Rng::new(nanos as u64 ^ u64::from(std::process::id())).next_u64()
}

/// Bytes that often sit at the edge of a parser's cases.
const INTERESTING_BYTES: &[u8] = b"\0\x01\x7f\x80\xff\"\\{}[],:=&?#%/. \t\r\n0123456789-+eE";

/// Applies one to eight stacked mutations to `input`.
pub fn mutate(input: &mut Vec<u8>, rng: &mut Rng, dictionary: &[&[u8]], corpus: &[Vec<u8>], max_len: usize) {
    let rounds = 1 << rng.below(4);
    for _ in 0..rounds {
        mutate_once(input, rng, dictionary, corpus);
    }
    input.truncate(max_len);
}

fn token<'a>(rng: &mut Rng, dictionary: &[&'a [u8]]) -> &'a [u8] {
    // The target's own tokens are the more useful: two picks in three when it has some.
    if !dictionary.is_empty() && rng.below(3) < 2 {
        dictionary[rng.below(dictionary.len())]
    } else {
        COMMON_TOKENS[rng.below(COMMON_TOKENS.len())]
    }
}

fn mutate_once(input: &mut Vec<u8>, rng: &mut Rng, dictionary: &[&[u8]], corpus: &[Vec<u8>]) {
    let len = input.len();
    match rng.below(11) {
        0 if len > 0 => {
            let at = rng.below(len);
            input[at] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let at = rng.below(len);
            input[at] = INTERESTING_BYTES[rng.below(INTERESTING_BYTES.len())];
        }
        2 => {
            let at = rng.below(len + 1);
            let count = 1 + rng.below(4);
            let bytes: Vec<u8> = (0..count).map(|_| rng.next_u64() as u8).collect();
            input.splice(at..at, bytes);
        }
        3 if len > 0 => {
            let at = rng.below(len);
            let count = 1 + rng.below((len - at).min(16));
            input.drain(at..at + count);
        }
        4 if len > 0 => {
            let from = rng.below(len);
            let count = 1 + rng.below((len - from).min(64));
            let chunk = input[from..from + count].to_vec();
            let at = rng.below(len + 1);
            input.splice(at..at, chunk);
        }
        5 | 6 => {
            let at = rng.below(len + 1);
            input.splice(at..at, token(rng, dictionary).iter().copied());
        }
        7 if len > 0 => {
            let at = rng.below(len);
            let end = (at + 1 + rng.below(8)).min(len);
            input.splice(at..end, token(rng, dictionary).iter().copied());
        }
        8 if !corpus.is_empty() => {
            let other = &corpus[rng.below(corpus.len())];
            let keep = rng.below(len + 1);
            let from = rng.below(other.len() + 1);
            input.truncate(keep);
            input.extend_from_slice(&other[from..]);
        }
        9 => replace_number(input, rng),
        10 if len > 0 => input.truncate(rng.below(len)),
        _ => {
            let at = rng.below(len + 1);
            input.insert(at, INTERESTING_BYTES[rng.below(INTERESTING_BYTES.len())]);
        }
    }
}

/// Replaces a run of digits (with its sign) by a number at or past some boundary.
fn replace_number(input: &mut Vec<u8>, rng: &mut Rng) {
    const NUMBERS: &[&[u8]] = &[
        b"0",
        b"-1",
        b"1",
        b"-0.5",
        b"3600.5",
        b"2147483648",
        b"4294967296",
        b"9223372036854775807",
        b"-9223372036854775808",
        b"18446744073709551615",
        b"18446744073709551616",
        b"1e19",
        b"1e300",
        b"-1e300",
        b"1e400",
        b"\"60\"",
    ];
    let digits: Vec<usize> = input.iter().enumerate().filter(|(_, b)| b.is_ascii_digit()).map(|(i, _)| i).collect();
    if digits.is_empty() {
        return;
    }
    let mut start = digits[rng.below(digits.len())];
    while start > 0 && (input[start - 1].is_ascii_digit() || input[start - 1] == b'-') {
        start -= 1;
    }
    let mut end = start;
    while end < input.len() && (input[end].is_ascii_digit() || matches!(input[end], b'-' | b'.' | b'e' | b'E' | b'+')) {
        end += 1;
    }
    input.splice(start..end, NUMBERS[rng.below(NUMBERS.len())].iter().copied());
}

fn fingerprint(bytes: &[u8]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

fn save(dir: &Path, name: &str, bytes: &[u8]) -> Option<PathBuf> {
    std::fs::create_dir_all(dir).ok()?;
    let path = dir.join(name);
    std::fs::write(&path, bytes).ok()?;
    Some(path)
}

/// The input being run, for the watchdog.
type Running = Arc<Mutex<Option<(Instant, Vec<u8>)>>>;

/// Ends the process when one input runs for longer than `hang_after`: a thread cannot be
/// stopped from outside, and a hung target would otherwise hang CI until its time limit.
fn watchdog(target: &'static str, running: Running, done: Arc<AtomicBool>, hang_after: Duration, dir: PathBuf) {
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        let guard = running.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((started, input)) = guard.as_ref()
            && started.elapsed() > hang_after
        {
            let saved = save(&dir, &format!("hang-{:016x}.bin", fingerprint(input)), input);
            let mut err = std::io::stderr().lock();
            let _ = writeln!(
                err,
                "fuzz {target}: an input has run for more than {:?}: stopping.\n  input saved to {}\n  input: {}",
                hang_after,
                saved.map_or("(could not be saved)".into(), |p| p.display().to_string()),
                escape(input, 2048),
            );
            std::process::exit(70);
        }
    }
}

/// Fuzzes `target` for `settings.duration`.
pub fn fuzz(target: &Target, settings: &Settings) -> Report {
    capture_panics();
    let crash_dir = settings.out_dir.join("crashes").join(target.name);
    let found_dir = settings.out_dir.join("found").join(target.name);
    let mut corpus = seeds(&settings.corpus_dir, target.name);
    let seed_count = corpus.len();
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }

    let running: Running = Arc::new(Mutex::new(None));
    let done = Arc::new(AtomicBool::new(false));
    let hang_after = (settings.time_limit * 10).max(Duration::from_secs(10));
    let dog = {
        let (running, done, dir) = (running.clone(), done.clone(), crash_dir.clone());
        let name = target.name;
        std::thread::spawn(move || watchdog(name, running, done, hang_after, dir))
    };

    let mut rng = Rng::new(settings.seed);
    let mut outcomes: HashMap<String, u64> = HashMap::new();
    let mut failures: Vec<Failure> = Vec::new();
    let mut known: HashSet<u64> = corpus.iter().map(|input| fingerprint(input)).collect();
    let (mut execs, mut found, mut slowest) = (0u64, 0usize, Duration::ZERO);
    let started = Instant::now();
    let mut next_seed = 0;
    let mut input = Vec::new();
    loop {
        // Every committed seed once, as it is; then mutations.
        if next_seed < corpus.len().min(seed_count.max(1)) {
            input.clone_from(&corpus[next_seed]);
            next_seed += 1;
        } else {
            if started.elapsed() >= settings.duration {
                break;
            }
            input.clone_from(&corpus[rng.below(corpus.len())]);
            mutate(&mut input, &mut rng, target.dictionary, &corpus, target.max_len);
        }

        *running.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), input.clone()));
        let t0 = Instant::now();
        let mut result = run_once(target, &input);
        let mut took = t0.elapsed();
        if took > settings.time_limit && result.is_ok() {
            // Once more, so that a moment without the CPU is not taken for a slow input.
            let t1 = Instant::now();
            result = run_once(target, &input);
            took = took.min(t1.elapsed());
        }
        *running.lock().unwrap_or_else(|p| p.into_inner()) = None;
        execs += 1;
        slowest = slowest.max(took);

        let failure = match result {
            Err(message) => Some((FailureKind::Panic, message)),
            Ok(_) if took > settings.time_limit => {
                Some((FailureKind::Slow, format!("took {took:?}, over the limit of {:?}", settings.time_limit)))
            }
            Ok(label) => {
                let seen = outcomes.entry(label).or_insert(0);
                *seen += 1;
                if *seen == 1 && corpus.len() < settings.max_corpus && known.insert(fingerprint(&input)) {
                    if settings.save_found {
                        save(&found_dir, &format!("{:016x}", fingerprint(&input)), &input);
                    }
                    corpus.push(input.clone());
                    found += 1;
                }
                None
            }
        };
        if let Some((kind, message)) = failure {
            // One saved input per panic location: messages may quote the input.
            let place = message.rsplit_once(" (at ").map_or(message.as_str(), |(_, at)| at).to_owned();
            match failures.iter_mut().find(|f| f.kind == kind && f.message.ends_with(&place)) {
                Some(known) => known.count += 1,
                None => {
                    let prefix = if kind == FailureKind::Panic { "panic" } else { "slow" };
                    let saved_to = save(&crash_dir, &format!("{prefix}-{:016x}.bin", fingerprint(&input)), &input);
                    failures.push(Failure { kind, message, input: input.clone(), saved_to, count: 1 });
                }
            }
        }
    }
    done.store(true, Ordering::Relaxed);
    let _ = dog.join();
    Report {
        target: target.name,
        execs,
        elapsed: started.elapsed(),
        seeds: seed_count,
        found,
        outcomes: outcomes.len(),
        slowest,
        seed: settings.seed,
        failures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(run: fn(&[u8]) -> String) -> Target {
        Target { name: "engine-self-test", run, dictionary: &[b"BOOM"], max_len: 64 }
    }

    fn settings(dir: &Path, millis: u64) -> Settings {
        Settings::new(Duration::from_millis(millis), 7, dir.join("corpus"), dir.join("out"))
    }

    #[test]
    fn a_panic_is_caught_reported_and_its_input_saved() {
        let dir = std::env::temp_dir().join(format!("keyport-fuzz-engine-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let boom = target(|data| {
            assert!(!data.windows(4).any(|w| w == b"BOOM"), "found the token");
            "ok".into()
        });
        let report = fuzz(&boom, &settings(&dir, 300));
        assert!(report.execs > 100, "{}", report.summary());
        assert_eq!(report.failures.len(), 1, "one location, reported once: {:?}", report.failures);
        let failure = &report.failures[0];
        assert!(failure.message.contains("found the token") && failure.message.contains("engine.rs"));
        let saved = std::fs::read(failure.saved_to.as_ref().unwrap()).unwrap();
        assert!(saved.windows(4).any(|w| w == b"BOOM"));
        assert!(report.failure_details().contains("--replay"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn seeds_run_first_and_new_outcomes_grow_the_corpus() {
        let dir = std::env::temp_dir().join(format!("keyport-fuzz-engine-seeds-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("corpus/engine-self-test")).unwrap();
        std::fs::write(dir.join("corpus/engine-self-test/a"), b"abc").unwrap();
        let by_length = target(|data| format!("len {}", data.len().min(20)));
        let report = fuzz(&by_length, &settings(&dir, 200));
        assert_eq!(report.seeds, 1);
        assert!(report.outcomes > 5 && report.found > 5, "{}", report.summary());
        assert!(report.failures.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn mutation_is_reproducible_and_bounded() {
        let run = |seed| {
            let mut rng = Rng::new(seed);
            let mut input = b"{\"expires_in\":3600}".to_vec();
            for _ in 0..1000 {
                mutate(&mut input, &mut rng, &[b"x"], &[b"other".to_vec()], 32);
                assert!(input.len() <= 32);
            }
            input
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn escaping_shows_bytes_and_cuts_long_inputs() {
        assert_eq!(escape(b"a\"\n\xff", 10), "b\"a\\\"\\n\\xff\"");
        assert!(escape(&[b'x'; 20], 5).ends_with("... (15 more bytes)"));
    }
}
