//! `keyport ssh`'s forwards: a socket per ssh session, which `ssh -R` carries to the remote
//! machine (docs/socket.md, "Forwarding to a remote machine").
//!
//! - **Asked for by the user only** (`ssh.forward`, from the person at a terminal or the
//!   window), and open for as long as the connection that asked stays open: the `keyport ssh`
//!   process holds it while its `ssh` runs. Its end, or the service's, ends every connection
//!   through the forward and removes the socket.
//! - **A remote request is judged as its host**, plus the program name the remote side claims
//!   (`token.get`'s `program`), as [`Program::Remote`]: matched against remote rules only,
//!   never against a local program's. On Linux only the `ssh` that `keyport ssh` started (a
//!   child of the process holding the forward) may connect to the socket, so a local program
//!   cannot pass as the remote machine; a forward for an `ssh_config` `RemoteForward`
//!   (`keyport forward HOST`, at a path known ahead) admits any process running the system's
//!   `ssh` ([`Admission`]).
//! - **Token reads only**: `token.get` and `accounts.list` are served; every other method is
//!   refused ([`serves`]). The remote machine learns only of accounts it may read: `methods.rs`
//!   lists just those, and answers a missing account as one it may not read.
//! - "Allow for this session" answers are kept here, per forward, and go with it.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use keyport_wire::{ErrorCode, ErrorObject, Method};
use tokio::sync::oneshot;

use crate::access::Program;
use crate::service::Service;

/// Forwards open at once, over every `keyport ssh` session of the user.
pub const MAX_FORWARDS: usize = 16;

/// "Allow for this session" answers one forward remembers (program and account pairs).
pub const MAX_SESSION_ANSWERS: usize = 256;

/// Connections through every forward together, and through those to one host: the remote
/// machines share these, apart from the service socket's own (`ServiceConfig::max_connections`).
pub(crate) const LIMITS: crate::server::Limits =
    crate::server::Limits { total: MAX_FORWARD_CONNECTIONS, per_program: MAX_FORWARD_CONNECTIONS_PER_HOST };

/// Connections open through all forwards at once; more are answered `busy`.
pub const MAX_FORWARD_CONNECTIONS: usize = 64;

/// Connections open through the forwards to one host at once.
pub const MAX_FORWARD_CONNECTIONS_PER_HOST: usize = 32;

/// The methods a forwarded socket serves: reading tokens, and the accounts a remote program may
/// see. Nothing that changes accounts, rules or providers crosses a forward.
pub fn serves(method: Method) -> bool {
    matches!(method, Method::TokenGet | Method::AccountsList)
}

/// Where requests on a connection come from.
#[derive(Debug, Clone)]
pub(crate) enum Origin {
    /// The service's own socket: programs of this machine, judged by `peer/`.
    Local,
    /// A `keyport ssh` session's socket (none on Windows yet).
    #[cfg_attr(not(unix), allow(dead_code))]
    Forward(Arc<Forward>),
}

/// One open forward, as its connections see it.
#[derive(Debug)]
pub(crate) struct Forward {
    /// Names it in [`Forwards`].
    pub id: String,
    /// The machine the session goes to, as the user named it.
    pub host: String,
    /// Who may connect to its socket.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub admits: Admission,
}

/// Who may connect to a forward's socket (checked on Linux; elsewhere the socket's private
/// directory is the only guard).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) enum Admission {
    /// A child of this process: the `ssh` that `keyport ssh` starts.
    ChildOf(Option<u32>),
    /// A process running one of these executables: the system's `ssh`, for a `RemoteForward`
    /// of the user's `ssh_config` (`keyport forward`).
    AnySsh(Vec<PathBuf>),
}

impl Forward {
    /// The program a request through this forward is judged as.
    pub fn program(&self, claimed: Option<&str>) -> Result<Program, ErrorObject> {
        match claimed {
            Some(name) if !keyport_wire::is_claimable_program(name) => Err(ErrorObject::new(
                ErrorCode::InvalidParams,
                format!(
                    "invalid params for `token.get`: `program` is a name of at most {} letters, digits, `.`, `_`, \
                     `-` or `+`",
                    keyport_wire::MAX_CLAIMED_PROGRAM
                ),
            )),
            _ => Ok(Program::Remote { host: self.host.clone(), program: claimed.map(str::to_owned) }),
        }
    }

