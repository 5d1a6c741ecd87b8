//! End to end: the real `keyport daemon` and its socket (docs/socket.md) against the real
//! `oidc-provider`: raw JSON-RPC clients (std `UnixStream` in this process, and `python3` as
//! another program), events, sign-ins started over the socket, permissions and the peer uid
//! check, per-program access rules, and robustness (bad lines, oversize lines, many clients).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::daemon::{cannot_switch_users, python_client, system_python};
use crate::support::oidc::{self, OidcServer};
use crate::support::profile::Profile;

/// A message's size limit (docs/socket.md, "Framing").
const MAX_LINE: usize = 64 * 1024;

/// How long a single read may block before the test fails instead of hanging.
const READ_TIMEOUT: Duration = Duration::from_secs(20);

/// The profile's socket.
fn socket_of(profile: &Profile) -> PathBuf {
    profile.root().join("run/keyport/keyport.sock")
}

/// A provider `local` and one account `a` signed in through the CLI (which starts the
/// daemon), readable by this test binary.
fn signed_in() -> (OidcServer, Profile) {
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_local_provider(&server);
    profile.ok(&["add", "local", "--name", "a"]);
    profile.allow_me("a");
    assert!(profile.daemon_pid().is_some(), "the CLI started a daemon");
    (server, profile)
}

/// A raw client: one JSON object per line, nothing of Keyport's own client code.
struct Conn {
    stream: UnixStream,
    reader: BufReader<UnixStream>,
    /// Notifications read while waiting for a response.
    events: Vec<Value>,
}

impl Conn {
    fn open(socket: &Path) -> Self {
        let stream = UnixStream::connect(socket).unwrap_or_else(|err| panic!("connect {}: {err}", socket.display()));
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Self { stream, reader, events: Vec::new() }
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to the socket");
    }

    fn send(&mut self, message: &Value) {
        self.send_raw(format!("{message}\n").as_bytes());
    }

    /// The next line as JSON; `None` at the end of the connection.
    fn read(&mut self) -> Option<Value> {
        let mut line = Vec::new();
        let read = (&mut self.reader).take(MAX_LINE as u64 + 2).read_until(b'\n', &mut line);
        match read {
            Ok(0) => None,
            Ok(_) => {
                assert!(line.ends_with(b"\n"), "a whole line: {:?}", String::from_utf8_lossy(&line));
                Some(
                    serde_json::from_slice(&line).unwrap_or_else(|err| {
                        panic!("the server sent JSON ({err}): {:?}", String::from_utf8_lossy(&line))
                    }),
                )
            }
            Err(err) if err.kind() == std::io::ErrorKind::ConnectionReset => None,
            Err(err) => panic!("reading from the socket: {err}"),
        }
    }

    /// Sends a request and returns its response (notifications meanwhile are kept).
    fn call(&mut self, id: i64, method: &str, params: Value) -> Value {
        let message = self.call_any(id, method, params);
        assert_eq!(message["jsonrpc"], "2.0", "{message}");
        assert_eq!(message["id"], json!(id), "responses come one per request here: {message}");
        message
    }

    /// The answer to a request, whatever its `id` (a `busy` refusal has none).
    fn call_any(&mut self, id: i64, method: &str, params: Value) -> Value {
        let mut request = json!({"jsonrpc": "2.0", "id": id, "method": method});
        if !params.is_null() {
            request["params"] = params;
        }
        self.send(&request);
        loop {
            let message = self.read().unwrap_or_else(|| panic!("the connection closed before answering {request}"));
            if message.get("id").is_some() {
                return message;
            }
            self.events.push(message);
        }
    }

    /// `result` of a call that must succeed.
    fn ok(&mut self, id: i64, method: &str, params: Value) -> Value {
        let response = self.call(id, method, params);
        assert!(response.get("error").is_none(), "{method} failed: {response}");
        response["result"].clone()
    }

    /// `error` of a call that must fail.
    fn err(&mut self, id: i64, method: &str, params: Value) -> Value {
        let response = self.call(id, method, params);
        assert!(response.get("result").is_none(), "{method} should have failed: {response}");
        response["error"].clone()
    }

