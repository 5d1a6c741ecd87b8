//! Linux's [`Identifier`]: who wrote each request, through `/proc` and socket diagnostics
//! (see `peer/mod.rs` for the rules).

use std::path::{Path, PathBuf};

use super::interpreter::{self, Family, Operand};
use super::process::{FileId, Process, Sandbox};
use super::{Asker, Delivery, Hold, MAX_WRAPPERS, socket, terminal};
use crate::access::Program;

/// What is known about a connection from the moment it was accepted.
#[derive(Debug)]
pub struct Link {
    /// The process that connected (`SO_PEERCRED`), read at once.
    pub connector: Result<Process, String>,
    /// The inode of the client's end of the connection, when socket diagnostics work.
    pub client_socket: Option<u64>,
    /// The connector as the rules would judge it, read at once (without the checks that it
    /// holds the connection, which come with its first request).
    pub connector_asker: Result<Asker, String>,
}

impl Link {
    /// A connection whose process is not judged: one through a `keyport ssh` forward, where
    /// the process is the local `ssh` and the asker is the remote machine.
    pub fn unjudged() -> Self {
        let not = || "not judged: a connection through a forward".to_owned();
        Self { connector: Err(not()), client_socket: None, connector_asker: Err(not()) }
    }

    /// Finds the inode of the client's end of `stream` (socket diagnostics).
    pub fn find_client_socket(&mut self, stream: &impl std::os::fd::AsFd) {
        self.client_socket = socket::own_inode(stream).and_then(socket::peer_inode).ok();
    }
}

/// Identifies programs: knows which executables are the `keyport` CLI, and this service's
/// own mount namespace.
#[derive(Debug, Clone)]
pub struct Identifier {
    cli_paths: Vec<PathBuf>,
    desktop_paths: Vec<PathBuf>,
    mount_namespace: Option<String>,
}

impl Identifier {
    /// An identifier for which `cli_paths` are the `keyport` CLI and `desktop_paths` the
    /// desktop window.
    pub fn new(cli_paths: Vec<PathBuf>, desktop_paths: Vec<PathBuf>) -> Self {
        let mount_namespace = std::fs::read_link("/proc/self/ns/mnt").ok().map(|ns| ns.to_string_lossy().into_owned());
        Self { cli_paths, desktop_paths, mount_namespace }
    }

    /// The asker for a process running `program` that is not the CLI: the window, or a
    /// program judged by the rules. The window counts only as the very executable installed
    /// here, run directly (not as a script's interpreter) and in this mount namespace.
    fn direct_asker(&self, process: &Process, program: Program) -> Asker {
        let here = process.mount_namespace.is_some() && process.mount_namespace == self.mount_namespace;
        match &program {
            Program::Path(path) if here && *path == process.exe && self.desktop_paths.contains(path) => {
                Asker::Window { pid: process.pid }
            }
            _ => Asker::Program { program, delivery: Delivery::Connection },
        }
    }

    /// What is known of a connection accepted from `pid`, before it is admitted: who
    /// connected. [`Link::find_client_socket`] completes it once it is.
    pub fn link(&self, pid: Option<u32>) -> Link {
        // Not re-read to check that the pid still names the same process: the connector is only
        // trusted as the writer of a request when `same_program` finds the writer, read then, to
        // be the same process running the same executable, and the writer `unchanged()` after.
        let connector = match pid {
            Some(pid) => Process::read_unverified(pid).map_err(|err| err.to_string()),
            None => Err("the peer's process id is unknown".to_owned()),
        };
        let mut link = Link { connector, client_socket: None, connector_asker: Err("not identified yet".to_owned()) };
        link.connector_asker = self.connector_asker(&link);
        link
    }

    /// The program `process` runs, as the rules name it: its executable, or for an
    /// interpreter running a script file (`python3 ~/bin/sync-mail.py`, a shebang, a shim that
    /// `exec`s the interpreter), the script.
    pub fn program_of(&self, process: &Process) -> Result<Program, String> {
        if let Some(Sandbox::Snap(name)) = process.sandbox_snap() {
            return Ok(Program::Snap(name));
        }
        let script = Script::of(process);
        let here = process.mount_namespace.is_some() && process.mount_namespace == self.mount_namespace;
        if here {
            return Ok(Program::Path(match script {
                Some(script) => script.here()?,
                None => process.exe.clone(),
            }));
        }
        match process.sandbox() {
            Some(Sandbox::Flatpak(app)) => return Ok(Program::Flatpak(app)),
            Some(Sandbox::Snap(name)) => return Ok(Program::Snap(name)),
            _ => {}
        }
        // Another mount namespace (a service with a private /tmp, say): its path means the same
        // as here only if it is the same file.
        if !process.exe_deleted && process.exe_file.is_some() && process.exe_file == FileId::of(&process.exe) {
            return match script {
                None => Ok(Program::Path(process.exe.clone())),
                Some(script) if FileId::of(&script.path) == Some(script.file) => Ok(Program::Path(script.here()?)),
                Some(script) => Err(format!(
                    "process {} runs the script {} in another mount namespace, and it is not the file of that \
                     name on this machine",
                    process.pid,
                    script.path.display()
                )),
            };
        }
        if let Some(Sandbox::Container(name)) = process.sandbox() {
            let path = script.map_or_else(|| process.exe.clone(), |script| script.path);
            return Ok(Program::Container { name, path });
        }
        Err(format!(
            "process {} runs in another mount namespace, and its executable is not the file {} of this machine",
            process.pid,
            process.exe.display()
        ))
    }

