//! A process as the service sees it through `/proc`: its pid pinned with its start time, its
//! executable (path and file identity), its mount namespace and its terminal.
//!
//! Every reading is checked against pid reuse: `/proc/PID/stat` is read before and after the
//! other files, and a changed start time means the pid now names another process. Nothing here
//! decides who may do what; see `peer/mod.rs` and `access.rs`.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::ServiceError;

/// A file's identity on this machine: device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

impl FileId {
    /// The identity of the file at `path` (following symlinks).
    pub fn of(path: &Path) -> Option<Self> {
        std::fs::metadata(path).ok().map(|m| Self { dev: m.dev(), ino: m.ino() })
    }
}

/// What `/proc/PID/stat` says that matters here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Clock ticks after boot when the process started; with the pid, it names one process.
    pub start_time: u64,
    pub parent: u32,
    pub process_group: i32,
    /// The controlling terminal's device number (`tty_nr`), 0 when there is none.
    pub tty: u64,
    /// The terminal's foreground process group (`tpgid`), -1 when there is no terminal.
    pub foreground_group: i32,
}

impl Stat {
    /// Parses `/proc/PID/stat`. The command name (field 2) is in parentheses and may hold
    /// spaces and parentheses itself, so fields are counted from the last `)`.
    pub fn parse(text: &str) -> Option<Self> {
        let after_name = &text[text.rfind(')')? + 1..];
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        // After the name: state(3) ppid(4) pgrp(5) session(6) tty_nr(7) tpgid(8) ... starttime(22).
        let field = |n: usize| fields.get(n - 3).copied();
        Some(Self {
            parent: field(4)?.parse().ok()?,
            process_group: field(5)?.parse().ok()?,
            tty: field(7)?.parse::<i64>().ok().and_then(|tty| u64::try_from(tty).ok())?,
            foreground_group: field(8)?.parse().ok()?,
            start_time: field(22)?.parse().ok()?,
        })
    }

    /// Reads the stat of `pid`.
    pub fn read(pid: u32) -> Result<Self, ServiceError> {
        let bytes = read_proc_file(&format!("/proc/{pid}/stat"))
            .map_err(|err| ServiceError::PeerUnknown(format!("process {pid}: {err}")))?;
        std::str::from_utf8(&bytes)
            .ok()
            .and_then(Self::parse)
            .ok_or_else(|| ServiceError::PeerUnknown(format!("process {pid}: unreadable stat")))
    }
}

/// One process, read from `/proc` at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    pub stat: Stat,
    /// The executable's path as the kernel names it, without a ` (deleted)` suffix.
    pub exe: PathBuf,
    /// Whether the executable file was deleted or replaced since the process started it.
    pub exe_deleted: bool,
    /// The running executable's identity (through `/proc/PID/exe`, whatever its namespace).
    pub exe_file: Option<FileId>,
    /// The mount namespace (`/proc/PID/ns/mnt`): paths only mean the same as ours inside ours.
    pub mount_namespace: Option<String>,
}

impl Process {
    /// Reads `pid`, or fails when it is gone, cannot be read (another user's, or a
    /// non-dumpable process), or its pid was reused while reading.
    pub fn read(pid: u32) -> Result<Self, ServiceError> {
        let process = Self::read_unverified(pid)?;
        process.check_same()?;
        Ok(process)
    }

    /// [`Process::read`] without its closing check that `pid` still names the process whose
    /// stat was read first: for callers that ask [`Process::unchanged`] (the same check, and
    /// more) before they trust what they read, so that the stat is not read twice in a row.
    pub(crate) fn read_unverified(pid: u32) -> Result<Self, ServiceError> {
        let stat = Stat::read(pid)?;
        let link = std::fs::read_link(format!("/proc/{pid}/exe"))
            .map_err(|err| ServiceError::PeerUnknown(format!("process {pid}: {err}")))?;
        let (exe, exe_deleted) = strip_deleted(&link);
        let exe_file = FileId::of(Path::new(&format!("/proc/{pid}/exe")));
        let mount_namespace =
            std::fs::read_link(format!("/proc/{pid}/ns/mnt")).ok().map(|ns| ns.to_string_lossy().into_owned());
        Ok(Self { pid, stat, exe, exe_deleted, exe_file, mount_namespace })
    }

