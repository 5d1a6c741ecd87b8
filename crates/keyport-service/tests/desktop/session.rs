//! A private D-Bus session bus per test, and the desktop's side of it: a fake tray
//! (`org.kde.StatusNotifierWatcher`) that records the items registered with it, a fake
//! notification server (`org.freedesktop.Notifications`) that records what it is asked to show
//! and can click it, and readers of a StatusNotifierItem's properties and dbusmenu.
//!
//! The bus is a `dbus-daemon` with a minimal configuration (no service directories: nothing is
//! ever activated on it, so the only tray and notification server are the fakes), started
//! under a small `sh` supervisor whose stdin is a pipe from the test: when the test ends, even
//! by being killed, the pipe closes and the supervisor stops the bus.
//!
//! ksni and notify-rust find the session bus only through `DBUS_SESSION_BUS_ADDRESS`, so the
//! tests that use them run in a child process of the test binary that has it set
//! ([`run_inside`]); changing the environment of the multi-threaded test process itself is
//! not sound.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use zbus::object_server::SignalEmitter;
use zbus::zvariant::{OwnedValue, Value};

/// Set in the child processes that run the tests needing a session bus.
pub const INSIDE: &str = "KEYPORT_TEST_DESKTOP_INSIDE";

/// How long anything in these tests may take before it counts as never.
pub const DEADLINE: Duration = Duration::from_secs(15);

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

/// Starts the bus; stops it when stdin closes. $1 config, $2 log file.
const SUPERVISOR: &str = r#"
dbus-daemon --nofork --config-file="$1" </dev/null >/dev/null 2>"$2" &
bus=$!
while read -r _; do :; done
kill "$bus" 2>/dev/null
wait
"#;

/// A private session bus; stopped when dropped.
#[derive(Debug)]
pub struct PrivateBus {
    dir: tempfile::TempDir,
    address: String,
    supervisor: Child,
    stop: Option<ChildStdin>,
}

impl PrivateBus {
    /// Starts a bus and returns once it accepts connections.
    pub fn start() -> Self {
        assert!(
            find_in_path("dbus-daemon"),
            "`dbus-daemon` (Debian package dbus-daemon, from dbus) is not installed; run `tests/setup`"
        );
        let dir = tempfile::Builder::new().prefix("keyport-desktop-").tempdir().expect("a temporary directory");
        let socket = dir.path().join("bus");
        assert!(socket.as_os_str().len() < 100, "socket path too long: {}", socket.display());
        let address = format!("unix:path={}", socket.display());
        let config = dir.path().join("bus.conf");
        std::fs::write(&config, BUS_CONFIG.replace("@ADDRESS@", &address)).expect("write the bus config");
        let mut supervisor = Command::new("sh")
            .arg("-c")
            .arg(SUPERVISOR)
            .arg("keyport-test-bus")
            .arg(&config)
            .arg(dir.path().join("dbus-daemon.log"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sh for the bus");
        let stop = supervisor.stdin.take();
        let bus = Self { dir, address, supervisor, stop };
        bus.wait_until_ready(&socket);
        bus
    }

    /// `unix:path=...`.
    pub fn address(&self) -> &str {
        &self.address
    }

    fn wait_until_ready(&self, socket: &Path) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if std::os::unix::net::UnixStream::connect(socket).is_ok() {
                return;
            }
            assert!(Instant::now() < deadline, "the bus did not start\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dbus-daemon.log")).unwrap_or_default()
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
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
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }
}

fn find_in_path(tool: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| dir.join(tool).is_file())
}