    /// Waits for the `event` notification `pick` accepts; others are skipped.
    fn event(&mut self, within: Duration, pick: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        loop {
            if let Some(at) = self.events.iter().position(|e| pick(&e["params"])) {
                return self.events.remove(at)["params"].clone();
            }
            seen.append(&mut self.events);
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no such event within {within:?}; saw {seen:#?}");
            self.stream.set_read_timeout(Some(left.max(Duration::from_millis(1)))).unwrap();
            let mut line = Vec::new();
            match self.reader.read_until(b'\n', &mut line) {
                Ok(0) => panic!("the connection closed while waiting for an event; saw {seen:#?}"),
                Ok(_) => {
                    let message: Value = serde_json::from_slice(&line).expect("JSON");
                    assert_eq!(message["method"], "event", "only events are expected here: {message}");
                    assert!(message.get("id").is_none(), "a notification has no id: {message}");
                    self.events.push(message);
                }
                Err(err) if matches!(err.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(err) => panic!("reading an event: {err}"),
            }
            self.stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        }
    }
}

/// Calls `method` on a new connection, as a client should when the service answers `busy`
/// (-32012, `id` null: too many connections, possibly ones of this program still closing):
/// again after a short wait, on a new connection.
fn call_retrying_busy(socket: &Path, id: i64, method: &str, params: Value) -> Value {
    let started = Instant::now();
    loop {
        let answer = Conn::open(socket).call_any(id, method, params.clone());
        if answer["error"]["code"] != json!(-32012) || started.elapsed() > Duration::from_secs(30) {
            return answer;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `value` without the members named (for comparing snapshots taken a moment apart).
fn without(value: &Value, members: &[&str]) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter().filter(|(k, _)| !members.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| without(v, members)).collect()),
        other => other.clone(),
    }
}

#[test]
fn token_and_reads_over_a_raw_socket_match_the_keyring_and_the_cli() {
    let (_server, profile) = signed_in();
    let mut conn = Conn::open(&socket_of(&profile));

    // token.get: exactly the keyring's token, with the account's expiry and scopes.
    let token = conn.ok(1, "token.get", json!({"account": "a"}));
    let stored = profile.keyring_lookup("account/a/access_token").expect("an access token in the keyring");
    assert_eq!(token["access_token"].as_str(), Some(stored.as_str()));
    assert_eq!(token["token_type"], "Bearer");
    let status = profile.json(&["status", "a", "--json"]);
    assert_eq!(token["expires_at"], status["expires_at"], "{token:#} vs {status:#}");
    assert_eq!(token["scopes"], status["scopes"]);
    let left = token["expires_in_secs"].as_i64().expect("expires_in_secs");
    assert!((3500..=3600).contains(&left), "an hour-long token: {left}");
    let mut members: Vec<&str> = token.as_object().unwrap().keys().map(String::as_str).collect();
    members.sort_unstable();
    assert_eq!(members, ["access_token", "expires_at", "expires_in_secs", "scopes", "token_type"]);

    // The read methods answer what the CLI prints (seconds left may tick in between).
    let listed = conn.ok(2, "accounts.list", Value::Null);
    let cli_list = profile.json(&["list", "--json"]);
    assert_eq!(listed["accounts"].as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(without(&listed["accounts"], &["expires_in_secs"]), without(&cli_list, &["expires_in_secs"]));
    let one = conn.ok(3, "accounts.status", json!({"account": "a"}));
    assert_eq!(without(&one, &["expires_in_secs"]), without(&status, &["expires_in_secs"]));
    assert_eq!(one["identity"]["sub"], "alice");
    assert!(!one.to_string().contains(stored.as_str()), "no token in an account object");
    let providers = conn.ok(4, "providers.list", Value::Null);
    let cli_providers = profile.json(&["provider", "list", "--json"]);
    assert_eq!(providers["providers"], cli_providers);
    assert_eq!(providers["providers"][0]["client_id"], oidc::NATIVE_CLIENT);

    // Errors, with the stable codes; the connection keeps answering after each.
    let unknown = conn.err(5, "accounts.rename", json!({"account": "a", "to": "b"}));
    assert_eq!(unknown["code"], -32601, "{unknown}");
    assert!(unknown["message"].as_str().unwrap().contains("accounts.rename"), "{unknown}");
    let bad = conn.err(6, "token.get", json!({"acount": "a"}));
    assert_eq!(bad["code"], -32602, "{bad}");
    assert!(bad["message"].as_str().unwrap().contains("account"), "{bad}");
    let positional = conn.err(7, "accounts.status", json!(["a"]));
    assert_eq!(positional["code"], -32602, "{positional}");
    let missing = conn.err(8, "token.get", json!({"account": "nobody"}));
    assert_eq!(missing["code"], -32000, "{missing}");
    assert!(missing["message"].as_str().unwrap().contains("nobody"), "{missing}");
    let missing = conn.err(9, "accounts.status", json!({"account": "nobody"}));
    assert_eq!(missing["code"], -32000, "{missing}");
    // String ids are echoed as they came.
    conn.send(&json!({"jsonrpc": "2.0", "id": "s-1", "method": "providers.list"}));
    let answer = conn.read().expect("an answer");
    assert_eq!(answer["id"], "s-1", "{answer}");
    assert_eq!(conn.ok(10, "token.get", json!({"account": "a"}))["access_token"].as_str(), Some(stored.as_str()));
}

#[test]
fn subscribers_receive_refreshed_and_removed() {
    let (_server, profile) = signed_in();
    let mut events = Conn::open(&socket_of(&profile));
    assert_eq!(events.ok(1, "events.subscribe", Value::Null), json!({}));
    let before = profile.json(&["status", "a", "--json"]);
    std::thread::sleep(Duration::from_millis(1100)); // a later expiry, to the second

    let refreshed = profile.json(&["refresh", "a", "--json"]);
    let event = events.event(Duration::from_secs(10), |e| e["event"] == "refreshed");
    assert_eq!(event["account"], "a", "{event}");
    assert_eq!(event["expires_at"], refreshed["expires_at"], "{event} vs {refreshed}");
    assert_ne!(event["expires_at"], before["expires_at"]);
    assert!(!event.to_string().contains(&profile.keyring_lookup("account/a/access_token").unwrap()));

    profile.ok(&["remove", "a"]);
    let event = events.event(Duration::from_secs(10), |e| e["event"] == "removed");
    assert_eq!(event, json!({"event": "removed", "account": "a"}));
    // The subscription does not stop the connection from answering requests.
    assert_eq!(events.ok(2, "accounts.list", Value::Null), json!({"accounts": []}));
}

/// The environment the profile gives `keyport` (and so the daemon), for other programs.
fn profile_env(profile: &Profile) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    let command = profile.keyport();
    command.get_envs().filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))).collect()
}

