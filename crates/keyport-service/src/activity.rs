//! [`Activity`]: the record of who read what. Every token handed out, every other action on an
//! account allowed, and every refusal becomes an [`ActivityRecord`] (docs/activity.md): when,
//! who asked (a program as the rules name it, you at a terminal, you in the window, or a process
//! that could not be identified), which account, what, and why it was allowed or refused. Never
//! a token's text.
//!
//! Records go to `activity.jsonl` in the state directory (`$XDG_STATE_HOME/keyport/` on Linux;
//! `keyport_core::paths::state_dir`) (JSON lines, mode 0600), moved to
//! `activity.jsonl.1` when it reaches [`Limits::file_bytes`] (1 MiB), so the log takes at most
//! twice that on disk. One writer thread writes them, fed by a bounded channel: recording never
//! waits on the disk (a cached `token.get` is answered as fast with the log as without), and a
//! full channel counts what it drops, written later as one `dropped` record.
//!
//! **Flood control.** A local program can send thousands of refused requests a second; they must
//! not rotate the history away. The first record of a kind (same asker, account, action, outcome
//! and reason) is written at once; repeats within the next [`Limits::repeat_window`] (60 s) are
//! counted and written as one record with `count` and `last` when that window ends (or at
//! shutdown). Kinds waiting for their window to end are bounded per asker
//! ([`Limits::kinds_per_asker`]) and in all ([`Limits::kinds`]); requests of further kinds are
//! counted per asker and outcome (or, past the total, per outcome) and written as one `flood`
//! record. So a program can add at most a few records a minute, however fast it asks.
//!
//! "Last read" (the last hand-out of an account to a program) is kept in memory for the access
//! rules, and rebuilt from the log files when the service starts (by the writer thread, off the
//! start-up path; at most the two files are read).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak, mpsc};
use std::time::Duration;

use keyport_core::clock::Clock;
use keyport_wire::{ActivityAnswer, ActivityAsker, ActivityOutcome, ActivityRecord, ActivityWhy};
use time::OffsetDateTime;

use crate::access::Action;
use crate::convert::rfc3339;
use crate::peer::{Asker, Delivery};

/// The log's file name in the state directory (`$XDG_STATE_HOME/keyport/` on Linux).
pub const FILE_NAME: &str = "activity.jsonl";

/// The longest `detail` kept (characters); longer ones are cut.
const MAX_DETAIL: usize = 512;

/// The longest account name or program kept in a record (characters): names from an
/// unidentified process are not checked.
const MAX_NAME: usize = 4096;

/// Programs and accounts whose last hand-out is remembered; beyond it, new pairs are not (only
/// allowed programs get tokens, so this is never reached in practice).
const MAX_LAST_READ: usize = 4096;

/// How often the writer looks for repeat windows that have ended.
const TICK: Duration = Duration::from_secs(1);

/// How long a listing or a stop waits for the writer.
const WRITER_WAIT: Duration = Duration::from_secs(2);

/// The bounds of the log; [`Limits::default`] is what the service uses.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The size at which `activity.jsonl` is moved to `activity.jsonl.1`.
    pub file_bytes: u64,
    /// Repeats of a kind within this time after its first record are counted, not written.
    pub repeat_window: Duration,
    /// Kinds of one asker waiting for their window to end.
    pub kinds_per_asker: usize,
    /// Kinds waiting in all.
    pub kinds: usize,
    /// Records waiting for the writer.
    pub queue: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            file_bytes: 1024 * 1024,
            repeat_window: Duration::from_secs(60),
            kinds_per_asker: 16,
            kinds: 512,
            queue: 1024,
        }
    }
}

/// Who asked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Who {
    /// A program, as the rules name it.
    Program(String),
    /// You at this terminal.
    Person(String),
    /// You in the window.
    Window,
    /// A process that could not be identified.
    Unidentified,
}

impl Who {
    /// The asker of a socket request.
    pub fn of(asker: &Asker) -> Self {
        match asker {
            Asker::Person { terminal } => Self::Person(terminal.clone()),
            Asker::Window { .. } => Self::Window,
            Asker::Program { program, .. } => Self::Program(program.to_string()),
        }
    }
}

/// What came of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A token was handed out.
    HandedOut,
    /// Another action was allowed.
    Allowed,
    /// Refused.
    Refused,
}

/// Why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Why {
    /// A rule allows it; `every_account` when it is the program's `*` rule.
    Rule { every_account: bool },
    /// Your answer in the window; `always` for "Always allow".
    Answer { always: bool },
    /// Your answer "Allow for this session" to a `keyport ssh` session's question, then.
    Session,
    /// You at the terminal.
    Person,
    /// You in the window.
    Window,
    /// No rule, and it cannot be asked.
    NoRule,
    /// A rule denies it.
    DeniedByRule { every_account: bool },
    /// You answered "Deny".
    DeniedInWindow,
    /// Nobody could be asked, or nobody answered.
    NoOneToAsk,
    /// The process could not be identified.
    Unidentified,
    /// `keyport token`'s output goes elsewhere.
    OutputElsewhere,
    /// Only you may do this.
    OnlyYou,
}

/// The socket method that asks for `action` on an account.
pub fn action_name(action: Action) -> &'static str {
    match action {
        Action::ReadToken => "token.get",
        Action::Refresh => "token.refresh",
        Action::SignInAgain => "accounts.reauth",
        Action::Revoke => "accounts.revoke",
        Action::Remove => "accounts.remove",
        Action::Connect => "signin.start",
    }
}