    /// Whether `program` is the `keyport` CLI.
    pub fn is_cli(&self, program: &Program) -> bool {
        matches!(program, Program::Path(path) if self.cli_paths.contains(path))
    }

    /// The connector as the rules would judge it: its program (the CLI's parent for the CLI,
    /// or the person at the terminal). It reads only a few `/proc` files of the connecting
    /// process (not its descriptors), so refusing a connection stays cheap.
    fn connector_asker(&self, link: &Link) -> Result<Asker, String> {
        let connector = link.connector.as_ref().map_err(Clone::clone)?;
        let program = self.program_of(connector)?;
        if self.is_cli(&program) { self.cli_asker(connector) } else { Ok(self.direct_asker(connector, program)) }
    }

    /// The name a connection is counted under for the per-program limits.
    pub fn admission_key(&self, link: &Link) -> String {
        link.connector_asker.as_ref().map_or_else(|_| "unidentified".to_owned(), Asker::key)
    }

    /// Judges the process `pid` that wrote a request on the connection `link`.
    pub fn asker(&self, link: &Link, pid: u32) -> Result<(Asker, Hold), String> {
        // Verified by `writer.unchanged()` below, before anything read here is trusted.
        let writer = Process::read_unverified(pid).map_err(|err| err.to_string())?;
        let hold = self.holds(link, &writer)?;
        let asker = match (&link.connector, &link.connector_asker) {
            // The process that connected, unchanged since: judged when it connected (the CLI's
            // parent and where its output goes included).
            (Ok(connector), Ok(asker)) if same_program(connector, &writer) => asker.clone(),
            _ => {
                let program = self.program_of(&writer)?;
                if self.is_cli(&program) { self.cli_asker(&writer)? } else { self.direct_asker(&writer, program) }
            }
        };
        if !writer.unchanged() {
            return Err(format!("process {pid} changed while it was being identified"));
        }
        Ok((asker, hold))
    }

    /// Checks that `writer` holds the client end of the connection.
    fn holds(&self, link: &Link, writer: &Process) -> Result<Hold, String> {
        if let Some(inode) = link.client_socket {
            let target = format!("socket:[{inode}]");
            // A client's first descriptor after the standard three is usually its connection
            // (`keyport token`'s always is): looked at alone first, it spares listing them all.
            if writer.fd_flags_if_naming(3, &target).is_some_and(|flags| flags.close_on_exec()) {
                return Ok(Hold::CloseOnExec);
            }
            let descriptors = writer.fds_naming_until(&target, |flags| flags.close_on_exec());
            if descriptors.is_empty() {
                return Err(format!(
                    "process {} wrote the request but does not hold the connection any more",
                    writer.pid
                ));
            }
            if descriptors.iter().any(|flags| flags.close_on_exec()) {
                return Ok(Hold::CloseOnExec);
            }
        }
        match &link.connector {
            Ok(connector) if same_program(connector, writer) => Ok(Hold::Connector),
            _ => Err(format!(
                "process {} wrote on a connection it did not open, through a descriptor that stays open \
                 across exec; open the connection yourself, with close-on-exec (SOCK_CLOEXEC)",
                writer.pid
            )),
        }
    }

    /// Judges the `keyport` CLI process `cli`: the person at the terminal, or the program
    /// that ran it. Shells running a command string (`sh -c "keyport token work"`, as mail and
    /// git configurations do) are looked through, up to [`MAX_WRAPPERS`]: the program that
    /// gave them the command is the one asking, and the token must reach it.
    fn cli_asker(&self, cli: &Process) -> Result<Asker, String> {
        let mut runner = cli.parent().map_err(|err| format!("the program that ran keyport: {err}"))?;
        let mut wrappers = Vec::new();
        while wrappers.len() < MAX_WRAPPERS && runs_command_string(&runner) {
            let next =
                runner.parent().map_err(|err| format!("the program that ran {}: {err}", runner.exe.display()))?;
            wrappers.push(std::mem::replace(&mut runner, next));
        }
        if let Some(terminal) = terminal::person_at(cli, &runner) {
            return Ok(Asker::Person { terminal });
        }
        let program = self.program_of(&runner)?;
        let delivery = cli_delivery(cli, &runner);
        if let Some(changed) = wrappers.iter().chain([&runner]).find(|p| !p.unchanged()) {
            return Err(format!("process {} (which ran keyport) changed while being identified", changed.pid));
        }
        Ok(Asker::Program { program, delivery })
    }
}