#[test]
fn a_sign_in_started_over_the_socket_is_finished_by_the_browser() {
    let (_server, profile) = signed_in();
    let mut conn = Conn::open(&socket_of(&profile));

    // The client opens the URL itself: here, the headless login driver with the profile's
    // environment.
    let started =
        conn.ok(1, "signin.start", json!({"provider": "local", "account": "by-client", "open_browser": false}));
    assert_eq!(started["browser_opened"], false, "{started}");
    let id = started["signin_id"].as_str().expect("a signin_id").to_owned();
    let url = started["url"].as_str().expect("a url").to_owned();
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    let driver = Command::new("node")
        .arg(oidc::driver())
        .arg(&url)
        .env_clear()
        .envs(profile_env(&profile))
        .output()
        .expect("running the login driver");
    assert!(driver.status.success(), "the driver failed: {}", String::from_utf8_lossy(&driver.stderr));
    // The starting connection never subscribed, yet hears its own sign-in's outcome.
    let event = conn.event(Duration::from_secs(30), |e| e["signin_id"] == id.as_str());
    assert_eq!(event, json!({"event": "signin_finished", "signin_id": id, "account": "by-client"}));
    let account = profile.json(&["status", "by-client", "--json"]);
    assert_eq!(account["identity"]["sub"], "alice");
    assert_eq!(account["status"], "valid");

    // The daemon opens the browser itself: its `$BROWSER` (the driver), inherited from the
    // profile's environment when the CLI started it.
    let started =
        conn.ok(2, "signin.start", json!({"provider": "local", "account": "by-daemon", "open_browser": true}));
    assert_eq!(started["browser_opened"], true, "the daemon has a $BROWSER: {started}");
    let id = started["signin_id"].as_str().unwrap().to_owned();
    let event = conn.event(Duration::from_secs(30), |e| e["signin_id"] == id.as_str());
    assert_eq!(event, json!({"event": "signin_finished", "signin_id": id, "account": "by-daemon"}));
    assert_eq!(profile.json(&["status", "by-daemon", "--json"])["identity"]["sub"], "alice");
}

