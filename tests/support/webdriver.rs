//! A small W3C WebDriver client for driving the desktop app through `tauri-driver` (which
//! starts `WebKitWebDriver`, which starts the app): plain HTTP/1.1 over a `TcpStream`, only the
//! endpoints the desktop test needs.
//!
//! [`TauriDriver::start`] runs `tauri-driver` in a process group of its own, so dropping it
//! ends `tauri-driver`, `WebKitWebDriver`, the app and the app's web processes together, also
//! when a test fails. [`Session`] deletes itself on drop.

#![allow(dead_code)]

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The key of a web element reference in WebDriver JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long one HTTP exchange may take (starting the app inside "new session" is the slowest).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(90);

/// A failed WebDriver request: the transport failed, or the remote end answered with an error.
#[derive(Debug, Clone)]
pub struct WdError {
    /// The HTTP status (0 when there was no answer).
    pub status: u16,
    /// The WebDriver error code ("no such element", "stale element reference"...) or "transport".
    pub error: String,
    pub message: String,
}

impl std::fmt::Display for WdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.error, self.status, self.message)
    }
}

pub type WdResult<T> = Result<T, WdError>;

/// A free TCP port on 127.0.0.1 (free when asked; nobody else picks it in between, in practice).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0").local_addr().expect("local address").port()
}

/// One HTTP/1.1 request with a JSON body; the answer's status and JSON body.
fn http_once(port: u16, method: &str, path: &str, body: Option<&Value>) -> std::io::Result<(u16, Value)> {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    stream.set_write_timeout(Some(REQUEST_TIMEOUT))?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\n\
         Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.flush()?;
    let mut raw = Vec::new();
    if let Err(err) = stream.read_to_end(&mut raw) {
        // A reset after a whole answer is still an answer; a reset before any is retried.
        if raw.is_empty() {
            return Err(err);
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    if raw.is_empty() {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "empty reply"));
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "no end of the HTTP head"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut payload = raw[split + 4..].to_vec();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("bad status line: {head}")))?;
    let header = |name: &str| {
        head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
        })
    };
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        payload = dechunk(&payload)?;
    } else if let Some(length) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        if payload.len() < length {
            let message = format!("the answer was cut off after {} of {length} bytes", payload.len());
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, message));
        }
        payload.truncate(length);
    }
    let value = if payload.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&payload).map_err(|err| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not JSON ({err}): {}", String::from_utf8_lossy(&payload)),
            )
        })?
    };
    Ok((status, value))
}