/// Which records a listing wants.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this account's.
    pub account: Option<String>,
    /// Only this program's (as the rules name it).
    pub program: Option<String>,
    /// Only at or after this time (a counted record: its last repeat).
    pub since: Option<OffsetDateTime>,
    /// At most this many, the newest.
    pub limit: usize,
}

impl Filter {
    fn matches(&self, record: &ActivityRecord) -> bool {
        if self.account.as_ref().is_some_and(|account| record.account.as_ref() != Some(account)) {
            return false;
        }
        if self.program.as_ref().is_some_and(|program| record.program.as_ref() != Some(program)) {
            return false;
        }
        match self.since {
            None => true,
            Some(since) => parse_time(record.last.as_deref().unwrap_or(&record.time)).is_some_and(|at| at >= since),
        }
    }
}

fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

/// The kind of a record, for flood control.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Kind {
    who: Who,
    account: Option<String>,
    action: &'static str,
    outcome: Outcome,
    why: Why,
}

/// A kind whose repeat window is open.
#[derive(Debug)]
struct Open {
    /// When its first record was written: the window ends `repeat_window` later.
    since: OffsetDateTime,
    /// The first record's detail, for the counted one.
    detail: String,
    /// Repeats so far, the first and last of them.
    repeats: u64,
    first_repeat: Option<OffsetDateTime>,
    last_repeat: Option<OffsetDateTime>,
}

/// Requests of kinds beyond the bounds, counted.
#[derive(Debug)]
struct Overflow {
    since: OffsetDateTime,
    count: u64,
    first: OffsetDateTime,
    last: OffsetDateTime,
}

/// What [`Flood::note`] decided.
#[derive(Debug, PartialEq, Eq)]
enum Note {
    /// Write this record now.
    Write,
    /// Counted: nothing to write now.
    Counted,
}

/// Flood control: which records are written at once and which are counted (module docs).
#[derive(Debug)]
struct Flood {
    limits: Limits,
    open: HashMap<Kind, Open>,
    /// Open kinds per asker.
    per_who: HashMap<Who, usize>,
    /// Overflow counts by asker (`None`: past the total bound) and outcome.
    overflow: HashMap<(Option<Who>, Outcome), Overflow>,
}

impl Flood {
    fn new(limits: Limits) -> Self {
        Self { limits, open: HashMap::new(), per_who: HashMap::new(), overflow: HashMap::new() }
    }

    fn ended(&self, since: OffsetDateTime, now: OffsetDateTime) -> bool {
        window_ended(self.limits.repeat_window, since, now)
    }

    /// Notes a request of `kind` at `now`: [`Note::Write`] if its record is to be written at
    /// once (the caller then gives its detail with [`Flood::opened`]), else it is counted.
    /// Counted records of windows that ended are pushed to `due`.
    fn note(&mut self, kind: &Kind, now: OffsetDateTime, due: &mut Vec<ActivityRecord>) -> Note {
        if let Some(open) = self.open.get_mut(kind) {
            if !window_ended(self.limits.repeat_window, open.since, now) {
                open.repeats += 1;
                open.first_repeat.get_or_insert(now);
                open.last_repeat = Some(now);
                return Note::Counted;
            }
            let open = self.close(kind).expect("just found");
            due.extend(counted(kind, open));
        }
        let of_who = self.per_who.get(&kind.who).copied().unwrap_or(0);
        if of_who < self.limits.kinds_per_asker && self.open.len() < self.limits.kinds {
            return Note::Write;
        }
        // No room: counted with the asker's other overflow (or, when even the asker has no
        // place among the open kinds, with everyone's).
        let key = (if of_who > 0 { Some(kind.who.clone()) } else { None }, kind.outcome);
        let window = self.limits.repeat_window;
        if let Some(overflow) = self.overflow.get_mut(&key)
            && !window_ended(window, overflow.since, now)
        {
            overflow.count += 1;
            overflow.last = now;
            return Note::Counted;
        }
        if let Some(overflow) = self.overflow.remove(&key) {
            due.push(overflow_record(&key, overflow));
        }
        self.overflow.insert(key, Overflow { since: now, count: 1, first: now, last: now });
        Note::Counted
    }

    /// Opens the window of `kind`, whose first record (with `detail`) is being written.
    fn opened(&mut self, kind: Kind, now: OffsetDateTime, detail: &str) {
        *self.per_who.entry(kind.who.clone()).or_default() += 1;
        let open = Open { since: now, detail: detail.to_owned(), repeats: 0, first_repeat: None, last_repeat: None };
        self.open.insert(kind, open);
    }

    fn close(&mut self, kind: &Kind) -> Option<Open> {
        let open = self.open.remove(kind)?;
        if let Some(count) = self.per_who.get_mut(&kind.who) {
            *count -= 1;
            if *count == 0 {
                self.per_who.remove(&kind.who);
            }
        }
        Some(open)
    }

