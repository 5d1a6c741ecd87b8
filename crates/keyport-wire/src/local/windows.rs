//! Windows: the named pipe's both ends, and the few system calls that say who is on the other
//! end. The only `unsafe` code of the transport lives here, each call with what makes it sound.
//!
//! - Clients open the pipe with `SECURITY_IDENTIFICATION` and check, before writing, that the
//!   serving process runs as their own user ([`check_server`]).
//! - The service creates each instance with a protected DACL that grants the current user
//!   alone (`D:P(A;;GA;;;SID)`), refuses remote clients, and creates the first instance with
//!   `FILE_FLAG_FIRST_PIPE_INSTANCE`, so a pipe someone made first stops it instead of being
//!   shared ([`PipeServers`], feature `tokio`).
//! - A client is named by its process id ([`client_pid`]) and that process's image path; the
//!   process must have started before the connection was accepted ([`ProcessImage`]), so a
//!   pid reused by a later process is not taken for the client.
//!
//! Type-checked, not yet run (README, "Platforms").
#![allow(unsafe_code)]

use std::ffi::OsString;
use std::io;
use std::os::windows::ffi::OsStringExt;
use std::os::windows::io::{AsRawHandle, RawHandle};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use windows_sys::Win32::Foundation::{CloseHandle, ERROR_PIPE_BUSY, FILETIME, HANDLE, LocalFree};
use windows_sys::Win32::Security::Authorization::ConvertSidToStringSidW;
use windows_sys::Win32::Security::{EqualSid, GetTokenInformation, TOKEN_QUERY, TOKEN_USER, TokenUser};
use windows_sys::Win32::Storage::FileSystem::SECURITY_IDENTIFICATION;
use windows_sys::Win32::System::Pipes::{GetNamedPipeClientProcessId, GetNamedPipeServerProcessId};
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, GetProcessTimes, OpenProcess, OpenProcessToken, PROCESS_NAME_WIN32,
    PROCESS_QUERY_LIMITED_INFORMATION, QueryFullProcessImageNameW,
};

/// A handle closed when dropped.
struct Owned(HANDLE);

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: the handle was returned open by the system and is closed once, here.
        unsafe { CloseHandle(self.0) };
    }
}

fn last_error() -> io::Error {
    io::Error::last_os_error()
}

/// Opens `pid` for querying; fails when it is gone or not ours to query.
fn open_process(pid: u32) -> io::Result<Owned> {
    // SAFETY: plain call; a null result is an error, reported below.
    let handle = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    if handle.is_null() { Err(last_error()) } else { Ok(Owned(handle)) }
}

/// The user SID of a process token, as bytes (a `TOKEN_USER` buffer).
fn token_user(process: HANDLE) -> io::Result<Vec<u8>> {
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: `token` is a valid out pointer; the handle it receives is owned below.
    if unsafe { OpenProcessToken(process, TOKEN_QUERY, &mut token) } == 0 {
        return Err(last_error());
    }
    let token = Owned(token);
    let mut needed = 0u32;
    // SAFETY: a size query (null buffer, zero length) that writes only `needed`.
    unsafe { GetTokenInformation(token.0, TokenUser, std::ptr::null_mut(), 0, &mut needed) };
    if needed == 0 || needed > 4096 {
        return Err(io::Error::other("unexpected token information size"));
    }
    let mut buffer = vec![0u8; needed as usize];
    // SAFETY: the buffer is `needed` bytes long, as the call was told.
    if unsafe { GetTokenInformation(token.0, TokenUser, buffer.as_mut_ptr().cast(), needed, &mut needed) } == 0 {
        return Err(last_error());
    }
    Ok(buffer)
}

/// Whether the process behind `process` runs as the same user as this one.
fn same_user(process: HANDLE) -> io::Result<bool> {
    let theirs = token_user(process)?;
    // SAFETY: the pseudo-handle of the current process needs no closing.
    let mine = token_user(unsafe { GetCurrentProcess() })?;
    // SAFETY: both buffers hold a TOKEN_USER written by the system, whose SID pointer points
    // into the same buffer, alive for this call.
    let equal = unsafe {
        let theirs = &*theirs.as_ptr().cast::<TOKEN_USER>();
        let mine = &*mine.as_ptr().cast::<TOKEN_USER>();
        EqualSid(theirs.User.Sid, mine.User.Sid)
    };
    Ok(equal != 0)
}

