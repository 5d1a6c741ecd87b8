//! The [`Identifier`] of systems without Linux's `/proc` and per-write credentials (macOS,
//! Windows): the process that **connected** is judged, once, by its executable as the system
//! names it, and every request on the connection is its.
//!
//! - The connector must run as this user, and must have started before the connection was
//!   accepted: a pid that names a later process (the connector exited, its pid was reused) is
//!   refused, not judged.
//! - Keyport's own window (an installed `keyport-desktop`) is [`Asker::Window`]; the `keyport`
//!   CLI speaks for the program that ran it (past other `keyport` processes: the thin client
//!   runs the full one), which must have started before it. What the CLI prints is taken to
//!   reach that program: checking where its output goes, as Linux does, is not done here yet.
//! - The person at a terminal is not recognised yet: changes to accounts, rules and providers
//!   are made in the window on these systems (README, "Platforms").
//!
//! The rules are plain functions of what [`Processes`] reports, compiled on every system and
//! tested on Linux with a table of processes; the system calls behind [`System`] are macOS's
//! `proc_pidpath`/`proc_pidinfo` and Windows' process and toolhelp calls (type-checked), and
//! `/proc` on Linux (for the tests).

use std::path::PathBuf;
use std::sync::Arc;

use super::{Asker, Delivery, Hold, MAX_WRAPPERS};
use crate::access::Program;

/// A process as these systems describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    /// The executable's full path.
    pub exe: PathBuf,
    /// When it started, in the units of [`Processes::now`].
    pub started: u64,
    /// The process that started it, when known.
    pub parent: Option<u32>,
    /// Whether it runs as the user the service runs as.
    pub same_user: bool,
}

impl Process {
    /// Whether `pid` still names this process, running the same executable.
    pub fn unchanged(&self) -> bool {
        System.read(self.pid).is_ok_and(|now| now == *self)
    }
}

/// Where processes are read from: the system, or a table in tests.
pub trait Processes: std::fmt::Debug + Send + Sync {
    /// Reads the process `pid`.
    fn read(&self, pid: u32) -> Result<Process, String>;
    /// The time now, in the units of [`Process::started`].
    fn now(&self) -> u64;
}

/// The running system's processes.
#[derive(Debug, Clone, Copy)]
pub struct System;

/// What is known about a connection from the moment it was accepted.
#[derive(Debug)]
pub struct Link {
    /// The process that connected, as the system named it at accept time.
    pub pid: Option<u32>,
    /// The process that connected, read at once.
    pub connector: Result<Process, String>,
    /// The connector as the rules judge it.
    pub connector_asker: Result<Asker, String>,
}

impl Link {
    /// A connection whose process is not judged: one through a `keyport ssh` forward, where
    /// the process is the local `ssh` and the asker is the remote machine.
    pub fn unjudged() -> Self {
        let not = || "not judged: a connection through a forward".to_owned();
        Self { pid: None, connector: Err(not()), connector_asker: Err(not()) }
    }
}

/// Judges connections by their connector's executable.
#[derive(Debug, Clone)]
pub struct Identifier {
    cli_paths: Vec<PathBuf>,
    desktop_paths: Vec<PathBuf>,
    processes: Arc<dyn Processes>,
}

impl Identifier {
    /// An identifier for which `cli_paths` are the `keyport` CLI and `desktop_paths` the
    /// desktop window, reading the system's processes.
    pub fn new(cli_paths: Vec<PathBuf>, desktop_paths: Vec<PathBuf>) -> Self {
        Self::with_processes(cli_paths, desktop_paths, Arc::new(System))
    }

    /// [`Identifier::new`] reading processes from `processes`.
    pub fn with_processes(cli_paths: Vec<PathBuf>, desktop_paths: Vec<PathBuf>, processes: Arc<dyn Processes>) -> Self {
        Self { cli_paths, desktop_paths, processes }
    }

    /// What is known of a connection accepted from `pid`: who connected, judged.
    pub fn link(&self, pid: Option<u32>) -> Link {
        let accepted = self.processes.now();
        let connector = match pid {
            Some(pid) => self.processes.read(pid).and_then(|process| {
                if process.started > accepted {
                    Err(format!("process {pid} started after the connection was made (its pid was reused)"))
                } else {
                    Ok(process)
                }
            }),
            None => Err("the peer's process id is unknown".to_owned()),
        };
        let connector_asker = connector.as_ref().map_err(Clone::clone).and_then(|process| self.judge(process));
        Link { pid, connector, connector_asker }
    }