#[test]
fn a_pending_sign_in_is_cancelled_over_the_socket() {
    let (_server, profile) = signed_in();
    let mut conn = Conn::open(&socket_of(&profile));
    let mut watcher = Conn::open(&socket_of(&profile));
    watcher.ok(1, "events.subscribe", Value::Null);

    let driver_runs = profile.driver_log().len();
    // No `open_browser`: the default is that the client opens the URL, so the daemon does not.
    let started = conn.ok(1, "signin.start", json!({"provider": "local", "account": "never"}));
    assert_eq!(started["browser_opened"], false, "{started}");
    let id = started["signin_id"].as_str().unwrap().to_owned();
    // The redirect listener waits for the browser.
    let redirect = url::Url::parse(started["url"].as_str().unwrap()).unwrap();
    let redirect_uri = redirect.query_pairs().find(|(k, _)| k == "redirect_uri").expect("a redirect_uri").1;
    let port = url::Url::parse(&redirect_uri).unwrap().port().expect("a loopback port");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(), "the listener is up on {port}");

    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(profile.driver_log().len(), driver_runs, "no browser was started");
    assert_eq!(conn.ok(2, "signin.cancel", json!({"signin_id": id})), json!({}));
    let expected = json!({
        "event": "signin_failed", "signin_id": id, "account": null, "code": -32009,
        "message": "the sign-in was cancelled",
    });
    assert_eq!(conn.event(Duration::from_secs(10), |e| e["signin_id"] == id.as_str()), expected);
    assert_eq!(watcher.event(Duration::from_secs(10), |e| e["signin_id"] == id.as_str()), expected);
    // Once, even on a connection that also subscribed: nothing more about it arrives.
    let again = conn.err(3, "signin.cancel", json!({"signin_id": id}));
    assert_eq!(again["code"], -32010, "{again}");
    assert!(conn.events.is_empty(), "{:?}", conn.events);
    // The listener is gone, and no account was made.
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < deadline, "the cancelled sign-in's listener on {port} was closed");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(conn.ok(4, "accounts.list", Value::Null)["accounts"].as_array().unwrap().len(), 1);
}

#[test]
fn a_daemon_that_cannot_open_a_browser_says_so() {
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_local_provider(&server);
    profile.stop_daemon();
    // The daemon inherits the `$BROWSER` of the command that starts it.
    let list = profile.keyport().env("BROWSER", "/nonexistent/browser").args(["list", "--json"]).output().unwrap();
    assert!(list.status.success(), "{}", String::from_utf8_lossy(&list.stderr));
    let mut conn = Conn::open(&socket_of(&profile));
    let started = conn.ok(1, "signin.start", json!({"provider": "local", "open_browser": true}));
    assert_eq!(started["browser_opened"], false, "nothing was opened: {started}");
    let id = started["signin_id"].as_str().unwrap().to_owned();
    assert_eq!(conn.ok(2, "signin.cancel", json!({"signin_id": id})), json!({}));
    assert_eq!(conn.event(Duration::from_secs(10), |e| e["signin_id"] == id.as_str())["code"], -32009);
}