/// Whether the process `pid` runs as this user.
pub fn runs_as_current_user(pid: u32) -> io::Result<bool> {
    same_user(open_process(pid)?.0)
}

/// The current user's SID in its string form (`S-1-5-21-…`), for a DACL.
pub fn current_user_sid() -> io::Result<String> {
    // SAFETY: the pseudo-handle of the current process needs no closing.
    let buffer = token_user(unsafe { GetCurrentProcess() })?;
    let mut text: *mut u16 = std::ptr::null_mut();
    // SAFETY: the TOKEN_USER's SID points into `buffer`, alive for this call; `text` receives
    // a LocalAlloc'd string, freed below after it is copied.
    let converted = unsafe {
        let user = &*buffer.as_ptr().cast::<TOKEN_USER>();
        ConvertSidToStringSidW(user.User.Sid, &mut text)
    };
    if converted == 0 || text.is_null() {
        return Err(last_error());
    }
    // SAFETY: the system wrote a NUL-terminated string at `text`.
    let sid = unsafe {
        let len = (0..).take_while(|&i| *text.add(i) != 0).count();
        String::from_utf16_lossy(std::slice::from_raw_parts(text, len))
    };
    // SAFETY: `text` came from LocalAlloc (ConvertSidToStringSidW's contract) and is freed once.
    unsafe { LocalFree(text.cast()) };
    Ok(sid)
}

/// The SDDL of the pipe's security descriptor: a protected DACL granting the user `sid` all
/// access, and nobody else anything.
pub fn pipe_sddl(sid: &str) -> String {
    format!("D:P(A;;GA;;;{sid})")
}

/// The process id of the client of the pipe `pipe` (the server's end).
pub fn client_pid(pipe: &impl AsRawHandle) -> io::Result<u32> {
    let mut pid = 0u32;
    // SAFETY: the handle is a pipe's, alive for the call; `pid` is a valid out pointer.
    if unsafe { GetNamedPipeClientProcessId(pipe.as_raw_handle() as HANDLE, &mut pid) } == 0 {
        return Err(last_error());
    }
    Ok(pid)
}

/// The process id of the server of the pipe `pipe` (a client's end).
fn server_pid(pipe: RawHandle) -> io::Result<u32> {
    let mut pid = 0u32;
    // SAFETY: the handle is a pipe's, alive for the call; `pid` is a valid out pointer.
    if unsafe { GetNamedPipeServerProcessId(pipe as HANDLE, &mut pid) } == 0 {
        return Err(last_error());
    }
    Ok(pid)
}

/// How long a client waits for a free instance of a busy pipe before giving up.
pub const BUSY_WAIT: Duration = Duration::from_secs(2);

/// Checks that the process serving the pipe that `pipe` (a client's end) reached runs as this
/// user; one of another user, or one that could not be asked, is refused before a byte is sent.
pub fn check_server(pipe: &impl AsRawHandle, address: &Path) -> io::Result<()> {
    match server_pid(pipe.as_raw_handle()).and_then(runs_as_current_user) {
        Ok(true) => Ok(()),
        Ok(false) | Err(_) => Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{} is served by a process of another user; not talking to it", address.display()),
        )),
    }
}

/// A process as the service names it: its image's full path, and when it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessImage {
    pub pid: u32,
    pub path: PathBuf,
    /// The process's creation time (100 ns since 1601, as Windows counts).
    pub started: u64,
    /// Whether the process runs as this user.
    pub same_user: bool,
}

impl ProcessImage {
    /// Reads the process `pid`.
    pub fn of(pid: u32) -> io::Result<Self> {
        let process = open_process(pid)?;
        let mut buffer = vec![0u16; 32 * 1024];
        let mut len = buffer.len() as u32;
        // SAFETY: `buffer` holds `len` UTF-16 units, as the call is told.
        if unsafe { QueryFullProcessImageNameW(process.0, PROCESS_NAME_WIN32, buffer.as_mut_ptr(), &mut len) } == 0 {
            return Err(last_error());
        }
        buffer.truncate(len as usize);
        let zero = FILETIME { dwLowDateTime: 0, dwHighDateTime: 0 };
        let (mut created, mut exited, mut kernel, mut user) = (zero, zero, zero, zero);
        // SAFETY: four valid out pointers; the handle is alive.
        if unsafe { GetProcessTimes(process.0, &mut created, &mut exited, &mut kernel, &mut user) } == 0 {
            return Err(last_error());
        }
        let started = (u64::from(created.dwHighDateTime) << 32) | u64::from(created.dwLowDateTime);
        Ok(Self { pid, path: PathBuf::from(OsString::from_wide(&buffer)), started, same_user: same_user(process.0)? })
    }