    /// Fails unless `pid` still names this process (same start time).
    pub fn check_same(&self) -> Result<(), ServiceError> {
        let now = Stat::read(self.pid)?;
        if now.start_time != self.stat.start_time {
            return Err(ServiceError::PeerUnknown(format!("process {} exited while being identified", self.pid)));
        }
        Ok(())
    }

    /// Whether this process still runs the executable it ran when read (no `exec` since, as
    /// far as `/proc` shows) and is the same process.
    pub fn unchanged(&self) -> bool {
        let Ok(now) = Stat::read(self.pid) else { return false };
        if now.start_time != self.stat.start_time {
            return false;
        }
        let Ok(link) = std::fs::read_link(format!("/proc/{}/exe", self.pid)) else { return false };
        strip_deleted(&link).0 == self.exe && FileId::of(Path::new(&format!("/proc/{}/exe", self.pid))) == self.exe_file
    }

    /// The parent process.
    pub fn parent(&self) -> Result<Self, ServiceError> {
        Self::read(self.stat.parent)
    }

    /// The process's arguments (`/proc/PID/cmdline`), lossily decoded.
    pub fn arguments(&self) -> Vec<String> {
        read_proc_file(&format!("/proc/{}/cmdline", self.pid))
            .map(|bytes| {
                bytes
                    .split(|b| *b == 0)
                    .filter(|a| !a.is_empty())
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The device number of the character device open as file descriptor `fd`, if it is one.
    pub fn character_device_on(&self, fd: u32) -> Option<u64> {
        let meta = std::fs::metadata(format!("/proc/{}/fd/{fd}", self.pid)).ok()?;
        use std::os::unix::fs::FileTypeExt;
        meta.file_type().is_char_device().then(|| meta.rdev())
    }

    /// What file descriptor `fd` refers to, as `/proc/PID/fd/FD` names it (`pipe:[123]`,
    /// `socket:[456]`, `/dev/pts/3`...).
    pub fn fd_target(&self, fd: u32) -> Option<String> {
        std::fs::read_link(format!("/proc/{}/fd/{fd}", self.pid)).ok().map(|t| t.to_string_lossy().into_owned())
    }

    /// The flags of every open file descriptor of this process naming `target` (such as
    /// `socket:[456]` or `pipe:[123]`), from `/proc/PID/fdinfo/FD`.
    pub fn fds_naming(&self, target: &str) -> Vec<FdFlags> {
        self.fds_naming_until(target, |_| false)
    }

    /// [`Process::fds_naming`], stopping at the first descriptor whose flags satisfy `enough`
    /// (then the last one in the list). Descriptors are looked at from the highest number
    /// down: the socket a client just opened, or the pipe a program just made for a child's
    /// output, is usually its newest descriptor, and a mail client may hold hundreds (one
    /// `readlink` each).
    pub fn fds_naming_until(&self, target: &str, enough: impl Fn(FdFlags) -> bool) -> Vec<FdFlags> {
        let Ok(dir) = std::fs::read_dir(format!("/proc/{}/fd", self.pid)) else { return Vec::new() };
        let mut numbers: Vec<u32> =
            dir.flatten().filter_map(|entry| entry.file_name().to_str().and_then(|name| name.parse().ok())).collect();
        numbers.sort_unstable_by(|a, b| b.cmp(a));
        let mut found = Vec::new();
        for fd in numbers {
            if let Some(flags) = self.fd_flags_if_naming(fd, target) {
                found.push(flags);
                if enough(flags) {
                    break;
                }
            }
        }
        found
    }

    /// The flags of file descriptor `fd` if it is open and names `target`.
    pub fn fd_flags_if_naming(&self, fd: u32, target: &str) -> Option<FdFlags> {
        if self.fd_target(fd).as_deref() != Some(target) {
            return None;
        }
        let info = read_proc_file(&format!("/proc/{}/fdinfo/{fd}", self.pid)).ok()?;
        FdFlags::parse(std::str::from_utf8(&info).ok()?)
    }

    /// The Snap the process belongs to, by its AppArmor label (cheap: one small read).
    pub fn sandbox_snap(&self) -> Option<Sandbox> {
        self.apparmor_label().as_deref().and_then(snap_name).map(|name| Sandbox::Snap(name.to_owned()))
    }

    /// The sandbox the process runs in, if its own metadata says so (see [`Sandbox`]).
    pub fn sandbox(&self) -> Option<Sandbox> {
        if let Some(snap) = self.sandbox_snap() {
            return Some(snap);
        }
        let root = PathBuf::from(format!("/proc/{}/root", self.pid));
        if let Some(app) = std::fs::read_to_string(root.join(".flatpak-info")).ok().as_deref().and_then(flatpak_app) {
            return Some(Sandbox::Flatpak(app));
        }
        if let Some(name) =
            std::fs::read_to_string(root.join("run/.containerenv")).ok().as_deref().and_then(container_name)
        {
            return Some(Sandbox::Container(name));
        }
        None
    }

    fn apparmor_label(&self) -> Option<String> {
        let file = label_file()?;
        let label = read_proc_file(&format!("/proc/{}/{file}", self.pid)).ok()?;
        Some(String::from_utf8_lossy(&label).trim_end_matches(['\n', '\0']).to_owned())
    }
}

/// The `/proc/PID/` file that holds a process's security label on this kernel
/// (`attr/apparmor/current`, or `attr/current` before Linux 5.8), found once by reading this
/// process's own; `None` when neither can be read, as on a kernel without AppArmor, where no
/// process has a label (no Snap is confined) and looking for one cost every identification two
/// failed reads.
fn label_file() -> Option<&'static str> {
    static FILE: std::sync::OnceLock<Option<&'static str>> = std::sync::OnceLock::new();
    *FILE.get_or_init(|| {
        ["attr/apparmor/current", "attr/current"]
            .into_iter()
            .find(|file| read_proc_file(&format!("/proc/self/{file}")).is_ok())
    })
}

/// Reads a small `/proc` file whole, into one buffer. procfs reports a size of 0, so
/// `std::fs::read_to_string` asked for the file's size and position and read it 32 bytes at a
/// time: nine system calls for `/proc/PID/stat` where four do (open, read, the read that sees
/// the end, close).
fn read_proc_file(path: &str) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut bytes = vec![0; 1024];
    let mut filled = 0;
    loop {
        if filled == bytes.len() {
            bytes.resize(filled * 2, 0);
        }
        match file.read(&mut bytes[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    bytes.truncate(filled);
    Ok(bytes)
}

/// Flags of an open file descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdFlags(u32);

impl FdFlags {
    const CLOSE_ON_EXEC: u32 = 0o2_000_000;
    const ACCESS_MODE: u32 = 0o3;
    const WRITE_ONLY: u32 = 0o1;

    /// Reads the octal `flags:` line of `/proc/PID/fdinfo/FD`.
    pub fn parse(fdinfo: &str) -> Option<Self> {
        let line = fdinfo.lines().find_map(|line| line.strip_prefix("flags:"))?;
        u32::from_str_radix(line.trim(), 8).ok().map(Self)
    }

    /// Whether the descriptor closes when the process runs another program (`O_CLOEXEC`): such
    /// a descriptor cannot have been inherited across an `exec`.
    pub fn close_on_exec(self) -> bool {
        self.0 & Self::CLOSE_ON_EXEC != 0
    }

    /// Whether it can be read from (`O_RDONLY` or `O_RDWR`).
    pub fn readable(self) -> bool {
        self.0 & Self::ACCESS_MODE != Self::WRITE_ONLY
    }
}

/// A sandbox whose own metadata names the program in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sandbox {
    /// A Snap: the snap's name, from its AppArmor label (`snap.NAME.APP`), which an
    /// unprivileged process cannot choose.
    Snap(String),
    /// A Flatpak app: its id, from `/.flatpak-info` in its mount namespace.
    Flatpak(String),
    /// A container (podman, toolbox): its name, from `/run/.containerenv`.
    Container(String),
}

/// `/proc/PID/exe` of a replaced or deleted binary reads `/usr/bin/x (deleted)`.
fn strip_deleted(path: &Path) -> (PathBuf, bool) {
    let text = path.to_string_lossy();
    match text.strip_suffix(" (deleted)") {
        Some(kept) => (PathBuf::from(kept), true),
        None => (path.to_owned(), false),
    }
}

/// `snap.thunderbird.thunderbird (enforce)` → `thunderbird`.
pub(crate) fn snap_name(label: &str) -> Option<&str> {
    let name = label.strip_prefix("snap.")?.split(['.', ' ']).next()?;
    valid_id(name).then_some(name)
}

/// The `name=` of the `[Application]` group of a `.flatpak-info` key file.
pub(crate) fn flatpak_app(info: &str) -> Option<String> {
    let mut in_application = false;
    for line in info.lines().map(str::trim) {
        if line.starts_with('[') {
            in_application = line == "[Application]";
        } else if in_application && let Some(name) = line.strip_prefix("name=") {
            return valid_id(name).then(|| name.to_owned());
        }
    }
    None
}

/// The `name="..."` line of podman's `/run/.containerenv`.
pub(crate) fn container_name(env: &str) -> Option<String> {
    let name = env.lines().find_map(|line| line.strip_prefix("name="))?.trim_matches('"');
    valid_id(name).then(|| name.to_owned())
}

/// Sandbox names are shown to the user and stored in rules: printable, short, no separators.
fn valid_id(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        let text = "1234 (a) b) (c) S 1 1234 1234 34816 1300 4194304 1 2 3 4 5 6 7 8 20 0 1 0 987654 1 2";
        let stat = Stat::parse(text).unwrap();
        assert_eq!(stat.parent, 1);
        assert_eq!(stat.process_group, 1234);
        assert_eq!(stat.tty, 34816);
        assert_eq!(stat.foreground_group, 1300);
        assert_eq!(stat.start_time, 987654);
        assert!(Stat::parse("1 (x) S 1").is_none());
        let no_terminal = "1 (x) S 0 1 1 0 -1 4194304 1 2 3 4 5 6 7 8 20 0 1 0 5 1 2";
        assert_eq!(Stat::parse(no_terminal).unwrap().foreground_group, -1);
    }

    #[test]
    fn this_process_reads_as_itself_and_is_unchanged() {
        let me = Process::read(std::process::id()).unwrap();
        let exe = std::fs::canonicalize(std::env::current_exe().unwrap()).unwrap();
        assert_eq!(me.exe, exe);
        assert!(!me.exe_deleted);
        assert_eq!(me.exe_file, FileId::of(&exe));
        assert!(me.unchanged());
        assert!(me.mount_namespace.as_deref().is_some_and(|ns| ns.starts_with("mnt:[")));
        assert!(me.parent().is_ok());
        assert!(Process::read(u32::MAX).is_err());
    }

    #[test]
    fn descriptor_flags_tell_close_on_exec_and_direction() {
        let (reader, writer) = std::io::pipe().unwrap();
        let me = Process::read(std::process::id()).unwrap();
        use std::os::fd::AsRawFd;
        let target = me.fd_target(reader.as_raw_fd() as u32).unwrap();
        assert!(target.starts_with("pipe:["), "{target}");
        // Both ends name the same pipe.
        let flags = me.fds_naming(&target);
        assert_eq!(flags.len(), 2);
        assert!(flags.iter().all(|f| f.close_on_exec()), "std opens pipes with O_CLOEXEC");
        assert_eq!(flags.iter().filter(|f| f.readable()).count(), 1);
        let read_info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", reader.as_raw_fd())).unwrap();
        let write_info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", writer.as_raw_fd())).unwrap();
        assert!(FdFlags::parse(&read_info).unwrap().readable());
        assert!(!FdFlags::parse(&write_info).unwrap().readable());
        assert!(me.fds_naming("socket:[0]").is_empty());
    }

    #[test]
    fn sandbox_metadata_is_parsed_strictly() {
        assert_eq!(snap_name("snap.thunderbird.thunderbird (enforce)"), Some("thunderbird"));
        assert_eq!(snap_name("unconfined"), None);
        assert_eq!(snap_name("snap./etc/passwd"), None);
        let info = "[Application]\nname=org.mozilla.Thunderbird\nruntime=runtime/x\n[Instance]\nname=evil\n";
        assert_eq!(flatpak_app(info).as_deref(), Some("org.mozilla.Thunderbird"));
        assert_eq!(flatpak_app("[Instance]\nname=x\n"), None);
        assert_eq!(flatpak_app("[Application]\nname=a b\n"), None);
        assert_eq!(
            container_name("engine=\"podman-4\"\nname=\"fedora-toolbox-40\"\n").as_deref(),
            Some("fedora-toolbox-40")
        );
        assert_eq!(container_name("name=\"../x\"\n"), None);
    }
}