#[test]
fn the_socket_is_private_to_its_user() {
    let (_server, profile) = signed_in();
    let socket = socket_of(&profile);
    let dir = socket.parent().unwrap();
    let me = std::fs::metadata("/proc/self").unwrap().uid();
    let dir_meta = std::fs::symlink_metadata(dir).unwrap();
    assert!(dir_meta.is_dir());
    assert_eq!(format!("{:o}", dir_meta.permissions().mode() & 0o777), "700", "{}", dir.display());
    assert_eq!(dir_meta.uid(), me);
    let socket_meta = std::fs::symlink_metadata(&socket).unwrap();
    assert!(socket_meta.file_type().is_socket(), "{} is a socket", socket.display());
    assert_eq!(format!("{:o}", socket_meta.permissions().mode() & 0o777), "600", "{}", socket.display());
    assert_eq!(socket_meta.uid(), me);

    if let Some(why) = cannot_switch_users() {
        println!("SKIPPED the other-user part of the_socket_is_private_to_its_user: {why}");
        return;
    }
    let Some(python) = system_python() else {
        println!("SKIPPED the other-user part of the_socket_is_private_to_its_user: no system python3 for `nobody`");
        return;
    };
    let nobody = ["runuser", "-u", "nobody", "--"];
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": "accounts.list"});
    // Open everything above keyport's own directory to other users, so that what stops
    // `nobody` is that directory's 0700, and then the socket's 0600.
    for above in [profile.root().to_owned(), profile.root().join("run")] {
        std::fs::set_permissions(&above, std::fs::Permissions::from_mode(0o711)).unwrap();
    }
    let other = python_client(&nobody, &python, None, &socket, std::slice::from_ref(&request));
    assert_ne!(other["uid"], json!(me), "runuser switched users: {other}");
    assert_eq!(other["connected"], false, "{other}");
    assert!(other["error"].as_str().unwrap().starts_with("PermissionError"), "the 0700 directory: {other}");
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711)).unwrap();
    let other = python_client(&nobody, &python, None, &socket, std::slice::from_ref(&request));
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(other["connected"], false, "{other}");
    assert!(other["error"].as_str().unwrap().starts_with("PermissionError"), "the 0600 socket: {other}");
    // The owner is still served.
    let own = python_client(&[], &python, None, &socket, &[request]);
    assert_eq!(own["responses"][0]["result"]["accounts"][0]["name"], "a", "{own}");
}

/// A service over a temporary profile (in-memory secrets, no providers), for the server alone.
fn bare_service(dir: &Path, socket: &Path) -> Arc<keyport_service::Service> {
    use keyport_core::browser::NoBrowser;
    use keyport_core::clock::SystemClock;
    use keyport_core::http::ReqwestClient;
    use keyport_core::paths::Paths;
    use keyport_core::secrets::MemoryStore;
    let paths = Paths {
        config_dir: dir.join("config"),
        data_dir: dir.join("data"),
        runtime_dir: Some(socket.parent().unwrap().to_owned()),
    };
    let keyport = keyport_core::Keyport::new(
        &paths,
        Arc::new(MemoryStore::new()),
        Arc::new(ReqwestClient::new().unwrap()),
        Arc::new(SystemClock),
        Arc::new(NoBrowser),
    );
    let config = keyport_service::ServiceConfig::new(
        socket.to_owned(),
        paths.config_dir.join("access.toml"),
        paths.accounts_file(),
    );
    keyport_service::Service::new(keyport, config, Arc::new(keyport_service::access::NoPrompter))
}

