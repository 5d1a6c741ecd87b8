//! A private D-Bus session with an unlocked GNOME Keyring on it, one per test.
//!
//! [`KeyringSession::start`] makes a temporary directory and starts, inside it:
//!
//! - a `dbus-daemon` listening on `unix:path=<tmp>/bus`, with a minimal session config that has
//!   no service directories, so nothing is ever auto-activated on it (the only Secret Service
//!   on the bus is ours, and a missing one fails fast instead of starting something);
//! - `gnome-keyring-daemon --foreground --unlock --components=secrets` on that bus, with `HOME`
//!   and the `XDG_*` directories in the temporary directory. `--unlock` reads a password on
//!   stdin and, as the home is empty, creates the `login` keyring with it, unlocked, and makes
//!   it the default collection.
//!
//! Both run under a small `sh` supervisor whose stdin is a pipe from this process. Dropping
//! the session closes that pipe; the supervisor then stops both daemons and exits, and the
//! directory is removed. If the test process dies without running `Drop` (killed, `abort`),
//! the pipe closes all the same, so no daemon outlives the test run.
//!
//! `start` returns only once the Secret Service answers on the bus and reports its default
//! collection unlocked. Nothing here reads or changes the developer's own session bus or
//! keyring: children get the private bus through [`KeyringSession::env`], which overrides
//! `DBUS_SESSION_BUS_ADDRESS`. Sessions are independent, so tests can run in parallel.

// Shared by several test modules; not every one uses every item.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// How long to wait for the daemons to come up (generous: CI machines are slow and shared).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The password of the throwaway `login` keyring.
const PASSWORD: &str = "keyport-test";

/// The tools this module needs, all installed by `tests/setup`.
const TOOLS: &[(&str, &str)] =
    &[("dbus-daemon", "dbus-daemon"), ("dbus-send", "dbus-bin"), ("gnome-keyring-daemon", "gnome-keyring")];

const BUS_CONFIG: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>@ADDRESS@</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#;

/// Starts the daemons, then reads commands on stdin (`stop-keyring`, `start-keyring`: the
/// keyring daemon goes away, or comes back, with the same files and password); when stdin
/// closes, stops them. Arguments: $1 bus config, $2 socket path, $3 log directory.
const SUPERVISOR: &str = r#"
dbus-daemon --nofork --config-file="$1" </dev/null >/dev/null 2>"$3/dbus-daemon.log" &
bus=$!
tries=0
while [ ! -S "$2" ]; do
    tries=$((tries + 1))
    if [ "$tries" -gt 600 ] || ! kill -0 "$bus" 2>/dev/null; then
        echo "dbus-daemon did not create its socket" >&2
        kill "$bus" 2>/dev/null
        exit 1
    fi
    sleep 0.05
done
password="$KEYPORT_TEST_KEYRING_PASSWORD"
unset KEYPORT_TEST_KEYRING_PASSWORD
keyring=
start_keyring() {
    printf '%s' "$password" \
        | gnome-keyring-daemon --foreground --unlock --components=secrets \
            >>"$3/gnome-keyring.out" 2>>"$3/gnome-keyring.log" &
    keyring=$!
}
start_keyring
while read -r command; do
    case "$command" in
        stop-keyring) kill "$keyring" 2>/dev/null; wait "$keyring" 2>/dev/null; keyring= ;;
        start-keyring) [ -n "$keyring" ] || start_keyring ;;
    esac
done
kill $keyring "$bus" 2>/dev/null
wait
"#;

/// A private session bus with an unlocked Secret Service (GNOME Keyring) on it.
/// Everything stops when it is dropped.
#[derive(Debug)]
pub struct KeyringSession {
    dir: tempfile::TempDir,
    address: String,
    supervisor: Child,
    /// Closing it tells the supervisor to stop the daemons.
    stop: Option<ChildStdin>,
}