    /// The counted records of every window that ended by `now` (all of them with `all`), whose
    /// kinds are forgotten.
    fn due(&mut self, now: OffsetDateTime, all: bool) -> Vec<ActivityRecord> {
        let mut due = Vec::new();
        let ended: Vec<Kind> =
            self.open.iter().filter(|(_, open)| all || self.ended(open.since, now)).map(|(k, _)| k.clone()).collect();
        for kind in ended {
            let open = self.close(&kind).expect("listed");
            due.extend(counted(&kind, open));
        }
        let ended: Vec<(Option<Who>, Outcome)> = self
            .overflow
            .iter()
            .filter(|(_, overflow)| all || self.ended(overflow.since, now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in ended {
            let overflow = self.overflow.remove(&key).expect("listed");
            due.push(overflow_record(&key, overflow));
        }
        due.sort_by_key(|record| record.time.clone());
        due
    }

    /// What is counted and not written yet, as the records it will be.
    fn pending(&self) -> Vec<ActivityRecord> {
        let mut records: Vec<ActivityRecord> = self
            .open
            .iter()
            .filter(|(_, open)| open.repeats > 0)
            .filter_map(|(kind, open)| {
                counted(
                    kind,
                    Open {
                        since: open.since,
                        detail: open.detail.clone(),
                        repeats: open.repeats,
                        first_repeat: open.first_repeat,
                        last_repeat: open.last_repeat,
                    },
                )
            })
            .collect();
        records.extend(self.overflow.iter().map(|(key, overflow)| {
            overflow_record(
                key,
                Overflow { since: overflow.since, count: overflow.count, first: overflow.first, last: overflow.last },
            )
        }));
        records
    }
}

/// Whether a window of `window` opened at `since` has ended at `now`. A clock set back ends it
/// too, rather than holding it open for as long.
fn window_ended(window: Duration, since: OffsetDateTime, now: OffsetDateTime) -> bool {
    now < since || (now - since).unsigned_abs() >= window
}

/// The counted record of a window's repeats, if there were any.
fn counted(kind: &Kind, open: Open) -> Option<ActivityRecord> {
    let (Some(first), Some(last)) = (open.first_repeat, open.last_repeat) else { return None };
    let mut record = record(kind, first, open.detail);
    record.count = Some(open.repeats);
    record.last = Some(rfc3339(last));
    Some(record)
}

fn overflow_record(key: &(Option<Who>, Outcome), overflow: Overflow) -> ActivityRecord {
    let (who, outcome) = key;
    let whose = match who {
        Some(_) => "of this asker",
        None => "of askers beyond the bound on kinds followed at once",
    };
    let kind = Kind {
        who: who.clone().unwrap_or(Who::Unidentified),
        account: None,
        action: "*",
        outcome: *outcome,
        why: Why::NoRule,
    };
    let mut record = record(
        &kind,
        overflow.first,
        format!(
            "{} more requests {whose}, of kinds beyond the bounds of flood control, were counted, not listed",
            overflow.count
        ),
    );
    if who.is_none() {
        record.asker = ActivityAsker::Unidentified;
    }
    record.why = ActivityWhy::Flood;
    record.count = Some(overflow.count);
    record.last = Some(rfc3339(overflow.last));
    record
}

/// The record of a request of `kind` at `at`.
fn record(kind: &Kind, at: OffsetDateTime, detail: String) -> ActivityRecord {
    let (asker, program, terminal) = match &kind.who {
        Who::Program(program) => (ActivityAsker::Program, Some(cut(program, MAX_NAME)), None),
        Who::Person(terminal) => (ActivityAsker::Person, None, Some(cut(terminal, MAX_NAME))),
        Who::Window => (ActivityAsker::Window, None, None),
        Who::Unidentified => (ActivityAsker::Unidentified, None, None),
    };
    let (why, rule, answer) = match kind.why {
        Why::Rule { every_account } => (ActivityWhy::Rule, rule_names(kind, every_account), None),
        Why::Answer { always } => {
            (ActivityWhy::Answer, None, Some(if always { ActivityAnswer::Always } else { ActivityAnswer::Once }))
        }
        Why::Session => (ActivityWhy::Answer, None, Some(ActivityAnswer::Session)),
        Why::Person => (ActivityWhy::Person, None, None),
        Why::Window => (ActivityWhy::Window, None, None),
        Why::NoRule => (ActivityWhy::NoRule, None, None),
        Why::DeniedByRule { every_account } => (ActivityWhy::DeniedByRule, rule_names(kind, every_account), None),
        Why::DeniedInWindow => (ActivityWhy::DeniedInWindow, None, None),
        Why::NoOneToAsk => (ActivityWhy::NoOneToAsk, None, None),
        Why::Unidentified => (ActivityWhy::Unidentified, None, None),
        Why::OutputElsewhere => (ActivityWhy::OutputElsewhere, None, None),
        Why::OnlyYou => (ActivityWhy::OnlyYou, None, None),
    };
    ActivityRecord {
        time: rfc3339(at),
        asker,
        program,
        terminal,
        account: kind.account.clone(),
        action: kind.action.to_owned(),
        outcome: match kind.outcome {
            Outcome::HandedOut => ActivityOutcome::HandedOut,
            Outcome::Allowed => ActivityOutcome::Allowed,
            Outcome::Refused => ActivityOutcome::Refused,
        },
        why,
        rule,
        answer,
        detail: cut(&detail, MAX_DETAIL),
        count: None,
        last: None,
    }
}

fn rule_names(kind: &Kind, every_account: bool) -> Option<String> {
    if every_account { Some(crate::access::EVERY_ACCOUNT.to_owned()) } else { kind.account.clone() }
}

fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

/// What the writer thread is sent.
#[derive(Debug)]
enum Message {
    /// Boxed: the channel's slots are allocated (and touched) up front, so each is a pointer
    /// (16 KiB for the queue, against 230 KiB unboxed).
    Record(Box<ActivityRecord>),
    /// Answers once everything sent before is written.
    Sync(mpsc::SyncSender<()>),
    /// Writes what is left and stops; answers when done.
    Stop(mpsc::SyncSender<()>),
}

/// Hand-outs remembered: program, then account, then when.
type LastRead = HashMap<String, HashMap<String, OffsetDateTime>>;

#[derive(Debug)]
struct Inner {
    clock: Arc<dyn Clock>,
    flood: Mutex<Flood>,
    last_read: Mutex<LastRead>,
    /// `None` when there is no log file (recording only feeds "last read").
    sender: Option<mpsc::SyncSender<Message>>,
    /// Records the full channel refused, by outcome (handed out, allowed, refused).
    dropped: [AtomicU64; 3],
    path: Option<PathBuf>,
    /// Whether "last read" was rebuilt from the files (the writer does it when it starts).
    rebuilt: (Mutex<bool>, std::sync::Condvar),
}

/// The recorder (module docs). Cheap to clone; every clone records into the same log.
#[derive(Debug, Clone)]
pub struct Activity(Arc<Inner>);

impl Activity {
    /// A recorder writing to `path` (`None`: nothing is written; "last read" is still kept),
    /// with the default [`Limits`]. Starts the writer thread.
    pub fn new(path: Option<PathBuf>, clock: Arc<dyn Clock>) -> Self {
        Self::with_limits(path, clock, Limits::default())
    }

    /// [`Activity::new`] with other bounds (tests).
    pub fn with_limits(path: Option<PathBuf>, clock: Arc<dyn Clock>, limits: Limits) -> Self {
        let (sender, receiver) = match &path {
            Some(_) => {
                let (sender, receiver) = mpsc::sync_channel(limits.queue);
                (Some(sender), Some(receiver))
            }
            None => (None, None),
        };
        let file_bytes = limits.file_bytes;
        let inner = Arc::new(Inner {
            clock,
            flood: Mutex::new(Flood::new(limits)),
            last_read: Mutex::new(HashMap::new()),
            sender,
            dropped: Default::default(),
            path: path.clone(),
            rebuilt: (Mutex::new(path.is_none()), std::sync::Condvar::new()),
        });
        if let (Some(path), Some(receiver)) = (path, receiver) {
            let weak = Arc::downgrade(&inner);
            // Opened now, not at the first record: the service holds the same descriptors
            // from its start, whatever programs do.
            let mut writer = Writer::new(path, file_bytes);
            if let Err(err) = writer.open() {
                writer.warn(&err);
            }
            let spawned =
                std::thread::Builder::new().name("keyport-activity".into()).spawn(move || writer.run(&receiver, &weak));
            if let Err(err) = spawned {
                tracing::warn!(%err, "cannot start the activity log's writer; nothing will be written");
                inner.mark_rebuilt();
            }
        }
        Self(inner)
    }

    /// Records a request: `detail` is called only when a record is written at once.
    pub fn record(
        &self,
        who: Who,
        account: Option<&str>,
        action: &'static str,
        outcome: Outcome,
        why: Why,
        detail: impl FnOnce() -> String,
    ) {
        let now = self.0.clock.now();
        let account = account.map(|account| cut(account, MAX_NAME));
        if outcome == Outcome::HandedOut
            && let (Who::Program(program), Some(account)) = (&who, &account)
        {
            self.note_read(program, account, now);
        }
        let kind = Kind { who, account, action, outcome, why };
        let mut due = Vec::new();
        let write = {
            let mut flood = self.0.flood.lock().expect("activity flood");
            match flood.note(&kind, now, &mut due) {
                Note::Counted => None,
                Note::Write => {
                    let detail = detail();
                    flood.opened(kind.clone(), now, &detail);
                    Some(record(&kind, now, detail))
                }
            }
        };
        for record in due.into_iter().chain(write) {
            self.send(record);
        }
    }

    fn note_read(&self, program: &str, account: &str, at: OffsetDateTime) {
        let mut last_read = self.0.last_read.lock().expect("last read");
        if let Some(of_program) = last_read.get_mut(program)
            && let Some(when) = of_program.get_mut(account)
        {
            *when = (*when).max(at);
            return;
        }
        if last_read.values().map(HashMap::len).sum::<usize>() >= MAX_LAST_READ {
            return;
        }
        last_read.entry(program.to_owned()).or_default().insert(account.to_owned(), at);
    }

    /// When `program` was last handed a token of `account` (of any account for `*`). Just after
    /// the start, waits (briefly) for the files to be read.
    pub fn last_read(&self, program: &str, account: &str) -> Option<OffsetDateTime> {
        {
            let (rebuilt, changed) = &self.0.rebuilt;
            let guard = rebuilt.lock().expect("rebuilt");
            let _ = changed.wait_timeout_while(guard, WRITER_WAIT, |rebuilt| !*rebuilt);
        }
        let last_read = self.0.last_read.lock().expect("last read");
        let read = |of_program: &HashMap<String, OffsetDateTime>| {
            if account == crate::access::EVERY_ACCOUNT {
                of_program.values().copied().max()
            } else {
                of_program.get(account).copied()
            }
        };
        // A remote host's rule (`remote:HOST`) covers every program claimed there.
        if let Some(host) = program.strip_prefix("remote:").filter(|host| !host.contains(':')) {
            let claims = format!("remote:{host}:");
            return last_read
                .iter()
                .filter(|(read_by, _)| *read_by == program || read_by.starts_with(&claims))
                .filter_map(|(_, of_program)| read(of_program))
                .max();
        }
        read(last_read.get(program)?)
    }

    fn send(&self, record: ActivityRecord) {
        let Some(sender) = &self.0.sender else { return };
        let outcome = record.outcome;
        if sender.try_send(Message::Record(Box::new(record))).is_err() {
            let slot = match outcome {
                ActivityOutcome::HandedOut => 0,
                ActivityOutcome::Allowed => 1,
                _ => 2,
            };
            self.0.dropped[slot].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The matching records, oldest first (the newest `filter.limit`), and whether older ones
    /// were left out: both files, and what is counted but not written yet. Reads the disk.
    pub fn list(&self, filter: &Filter) -> (Vec<ActivityRecord>, bool) {
        self.sync();
        let mut records = Vec::new();
        if let Some(path) = &self.0.path {
            for file in [old_path(path), path.clone()] {
                read_records(&file, |record| {
                    if filter.matches(&record) {
                        records.push(record);
                    }
                });
            }
        }
        let pending = self.0.flood.lock().expect("activity flood").pending();
        records.extend(pending.into_iter().filter(|record| filter.matches(record)));
        // Counted records are written when their window ends, after later ones.
        records.sort_by_cached_key(|record| parse_time(&record.time));
        let truncated = records.len() > filter.limit;
        let records = records.split_off(records.len().saturating_sub(filter.limit));
        (records, truncated)
    }

    /// Waits (a bounded time) until every record sent so far is written.
    fn sync(&self) {
        let Some(sender) = &self.0.sender else { return };
        let (done, wait) = mpsc::sync_channel(1);
        if sender.send(Message::Sync(done)).is_ok() {
            let _ = wait.recv_timeout(WRITER_WAIT);
        }
    }

    /// Writes every counted record now and stops the writer (a bounded wait): at shutdown.
    pub fn finish(&self) {
        let due = self.0.flood.lock().expect("activity flood").due(self.0.clock.now(), true);
        for record in due {
            self.send(record);
        }
        let Some(sender) = &self.0.sender else { return };
        let (done, wait) = mpsc::sync_channel(1);
        if sender.send(Message::Stop(done)).is_ok() {
            let _ = wait.recv_timeout(WRITER_WAIT);
        }
    }

    /// Counted records whose window ended, and the count of dropped records: for the writer.
    fn due(&self) -> Vec<ActivityRecord> {
        let now = self.0.clock.now();
        let mut due = self.0.flood.lock().expect("activity flood").due(now, false);
        for (slot, outcome) in [Outcome::HandedOut, Outcome::Allowed, Outcome::Refused].into_iter().enumerate() {
            let count = self.0.dropped[slot].swap(0, Ordering::Relaxed);
            if count > 0 {
                let kind = Kind { who: Who::Unidentified, account: None, action: "*", outcome, why: Why::NoRule };
                let mut dropped =
                    record(&kind, now, format!("{count} records were lost: the activity log's writer was behind"));
                dropped.why = ActivityWhy::Dropped;
                dropped.count = Some(count);
                dropped.last = Some(rfc3339(now));
                due.push(dropped);
            }
        }
        due
    }
}

impl Inner {
    fn mark_rebuilt(&self) {
        *self.rebuilt.0.lock().expect("rebuilt") = true;
        self.rebuilt.1.notify_all();
    }
}

/// `activity.jsonl.1` beside `activity.jsonl`.
fn old_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".1");
    path.with_file_name(name)
}

/// Calls `each` with every record of `path` that can be read (at most twice the rotation size
/// is read: a file grown by hand is not read whole).
fn read_records(path: &Path, mut each: impl FnMut(ActivityRecord)) {
    let Ok(file) = File::open(path) else { return };
    let reader = std::io::BufReader::new(file.take(2 * Limits::default().file_bytes));
    for line in reader.split(b'\n').map_while(Result::ok) {
        if let Ok(record) = serde_json::from_slice::<ActivityRecord>(&line) {
            each(record);
        }
    }
}

/// The writer thread's state.
struct Writer {
    path: PathBuf,
    limit: u64,
    file: Option<File>,
    written: u64,
    warned: bool,
}

impl Writer {
    fn new(path: PathBuf, limit: u64) -> Self {
        Self { path, limit, file: None, written: 0, warned: false }
    }

    fn run(mut self, receiver: &mpsc::Receiver<Message>, activity: &Weak<Inner>) {
        self.rebuild_last_read(activity);
        loop {
            let message = receiver.recv_timeout(TICK);
            let Some(activity) = activity.upgrade().map(Activity) else { return };
            match message {
                Ok(Message::Record(record)) => self.write(&record),
                Ok(Message::Sync(done)) => {
                    let _ = done.try_send(());
                }
                Ok(Message::Stop(done)) => {
                    while let Ok(message) = receiver.try_recv() {
                        if let Message::Record(record) = message {
                            self.write(&record);
                        }
                    }
                    for record in activity.due() {
                        self.write(&record);
                    }
                    let _ = done.try_send(());
                    return;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
            for record in activity.due() {
                self.write(&record);
            }
        }
    }

    /// "Last read" from the files, merged with what was recorded since the start.
    fn rebuild_last_read(&self, activity: &Weak<Inner>) {
        let mut found: LastRead = HashMap::new();
        for file in [old_path(&self.path), self.path.clone()] {
            read_records(&file, |record| {
                if let (ActivityOutcome::HandedOut, Some(program), Some(account)) =
                    (record.outcome, record.program, record.account)
                    && let Some(at) = parse_time(record.last.as_deref().unwrap_or(&record.time))
                {
                    let when = found.entry(program).or_default().entry(account).or_insert(at);
                    *when = (*when).max(at);
                }
            });
        }
        let Some(activity) = activity.upgrade().map(Activity) else { return };
        for (program, accounts) in found {
            for (account, at) in accounts {
                activity.note_read(&program, &account, at);
            }
        }
        activity.0.mark_rebuilt();
    }

    fn open(&mut self) -> std::io::Result<&mut File> {
        if self.file.is_none() {
            if let Some(dir) = self.path.parent() {
                let mut builder = std::fs::DirBuilder::new();
                builder.recursive(true);
                // Elsewhere the user's profile directories are private to the user already.
                #[cfg(unix)]
                std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
                builder.create(dir)?;
            }
            let mut options = OpenOptions::new();
            options.create(true).append(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let file = options.open(&self.path)?;
            self.written = file.metadata()?.len();
            self.file = Some(file);
        }
        Ok(self.file.as_mut().expect("just opened"))
    }

    fn write(&mut self, record: &ActivityRecord) {
        let mut line = serde_json::to_vec(record).expect("records serialize");
        line.push(b'\n');
        if let Err(err) = self.try_write(&line) {
            self.file = None;
            self.warn(&err);
        }
    }

    fn warn(&mut self, err: &std::io::Error) {
        if !self.warned {
            self.warned = true;
            tracing::warn!(path = %self.path.display(), %err, "cannot write the activity log");
        }
    }

    fn try_write(&mut self, line: &[u8]) -> std::io::Result<()> {
        self.open()?;
        if self.written > 0 && self.written + line.len() as u64 > self.limit {
            self.file = None;
            std::fs::rename(&self.path, old_path(&self.path))?;
            self.open()?;
        }
        self.file.as_mut().expect("open").write_all(line)?;
        self.written += line.len() as u64;
        Ok(())
    }
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("path", &self.path).field("written", &self.written).finish()
    }
}

// ---- recording what the socket's methods and the window decide -----------------------------

impl crate::service::Service {
    /// Records a token of `account` handed to `asker`.
    pub(crate) fn record_hand_out(&self, asker: &Asker, account: &str, why: Why) {
        self.activity.record(Who::of(asker), Some(account), "token.get", Outcome::HandedOut, why, || {
            let through = match asker {
                Asker::Program { delivery: Delivery::CliOutput, .. } => " (through `keyport token`'s output)",
                Asker::Program { delivery: Delivery::Discarded, .. } => " (`keyport token`'s output went to /dev/null)",
                _ => "",
            };
            format!("{}{through}", allowed_detail(asker, account, why))
        });
    }

    /// Records an action other than reading a token allowed to `asker`.
    pub(crate) fn record_allowed(&self, asker: &Asker, account: Option<&str>, action: &'static str, why: Why) {
        self.activity.record(Who::of(asker), account, action, Outcome::Allowed, why, || {
            allowed_detail(asker, account.unwrap_or("a new account"), why)
        });
    }

    /// Records a refusal of `action` to `asker`.
    pub(crate) fn record_refusal(
        &self,
        asker: &Asker,
        account: Option<&str>,
        action: &'static str,
        why: Why,
        detail: impl FnOnce() -> String,
    ) {
        self.activity.record(Who::of(asker), account, action, Outcome::Refused, why, detail);
    }

    /// Records that a rule denies `asker` (a program) `account`.
    pub(crate) fn record_denied(&self, asker: &Asker, account: &str, action: &'static str) {
        let every_account = asker
            .program()
            .is_some_and(|program| matches!(self.rules.deciding_rule(program, account), Ok(Some((_, true)))));
        let why = Why::DeniedByRule { every_account };
        self.record_refusal(asker, Some(account), action, why, || refusal_detail(account, why));
    }

    /// Records a request refused because its writer could not be identified.
    pub(crate) fn record_unidentified(&self, call: &keyport_wire::Call, reason: &str) {
        let action = call.method().name();
        self.activity.record(Who::Unidentified, account_of(call), action, Outcome::Refused, Why::Unidentified, || {
            reason.to_owned()
        });
    }
}

/// Why `asker` was allowed `account`, for people.
fn allowed_detail(asker: &Asker, account: &str, why: Why) -> String {
    match (why, asker) {
        (Why::Person, Asker::Person { terminal }) => format!("you, at the terminal {terminal}"),
        (Why::Window, _) => "you, in the Keyport window".to_owned(),
        (Why::Rule { every_account: true }, _) => "allowed by your rule for every account".to_owned(),
        (Why::Rule { every_account: false }, _) => format!("allowed by your rule for `{account}`"),
        (Why::Answer { always: true }, _) => "you chose Always allow in the window".to_owned(),
        (Why::Answer { always: false }, _) => "you chose Allow once in the window".to_owned(),
        (Why::Session, _) => "you chose Allow for this session in the window".to_owned(),
        _ => "allowed".to_owned(),
    }
}

/// Why a request about `account` was refused, for people.
pub(crate) fn refusal_detail(account: &str, why: Why) -> String {
    match why {
        Why::DeniedByRule { every_account: true } => "a rule of yours denies it every account".to_owned(),
        Why::DeniedByRule { every_account: false } => format!("a rule of yours denies it `{account}`"),
        Why::DeniedInWindow => "you chose Deny in the window".to_owned(),
        Why::NoOneToAsk => "no rule allows it, and nobody answered (no window to ask in, the question went \
                            unanswered, or too many questions were open)"
            .to_owned(),
        Why::NoRule => "no rule allows it".to_owned(),
        _ => "refused".to_owned(),
    }
}

/// The account a call names, if any.
pub(crate) fn account_of(call: &keyport_wire::Call) -> Option<&str> {
    use keyport_wire::Call;
    match call {
        Call::AccountsStatus(p) | Call::TokenRefresh(p) | Call::AccountsRemove(p) | Call::AccountsDetails(p) => {
            Some(&p.account)
        }
        Call::TokenGet(p) => Some(&p.account),
        Call::SigninStart(p) => p.account.as_deref(),
        Call::AccountsReauth(p) => Some(&p.account),
        Call::AccountsRevoke(p) => Some(&p.account),
        Call::AccessSet(p) => Some(&p.account),
        Call::AccessForget(p) => Some(&p.account),
        Call::ActivityList(p) => p.account.as_deref(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyport_core::clock::FixedClock;

    fn start() -> OffsetDateTime {
        time::macros::datetime!(2026-11-30 10:00:00 UTC)
    }

    fn kind(program: &str, account: &str, outcome: Outcome) -> Kind {
        Kind {
            who: Who::Program(program.into()),
            account: Some(account.into()),
            action: "token.get",
            outcome,
            why: if outcome == Outcome::Refused { Why::NoOneToAsk } else { Why::Rule { every_account: false } },
        }
    }

    fn small() -> Limits {
        Limits { file_bytes: 2000, repeat_window: Duration::from_secs(60), kinds_per_asker: 2, kinds: 3, queue: 8 }
    }

    /// Notes `kind` as the recorder does; returns what was written at once and what was due.
    fn note(flood: &mut Flood, kind: &Kind, at: OffsetDateTime) -> (bool, Vec<ActivityRecord>) {
        let mut due = Vec::new();
        let write = flood.note(kind, at, &mut due) == Note::Write;
        if write {
            flood.opened(kind.clone(), at, "first");
        }
        (write, due)
    }

    #[test]
    fn repeats_within_the_window_are_one_counted_record_when_it_ends() {
        let mut flood = Flood::new(small());
        let refused = kind("/usr/bin/python3", "work", Outcome::Refused);
        assert_eq!(note(&mut flood, &refused, start()), (true, vec![]));
        for second in 1..=1000 {
            let at = start() + time::Duration::milliseconds(second * 50);
            assert_eq!(note(&mut flood, &refused, at), (false, vec![]), "repeat {second} is counted");
        }
        assert!(flood.due(start() + time::Duration::seconds(59), false).is_empty(), "the window is open");
        let due = flood.due(start() + time::Duration::seconds(60), false);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].count, Some(1000));
        assert_eq!(due[0].time, "2026-11-30T10:00:00Z");
        assert_eq!(due[0].last.as_deref(), Some("2026-11-30T10:00:50Z"));
        assert_eq!(due[0].why, ActivityWhy::NoOneToAsk);
        assert!(flood.open.is_empty() && flood.per_who.is_empty(), "the kind is forgotten");
        // After the window, the next one is written at once again.
        assert_eq!(note(&mut flood, &refused, start() + time::Duration::seconds(61)), (true, vec![]));
    }

    #[test]
    fn a_window_without_repeats_writes_nothing_more() {
        let mut flood = Flood::new(small());
        let handed = kind("/usr/bin/git", "work", Outcome::HandedOut);
        note(&mut flood, &handed, start());
        assert!(flood.due(start() + time::Duration::seconds(61), false).is_empty());
        assert!(flood.open.is_empty());
    }

    #[test]
    fn a_repeat_after_the_window_writes_the_counted_record_and_a_new_first() {
        let mut flood = Flood::new(small());
        let refused = kind("/usr/bin/python3", "work", Outcome::Refused);
        note(&mut flood, &refused, start());
        note(&mut flood, &refused, start() + time::Duration::seconds(1));
        let (write, due) = note(&mut flood, &refused, start() + time::Duration::seconds(90));
        assert!(write);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].count, Some(1));
    }

    #[test]
    fn kinds_beyond_the_bounds_are_folded_into_one_counted_record_per_asker_and_outcome() {
        let mut flood = Flood::new(small());
        let at = start();
        // Two kinds per asker are followed; the third and later of the same asker are counted.
        for account in ["a", "b"] {
            assert!(note(&mut flood, &kind("/x", account, Outcome::Refused), at).0);
        }
        for account in 0..500 {
            assert!(!note(&mut flood, &kind("/x", &format!("n{account}"), Outcome::Refused), at).0);
        }
        // Another asker still gets its first record written: one more kind fits in the total.
        assert!(note(&mut flood, &kind("/usr/bin/git", "work", Outcome::HandedOut), at).0);
        // The total (3) is reached: a third asker's kinds are counted together with everyone's.
        for program in 0..500 {
            assert!(!note(&mut flood, &kind(&format!("/tmp/p{program}"), "a", Outcome::Refused), at).0);
        }
        assert_eq!(flood.open.len(), 3, "bounded in total");
        assert_eq!(flood.overflow.len(), 2, "one count for /x, one for everyone past the total");
        let due = flood.due(at + time::Duration::seconds(60), false);
        let folded: Vec<_> = due.iter().filter(|r| r.why == ActivityWhy::Flood).collect();
        assert_eq!(folded.len(), 2);
        let of_x = folded.iter().find(|r| r.program.as_deref() == Some("/x")).expect("the asker's count");
        assert_eq!(of_x.count, Some(500));
        let everyone = folded.iter().find(|r| r.program.is_none()).expect("everyone's count");
        assert_eq!(everyone.count, Some(500));
        assert_eq!(everyone.asker, ActivityAsker::Unidentified);
        assert!(flood.open.is_empty() && flood.overflow.is_empty() && flood.per_who.is_empty());
    }

    #[test]
    fn a_flood_leaves_earlier_records_and_the_files_stay_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/keyport").join(FILE_NAME);
        let clock = Arc::new(FixedClock::new(start()));
        let activity = Activity::with_limits(Some(path.clone()), clock.clone(), small());
        let git = || Who::Program("/usr/bin/git".into());
        activity.record(
            git(),
            Some("work"),
            "token.get",
            Outcome::HandedOut,
            Why::Rule { every_account: true },
            || "allowed by the rule for every account".into(),
        );
        // A minute of flooding, one kind and then many.
        for i in 0..20_000 {
            clock.advance(time::Duration::milliseconds(3));
            let account = if i % 2 == 0 { "work".to_owned() } else { format!("n{i}") };
            activity.record(
                Who::Program("/tmp/evil".into()),
                Some(&account),
                "token.get",
                Outcome::Refused,
                Why::NoOneToAsk,
                || "nobody to ask".into(),
            );
        }
        activity.finish();
        let text = std::fs::read_to_string(&path).unwrap();
        let old = std::fs::read_to_string(old_path(&path)).unwrap_or_default();
        assert!(text.len() as u64 <= small().file_bytes, "{}", text.len());
        let all: Vec<ActivityRecord> =
            old.lines().chain(text.lines()).map(|line| serde_json::from_str(line).unwrap()).collect();
        assert!(all.len() < 12, "a flood is a few records: {all:#?}");
        assert_eq!(all[0].program.as_deref(), Some("/usr/bin/git"), "the hand-out is still there");
        assert_eq!(all[0].rule.as_deref(), Some("*"));
        let work = all
            .iter()
            .find(|r| r.account.as_deref() == Some("work") && r.count.is_some())
            .expect("a counted record of the repeats");
        assert!(work.count.unwrap() >= 9_000, "{work:?}");
        let folded = all.iter().find(|r| r.why == ActivityWhy::Flood).expect("the other kinds, folded");
        assert!(folded.count.unwrap() >= 9_000, "{folded:?}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        // "Last read" is rebuilt from the files by a new recorder.
        let again = Activity::with_limits(Some(path), clock, small());
        again.sync();
        assert_eq!(again.last_read("/usr/bin/git", "*"), Some(start()));
        assert_eq!(again.last_read("/usr/bin/git", "work"), Some(start()));
        assert_eq!(again.last_read("/tmp/evil", "*"), None, "refusals are not reads");
    }

    #[test]
    fn the_log_rotates_into_one_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let clock = Arc::new(FixedClock::new(start()));
        let activity = Activity::with_limits(Some(path.clone()), clock.clone(), small());
        for i in 0..200 {
            // A minute apart: each is the first of its window, written at once.
            clock.advance(time::Duration::seconds(61));
            activity.record(
                Who::Person("/dev/pts/1".into()),
                Some("a"),
                "token.get",
                Outcome::HandedOut,
                Why::Person,
                || format!("read {i}"),
            );
            activity.sync();
        }
        activity.finish();
        let current = std::fs::metadata(&path).unwrap().len();
        let old = std::fs::metadata(old_path(&path)).unwrap().len();
        assert!(current <= 2000 && old <= 2000, "{current} {old}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "one old file is kept, no more");
        let (records, truncated) = activity.list(&Filter { limit: 3, ..Filter::default() });
        assert!(truncated);
        assert_eq!(records.iter().map(|r| r.detail.as_str()).collect::<Vec<_>>(), ["read 197", "read 198", "read 199"]);
        let (records, _) = activity.list(&Filter { account: Some("b".into()), limit: 100, ..Filter::default() });
        assert!(records.is_empty());
    }

    #[test]
    fn listing_shows_counted_repeats_before_they_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(FixedClock::new(start()));
        let activity = Activity::with_limits(Some(dir.path().join(FILE_NAME)), clock.clone(), small());
        for _ in 0..5 {
            clock.advance(time::Duration::seconds(1));
            activity.record(
                Who::Program("/x".into()),
                Some("a"),
                "token.get",
                Outcome::Refused,
                Why::NoOneToAsk,
                || "refused".into(),
            );
        }
        let since = Some(start() + time::Duration::seconds(3));
        let (records, truncated) = activity.list(&Filter { since, limit: 10, ..Filter::default() });
        assert!(!truncated);
        assert_eq!(records.len(), 1, "the first (at 1 s) is before `since`; the count's last is not");
        assert_eq!(records[0].count, Some(4));
    }
}