/// The SO_PEERCRED check itself: `nobody` cannot even enter the daemon's 0700 directory, so
/// this serves a socket that file permissions leave open to everyone.
#[test]
fn the_server_closes_connections_from_other_users_without_answering() {
    if let Some(why) = cannot_switch_users() {
        println!("SKIPPED the_server_closes_connections_from_other_users_without_answering: {why}");
        return;
    }
    let Some(python) = system_python() else {
        println!("SKIPPED the_server_closes_connections_from_other_users_without_answering: no system python3");
        return;
    };
    // A world-open directory and socket: only SO_PEERCRED stands between `nobody` and the
    // server.
    let open = tempfile::Builder::new().prefix("keyport-open-").tempdir().unwrap();
    std::fs::set_permissions(open.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let socket = open.path().join("keyport.sock");
    let profile = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = {
        let _guard = runtime.enter();
        let listener = keyport_service::Listener::bind(&socket).unwrap();
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
        let service = bare_service(profile.path(), &socket);
        runtime.spawn(keyport_service::serve(service, listener, async {
            let _ = stopped.await;
        }))
    };
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": "accounts.list"});

    let other =
        python_client(&["runuser", "-u", "nobody", "--"], &python, None, &socket, std::slice::from_ref(&request));
    assert_eq!(other["uid"], 65534, "{other}");
    assert_eq!(other["connected"], true, "the file permissions let nobody connect: {other}");
    assert_eq!(other["closed"], true, "closed without an answer: {other}");
    assert_eq!(other["responses"], json!([]), "{other}");

    // The same uid is answered, by another program and by this one.
    let own = python_client(&[], &python, None, &socket, std::slice::from_ref(&request));
    assert_eq!(own["responses"], json!([{"jsonrpc": "2.0", "id": 1, "result": {"accounts": []}}]), "{own}");
    let mut conn = Conn::open(&socket);
    assert_eq!(conn.ok(1, "accounts.list", Value::Null), json!({"accounts": []}));
    // A refused peer does not disturb the server.
    let other = python_client(&["runuser", "-u", "nobody", "--"], &python, None, &socket, &[request]);
    assert_eq!((other["connected"].clone(), other["closed"].clone()), (json!(true), json!(true)), "{other}");
    assert_eq!(conn.ok(2, "providers.list", Value::Null), json!({"providers": []}));

    let _ = stop.send(());
    runtime.block_on(served).unwrap();
}

/// A directory with `python3` linked to the real interpreter behind whatever `python3` is in
/// `PATH` (pyenv puts a shell-script shim there, which the kernel never reports as anyone's
/// executable), and that `PATH` with the directory first.
/// The `python3` of [`python_in_path`]'s directory, by its path (the terminal's shell has the
/// profile's own `PATH`).
fn bin_python(path: &str) -> String {
    format!("{}/python3", path.split(':').next().unwrap())
}

fn python_in_path() -> (tempfile::TempDir, PathBuf, String) {
    let output = Command::new("python3")
        .args(["-c", "import os; print(os.path.realpath('/proc/self/exe'))"])
        .output()
        .expect("python3 is installed");
    assert!(output.status.success());
    let real = PathBuf::from(String::from_utf8(output.stdout).unwrap().trim());
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&real, bin.path().join("python3")).unwrap();
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap_or_default());
    (bin, real, path)
}