    /// The current time as Windows counts process start times.
    pub fn now() -> u64 {
        let since_unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        // 1601-01-01 to 1970-01-01, in 100 ns units.
        116_444_736_000_000_000u64.saturating_add(u64::try_from(since_unix.as_nanos() / 100).unwrap_or(u64::MAX))
    }
}

/// The process id of the process that started `pid` (which may have exited since: compare
/// start times before trusting it).
pub fn parent_pid(pid: u32) -> io::Result<u32> {
    use windows_sys::Win32::Foundation::INVALID_HANDLE_VALUE;
    use windows_sys::Win32::System::Diagnostics::ToolHelp::{
        CreateToolhelp32Snapshot, PROCESSENTRY32W, Process32FirstW, Process32NextW, TH32CS_SNAPPROCESS,
    };
    // SAFETY: plain call; an invalid handle is an error, reported below.
    let snapshot = unsafe { CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0) };
    if snapshot == INVALID_HANDLE_VALUE {
        return Err(last_error());
    }
    let snapshot = Owned(snapshot);
    // SAFETY: PROCESSENTRY32W is plain data; zero is a valid value before dwSize is set.
    let mut entry: PROCESSENTRY32W = unsafe { std::mem::zeroed() };
    entry.dwSize = std::mem::size_of::<PROCESSENTRY32W>() as u32;
    // SAFETY: `entry` is a PROCESSENTRY32W with its size set, as both calls require.
    let mut found = unsafe { Process32FirstW(snapshot.0, &mut entry) };
    while found != 0 {
        if entry.th32ProcessID == pid {
            return Ok(entry.th32ParentProcessID);
        }
        // SAFETY: as above.
        found = unsafe { Process32NextW(snapshot.0, &mut entry) };
    }
    Err(io::Error::new(io::ErrorKind::NotFound, format!("process {pid} is not running")))
}