/// Whether `process` is a shell running a command string (`sh -c "..."`).
fn runs_command_string(process: &Process) -> bool {
    process.exe.file_name().and_then(|n| n.to_str()).and_then(Family::of) == Some(Family::Shell)
        && interpreter::runs_command_string(&process.arguments())
}

/// A script an interpreter runs, found from its command line.
#[derive(Debug)]
struct Script {
    /// The script's absolute path, as the process sees it (in its mount namespace).
    path: PathBuf,
    /// The file the process sees at that path.
    file: FileId,
}

impl Script {
    /// The script `process` runs, when its executable is an interpreter given a script file
    /// that exists and is not itself an executable binary (`python3 /usr/bin/git` is not git).
    fn of(process: &Process) -> Option<Self> {
        let family = Family::of(process.exe.file_name()?.to_str()?)?;
        let Operand::Script(operand) = interpreter::script_operand(family, &process.arguments()) else {
            return None;
        };
        let path = if operand.starts_with('/') {
            PathBuf::from(&operand)
        } else {
            std::fs::read_link(format!("/proc/{}/cwd", process.pid)).ok()?.join(&operand)
        };
        // The file as the process sees it, through its own root.
        let seen = Path::new(&format!("/proc/{}/root", process.pid)).join(path.strip_prefix("/").ok()?);
        let file = std::fs::File::open(&seen).ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() {
            return None;
        }
        let mut magic = [0u8; 4];
        use std::io::Read;
        if (&file).take(4).read(&mut magic).ok() == Some(4) && magic == *b"\x7fELF" {
            return None;
        }
        use std::os::unix::fs::MetadataExt;
        Some(Self { path, file: FileId { dev: meta.dev(), ino: meta.ino() } })
    }

    /// The script's path on this machine (symlinks resolved, as `keyport allow` resolves what
    /// the user types), when it is the very file the process sees.
    fn here(self) -> Result<PathBuf, String> {
        let real = std::fs::canonicalize(&self.path).map_err(|err| format!("{}: {err}", self.path.display()))?;
        if FileId::of(&real) != Some(self.file) {
            return Err(format!("the script {} changed while being identified", self.path.display()));
        }
        Ok(real)
    }
}

/// Whether `later` is the process `earlier` was (same pid and start time) running the same
/// executable file.
fn same_program(earlier: &Process, later: &Process) -> bool {
    earlier.pid == later.pid
        && earlier.stat.start_time == later.stat.start_time
        && earlier.exe == later.exe
        && earlier.exe_file == later.exe_file
        && earlier.mount_namespace == later.mount_namespace
}

/// The device number of `/dev/null` (character device 1, 3).
const DEV_NULL: u64 = (1 << 8) | 3;

/// Where the CLI's standard output goes: to `parent` (a pipe it reads, or a socket it holds
/// the other end of), or elsewhere.
fn cli_delivery(cli: &Process, parent: &Process) -> Delivery {
    let Some(target) = cli.fd_target(1) else {
        return Delivery::Elsewhere("keyport's standard output is closed".into());
    };
    if target == "/dev/null" && cli.character_device_on(1) == Some(DEV_NULL) {
        return Delivery::Discarded;
    }
    let read_by_parent = if target.starts_with("pipe:[") {
        parent.fds_naming_until(&target, |flags| flags.readable()).iter().any(|flags| flags.readable())
    } else if let Some(inode) = target.strip_prefix("socket:[").and_then(|t| t.strip_suffix(']')) {
        inode
            .parse()
            .ok()
            .and_then(|inode| socket::peer_inode(inode).ok())
            .is_some_and(|peer| !parent.fds_naming_until(&format!("socket:[{peer}]"), |_| true).is_empty())
    } else {
        false
    };
    if read_by_parent {
        Delivery::CliOutput
    } else {
        Delivery::Elsewhere(format!(
            "keyport's output goes to {target}, not to the program that ran it ({})",
            parent.exe.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_a_program_of_this_machine() {
        let identifier = Identifier::new(Vec::new(), Vec::new());
        let me = Process::read(std::process::id()).unwrap();
        assert_eq!(identifier.program_of(&me).unwrap(), Program::Path(me.exe.clone()));
        assert!(!identifier.is_cli(&Program::Path(me.exe.clone())));
        assert!(Identifier::new(vec![me.exe.clone()], Vec::new()).is_cli(&Program::Path(me.exe)));
    }

    #[test]
    fn the_writer_must_hold_the_connection() {
        let identifier = Identifier::new(Vec::new(), Vec::new());
        let (server, client) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut link = identifier.link(Some(std::process::id()));
        link.find_client_socket(&server);
        assert!(link.client_socket.is_some(), "socket diagnostics work here");
        let (asker, hold) = identifier.asker(&link, std::process::id()).unwrap();
        assert_eq!(hold, Hold::CloseOnExec, "std opens sockets close-on-exec");
        assert!(matches!(asker, Asker::Program { delivery: Delivery::Connection, .. }));
        drop(client);
        let err = identifier.asker(&link, std::process::id()).unwrap_err();
        assert!(err.contains("does not hold the connection"), "{err}");
    }
}