#[test]
fn programs_are_refused_until_allowed_and_again_once_denied() {
    let (_server, profile) = signed_in();
    let socket = socket_of(&profile);
    let (_bin, real_python, path) = python_in_path();
    let python = PathBuf::from("python3");
    let get = json!({"jsonrpc": "2.0", "id": 7, "method": "token.get", "params": {"account": "a"}});
    let ask = || python_client(&[], &python, Some(&path), &socket, std::slice::from_ref(&get));

    // Unknown to the rules: the headless daemon has nobody to ask, and refuses.
    let refused = ask();
    assert_eq!(refused["exe"], json!(real_python), "{refused}");
    let error = &refused["responses"][0]["error"];
    assert_eq!(error["code"], -32004, "{refused}");
    let message = error["message"].as_str().unwrap();
    let program = real_python.display().to_string();
    // Code given with `-c`: the interpreter is named, and allowing it is not advised.
    assert!(message.contains(&format!("{program} is an interpreter")), "{message}");
    assert!(!message.contains(&format!("keyport allow {program}")), "{message}");
    assert_eq!(refused["responses"][0]["id"], 7);

    // `keyport allow python3 a`, typed at a terminal, resolves the bare name through PATH and
    // symlinks to what the kernel reports as the client's executable.
    let allow = profile.typed(&["allow", &bin_python(&path), "a"]);
    assert!(allow.status.success(), "{}", String::from_utf8_lossy(&allow.stderr));
    assert!(String::from_utf8_lossy(&allow.stderr).contains(&program), "{}", String::from_utf8_lossy(&allow.stderr));
    let allowed = ask();
    let token = allowed["responses"][0]["result"]["access_token"].as_str().unwrap_or_else(|| panic!("{allowed}"));
    assert_eq!(Some(token.to_owned()), profile.keyring_lookup("account/a/access_token"));
    let rules: Value = serde_json::from_str(&profile.typed_ok(&["apps", "--json"])).unwrap();
    let rule = rules.as_array().unwrap().iter().find(|r| r["program"] == json!(program)).expect("python's rule");
    assert_eq!((&rule["account"], &rule["decision"]), (&json!("a"), &json!("allow")), "{rules:#}");
    assert!(rule["decided_at"].is_string(), "{rule}");
    // An account it was not allowed is still refused.
    let other = python_client(
        &[],
        &python,
        Some(&path),
        &socket,
        &[json!({"jsonrpc": "2.0", "id": 1, "method": "token.get", "params": {"account": "nobody"}})],
    );
    assert_eq!(other["responses"][0]["error"]["code"], -32000, "no such account comes first: {other}");

    let deny = profile.typed(&["deny", &bin_python(&path), "a"]);
    assert!(deny.status.success(), "{}", String::from_utf8_lossy(&deny.stderr));
    let denied = ask();
    assert_eq!(denied["responses"][0]["error"]["code"], -32004, "{denied}");
    assert!(denied["responses"][0]["error"]["message"].as_str().unwrap().contains("keyport allow"), "{denied}");
    let rules: Value = serde_json::from_str(&profile.typed_ok(&["apps", "--json"])).unwrap();
    let decisions: Vec<(Value, Value, Value)> = rules
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["program"].clone(), r["account"].clone(), r["decision"].clone()))
        .collect();
    let me = std::fs::canonicalize(std::env::current_exe().unwrap()).unwrap();
    let mut expected = vec![
        (json!(program), json!("a"), json!("deny")),
        (json!(me.display().to_string()), json!("*"), json!("allow")),
        (json!(me.display().to_string()), json!("a"), json!("allow")),
    ];
    expected.sort_by_key(|(p, a, _)| (p.as_str().unwrap().to_owned(), a.as_str().unwrap().to_owned()));
    assert_eq!(decisions, expected, "{rules:#}");
    let table = profile.typed_ok(&["apps"]);
    assert!(table.contains(&program) && table.contains("deny"), "{table}");
    // A program sees only the rules about itself.
    let mine = profile.json(&["apps", "--json"]);
    assert!(mine.as_array().unwrap().iter().all(|r| r["program"] == json!(me.display().to_string())), "{mine:#}");
}

#[test]
fn bad_lines_are_answered_and_oversize_lines_end_the_connection() {
    let (_server, profile) = signed_in();
    let socket = socket_of(&profile);
    let mut conn = Conn::open(&socket);

    conn.send_raw(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"accounts.list\"\n");
    let parse = conn.read().expect("an answer to a bad line");
    assert_eq!(parse["id"], Value::Null, "{parse}");
    assert_eq!(parse["error"]["code"], -32700, "{parse}");
    conn.send_raw(b"\xff\xfe not utf-8\n");
    assert_eq!(conn.read().expect("an answer")["error"]["code"], -32700);
    conn.send_raw(b"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"accounts.list\"}]\n");
    assert_eq!(conn.read().expect("an answer")["error"]["code"], -32600);
    conn.send_raw(b"\n\r\n"); // blank lines are ignored
    assert_eq!(conn.ok(2, "accounts.list", Value::Null)["accounts"][0]["name"], "a");
    // Exactly at the limit is fine.
    let mut line = json!({"jsonrpc": "2.0", "id": 3, "method": "providers.list"}).to_string().into_bytes();
    line.resize(MAX_LINE, b' ');
    line.push(b'\n');
    conn.send_raw(&line);
    let at_limit = conn.read().expect("an answer at the limit");
    assert_eq!(at_limit["id"], 3, "{at_limit}");
    assert!(at_limit["result"]["providers"].is_array(), "{at_limit}");

    // One byte over: message_too_large, then the end of the connection.
    conn.send_raw(&vec![b'x'; MAX_LINE + 1]);
    let too_large = conn.read().expect("an answer to an oversize line");
    assert_eq!(too_large["id"], Value::Null, "{too_large}");
    assert_eq!(too_large["error"]["code"], -32011, "{too_large}");
    assert_eq!(conn.read(), None, "the connection is closed after message_too_large");

    // The daemon is fine.
    assert_eq!(Conn::open(&socket).ok(1, "accounts.status", json!({"account": "a"}))["name"], "a");
}