fn dechunk(mut data: &[u8]) -> std::io::Result<Vec<u8>> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "bad chunked encoding");
    let mut out = Vec::new();
    loop {
        let end = data.windows(2).position(|w| w == b"\r\n").ok_or_else(bad)?;
        let size_text = String::from_utf8_lossy(&data[..end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16).map_err(|_| bad())?;
        data = &data[end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            return Err(bad());
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// A WebDriver request, retried once when the connection was dropped without an answer
/// (tauri-driver 2.x sometimes drops a first connection).
pub fn request(port: u16, method: &str, path: &str, body: Option<&Value>) -> WdResult<Value> {
    let mut attempt = 0;
    let (status, value) = loop {
        attempt += 1;
        match http_once(port, method, path, body) {
            Ok(answer) => break answer,
            Err(err)
                if attempt == 1
                    && matches!(
                        err.kind(),
                        std::io::ErrorKind::ConnectionReset
                            | std::io::ErrorKind::ConnectionAborted
                            | std::io::ErrorKind::BrokenPipe
                            | std::io::ErrorKind::UnexpectedEof
                    ) =>
            {
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(err) => {
                return Err(WdError {
                    status: 0,
                    error: "transport".into(),
                    message: format!("{method} {path}: {err}"),
                });
            }
        }
    };
    let inner = value.get("value").cloned().unwrap_or(Value::Null);
    if status == 200 {
        return Ok(inner);
    }
    Err(WdError {
        status,
        error: inner["error"].as_str().unwrap_or("unknown error").to_owned(),
        message: inner["message"].as_str().map(str::to_owned).unwrap_or_else(|| value.to_string()),
    })
}

/// `tauri-driver`: on `PATH` or in `~/.cargo/bin`.
pub fn tauri_driver_path() -> Option<PathBuf> {
    if let Some(found) = super::display::find_in_path("tauri-driver") {
        return Some(found);
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))?;
    Some(cargo_home.join("bin/tauri-driver")).filter(|p| p.is_file())
}

/// A running `tauri-driver`, leader of its own process group. Dropping it ends the group.
#[derive(Debug)]
pub struct TauriDriver {
    child: Child,
    pub port: u16,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
}

impl TauriDriver {
    /// Starts `tauri-driver` with exactly `env` (nothing of the caller's environment) and waits
    /// until its `/status` answers.
    pub fn start(env: &[(String, OsString)]) -> Self {
        let program = tauri_driver_path().unwrap_or_else(|| {
            panic!("`tauri-driver` is not installed: run `tests/setup` (cargo install tauri-driver --locked)")
        });
        assert!(
            Path::new("/usr/bin/WebKitWebDriver").is_file()
                || super::display::find_in_path("WebKitWebDriver").is_some(),
            "`WebKitWebDriver` (Debian package webkit2gtk-driver) is not installed: run `tests/setup`"
        );
        let log_dir =
            tempfile::Builder::new().prefix("keyport-tauri-driver-").tempdir().expect("a temporary directory");
        let log = log_dir.path().join("tauri-driver.log");
        let mut last_error = String::new();
        for _ in 0..3 {
            let (port, native_port) = (free_port(), free_port());
            let mut child = Command::new(&program)
                .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
                .env_clear()
                .envs(env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&log).expect("the log file"))
                .stderr(std::fs::OpenOptions::new().append(true).open(&log).expect("the log file"))
                .process_group(0)
                .spawn()
                .expect("starting tauri-driver");
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    last_error = format!(
                        "tauri-driver exited ({status}): {}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                    break;
                }
                match request(port, "GET", "/status", None) {
                    Ok(_) => return Self { child, port, log, _log_dir: log_dir },
                    Err(err) => last_error = err.to_string(),
                }
                if Instant::now() > deadline {
                    kill_group(&mut child);
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        panic!("tauri-driver did not answer /status: {last_error}");
    }

    /// What tauri-driver, WebKitWebDriver and the app wrote so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The process group's id (tauri-driver's pid).
    pub fn pgid(&self) -> u32 {
        self.child.id()
    }

    /// The processes of the group (tauri-driver, WebKitWebDriver, the app and its web
    /// processes), one `pid state name` line each, for failure messages.
    pub fn processes(&self) -> String {
        let mut lines = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
            let (Some((head, rest)), Some(open)) = (stat.rsplit_once(')'), stat.find('(')) else { continue };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            if fields.len() > 2 && fields[2] == self.child.id().to_string() {
                lines.push(format!("{} {} {}", stat[..open].trim(), fields[0], &head[open + 1..]));
            }
        }
        lines.join("\n")
    }
}

impl Drop for TauriDriver {
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}

/// SIGTERM to the whole group led by `child`, then SIGKILL to what is left.
fn kill_group(child: &mut Child) {
    let group = format!("-{}", child.id());
    let _ = Command::new("kill").args(["-TERM", "--", &group]).stderr(Stdio::null()).status();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) && !group_alive(child.id()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
    let _ = child.wait();
}

/// Whether any process of process group `pgid` still runs (zombies excepted).
fn group_alive(pgid: u32) -> bool {
    std::fs::read_dir("/proc").into_iter().flatten().flatten().any(|entry| {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { return false };
        let Some((_, rest)) = stat.rsplit_once(')') else { return false };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // fields[0] = state, fields[2] = pgrp
        fields.len() > 2 && fields[0] != "Z" && fields[2] == pgid.to_string()
    })
}

/// A web element reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element(pub String);

impl Element {
    fn from_value(value: &Value) -> Option<Self> {
        value.get(ELEMENT_KEY).and_then(Value::as_str).map(|id| Self(id.to_owned()))
    }

    fn to_value(&self) -> Value {
        json!({ ELEMENT_KEY: self.0 })
    }
}

/// A WebDriver session: one app instance. Deleted on drop.
#[derive(Debug)]
pub struct Session {
    port: u16,
    pub id: String,
    deleted: bool,
}

impl Session {
    /// Starts `application` (an absolute path) through tauri-driver.
    pub fn start(driver: &TauriDriver, application: &Path) -> WdResult<Self> {
        let capabilities = json!({
            "capabilities": { "alwaysMatch": { "tauri:options": { "application": application } } }
        });
        let value = request(driver.port, "POST", "/session", Some(&capabilities))?;
        let id = value["sessionId"].as_str().ok_or_else(|| WdError {
            status: 200,
            error: "no session id".into(),
            message: value.to_string(),
        })?;
        Ok(Self { port: driver.port, id: id.to_owned(), deleted: false })
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> WdResult<Value> {
        request(self.port, method, &format!("/session/{}{path}", self.id), body.as_ref())
    }

    /// The first element matching the CSS selector.
    pub fn find(&self, css: &str) -> WdResult<Element> {
        let value = self.call("POST", "/element", Some(json!({ "using": "css selector", "value": css })))?;
        Element::from_value(&value).ok_or_else(|| WdError {
            status: 200,
            error: "bad element".into(),
            message: value.to_string(),
        })
    }

    /// Every element matching the CSS selector.
    pub fn find_all(&self, css: &str) -> WdResult<Vec<Element>> {
        let value = self.call("POST", "/elements", Some(json!({ "using": "css selector", "value": css })))?;
        Ok(value.as_array().map(|items| items.iter().filter_map(Element::from_value).collect()).unwrap_or_default())
    }

    /// The first element below `parent` matching the CSS selector.
    pub fn find_in(&self, parent: &Element, css: &str) -> WdResult<Element> {
        let value = self.call(
            "POST",
            &format!("/element/{}/element", parent.0),
            Some(json!({ "using": "css selector", "value": css })),
        )?;
        Element::from_value(&value).ok_or_else(|| WdError {
            status: 200,
            error: "bad element".into(),
            message: value.to_string(),
        })
    }

    pub fn click(&self, element: &Element) -> WdResult<()> {
        self.call("POST", &format!("/element/{}/click", element.0), Some(json!({}))).map(drop)
    }

    /// Types `text` into a field.
    pub fn send_keys(&self, element: &Element, text: &str) -> WdResult<()> {
        self.call("POST", &format!("/element/{}/value", element.0), Some(json!({ "text": text }))).map(drop)
    }

    /// The rendered text of an element.
    pub fn text(&self, element: &Element) -> WdResult<String> {
        Ok(self.call("GET", &format!("/element/{}/text", element.0), None)?.as_str().unwrap_or_default().to_owned())
    }

    /// An attribute (`None` when absent).
    pub fn attribute(&self, element: &Element, name: &str) -> WdResult<Option<String>> {
        Ok(self.call("GET", &format!("/element/{}/attribute/{name}", element.0), None)?.as_str().map(str::to_owned))
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) in the page.
    pub fn execute(&self, script: &str, args: &[Value]) -> WdResult<Value> {
        self.call("POST", "/execute/sync", Some(json!({ "script": script, "args": args })))
    }

    /// Runs `script`, which calls `arguments[arguments.length - 1](result)` when done.
    pub fn execute_async(&self, script: &str, args: &[Value]) -> WdResult<Value> {
        self.call("POST", "/execute/async", Some(json!({ "script": script, "args": args })))
    }

    /// A script argument that is an element.
    pub fn arg(element: &Element) -> Value {
        element.to_value()
    }

    /// The element a script returned, if it returned one.
    pub fn element_of(value: &Value) -> Option<Element> {
        Element::from_value(value)
    }

    /// A PNG of the window's viewport.
    pub fn screenshot(&self) -> WdResult<Vec<u8>> {
        use base64::Engine as _;
        let value = self.call("GET", "/screenshot", None)?;
        base64::engine::general_purpose::STANDARD.decode(value.as_str().unwrap_or_default()).map_err(|err| WdError {
            status: 200,
            error: "bad screenshot".into(),
            message: err.to_string(),
        })
    }

    /// Ends the session (the app is closed).
    pub fn delete(&mut self) -> WdResult<()> {
        if self.deleted {
            return Ok(());
        }
        self.deleted = true;
        request(self.port, "DELETE", &format!("/session/{}", self.id), None).map(drop)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.delete();
    }
}