/// Runs the `#[ignore]`d test `test` of this binary in a child process with `env` (and no
/// display unless `env` names one), and fails unless it ran and passed.
pub fn run_inside(test: &str, env: &[(&str, &str)]) {
    let exe = std::env::current_exe().expect("this test binary");
    let mut child = Command::new(exe)
        .args([test, "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env(INSIDE, "1")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run this test binary again");
    let (mut stdout, mut stderr) = (String::new(), String::new());
    // The child's own tests have deadlines; this one is the last resort.
    let deadline = Instant::now() + 4 * DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break child.wait().expect("wait for the child");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(
        status.success() && stdout.contains("test result: ok. 1 passed"),
        "`{test}` in a child process: {status}\n--- stdout:\n{stdout}\n--- stderr:\n{stderr}"
    );
}

/// Whether this runs in a child started by [`run_inside`], with a private bus. The `…_inside`
/// tests do nothing otherwise, so `cargo test -- --include-ignored` stays harmless (as the
/// keyring tests' children do).
pub fn inside() -> bool {
    std::env::var_os(INSIDE).is_some()
}

/// A connection of the test's own to the session bus.
pub async fn connect() -> zbus::Connection {
    zbus::Connection::session().await.expect("connect to the private session bus")
}

/// A fake `org.kde.StatusNotifierWatcher`: records the items that register.
#[derive(Debug)]
pub struct FakeWatcher {
    registered: mpsc::UnboundedSender<String>,
    host_registered: bool,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl FakeWatcher {
    async fn register_status_notifier_item(&self, service: String) {
        let _ = self.registered.send(service);
    }

    async fn register_status_notifier_host(&self, _service: String) {}

    #[zbus(property)]
    async fn is_status_notifier_host_registered(&self) -> bool {
        self.host_registered
    }

    #[zbus(property)]
    async fn protocol_version(&self) -> i32 {
        0
    }

    #[zbus(property)]
    async fn registered_status_notifier_items(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Puts a [`FakeWatcher`] on the bus; returns its connection (it is there while that lives)
/// and the names of the items that register.
pub async fn serve_watcher(host_registered: bool) -> (zbus::Connection, mpsc::UnboundedReceiver<String>) {
    let (registered, items) = mpsc::unbounded_channel();
    let connection = zbus::connection::Builder::session()
        .unwrap()
        .serve_at("/StatusNotifierWatcher", FakeWatcher { registered, host_registered })
        .unwrap()
        .name("org.kde.StatusNotifierWatcher")
        .unwrap()
        .build()
        .await
        .expect("serve the fake StatusNotifierWatcher");
    (connection, items)
}

/// One `Notify` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notified {
    pub id: u32,
    pub app_name: String,
    pub icon: String,
    pub summary: String,
    pub body: String,
    pub actions: Vec<String>,
}

/// A fake `org.freedesktop.Notifications`: records each `Notify`.
#[derive(Debug)]
pub struct FakeNotifications {
    next_id: std::sync::atomic::AtomicU32,
    notified: mpsc::UnboundedSender<Notified>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl FakeNotifications {
    #[allow(clippy::too_many_arguments)]
    async fn notify(
        &self,
        app_name: String,
        _replaces_id: u32,
        app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        _hints: HashMap<String, OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let id = self.next_id.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let _ = self.notified.send(Notified { id, app_name, icon: app_icon, summary, body, actions });
        id
    }

    async fn close_notification(&self, _id: u32) {}

    async fn get_capabilities(&self) -> Vec<String> {
        vec!["actions".to_owned(), "body".to_owned()]
    }

    async fn get_server_information(&self) -> (String, String, String, String) {
        ("fake".to_owned(), "keyport tests".to_owned(), "1".to_owned(), "1.2".to_owned())
    }

    #[zbus(signal)]
    async fn action_invoked(emitter: &SignalEmitter<'_>, id: u32, action_key: &str) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn notification_closed(emitter: &SignalEmitter<'_>, id: u32, reason: u32) -> zbus::Result<()>;
}

/// Puts a [`FakeNotifications`] on the bus; returns its connection and the `Notify` calls.
pub async fn serve_notifications() -> (zbus::Connection, mpsc::UnboundedReceiver<Notified>) {
    let (notified, calls) = mpsc::unbounded_channel();
    let server = FakeNotifications { next_id: 1.into(), notified };
    let connection = zbus::connection::Builder::session()
        .unwrap()
        .serve_at("/org/freedesktop/Notifications", server)
        .unwrap()
        .name("org.freedesktop.Notifications")
        .unwrap()
        .build()
        .await
        .expect("serve the fake notification server");
    (connection, calls)
}

/// The user clicks notification `id` (its default action), as a notification server says.
pub async fn click_notification(server: &zbus::Connection, id: u32) {
    let emitter = SignalEmitter::new(server, "/org/freedesktop/Notifications").unwrap();
    FakeNotifications::action_invoked(&emitter, id, "default").await.expect("emit ActionInvoked");
}

/// The user dismisses notification `id` (reason 2: dismissed by the user).
pub async fn dismiss_notification(server: &zbus::Connection, id: u32) {
    let emitter = SignalEmitter::new(server, "/org/freedesktop/Notifications").unwrap();
    FakeNotifications::notification_closed(&emitter, id, 2).await.expect("emit NotificationClosed");
}

/// Waits for the next value on `receiver`, at most [`DEADLINE`].
pub async fn next<T>(receiver: &mut mpsc::UnboundedReceiver<T>, what: &str) -> T {
    tokio::time::timeout(DEADLINE, receiver.recv())
        .await
        .unwrap_or_else(|_| panic!("no {what} within {DEADLINE:?}"))
        .unwrap_or_else(|| panic!("no {what}: the channel closed"))
}

/// Reads a StatusNotifierItem (`item`: its bus name) as a tray host does.
#[derive(Debug)]
pub struct ItemReader {
    connection: zbus::Connection,
    item: String,
}

/// An `a(iiay)` pixmap: width, height, ARGB bytes.
pub type Pixmap = (i32, i32, Vec<u8>);

/// A dbusmenu layout node, `(ia{sv}av)`: id, properties, children (each a variant of the same).
type Layout = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);

/// One line of a dbusmenu layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuLine {
    pub id: i32,
    /// The label as sent (dbusmenu escaping included); empty for a separator.
    pub label: String,
    pub enabled: bool,
    pub separator: bool,
}

impl ItemReader {
    pub fn new(connection: &zbus::Connection, item: &str) -> Self {
        Self { connection: connection.clone(), item: item.to_owned() }
    }

    async fn property(&self, path: &str, interface: &str, name: &str) -> OwnedValue {
        let reply = self
            .connection
            .call_method(
                Some(self.item.as_str()),
                path,
                Some("org.freedesktop.DBus.Properties"),
                "Get",
                &(interface, name),
            )
            .await
            .unwrap_or_else(|err| panic!("Get {interface}.{name}: {err}"));
        reply.body().deserialize().expect("a variant")
    }

    async fn item_property(&self, name: &str) -> OwnedValue {
        self.property("/StatusNotifierItem", "org.kde.StatusNotifierItem", name).await
    }

    pub async fn status(&self) -> String {
        string(&*self.item_property("Status").await)
    }

    pub async fn icon_pixmap(&self) -> Vec<Pixmap> {
        pixmaps(&*self.item_property("IconPixmap").await)
    }

    pub async fn attention_icon_pixmap(&self) -> Vec<Pixmap> {
        pixmaps(&*self.item_property("AttentionIconPixmap").await)
    }

    /// The tooltip's title.
    pub async fn tooltip(&self) -> String {
        let value = self.item_property("ToolTip").await;
        let Value::Structure(tooltip) = unwrapped(&value) else { panic!("ToolTip is not a structure: {value:?}") };
        string(&tooltip.fields()[2])
    }

    /// The object path of the item's menu.
    pub async fn menu_path(&self) -> String {
        match unwrapped(&*self.item_property("Menu").await) {
            Value::ObjectPath(path) => path.to_string(),
            other => panic!("Menu is not an object path: {other:?}"),
        }
    }

    /// `com.canonical.dbusmenu.GetLayout(0, -1, [])`: the revision and the top-level lines.
    pub async fn menu(&self) -> (u32, Vec<MenuLine>) {
        let path = self.menu_path().await;
        let reply = self
            .connection
            .call_method(
                Some(self.item.as_str()),
                path.as_str(),
                Some("com.canonical.dbusmenu"),
                "GetLayout",
                &(0i32, -1i32, Vec::<String>::new()),
            )
            .await
            .expect("GetLayout");
        let (revision, (_root, _props, children)): (u32, Layout) =
            reply.body().deserialize().expect("a dbusmenu layout");
        (revision, children.iter().map(|child| menu_line(child)).collect())
    }

    /// Clicks the menu line labelled `label` (as sent), as a tray host does.
    pub async fn click(&self, label: &str) {
        let (_, lines) = self.menu().await;
        let line = lines
            .iter()
            .find(|line| line.label == label)
            .unwrap_or_else(|| panic!("no menu line {label:?} in {lines:?}"));
        self.click_id(line.id).await;
    }

    /// `com.canonical.dbusmenu.Event(id, "clicked", 0, 0)`.
    pub async fn click_id(&self, id: i32) {
        let path = self.menu_path().await;
        self.connection
            .call_method(
                Some(self.item.as_str()),
                path.as_str(),
                Some("com.canonical.dbusmenu"),
                "Event",
                &(id, "clicked", Value::from(0i32), 0u32),
            )
            .await
            .expect("dbusmenu Event clicked");
    }
}

/// Whether `name` has an owner on the bus.
pub async fn has_owner(connection: &zbus::Connection, name: &str) -> bool {
    let dbus = zbus::fdo::DBusProxy::new(connection).await.unwrap();
    dbus.name_has_owner(name.try_into().unwrap()).await.unwrap()
}

fn unwrapped<'a, 'b>(value: &'a Value<'b>) -> &'a Value<'b> {
    match value {
        Value::Value(inner) => unwrapped(inner),
        other => other,
    }
}

fn string(value: &Value<'_>) -> String {
    match unwrapped(value) {
        Value::Str(text) => text.to_string(),
        other => panic!("not a string: {other:?}"),
    }
}

fn pixmaps(value: &Value<'_>) -> Vec<Pixmap> {
    let Value::Array(array) = unwrapped(value) else { panic!("not an array: {value:?}") };
    array
        .iter()
        .map(|pixmap| {
            let Value::Structure(pixmap) = unwrapped(pixmap) else { panic!("not a pixmap: {pixmap:?}") };
            let [Value::I32(width), Value::I32(height), Value::Array(bytes)] = pixmap.fields() else {
                panic!("not (iiay): {pixmap:?}")
            };
            let bytes = bytes.iter().map(|b| if let Value::U8(b) = b { *b } else { panic!("not a byte") }).collect();
            (*width, *height, bytes)
        })
        .collect()
}

fn menu_line(value: &Value<'_>) -> MenuLine {
    let Value::Structure(item) = unwrapped(value) else { panic!("not a menu item: {value:?}") };
    let [Value::I32(id), Value::Dict(properties), _children] = item.fields() else {
        panic!("not (ia{{sv}}av): {item:?}")
    };
    let mut line = MenuLine { id: *id, label: String::new(), enabled: true, separator: false };
    for (key, value) in properties.iter() {
        match (unwrapped(key), unwrapped(value)) {
            (Value::Str(key), Value::Str(label)) if key.as_str() == "label" => line.label = label.to_string(),
            (Value::Str(key), Value::Bool(enabled)) if key.as_str() == "enabled" => line.enabled = *enabled,
            (Value::Str(key), Value::Str(kind)) if key.as_str() == "type" => {
                line.separator = kind.as_str() == "separator"
            }
            _ => {}
        }
    }
    line
}