    /// The name a connection is counted under for the per-program limits.
    pub fn admission_key(&self, link: &Link) -> String {
        link.connector_asker.as_ref().map_or_else(|_| "unidentified".to_owned(), Asker::key)
    }

    /// The asker of a request written by `pid` on `link`: only the connector writes here.
    pub fn asker(&self, link: &Link, pid: u32) -> Result<(Asker, Hold), String> {
        if link.pid != Some(pid) {
            return Err(format!("process {pid} is not the process that opened this connection"));
        }
        Ok((link.connector_asker.clone()?, Hold::Connector))
    }

    /// Whether `program` is the `keyport` CLI.
    pub fn is_cli(&self, program: &Program) -> bool {
        matches!(program, Program::Path(path) if self.cli_paths.contains(path))
    }

    /// The rules: see the module documentation.
    fn judge(&self, process: &Process) -> Result<Asker, String> {
        if !process.same_user {
            return Err(format!("process {} runs as another user", process.pid));
        }
        if self.desktop_paths.contains(&process.exe) {
            return Ok(Asker::Window { pid: process.pid });
        }
        if !self.cli_paths.contains(&process.exe) {
            return Ok(Asker::Program { program: Program::Path(process.exe.clone()), delivery: Delivery::Connection });
        }
        // The CLI: the program that ran it, past the CLI's own processes.
        let mut child = process.clone();
        for _ in 0..=MAX_WRAPPERS {
            let parent_pid = child.parent.ok_or_else(|| format!("process {} has no known parent", child.pid))?;
            let parent =
                self.processes.read(parent_pid).map_err(|err| format!("the program that ran keyport: {err}"))?;
            if parent.started > child.started {
                return Err(format!(
                    "the program that ran keyport (process {parent_pid}) exited, and its pid now names another"
                ));
            }
            if !parent.same_user {
                return Err(format!("keyport was run by process {parent_pid} of another user"));
            }
            if !self.cli_paths.contains(&parent.exe) {
                let program = Program::Path(parent.exe);
                if self.desktop_paths.iter().any(|desktop| Program::Path(desktop.clone()) == program) {
                    return Ok(Asker::Window { pid: parent.pid });
                }
                return Ok(Asker::Program { program, delivery: Delivery::CliOutput });
            }
            child = parent;
        }
        Err(format!("keyport was run by keyport more than {MAX_WRAPPERS} times over"))
    }
}

impl Processes for System {
    #[cfg(target_os = "linux")]
    fn read(&self, pid: u32) -> Result<Process, String> {
        let stat = super::process::Stat::read(pid).map_err(|err| err.to_string())?;
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).map_err(|err| format!("process {pid}: {err}"))?;
        let owner = std::os::unix::fs::MetadataExt::uid(
            &std::fs::metadata(format!("/proc/{pid}")).map_err(|err| format!("process {pid}: {err}"))?,
        );
        Ok(Process {
            pid,
            exe,
            started: stat.start_time,
            parent: Some(stat.parent),
            same_user: owner == crate::transport::current_uid(),
        })
    }

    #[cfg(target_os = "linux")]
    fn now(&self) -> u64 {
        // Clock ticks after boot (USER_HZ, 100 a second), the unit of `/proc/PID/stat`'s start time.
        let uptime = std::fs::read_to_string("/proc/uptime").unwrap_or_default();
        let seconds: f64 = uptime.split_whitespace().next().and_then(|s| s.parse().ok()).unwrap_or(f64::MAX / 1e3);
        (seconds * 100.0).ceil() as u64
    }

    #[cfg(target_os = "macos")]
    fn read(&self, pid: u32) -> Result<Process, String> {
        darwin::read(pid)
    }

    #[cfg(target_os = "macos")]
    fn now(&self) -> u64 {
        micros_since_epoch()
    }

    #[cfg(windows)]
    fn read(&self, pid: u32) -> Result<Process, String> {
        use keyport_wire::local::windows::{ProcessImage, parent_pid};
        let image = ProcessImage::of(pid).map_err(|err| format!("process {pid}: {err}"))?;
        Ok(Process {
            pid,
            exe: image.path,
            started: image.started,
            parent: parent_pid(pid).ok(),
            same_user: image.same_user,
        })
    }

    #[cfg(windows)]
    fn now(&self) -> u64 {
        keyport_wire::local::windows::ProcessImage::now()
    }

    #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
    fn read(&self, pid: u32) -> Result<Process, String> {
        Err(format!("process {pid}: reading processes is not supported on this system"))
    }

    #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
    fn now(&self) -> u64 {
        0
    }
}