#[test]
fn silent_and_short_lived_clients_do_not_delay_a_normal_client() {
    // Fewer than one program may hold open (`MAX_CONNECTIONS_PER_PROGRAM`, 64) with the others.
    const SILENT: usize = 24;
    const SHORT: usize = 1000;
    const WORKERS: usize = 8;
    let (_server, profile) = signed_in();
    let socket = socket_of(&profile);
    let token = profile.keyring_lookup("account/a/access_token").unwrap();

    let silent: Vec<UnixStream> = (0..SILENT).map(|_| UnixStream::connect(&socket).expect("a silent client")).collect();
    let done = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..WORKERS)
        .map(|worker| {
            let socket = socket.clone();
            std::thread::spawn(move || {
                for n in 0..SHORT / WORKERS {
                    let id = i64::try_from(worker * SHORT + n).unwrap();
                    let answer = call_retrying_busy(&socket, id, "accounts.list", Value::Null);
                    assert_eq!(answer["result"]["accounts"][0]["name"], "a", "{answer}");
                }
            })
        })
        .collect();

    let mut normal = Conn::open(&socket);
    let mut answers = 0;
    let mut slowest = Duration::ZERO;
    let stop = done.clone();
    let watcher = std::thread::spawn(move || {
        for worker in workers {
            worker.join().expect("a short-connection worker");
        }
        stop.store(true, Ordering::SeqCst);
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done.load(Ordering::SeqCst) || answers < 10 {
        assert!(Instant::now() < deadline, "the short connections took over two minutes");
        let asked = Instant::now();
        let result = normal.ok(answers + 1, "token.get", json!({"account": "a"}));
        let took = asked.elapsed();
        assert_eq!(result["access_token"].as_str(), Some(token.as_str()));
        assert!(took < Duration::from_secs(2), "answer {answers} took {took:?}");
        slowest = slowest.max(took);
        answers += 1;
        std::thread::sleep(Duration::from_millis(10));
    }
    watcher.join().expect("every short connection was answered");
    println!("{answers} token.get answers during {SHORT} short connections; slowest {slowest:?}");

    // The silent clients were kept, and answer when they finally speak.
    for (n, stream) in silent.into_iter().enumerate() {
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        let mut conn = Conn { reader: BufReader::new(stream.try_clone().unwrap()), stream, events: Vec::new() };
        let id = i64::try_from(n).unwrap();
        assert_eq!(conn.ok(id, "token.get", json!({"account": "a"}))["access_token"].as_str(), Some(token.as_str()));
    }
}

#[test]
fn a_second_daemon_names_the_running_one_and_exits() {
    let (_server, profile) = signed_in();
    let pid = profile.daemon_pid().expect("a running daemon");
    let socket = socket_of(&profile);
    let mut second = profile.keyport().arg("daemon").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = second.kill();
            let _ = second.wait();
            panic!("a second daemon kept running beside process {pid}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    second.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(!status.success(), "{status}: {stderr}");
    assert!(stderr.contains(&format!("process {pid}")), "names the running process: {stderr}");
    assert!(stderr.contains(&socket.display().to_string()), "names the socket: {stderr}");
    // The first one still serves.
    assert_eq!(profile.daemon_pid(), Some(pid));
    assert_eq!(Conn::open(&socket).ok(1, "accounts.status", json!({"account": "a"}))["name"], "a");
}