impl KeyringSession {
    /// Starts the bus and the keyring and waits until the keyring is usable.
    ///
    /// Panics (with what to do) when a tool is missing or the daemons do not come up.
    pub fn start() -> Self {
        for (tool, package) in TOOLS {
            if find_in_path(tool).is_none() {
                panic!(
                    "`{tool}` (Debian package {package}) is not installed; \
                     run `tests/setup` to install what the tests need"
                );
            }
        }
        let dir = tempfile::Builder::new()
            .prefix("keyport-keyring-")
            .tempdir()
            .expect("create a temporary directory for the keyring session");
        let root = dir.path();
        let home = root.join("home");
        let runtime = root.join("run");
        for sub in [&home, &runtime, &home.join(".config"), &home.join(".cache")] {
            std::fs::create_dir_all(sub).expect("create session directories");
        }
        set_private(&runtime);
        let socket = root.join("bus");
        // Unix socket paths are limited to 107 bytes; a long TMPDIR could exceed that.
        assert!(
            socket.as_os_str().len() < 100,
            "socket path too long for a unix socket: {} (set TMPDIR to a shorter directory)",
            socket.display()
        );
        let address = format!("unix:path={}", socket.display());
        let config = root.join("bus.conf");
        std::fs::write(&config, BUS_CONFIG.replace("@ADDRESS@", &xml_escape(&address))).expect("write the bus config");

        let mut supervisor = Command::new("sh")
            .arg("-c")
            .arg(SUPERVISOR)
            .arg("keyport-keyring-session")
            .arg(&config)
            .arg(&socket)
            .arg(root)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LANG", "C.UTF-8")
            .env("HOME", &home)
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("KEYPORT_TEST_KEYRING_PASSWORD", PASSWORD)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sh for the keyring session");
        let stop = supervisor.stdin.take();
        let mut session = Self { dir, address, supervisor, stop };
        session.wait_until_ready();
        session
    }

    /// The private bus's address (`unix:path=...`).
    pub fn bus_address(&self) -> &str {
        &self.address
    }