    /// Whether a process that connected to the forward's socket may use it: on Linux, only
    /// the `ssh` that the holder started. Elsewhere the socket's private directory is the
    /// only guard (README, "Platforms").
    pub fn admits(&self, pid: Option<u32>) -> bool {
        #[cfg(target_os = "linux")]
        {
            let Some(pid) = pid else { return false };
            match &self.admits {
                Admission::ChildOf(holder) => {
                    let parent = crate::peer::process::Stat::read(pid).ok().map(|stat| stat.parent);
                    parent.is_some() && parent == *holder
                }
                Admission::AnySsh(executables) => {
                    std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| executables.contains(&exe))
                }
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = pid;
            true
        }
    }
}

#[derive(Debug)]
struct Open {
    /// "Allow for this session" answers: (program as text, account).
    session: HashSet<(String, String)>,
    /// Its socket, removed when it ends.
    socket: PathBuf,
    /// Dropped to end the forward.
    _stop: oneshot::Sender<()>,
}

impl Drop for Open {
    fn drop(&mut self) {
        // At once, so that nothing new connects while its connections are being ended.
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// The open forwards.
#[derive(Debug, Default)]
pub struct Forwards {
    open: Mutex<HashMap<String, Open>>,
    /// The connections through them ([`LIMITS`]).
    pub(crate) admissions: Arc<Mutex<crate::server::Admissions>>,
}

impl Forwards {
    /// Whether `program` was allowed `account` for the session of forward `id`.
    pub(crate) fn allowed_for_session(&self, id: &str, program: &Program, account: &str) -> bool {
        let open = self.open.lock().expect("forwards");
        open.get(id).is_some_and(|forward| forward.session.contains(&(program.to_string(), account.to_owned())))
    }

    /// Remembers "Allow for this session" for forward `id` (while it is open, and up to
    /// [`MAX_SESSION_ANSWERS`]; past that the answer counts for the one request).
    pub(crate) fn allow_for_session(&self, id: &str, program: &Program, account: &str) {
        if let Some(forward) = self.open.lock().expect("forwards").get_mut(id)
            && forward.session.len() < MAX_SESSION_ANSWERS
        {
            forward.session.insert((program.to_string(), account.to_owned()));
        }
    }

    /// Ends every forward (the service stops).
    pub(crate) fn close_all(&self) {
        self.open.lock().expect("forwards").clear();
    }

    /// Whether an open forward has its socket at `path`.
    #[cfg_attr(not(unix), allow(dead_code))]
    fn serves(&self, path: &std::path::Path) -> bool {
        self.open.lock().expect("forwards").values().any(|open| open.socket == path)
    }

    #[cfg_attr(not(unix), allow(dead_code))]
    fn insert(&self, id: &str, socket: PathBuf) -> Result<oneshot::Receiver<()>, ErrorObject> {
        let mut open = self.open.lock().expect("forwards");
        if open.len() >= MAX_FORWARDS {
            return Err(ErrorObject::new(
                ErrorCode::Busy,
                format!("{MAX_FORWARDS} `keyport ssh` sessions are open already; end one first"),
            ));
        }
        let (stop, stopped) = oneshot::channel();
        open.insert(id.to_owned(), Open { session: HashSet::new(), socket, _stop: stop });
        Ok(stopped)
    }

    fn remove(&self, id: &str) {
        self.open.lock().expect("forwards").remove(id);
    }
}

/// An open forward, for as long as this lives: dropping it ends the forward.
#[derive(Debug)]
pub(crate) struct ForwardGuard {
    id: String,
    service: std::sync::Weak<Service>,
}

impl Drop for ForwardGuard {
    fn drop(&mut self) {
        if let Some(service) = self.service.upgrade() {
            service.forwards.remove(&self.id);
        }
    }
}

/// The system's `ssh` clients, as a running process's executable names them: `ssh` on the
/// service's `PATH` and `/usr/bin/ssh`, symlinks followed.
#[cfg_attr(not(unix), allow(dead_code))]
fn ssh_executables() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = [Program::resolve("ssh").ok(), Some(Program::Path(PathBuf::from("/usr/bin/ssh")))]
        .into_iter()
        .flatten()
        .filter_map(|program| match program {
            Program::Path(path) => crate::peer::canonical(&path).ok(),
            _ => None,
        })
        .collect();
    found.dedup();
    found
}

/// Opens a forward for `host`, asked for by the process `holder`: its socket (beside the
/// service's, in the same private directory, 0600), served until the guard is dropped. For an
/// `ssh_config` `RemoteForward` (`for_ssh_config`), at `ssh-host-HOST.sock`, open to any `ssh`.
pub(crate) fn open(
    service: &Arc<Service>,
    host: String,
    holder: Option<u32>,
    for_ssh_config: bool,
) -> Result<(ForwardGuard, PathBuf), ErrorObject> {
    let host = host.to_ascii_lowercase();
    if !keyport_wire::is_host_name(&host) {
        return Err(ErrorObject::new(
            ErrorCode::InvalidParams,
            format!(
                "invalid params for `ssh.forward`: `host` is a host name of at most {} letters, digits, `.`, `_` \
                 or `-`",
                keyport_wire::MAX_HOST_NAME
            ),
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let id = crate::random_id();
        let dir = service.config.socket.parent().map(std::path::Path::to_owned).unwrap_or_default();
        let (path, admits) = if for_ssh_config {
            let path = dir.join(format!("ssh-host-{host}.sock"));
            if service.forwards.serves(&path) {
                return Err(ErrorObject::new(
                    ErrorCode::InvalidParams,
                    format!("a forward for {host} is open already (`keyport forward {host}` in another terminal)"),
                ));
            }
            // One left by a service that was killed: the directory is ours alone.
            let _ = std::fs::remove_file(&path);
            (path, Admission::AnySsh(ssh_executables()))
        } else {
            (dir.join(format!("ssh-{id}.sock")), Admission::ChildOf(holder))
        };
        let stopped = service.forwards.insert(&id, path.clone())?;
        let guard = ForwardGuard { id: id.clone(), service: Arc::downgrade(service) };
        let failed = |err: std::io::Error| {
            ErrorObject::new(ErrorCode::InternalError, format!("cannot open a forward at {}: {err}", path.display()))
        };
        let listener = crate::transport::Listener::bind(&path).map_err(failed)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(failed)?;
        let forward = Arc::new(Forward { id, host, admits });
        tracing::info!(host = %forward.host, socket = %path.display(), "ssh forward opened");
        tokio::spawn(crate::server::serve_from(
            service.clone(),
            listener,
            Origin::Forward(forward.clone()),
            async move {
                let _ = stopped.await;
                tracing::info!(host = %forward.host, "ssh forward closed");
            },
        ));
        Ok((guard, path))
    }
    #[cfg(not(unix))]
    {
        let _ = (service, holder, for_ssh_config);
        Err(ErrorObject::new(
            ErrorCode::InternalError,
            "`keyport ssh` forwards Unix sockets, which this Keyport does not serve on Windows yet",
        ))
    }
}

// ---- the remote side: what a client in a `keyport ssh` session uses ----------------------

/// The user's own forwarded sockets in `keyport_wire::path::FORWARD_DIR`, newest first: sockets
/// (not followed through links) owned by this uid, so a file of another user in the shared,
/// sticky `/tmp` is never taken (and cannot replace one of ours). At most
/// `FORWARD_SCAN_LIMIT` entries are looked at.
#[cfg(unix)]
pub fn remote_sockets() -> Vec<PathBuf> {
    use keyport_wire::path::{FORWARD_DIR, FORWARD_SCAN_LIMIT, is_forward_name};
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let uid = crate::transport::current_uid();
    let Ok(entries) = std::fs::read_dir(FORWARD_DIR) else { return Vec::new() };
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = entries
        .take(FORWARD_SCAN_LIMIT)
        .flatten()
        .filter(|entry| entry.file_name().to_str().is_some_and(is_forward_name))
        .filter_map(|entry| {
            let meta = std::fs::symlink_metadata(entry.path()).ok()?;
            (meta.file_type().is_socket() && meta.uid() == uid).then_some((meta.modified().ok()?, entry.path()))
        })
        .collect();
    found.sort_by_key(|(modified, _)| std::cmp::Reverse(*modified));
    found.into_iter().map(|(_, path)| path).collect()
}

/// The name of the program that ran this process, as a request through a forward claims it
/// (`token.get`'s `program`): past `sh -c` wrappers (at most [`crate::peer::MAX_WRAPPERS`]),
/// its command name (`/proc/PID/comm`: the executable's file name, or a script's, cut to 15
/// bytes by the kernel), made a claimable name. The service shows it as a claim and never
/// trusts it. `None` off Linux.
pub fn claimed_program() -> Option<String> {
    #[cfg(target_os = "linux")]
    {
        use crate::peer::interpreter::{Family, runs_command_string};
        let mut pid = std::os::unix::process::parent_id();
        for _ in 0..=crate::peer::MAX_WRAPPERS {
            let process = crate::peer::process::Process::read(pid).ok()?;
            let name = process.exe.file_name()?.to_string_lossy().into_owned();
            if Family::of(&name) == Some(Family::Shell) && runs_command_string(&process.arguments()) {
                pid = process.stat.parent;
                continue;
            }
            let command = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or(name);
            return claimable(command.trim_end_matches('\n'));
        }
        None
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// `name` as a claimable program name: other characters become `_`, cut to the limit.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn claimable(name: &str) -> Option<String> {
    let cleaned: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+') { c } else { '_' })
        .skip_while(|c| matches!(c, '.' | '-'))
        .take(keyport_wire::MAX_CLAIMED_PROGRAM)
        .collect();
    keyport_wire::is_claimable_program(&cleaned).then_some(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_made_claimable() {
        assert_eq!(claimable("mbsync").as_deref(), Some("mbsync"));
        assert_eq!(claimable("my tool").as_deref(), Some("my_tool"));
        assert_eq!(claimable("-.x").as_deref(), Some("x"));
        assert_eq!(claimable("..").as_deref(), None);
        assert_eq!(claimable(&"y".repeat(100)).map(|c| c.len()), Some(64));
        assert!(keyport_wire::is_claimable_program(&claimable("gît/ß").unwrap()));
    }

    #[test]
    fn only_token_reads_cross_a_forward() {
        let served: Vec<_> = Method::ALL.into_iter().filter(|m| serves(*m)).map(Method::name).collect();
        assert_eq!(served, ["accounts.list", "token.get"]);
    }

    #[test]
    fn a_claim_is_a_name_and_becomes_a_remote_program() {
        let forward = Forward { id: "f".into(), host: "build-01".into(), admits: Admission::ChildOf(None) };
        assert_eq!(forward.program(Some("mbsync")).unwrap().to_string(), "remote:build-01:mbsync");
        assert_eq!(forward.program(None).unwrap().to_string(), "remote:build-01");
        for bad in ["", "a/b", "../x", "-x", "a b", &"x".repeat(65)] {
            assert_eq!(forward.program(Some(bad)).unwrap_err().code, ErrorCode::InvalidParams.code(), "{bad}");
        }
    }

    #[test]
    fn session_answers_are_per_forward_bounded_and_go_with_it() {
        let forwards = Forwards::default();
        let _a = forwards.insert("a", PathBuf::new()).unwrap();
        let _b = forwards.insert("b", PathBuf::new()).unwrap();
        let mbsync: Program = "remote:h:mbsync".parse().unwrap();
        forwards.allow_for_session("a", &mbsync, "work");
        assert!(forwards.allowed_for_session("a", &mbsync, "work"));
        assert!(!forwards.allowed_for_session("a", &mbsync, "home"));
        assert!(!forwards.allowed_for_session("b", &mbsync, "work"), "another session");
        for n in 0..MAX_SESSION_ANSWERS + 10 {
            forwards.allow_for_session("a", &mbsync, &format!("acct{n}"));
        }
        assert_eq!(forwards.open.lock().unwrap()["a"].session.len(), MAX_SESSION_ANSWERS);
        forwards.remove("a");
        assert!(!forwards.allowed_for_session("a", &mbsync, "work"));
    }

    #[test]
    fn forwards_are_bounded_and_a_removed_one_is_told() {
        let forwards = Forwards::default();
        let mut stopped: Vec<_> =
            (0..MAX_FORWARDS).map(|n| forwards.insert(&n.to_string(), PathBuf::new()).unwrap()).collect();
        assert_eq!(forwards.insert("one more", PathBuf::new()).unwrap_err().code, ErrorCode::Busy.code());
        forwards.remove("0");
        assert!(stopped[0].try_recv().is_err_and(|e| e == oneshot::error::TryRecvError::Closed));
        assert!(stopped[1].try_recv().is_err_and(|e| e == oneshot::error::TryRecvError::Empty));
        forwards.close_all();
        assert!(forwards.open.lock().unwrap().is_empty());
    }
}