/// Microseconds since the Unix epoch: macOS's unit for process start times here.
#[cfg(target_os = "macos")]
fn micros_since_epoch() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
}

/// macOS's process calls (libproc). The only `unsafe` code of the identifier.
#[cfg(target_os = "macos")]
#[allow(unsafe_code)]
mod darwin {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::path::PathBuf;

    use super::Process;

    pub(super) fn read(pid: u32) -> Result<Process, String> {
        let raw = i32::try_from(pid).map_err(|_| format!("process {pid}: no such pid"))?;
        let mut path = vec![0u8; libc::PROC_PIDPATHINFO_MAXSIZE as usize];
        // SAFETY: the buffer is as long as the call is told.
        let len = unsafe { libc::proc_pidpath(raw, path.as_mut_ptr().cast(), path.len() as u32) };
        if len <= 0 {
            return Err(format!("process {pid}: {}", std::io::Error::last_os_error()));
        }
        path.truncate(len as usize);
        let mut info: libc::proc_bsdinfo = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::proc_bsdinfo>() as i32;
        // SAFETY: `info` is a proc_bsdinfo of `size` bytes, as PROC_PIDTBSDINFO fills.
        let filled = unsafe { libc::proc_pidinfo(raw, libc::PROC_PIDTBSDINFO, 0, (&raw mut info).cast(), size) };
        if filled != size {
            return Err(format!("process {pid}: {}", std::io::Error::last_os_error()));
        }
        let started = info.pbi_start_tvsec.saturating_mul(1_000_000).saturating_add(info.pbi_start_tvusec);
        Ok(Process {
            pid,
            exe: PathBuf::from(OsStr::from_bytes(&path)),
            started,
            parent: Some(info.pbi_ppid),
            same_user: info.pbi_uid == crate::transport::current_uid(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// Processes from a table, at a fixed time.
    #[derive(Debug, Default)]
    struct Table {
        processes: HashMap<u32, Process>,
        now: u64,
    }

    impl Processes for Table {
        fn read(&self, pid: u32) -> Result<Process, String> {
            self.processes.get(&pid).cloned().ok_or_else(|| format!("process {pid}: gone"))
        }
        fn now(&self) -> u64 {
            self.now
        }
    }

    fn process(pid: u32, exe: &str, started: u64, parent: Option<u32>) -> Process {
        Process { pid, exe: PathBuf::from(exe), started, parent, same_user: true }
    }

    const CLI: &str = "/Applications/Keyport.app/Contents/MacOS/keyport";
    const FULL: &str = "/Applications/Keyport.app/Contents/MacOS/keyport-full";
    const DESKTOP: &str = "/Applications/Keyport.app/Contents/MacOS/keyport-desktop";

    fn identifier(processes: Vec<Process>, now: u64) -> Identifier {
        let table = Table { processes: processes.into_iter().map(|p| (p.pid, p)).collect(), now };
        Identifier::with_processes(
            vec![PathBuf::from(CLI), PathBuf::from(FULL)],
            vec![PathBuf::from(DESKTOP)],
            Arc::new(table),
        )
    }

    fn program(path: &str, delivery: Delivery) -> Asker {
        Asker::Program { program: Program::Path(PathBuf::from(path)), delivery }
    }

    #[test]
    fn a_program_is_its_executable_and_the_window_is_the_installed_one() {
        let ids =
            identifier(vec![process(10, "/usr/local/bin/mbsync", 5, Some(1)), process(11, DESKTOP, 5, Some(1))], 9);
        let mail = ids.link(Some(10));
        assert_eq!(mail.connector_asker, Ok(program("/usr/local/bin/mbsync", Delivery::Connection)));
        assert_eq!(
            ids.asker(&mail, 10).unwrap(),
            (program("/usr/local/bin/mbsync", Delivery::Connection), Hold::Connector)
        );
        assert_eq!(ids.admission_key(&mail), "/usr/local/bin/mbsync");
        assert_eq!(ids.link(Some(11)).connector_asker, Ok(Asker::Window { pid: 11 }));
    }

    #[test]
    fn only_the_connector_writes_on_its_connection() {
        let ids = identifier(vec![process(10, "/usr/bin/git", 5, Some(1))], 9);
        let link = ids.link(Some(10));
        let err = ids.asker(&link, 12).unwrap_err();
        assert!(err.contains("not the process that opened"), "{err}");
    }

    #[test]
    fn another_user_an_unknown_pid_and_a_reused_pid_are_refused() {
        let mut theirs = process(10, "/usr/bin/git", 5, Some(1));
        theirs.same_user = false;
        let ids = identifier(vec![theirs, process(11, "/usr/bin/git", 20, Some(1))], 9);
        assert!(ids.link(Some(10)).connector_asker.unwrap_err().contains("another user"));
        assert!(ids.link(Some(11)).connector_asker.unwrap_err().contains("started after the connection"));
        assert!(ids.link(Some(12)).connector_asker.unwrap_err().contains("gone"));
        assert!(ids.link(None).connector_asker.unwrap_err().contains("unknown"));
        assert_eq!(ids.admission_key(&ids.link(Some(12))), "unidentified");
    }

    #[test]
    fn the_cli_speaks_for_the_program_that_ran_it_past_keyport_itself() {
        let ids = identifier(
            vec![
                process(1, "/sbin/launchd", 0, None),
                process(20, "/opt/homebrew/bin/mbsync", 3, Some(1)),
                process(21, CLI, 4, Some(20)),
                process(22, FULL, 5, Some(21)),
                process(30, DESKTOP, 3, Some(1)),
                process(31, FULL, 4, Some(30)),
            ],
            9,
        );
        assert_eq!(ids.link(Some(22)).connector_asker, Ok(program("/opt/homebrew/bin/mbsync", Delivery::CliOutput)));
        assert_eq!(ids.link(Some(21)).connector_asker, Ok(program("/opt/homebrew/bin/mbsync", Delivery::CliOutput)));
        assert_eq!(ids.link(Some(31)).connector_asker, Ok(Asker::Window { pid: 30 }));
        assert!(ids.is_cli(&Program::Path(PathBuf::from(CLI))));
        assert!(!ids.is_cli(&Program::Path(PathBuf::from(DESKTOP))));
    }

    #[test]
    fn a_cli_whose_parent_is_gone_or_replaced_is_refused() {
        let mut foreign = process(40, "/usr/bin/python3", 1, Some(1));
        foreign.same_user = false;
        let ids = identifier(
            vec![
                // The parent exited and its pid now names a later process.
                process(20, "/usr/bin/evil", 8, Some(1)),
                process(21, CLI, 4, Some(20)),
                // No such parent.
                process(23, CLI, 4, Some(99)),
                process(24, CLI, 4, None),
                foreign,
                process(41, CLI, 4, Some(40)),
            ],
            9,
        );
        assert!(ids.link(Some(21)).connector_asker.unwrap_err().contains("now names another"));
        assert!(ids.link(Some(23)).connector_asker.unwrap_err().contains("gone"));
        assert!(ids.link(Some(24)).connector_asker.unwrap_err().contains("no known parent"));
        assert!(ids.link(Some(41)).connector_asker.unwrap_err().contains("another user"));
    }

    #[test]
    fn a_loop_of_keyport_processes_ends() {
        let ids = identifier((100..110).map(|pid| process(pid, CLI, 1, Some(pid + 1))).collect(), 9);
        assert!(ids.link(Some(100)).connector_asker.unwrap_err().contains("more than"));
    }

    /// The real system, read the way macOS and Windows are (through `/proc` here).
    #[test]
    fn this_process_reads_as_a_program_of_this_user() {
        let ids = Identifier::new(Vec::new(), Vec::new());
        let link = ids.link(Some(std::process::id()));
        let me = std::env::current_exe().unwrap();
        assert_eq!(
            link.connector_asker,
            Ok(Asker::Program { program: Program::Path(me), delivery: Delivery::Connection })
        );
        assert!(link.connector.unwrap().unchanged());
        // The connector's parent is the test harness's (cargo, or Wine's loader): known.
        let parent = System.read(std::process::id()).unwrap().parent;
        assert!(parent.is_some());
    }
}