    /// Environment for processes that should use this keyring (`Command::envs`).
    /// Only the bus address is needed: Secret Service clients find everything through it.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![("DBUS_SESSION_BUS_ADDRESS".to_owned(), self.address.clone())]
    }

    /// The session's temporary directory (daemon logs are kept there while it runs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Locks the default (`login`) collection, as a screen lock or a timeout would. No prompter
    /// can run on the private bus, so later reads and writes fail instead of asking.
    pub fn lock(&self) {
        let output = Command::new("dbus-send")
            .arg(format!("--bus={}", self.address))
            .args([
                "--print-reply",
                "--dest=org.freedesktop.secrets",
                "/org/freedesktop/secrets",
                "org.freedesktop.Secret.Service.Lock",
                "array:objpath:/org/freedesktop/secrets/aliases/default",
            ])
            .stdin(Stdio::null())
            .output()
            .expect("run dbus-send");
        assert!(output.status.success(), "locking the keyring failed: {}", String::from_utf8_lossy(&output.stderr));
        assert_eq!(self.default_collection_locked(), Ok(true), "the keyring did not lock");
    }

    /// Unlocks the default (`login`) collection with its password, as logging in to the
    /// desktop or typing it into the unlock dialog does (through GNOME Keyring's own
    /// interface: the standard `Unlock` needs a prompter, which the private bus has not).
    pub fn unlock(&self) {
        use zbus::zvariant::{ObjectPath, OwnedObjectPath, OwnedValue, Value};
        let connection = zbus::blocking::connection::Builder::address(self.address.as_str())
            .and_then(|builder| builder.build())
            .expect("connect to the private bus");
        let service = Some("org.freedesktop.secrets");
        let reply = connection
            .call_method(
                service,
                "/org/freedesktop/secrets",
                Some("org.freedesktop.Secret.Service"),
                "OpenSession",
                &("plain", Value::from("")),
            )
            .expect("open a Secret Service session");
        let (_, session): (OwnedValue, OwnedObjectPath) = reply.body().deserialize().expect("a session");
        let collection = ObjectPath::try_from("/org/freedesktop/secrets/collection/login").unwrap();
        let secret = (session, Vec::<u8>::new(), PASSWORD.as_bytes().to_vec(), "text/plain");
        connection
            .call_method(
                service,
                "/org/freedesktop/secrets",
                Some("org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface"),
                "UnlockWithMasterPassword",
                &(collection, secret),
            )
            .expect("unlock the login keyring");
        assert_eq!(self.default_collection_locked(), Ok(false), "the keyring did not unlock");
    }

    /// Stops the keyring daemon (the bus stays): the Secret Service is gone, as when it
    /// crashed or was never started. Returns once nobody owns its bus name.
    pub fn stop_keyring(&mut self) {
        self.command("stop-keyring");
        let deadline = Instant::now() + START_TIMEOUT;
        while self.secret_service_owned() {
            assert!(Instant::now() < deadline, "the keyring daemon did not stop\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the keyring daemon again (same files, same password: unlocked, with every item
    /// it had). Returns once it answers.
    pub fn start_keyring(&mut self) {
        self.command("start-keyring");
        self.wait_until_ready();
    }

    fn command(&mut self, line: &str) {
        use std::io::Write;
        let stop = self.stop.as_mut().expect("the session is running");
        writeln!(stop, "{line}").and_then(|()| stop.flush()).expect("tell the supervisor");
    }

    /// Whether a process owns `org.freedesktop.secrets` on the bus.
    fn secret_service_owned(&self) -> bool {
        let output = Command::new("dbus-send")
            .arg(format!("--bus={}", self.address))
            .args([
                "--print-reply=literal",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.secrets",
            ])
            .stdin(Stdio::null())
            .output()
            .expect("run dbus-send");
        String::from_utf8_lossy(&output.stdout).contains("true")
    }

    /// Polls the Secret Service until its default collection exists and is unlocked.
    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.supervisor.try_wait().expect("poll the supervisor") {
                let mut stderr = String::new();
                if let Some(mut pipe) = self.supervisor.stderr.take() {
                    let _ = pipe.read_to_string(&mut stderr);
                }
                panic!("the keyring session stopped during start ({status}): {stderr}\n{}", self.logs());
            }
            let last = match self.default_collection_locked() {
                Ok(false) => return,
                Ok(true) => "the default collection is locked".to_owned(),
                Err(err) => err,
            };
            if Instant::now() > deadline {
                panic!("the Secret Service did not become usable within {START_TIMEOUT:?}: {last}\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Asks the service whether `/org/freedesktop/secrets/aliases/default` is locked.
    fn default_collection_locked(&self) -> Result<bool, String> {
        let output = Command::new("dbus-send")
            .arg(format!("--bus={}", self.address))
            .args([
                "--print-reply=literal",
                "--reply-timeout=2000",
                "--dest=org.freedesktop.secrets",
                "/org/freedesktop/secrets/aliases/default",
                "org.freedesktop.DBus.Properties.Get",
                "string:org.freedesktop.Secret.Collection",
                "string:Locked",
            ])
            .stdin(Stdio::null())
            .output()
            .map_err(|err| format!("run dbus-send: {err}"))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(format!("dbus-send: {}", String::from_utf8_lossy(&output.stderr).trim()));
        }
        if stdout.contains("boolean false") {
            Ok(false)
        } else if stdout.contains("boolean true") {
            Ok(true)
        } else {
            Err(format!("unexpected reply: {}", stdout.trim()))
        }
    }

    /// The daemons' logs, for panic messages.
    fn logs(&self) -> String {
        let mut text = String::new();
        for name in ["dbus-daemon.log", "gnome-keyring.log"] {
            let content = std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
            text.push_str(&format!("--- {name}:\n{}\n", content.trim_end()));
        }
        text
    }
}

impl Drop for KeyringSession {
    fn drop(&mut self) {
        // Closing the supervisor's stdin makes it stop both daemons and wait for them.
        drop(self.stop.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.supervisor.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() > deadline => {
                    let _ = self.supervisor.kill();
                    let _ = self.supervisor.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        // The TempDir field removes the directory after this.
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn find_in_path(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(tool)).find(|candidate| candidate.is_file())
}

#[cfg(unix)]
fn set_private(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).expect("chmod the runtime directory");
}

#[cfg(not(unix))]
fn set_private(_dir: &Path) {}