/// Waits until the pipe `pipe` has bytes to read or is closed, for at most `timeout`
/// (`TimedOut` then): a synchronous pipe read has no timeout of its own.
pub(super) fn wait_readable(pipe: &std::fs::File, timeout: std::time::Duration) -> io::Result<()> {
    use windows_sys::Win32::System::Pipes::PeekNamedPipe;
    let deadline = Instant::now() + timeout;
    loop {
        let mut available = 0u32;
        // SAFETY: a peek with no buffer that writes only `available`; the handle is alive.
        let peeked = unsafe {
            PeekNamedPipe(
                pipe.as_raw_handle() as HANDLE,
                std::ptr::null_mut(),
                0,
                std::ptr::null_mut(),
                &mut available,
                std::ptr::null_mut(),
            )
        };
        // A failed peek is a closed or broken pipe: the read reports it.
        if peeked == 0 || available > 0 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"));
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Whether a pipe named `address` exists (served, its instances free or busy), without
/// opening an instance of it.
pub(super) fn exists(address: &Path) -> bool {
    use std::os::windows::ffi::OsStrExt;
    use windows_sys::Win32::Foundation::{ERROR_FILE_NOT_FOUND, GetLastError};
    use windows_sys::Win32::System::Pipes::WaitNamedPipeW;
    let name: Vec<u16> = address.as_os_str().encode_wide().chain([0]).collect();
    // SAFETY: `name` is NUL-terminated UTF-16, alive for the call; 1 ms is the shortest wait.
    if unsafe { WaitNamedPipeW(name.as_ptr(), 1) } != 0 {
        return true;
    }
    // SAFETY: plain call, right after the failed one.
    unsafe { GetLastError() != ERROR_FILE_NOT_FOUND }
}

/// Opens the pipe at `address` as a client, waiting up to [`BUSY_WAIT`] for a free instance,
/// and checks its server.
pub(super) fn connect(address: &Path) -> io::Result<std::fs::File> {
    use std::os::windows::fs::OpenOptionsExt;
    let deadline = Instant::now() + BUSY_WAIT;
    let file = loop {
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .security_qos_flags(SECURITY_IDENTIFICATION)
            .open(address)
        {
            Ok(file) => break file,
            Err(err) if err.raw_os_error() == Some(ERROR_PIPE_BUSY as i32) && Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(err) => return Err(err),
        }
    };
    check_server(&file, address)?;
    Ok(file)
}

/// [`connect`], for tokio.
#[cfg(feature = "tokio")]
pub(super) async fn connect_async(address: &Path) -> io::Result<tokio::net::windows::named_pipe::NamedPipeClient> {
    let deadline = Instant::now() + BUSY_WAIT;
    let client = loop {
        match tokio::net::windows::named_pipe::ClientOptions::new()
            .security_qos_flags(SECURITY_IDENTIFICATION)
            .open(address)
        {
            Ok(client) => break client,
            Err(err) if err.raw_os_error() == Some(ERROR_PIPE_BUSY as i32) && Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(err) => return Err(err),
        }
    };
    check_server(&client, address)?;
    Ok(client)
}

/// The service's pipe instances: each accepted client takes one, and a new one is created to
/// wait for the next (named pipes have no listening socket).
#[cfg(feature = "tokio")]
#[derive(Debug)]
pub struct PipeServers {
    name: PathBuf,
    sddl: Vec<u16>,
    next: tokio::net::windows::named_pipe::NamedPipeServer,
}

#[cfg(feature = "tokio")]
impl PipeServers {
    /// Creates the first instance of the pipe `name`; fails when the pipe exists already
    /// (another service of this user, or someone else's pipe of that name).
    pub fn create(name: &Path) -> io::Result<Self> {
        let sddl: Vec<u16> = pipe_sddl(&current_user_sid()?).encode_utf16().chain([0]).collect();
        let next = create_instance(name, &sddl, true)?;
        Ok(Self { name: name.to_owned(), sddl, next })
    }

    /// Waits for a client; returns its end of the pipe, with a new instance waiting for the next.
    pub async fn accept(&mut self) -> io::Result<tokio::net::windows::named_pipe::NamedPipeServer> {
        self.next.connect().await?;
        let fresh = create_instance(&self.name, &self.sddl, false)?;
        Ok(std::mem::replace(&mut self.next, fresh))
    }
}

/// One instance of the pipe, with the DACL `sddl` (NUL-terminated UTF-16).
#[cfg(feature = "tokio")]
fn create_instance(
    name: &Path,
    sddl: &[u16],
    first: bool,
) -> io::Result<tokio::net::windows::named_pipe::NamedPipeServer> {
    use windows_sys::Win32::Security::Authorization::{
        ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
    };
    use windows_sys::Win32::Security::SECURITY_ATTRIBUTES;
    let mut descriptor: *mut core::ffi::c_void = std::ptr::null_mut();
    // SAFETY: `sddl` is NUL-terminated UTF-16; `descriptor` receives a LocalAlloc'd security
    // descriptor, freed below once the instance exists.
    let converted = unsafe {
        ConvertStringSecurityDescriptorToSecurityDescriptorW(
            sddl.as_ptr(),
            SDDL_REVISION_1,
            &mut descriptor,
            std::ptr::null_mut(),
        )
    };
    if converted == 0 || descriptor.is_null() {
        return Err(last_error());
    }
    let mut attributes = SECURITY_ATTRIBUTES {
        nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: descriptor,
        bInheritHandle: 0,
    };
    let mut options = tokio::net::windows::named_pipe::ServerOptions::new();
    options.first_pipe_instance(first).reject_remote_clients(true);
    // SAFETY: `attributes` is a valid SECURITY_ATTRIBUTES whose descriptor stays alive until
    // after the call returns.
    let created = unsafe { options.create_with_security_attributes_raw(name, (&raw mut attributes).cast()) };
    // SAFETY: allocated by ConvertStringSecurityDescriptorToSecurityDescriptorW, freed once.
    unsafe { LocalFree(descriptor) };
    created
}

// Run on Windows, or under Wine on Linux (`contrib/cross-check`).
#[cfg(all(test, feature = "tokio"))]
mod tests {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicU32, Ordering};

    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    use super::*;

    /// A pipe name of its own for each test.
    fn unique_name() -> PathBuf {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        PathBuf::from(format!(r"\\.\pipe\keyport-test-{}-{n}", std::process::id()))
    }

    #[test]
    fn the_pipes_dacl_names_the_current_user_alone() {
        let sid = current_user_sid().unwrap();
        assert!(sid.starts_with("S-1-"), "{sid}");
        assert_eq!(pipe_sddl(&sid), format!("D:P(A;;GA;;;{sid})"));
    }

    #[test]
    fn this_process_reads_as_itself() {
        let me = ProcessImage::of(std::process::id()).unwrap();
        let exe = std::env::current_exe().unwrap();
        assert_eq!(me.path.file_name(), exe.file_name(), "{} vs {}", me.path.display(), exe.display());
        assert!(me.same_user);
        assert!(
            me.started > 0 && me.started <= ProcessImage::now(),
            "started {} now {}",
            me.started,
            ProcessImage::now()
        );
        let parent = parent_pid(std::process::id()).unwrap();
        assert_ne!(parent, std::process::id());
        assert!(runs_as_current_user(std::process::id()).unwrap());
        assert!(ProcessImage::of(u32::MAX - 3).is_err(), "no such process");
    }

    #[tokio::test]
    async fn a_client_and_the_service_meet_and_know_each_other() {
        let name = unique_name();
        let mut servers = PipeServers::create(&name).unwrap();
        assert!(exists(&name));
        let address = name.clone();
        let client = tokio::spawn(async move {
            let mut client = super::super::connect_async(&address).await.unwrap();
            client.write_all(b"hello\n").await.unwrap();
            let mut line = String::new();
            BufReader::new(client).read_line(&mut line).await.unwrap();
            line
        });
        let server = servers.accept().await.unwrap();
        assert_eq!(client_pid(&server).unwrap(), std::process::id(), "the client is this process");
        let mut server = BufReader::new(server);
        let mut line = String::new();
        server.read_line(&mut line).await.unwrap();
        assert_eq!(line, "hello\n");
        server.get_mut().write_all(b"world\n").await.unwrap();
        assert_eq!(client.await.unwrap(), "world\n");
        // The next instance waits already: a second client gets in too.
        let address = name.clone();
        let second = tokio::spawn(async move { super::super::connect_async(&address).await.map(drop) });
        servers.accept().await.unwrap();
        second.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_pipe_that_exists_is_not_shared() {
        if std::env::var_os("KEYPORT_UNDER_WINE").is_some() {
            // Wine (8.0) creates the instance anyway: it ignores FILE_FLAG_FIRST_PIPE_INSTANCE.
            println!("SKIPPED under Wine: no FILE_FLAG_FIRST_PIPE_INSTANCE there");
            return;
        }
        let name = unique_name();
        let _first = PipeServers::create(&name).unwrap();
        let err = PipeServers::create(&name).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{err}");
    }

    #[test]
    fn nobody_serves_a_pipe_that_does_not_exist() {
        let name = unique_name();
        assert!(!exists(&name));
        let err = super::super::connect(&name).unwrap_err();
        assert!(super::super::nobody_listens(&err), "{err:?}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_blocking_read_times_out_and_then_reads() {
        let name = unique_name();
        let mut servers = PipeServers::create(&name).unwrap();
        let address = name.clone();
        let client = std::thread::spawn(move || {
            let mut stream = super::super::connect(&address).unwrap();
            stream.set_read_timeout(Some(std::time::Duration::from_millis(50))).unwrap();
            let mut byte = [0u8; 1];
            let err = stream.read(&mut byte).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::TimedOut);
            stream.write_all(b"go\n").unwrap();
            stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
            stream.read_exact(&mut byte).unwrap();
            byte[0]
        });
        let server = servers.accept().await.unwrap();
        let mut server = BufReader::new(server);
        let mut line = String::new();
        server.read_line(&mut line).await.unwrap();
        server.get_mut().write_all(b"!").await.unwrap();
        assert_eq!(tokio::task::spawn_blocking(move || client.join().unwrap()).await.unwrap(), b'!');
    }
}
