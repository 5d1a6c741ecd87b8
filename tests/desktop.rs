//! End to end: the real desktop app (`keyport-desktop`) in a private X server (Xvfb), driven
//! over WebDriver (`tauri-driver`, which starts `WebKitWebDriver`, which starts the app),
//! against the real `oidc-provider`, with the headless login driver as the system browser.
//!
//! One user's story, a screenshot per step in `tests/screenshots/desktop/` (git-ignored;
//! README, "Screenshots"): the empty accounts screen; adding an account in the browser (the
//! waiting view, then the account with its scopes and expiry); refreshing it (the expiry
//! moves); a program running `keyport token` (the access prompt, "Always allow", the program
//! gets a token the server knows, the program is listed, its read is in the account's
//! Activity section); revoking it (the server says the
//! tokens are dead); adding another account and removing it (local only: the server still
//! knows its token); editing the provider (scopes, a typed-in endpoint) and reading its
//! metadata again.
//!
//! The UI is found through the DOM hooks of the UI/backend contract (`data-testid`...).
//! Everything started here is stopped on success and failure alike: the WebDriver session is
//! deleted, and tauri-driver runs in a process group of its own that is killed with the app
//! and its web processes in it.

use std::cell::Cell;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::display::Xvfb;
use crate::support::oidc::{self, OidcServer};
use crate::support::profile::Profile;
use crate::support::webdriver::{Element, Session, TauriDriver};

/// How long any one thing may take to show up in the window.
const TIMEOUT: Duration = Duration::from_secs(20);

/// Where the screenshots go.
fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/screenshots/desktop")
}

/// `keyport-desktop`, built next to the `keyport` binary under test (or `$KEYPORT_DESKTOP_APP`,
/// to try another build of the app).
fn desktop_binary() -> PathBuf {
    if let Some(app) = std::env::var_os("KEYPORT_DESKTOP_APP") {
        let app = std::path::absolute(app).expect("an absolute path");
        assert!(app.is_file(), "KEYPORT_DESKTOP_APP: {} is not a file", app.display());
        return app;
    }
    let cli = Path::new(env!("CARGO_BIN_EXE_keyport"));
    let app = cli.with_file_name("keyport-desktop");
    assert!(
        app.is_file(),
        "{} is missing: the desktop test runs the real app. Build it with `npm --prefix ui run build && \
         cargo build -p keyport-desktop` (`cargo test --workspace`, as tests/run does, builds it too)",
        app.display()
    );
    app
}

fn parse_time(text: &str) -> OffsetDateTime {
    OffsetDateTime::parse(text, &Rfc3339).unwrap_or_else(|err| panic!("{text:?} is not RFC 3339: {err}"))
}

/// `$BROWSER` for the app: notes each URL it is given, waits until the test opens the gate,
/// then hands the URL to the headless login driver. So the test sees the waiting view for as
/// long as it likes, and decides when the "user" signs in.
struct BrowserGate {
    dir: tempfile::TempDir,
}

impl BrowserGate {
    fn new() -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new().prefix("keyport-browser-").tempdir().expect("a temporary directory");
        let script = format!(
            r#"#!/bin/sh
# The desktop test's browser: note the URL, wait for the test's go, then sign in.
here=$(dirname "$0")
printf '%s\n' "$1" >> "$here/urls"
n=0
while [ ! -e "$here/gate" ]; do
    n=$((n + 1))
    if [ "$n" -gt 1200 ]; then echo "the test never opened the gate" >&2; exit 1; fi
    sleep 0.1
done
rm -f "$here/gate"
exec '{}' "$1"
"#,
            oidc::driver().display()
        );
        let path = dir.path().join("browser");
        std::fs::write(&path, script).expect("write the browser script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod the browser script");
        Self { dir }
    }

    fn command(&self) -> PathBuf {
        self.dir.path().join("browser")
    }

    /// The URLs the app opened so far.
    fn urls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("urls")).unwrap_or_default().lines().map(str::to_owned).collect()
    }

    /// Lets the waiting browser go on (one sign-in).
    fn open(&self) {
        std::fs::write(self.dir.path().join("gate"), b"go").expect("open the gate");
    }
}

/// The window, as the test sees it: waits, clicks, reads and screenshots, each failure with a
/// screenshot and the page's text.
struct Window<'a> {
    session: &'a Session,
    driver: &'a TauriDriver,
    app: &'a Path,
    shots: PathBuf,
    seq: Cell<u32>,
    /// The log of the service the window started.
    service_log: PathBuf,
    /// The X display the window is on (screenshots are taken there).
    display: String,
}

impl Window<'_> {
    /// Waits two animation frames (so what the DOM says is painted), then saves
    /// `NN-name.png`.
    fn shot(&self, name: &str) -> PathBuf {
        self.try_shot(name).unwrap_or_else(|err| self.fail(&format!("screenshot {name}: {err}")))
    }

    fn try_shot(&self, name: &str) -> Result<PathBuf, String> {
        let n = self.seq.get() + 1;
        self.seq.set(n);
        let path = self.shots.join(format!("{n:02}-{name}.png"));
        let _ = self.session.execute_async(
            "const done = arguments[arguments.length - 1];\
             requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
            &[],
        );
        // The X server's picture, not WebDriver's: WebKitWebDriver's screenshot waits forever
        // when WebKit composites in software, as the window does (src-tauri/src/webkit.rs).
        let output = std::process::Command::new("import")
            .args(["-display", &self.display, "-window", "root"])
            .arg(&path)
            .output()
            .map_err(|err| format!("import (ImageMagick): {err}"))?;
        if !output.status.success() {
            return Err(format!("import: {}", String::from_utf8_lossy(&output.stderr)));
        }
        eprintln!("desktop: screenshot {}", path.display());
        Ok(path)
    }

    fn page_text(&self) -> String {
        match self.session.execute("return document.body ? document.body.innerText : '(no body)';", &[]) {
            Ok(text) => text.as_str().unwrap_or_default().to_owned(),
            Err(err) => format!("(could not read the page: {err})"),
        }
    }

    /// Fails the test with what was expected, a screenshot, the page's text and the driver's log.
    fn fail(&self, what: &str) -> ! {
        let shot = match self.try_shot("FAILED") {
            Ok(path) => path.display().to_string(),
            Err(err) => format!("(none: {err}; did the app exit? see its output below)"),
        };
        let log = self.driver.log();
        let tail: Vec<&str> = log.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect();
        let lines: Vec<&str> = log.lines().collect();
        let panics: Vec<String> = lines
            .iter()
            .enumerate()
            .filter(|(_, line)| line.contains("panicked at"))
            .map(|(i, _)| lines[i..(i + 2).min(lines.len())].join("\n"))
            .collect();
        let processes = self.driver.processes();
        let app_name = self.app.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        // /proc's names are cut to 15 characters.
        let running = processes.lines().any(|line| {
            line.split_whitespace().nth(2).is_some_and(|name| app_name.starts_with(name) && name.len() >= 4)
        });
        let what = if running {
            what.to_owned()
        } else {
            format!(
                "{what}\n--- THE APP IS NOT RUNNING ANY MORE (it crashed or quit); its panics:\n{}",
                panics.join("\n")
            )
        };
        let service_log = std::fs::read_to_string(&self.service_log).unwrap_or_default();
        let service_tail: Vec<&str> =
            service_log.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect();
        panic!(
            "{what}\n--- screenshot: {shot}\n--- the page's text:\n{}\n--- processes (pid state name):\n{}\n\
             --- the last lines of tauri-driver's and the app's output:\n{}\n--- the service's log:\n{}",
            self.page_text(),
            processes,
            tail.join("\n"),
            service_tail.join("\n")
        );
    }

    fn check(&self, condition: bool, what: impl FnOnce() -> String) {
        if !condition {
            self.fail(&what());
        }
    }

    /// Polls `probe` until it gives something, for at most [`TIMEOUT`].
    fn wait<T>(&self, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(found) = probe() {
                return found;
            }
            if Instant::now() > deadline {
                self.fail(&format!("waited {TIMEOUT:?} for {what}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs `script` in the page (script errors fail the test).
    fn js(&self, script: &str, args: &[Value]) -> Value {
        self.session.execute(script, args).unwrap_or_else(|err| self.fail(&format!("script failed: {err}\n{script}")))
    }

    /// Waits until `script` returns something truthy, and returns it.
    fn wait_js(&self, what: &str, script: &str, args: &[Value]) -> Value {
        self.wait(what, || {
            let value = self.session.execute(script, args).ok()?;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            truthy.then_some(value)
        })
    }

    fn exists(&self, css: &str) -> bool {
        self.js("return document.querySelector(arguments[0]) !== null;", &[json!(css)]) == json!(true)
    }

    /// Waits for `css` to be in the page.
    fn wait_for(&self, css: &str, what: &str) {
        self.wait_js(what, "return document.querySelector(arguments[0]) !== null;", &[json!(css)]);
    }

    /// Waits for `css` to be gone from the page.
    fn wait_gone(&self, css: &str, what: &str) {
        self.wait_js(what, "return document.querySelector(arguments[0]) === null;", &[json!(css)]);
    }

    /// Waits until `css` is there and clickable, then clicks it with a real WebDriver click.
    fn click(&self, css: &str) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let outcome = self.session.find(css).and_then(|element| self.session.click(&element));
            match outcome {
                Ok(()) => return,
                Err(err) if Instant::now() > deadline => self.fail(&format!("could not click {css}: {err}")),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Clicks the main navigation's link or button called `label`.
    fn nav(&self, label: &str) {
        let found = self.wait_js(
            &format!("\"{label}\" in the main navigation"),
            r#"const nav = document.querySelector('nav[aria-label="Main"]');
               if (!nav) return null;
               return [...nav.querySelectorAll('a, button')].find((e) => e.textContent.trim() === arguments[0]) ?? null;"#,
            &[json!(label)],
        );
        let element = Session::element_of(&found).unwrap_or_else(|| self.fail(&format!("no element for {label}")));
        self.session.click(&element).unwrap_or_else(|err| self.fail(&format!("clicking {label}: {err}")));
    }

    /// The trimmed texts of every `css`.
    fn texts(&self, css: &str) -> Vec<String> {
        let value = self
            .js("return [...document.querySelectorAll(arguments[0])].map((e) => e.textContent.trim());", &[json!(css)]);
        value.as_array().into_iter().flatten().map(|v| v.as_str().unwrap_or_default().to_owned()).collect()
    }

    fn find(&self, css: &str) -> Element {
        self.session.find(css).unwrap_or_else(|err| self.fail(&format!("{css}: {err}")))
    }

    fn find_all(&self, css: &str) -> Vec<Element> {
        self.session.find_all(css).unwrap_or_else(|err| self.fail(&format!("{css}: {err}")))
    }

    /// An attribute read over WebDriver.
    fn attribute(&self, element: &Element, name: &str) -> Option<String> {
        self.session.attribute(element, name).unwrap_or_else(|err| self.fail(&format!("attribute {name}: {err}")))
    }

    /// An element's rendered text read over WebDriver.
    fn text(&self, element: &Element) -> String {
        self.session.text(element).unwrap_or_else(|err| self.fail(&format!("element text: {err}")))
    }
}

/// `[data-testid="account-card"][data-account="NAME"]`.
fn card(name: &str) -> String {
    format!(r#"[data-testid="account-card"][data-account="{name}"]"#)
}

/// `[data-testid="account-details"][data-account="NAME"]`.
fn details(name: &str) -> String {
    format!(r#"[data-testid="account-details"][data-account="{name}"]"#)
}

const CONFIRM: &str = r#"dialog [data-testid="confirm"], [role="dialog"] [data-testid="confirm"]"#;

/// Signs in with the browser from the Add account screen: provider `local`, optional name.
/// Checks the waiting view (and screenshots it as `waiting_shot`), lets the browser go on,
/// and waits for the new account's details. Returns the account's name.
fn add_account(w: &Window, gate: &BrowserGate, server: &OidcServer, name: Option<&str>, waiting_shot: &str) -> String {
    w.nav("Add account");
    w.wait_for(r#"[data-testid="provider-select"]"#, "the Add account form");
    // Pick the provider with a real click on its option.
    let option = w.find(r#"[data-testid="provider-select"] option[value="local"]"#);
    w.session.click(&option).unwrap_or_else(|err| w.fail(&format!("selecting provider local: {err}")));
    w.wait_js(
        "provider local selected",
        r#"return document.querySelector('[data-testid="provider-select"]').value === "local";"#,
        &[],
    );
    if let Some(name) = name {
        let field = w.find(r#"[data-testid="account-name"]"#);
        w.session.send_keys(&field, name).unwrap_or_else(|err| w.fail(&format!("typing the name: {err}")));
        w.wait_js(
            "the account name typed",
            r#"return document.querySelector('[data-testid="account-name"]').value === arguments[0];"#,
            &[json!(name)],
        );
    }
    let urls_before = gate.urls().len();
    w.click(r#"[data-testid="signin-browser"]"#);

    // The app opened the browser on the server's authorization endpoint and waits.
    w.wait_for(r#"[data-testid="signin-waiting"]"#, "the sign-in waiting view");
    let url = w.wait("the app to open the browser", || gate.urls().get(urls_before).cloned());
    w.check(url.starts_with(&format!("{}/auth?", server.issuer)), || {
        format!("the browser was opened on {url}, not on {}/auth", server.issuer)
    });
    w.check(w.exists(r#"[data-testid="signin-cancel"]"#), || "the waiting view has no Cancel button".into());
    w.wait_js(
        "the waiting view to say it waits for the browser",
        r#"const v = document.querySelector('[data-testid="signin-waiting"]');
           return v && v.dataset.mode === "browser" && /Waiting for you to sign in/.test(v.textContent);"#,
        &[],
    );
    w.shot(waiting_shot);

    // The "user" signs in; the app shows the new account's details.
    gate.open();
    let shown = w.wait_js(
        "the new account's details after the sign-in",
        r#"const d = document.querySelector('[data-testid="account-details"]');
           return d && d.querySelector('[data-testid="action-refresh"]') ? d.dataset.account : null;"#,
        &[],
    );
    let shown = shown.as_str().unwrap_or_default().to_owned();
    if let Some(name) = name {
        w.check(shown == name, || format!("the details show {shown:?}, not the new account {name:?}"));
    }
    w.check(!w.exists(r#"[data-testid="signin-waiting"]"#), || "the waiting view is still there".into());
    shown
}

/// Runs `keyport ARGS` of `profile`, asserting success.
fn cli_ok(w: &Window, profile: &Profile, args: &[&str]) -> String {
    let output = profile.run(args);
    if !output.status.success() {
        w.fail(&format!("keyport {args:?} failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr)));
    }
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

#[test]
fn desktop_app_adds_refreshes_shares_revokes_and_removes_accounts() {
    let started = Instant::now();
    let app = desktop_binary();
    let shots = screenshot_dir();
    std::fs::create_dir_all(&shots).expect("create tests/screenshots/desktop");
    for entry in std::fs::read_dir(&shots).into_iter().flatten().flatten() {
        if entry.path().extension().is_some_and(|e| e == "png") {
            let _ = std::fs::remove_file(entry.path());
        }
    }

    // Drop order (reverse of this): session, tauri-driver's group, Xvfb, the browser gate,
    // the profile (its keyring), the server.
    let server = OidcServer::start();
    // No rule: the program asking for a token below is put to the user.
    let profile = Profile::without_rules();
    profile.add_local_provider(&server);
    // The CLI started a service: stopped, so that the window starts its own below.
    profile.stop_daemon();
    let gate = BrowserGate::new();
    let xvfb = Xvfb::start();

    let mut env: Vec<(String, OsString)> = profile.env().into_iter().filter(|(key, _)| key != "BROWSER").collect();
    env.push(("BROWSER".into(), gate.command().into()));
    env.push(("DISPLAY".into(), xvfb.display.clone().into()));
    env.push(("LANG".into(), "C.UTF-8".into()));
    env.push(("KEYPORT_LOG".into(), "warn,keyport=debug,keyport_desktop=debug,keyport_service=debug".into()));
    let driver = TauriDriver::start(&env);
    let session = Session::start(&driver, &app)
        .unwrap_or_else(|err| panic!("starting the app over WebDriver: {err}\n{}", driver.log()));
    eprintln!("desktop: the app runs ({:.1} s after the start)", started.elapsed().as_secs_f64());
    let service_log = profile.root().join("run/keyport/daemon.log");
    let display = xvfb.display.clone();
    let w = Window { session: &session, driver: &driver, app: &app, shots, seq: Cell::new(0), service_log, display };

    // No service ran: the window started one, and the service (not the window) serves the socket.
    let service = w.wait("the service the window started", || profile.daemon_pid());
    let service_exe = std::fs::read_link(format!("/proc/{service}/exe")).unwrap_or_default();
    w.check(service_exe.file_name().is_some_and(|name| name == "keyport-full"), || {
        format!("the socket is served by {}, not by the service", service_exe.display())
    });

    // (a) The empty accounts screen, once the first list has rendered.
    w.wait_js("document.body.dataset.ready = \"1\"", "return document.body.dataset.ready === '1';", &[]);
    w.wait_for(r#"[data-testid="accounts"] [data-testid="accounts-empty"]"#, "the empty accounts screen");
    w.check(w.find_all(r#"[data-testid="account-card"]"#).is_empty(), || "cards on an empty screen".into());
    w.shot("accounts-empty");

    // "Start Keyport at login": off (no entry), then on: an autostart entry of the user's that
    // runs the service the window started.
    let switch = r#"[data-testid="start-at-login"]"#;
    w.wait_for(switch, "the Start at login switch");
    w.check(w.js("return document.querySelector(arguments[0]).checked;", &[json!(switch)]) == json!(false), || {
        "Start at login is on with no autostart entry".into()
    });
    w.click(switch);
    w.wait_js(
        "Start at login to be on",
        "const s = document.querySelector(arguments[0]); return s.checked && !s.disabled;",
        &[json!(switch)],
    );
    let entry = profile.root().join("config/autostart/keyport.desktop");
    let entry_text = std::fs::read_to_string(&entry).unwrap_or_default();
    w.check(entry_text.contains(&format!("Exec=\"{}\" daemon", service_exe.display())), || {
        format!("{} does not start the service {}: {entry_text:?}", entry.display(), service_exe.display())
    });

    // (b) Add an account in the browser.
    let account = add_account(&w, &gate, &server, None, "signin-waiting");
    let signed_in_at = Instant::now();
    w.check(account == "alice@example.test", || format!("the new account is called {account:?}"));
    let log = profile.driver_log();
    let last = log.last().cloned().unwrap_or(Value::Null);
    w.check(last["step"] == "redirect" && last["status"] == 200, || {
        format!("the login driver did not end with a delivered redirect: {last}")
    });
    w.wait_for(&format!(r#"{} [data-testid="status"][data-status="valid"]"#, details(&account)), "status valid");
    w.shot("account-added-details");

    // What the server granted: the scopes of the stored access token, by introspection.
    let access = profile.keyring_lookup(&format!("account/{account}/access_token")).expect("the access token");
    let introspection = server.introspect(&access);
    w.check(introspection["active"] == true, || format!("the new access token is not active: {introspection}"));
    let mut granted: Vec<String> =
        introspection["scope"].as_str().unwrap_or_default().split_whitespace().map(str::to_owned).collect();
    granted.sort();
    assert_eq!(granted, ["email", "offline_access", "openid", "profile"], "what the server granted");
    let status = serde_json::from_str::<Value>(&cli_ok(&w, &profile, &["status", &account, "--json"])).unwrap();

    w.nav("Accounts");
    w.wait_for(&card(&account), "the new account's card on the Accounts screen");
    w.check(!w.exists(r#"[data-testid="accounts-empty"]"#), || "the empty state is still shown".into());
    let the_card = w.find(&card(&account));
    let chips = w.find_all(&format!(r#"{} [data-testid="scope"]"#, card(&account)));
    let mut scopes: Vec<String> = chips.iter().map(|chip| w.text(chip).trim().to_owned()).collect();
    scopes.sort();
    w.check(scopes == granted, || format!("the card lists the scopes {scopes:?}, the server granted {granted:?}"));
    let mut cli_scopes: Vec<String> =
        status["scopes"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect();
    cli_scopes.sort();
    w.check(scopes == cli_scopes, || format!("the card lists {scopes:?}, `keyport status` {cli_scopes:?}"));
    let expiry = w.session.find_in(&the_card, r#"[data-testid="expiry"]"#).unwrap_or_else(|e| w.fail(&e.to_string()));
    let expires_at = w.attribute(&expiry, "data-expires-at").unwrap_or_default();
    w.check(!expires_at.is_empty(), || "the card's expiry has no data-expires-at".into());
    let expires = parse_time(&expires_at);
    let left = expires - OffsetDateTime::now_utc();
    // The server's access tokens live an hour.
    w.check(left > time::Duration::minutes(58) && left <= time::Duration::minutes(60), || {
        format!("the card says the token expires at {expires_at}, in {left}")
    });
    w.check(parse_time(status["expires_at"].as_str().unwrap()) == expires, || {
        format!("the card says {expires_at}, `keyport status` {}", status["expires_at"])
    });
    let countdown = w.text(&expiry);
    w.check(countdown.contains("59 min") || countdown.contains("58 min"), || {
        format!("the card's expiry says {countdown:?}, not about an hour")
    });
    let card_status =
        w.session.find_in(&the_card, r#"[data-testid="status"]"#).unwrap_or_else(|e| w.fail(&e.to_string()));
    w.check(w.attribute(&card_status, "data-status").as_deref() == Some("valid"), || {
        "the card's status is not valid".into()
    });
    w.shot("accounts-one-account");
    // The countdown is live.
    w.wait_js(
        "the card's countdown to tick",
        "const e = document.querySelector(arguments[0]); return e && e.textContent.trim() !== arguments[1].trim();",
        &[json!(format!(r#"{} [data-testid="expiry"]"#, card(&account))), json!(countdown)],
    );

    // (c) Refresh from the details; the expiry moves. Expiries are to the second: let one pass.
    w.session.click(&the_card).unwrap_or_else(|err| w.fail(&format!("opening the card: {err}")));
    w.wait_for(&format!(r#"{} [data-testid="action-refresh"]"#, details(&account)), "the account's details");
    let detail_expiry = format!(r#"{} [data-testid="expiry"]"#, details(&account));
    let before =
        w.js("return document.querySelector(arguments[0]).getAttribute('data-expires-at');", &[json!(detail_expiry)]);
    w.check(before.as_str() == Some(expires_at.as_str()), || {
        format!("the details say {before}, the card {expires_at}")
    });
    if let Some(rest) = Duration::from_millis(1500).checked_sub(signed_in_at.elapsed()) {
        std::thread::sleep(rest);
    }
    w.click(r#"[data-testid="action-refresh"]"#);
    let after = w.wait_js(
        "the expiry to move after Refresh",
        r#"const e = document.querySelector(arguments[0]);
           const v = e && e.getAttribute('data-expires-at');
           return v && v !== arguments[1] ? v : null;"#,
        &[json!(detail_expiry), json!(expires_at)],
    );
    let refreshed = parse_time(after.as_str().unwrap());
    w.check(refreshed > expires, || format!("after Refresh the expiry went from {expires_at} to {after}"));
    let new_access = profile.keyring_lookup(&format!("account/{account}/access_token")).expect("the access token");
    w.check(new_access != access, || "Refresh did not store a new access token".into());
    let status = serde_json::from_str::<Value>(&cli_ok(&w, &profile, &["status", &account, "--json"])).unwrap();
    w.check(parse_time(status["expires_at"].as_str().unwrap()) == refreshed, || {
        format!("the details say {after}, `keyport status` {}", status["expires_at"])
    });
    w.wait_js(
        "the Refresh button to be idle again",
        r#"const b = document.querySelector('[data-testid="action-refresh"]'); return b && !b.disabled;"#,
        &[],
    );
    w.shot("refreshed");

    // (d) A program asks for a token: the prompt appears, "Always allow", the program gets it.
    // `keyport token` is judged as its parent, this test binary, when it is the CLI the app
    // knows: the `keyport` beside it (the one under test, unless $KEYPORT_DESKTOP_APP is set).
    let me = std::env::current_exe().expect("the test binary");
    let me_name = me.file_name().unwrap().to_string_lossy().into_owned();
    let cli = Some(app.with_file_name("keyport")).filter(|p| p.is_file());
    let cli = cli.unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_keyport")));
    let (tx, rx) = std::sync::mpsc::channel::<Output>();
    let mut token_command = std::process::Command::new(cli);
    token_command.env_clear().envs(profile.env()).args(["token", &account]);
    let asker = std::thread::spawn(move || {
        let _ = tx.send(token_command.output().expect("running keyport token"));
    });
    let prompt = r#"[data-testid="access-prompt"]"#;
    // In the page, then shown (the dialog opens itself once mounted).
    w.wait_js(
        "the access prompt for `keyport token`",
        r#"const p = document.querySelector(arguments[0]);
           return p && p.getClientRects().length > 0 && p.innerText.includes("wants to read");"#,
        &[json!(prompt)],
    );
    let prompt_el = w.find(prompt);
    let prompt_text = w.text(&prompt_el);
    let expected = format!("{me_name} wants to read {account}");
    w.check(prompt_text.contains(&expected), || format!("the prompt does not say {expected:?}: {prompt_text:?}"));
    w.check(prompt_text.contains(&me.display().to_string()), || {
        format!("the prompt does not show the program's path {}: {prompt_text:?}", me.display())
    });
    w.check(w.attribute(&prompt_el, "data-prompt-id").is_some_and(|id| !id.is_empty()), || {
        "the prompt has no data-prompt-id".into()
    });
    w.check(rx.try_recv().is_err(), || "`keyport token` finished before anyone answered".into());
    w.shot("access-prompt");
    w.click(r#"[data-testid="prompt-allow-always"]"#);
    w.wait_gone(prompt, "the access prompt to close after Always allow");
    let said = Instant::now() + Duration::from_secs(3);
    let toast = r#"return [...document.querySelectorAll('[role="status"]')].some((e) => e.textContent.includes('may now read'));"#;
    while w.js(toast, &[]) != json!(true) && Instant::now() < said {
        std::thread::sleep(Duration::from_millis(100));
    }
    if w.js(toast, &[]) != json!(true) {
        eprintln!("desktop: NOTE: no \"may now read\" message after Always allow");
    }
    let output = rx.recv_timeout(TIMEOUT).unwrap_or_else(|_| w.fail("`keyport token` did not finish after the answer"));
    asker.join().expect("the keyport token thread");
    w.check(output.status.success(), || {
        format!("`keyport token` failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr))
    });
    let token = String::from_utf8(output.stdout).expect("UTF-8 token");
    w.check(token.ends_with('\n') && !token.trim().is_empty() && !token.trim().contains(char::is_whitespace), || {
        format!("`keyport token` printed {token:?}")
    });
    let token = token.trim().to_owned();
    w.check(token == new_access, || "`keyport token` printed another token than the stored one".into());
    let introspection = server.introspect(&token);
    w.check(introspection["active"] == true && introspection["sub"] == "alice", || {
        format!("the program's token is not alice's active token: {introspection}")
    });
    w.check(introspection["client_id"] == oidc::NATIVE_CLIENT, || format!("{introspection}"));
    // The rule is listed on the account's page. The page reloads its details after the
    // answer; should that reload come before the rule is stored, reopen the page (as a user
    // would) and say so.
    let program = format!(r#"{} [data-testid="program"][data-program="{}"]"#, details(&account), me.display());
    let live = Instant::now() + Duration::from_secs(3);
    while !w.exists(&program) && Instant::now() < live {
        std::thread::sleep(Duration::from_millis(100));
    }
    if !w.exists(&program) {
        eprintln!("desktop: NOTE: the programs list did not show the new rule by itself; reopening the account");
        w.nav("Accounts");
        w.wait_for(&card(&account), "the account's card");
        w.click(&card(&account));
    }
    w.wait_for(&program, "the allowed program in the details' programs list");
    let program_text = w.texts(&program).join(" ");
    w.check(program_text.contains("Allowed") && program_text.contains(&me_name), || {
        format!("the programs list says {program_text:?}")
    });
    w.check(w.exists(&format!(r#"{program} [data-testid="program-forget"]"#)), || "no Forget button".into());
    w.js("document.querySelector(arguments[0]).scrollIntoView({block: 'center'});", &[json!(program)]);
    w.shot("program-allowed");

    // (d2) A program on a machine reached with `keyport ssh` (typed at a terminal) asks: the
    // question names it as that machine claims it, and the host, with "Allow for this session";
    // the second read of the session is not asked.
    {
        let _one_at_a_time = crate::ssh::SESSIONS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let sshd = crate::support::sshd::Sshd::start();
        let remote = tempfile::tempdir().unwrap();
        let mbsync =
            crate::ssh::quote(&crate::ssh::remote_program(remote.path(), "mbsync", &account).display().to_string());
        let session = format!("echo first=$({mbsync}); echo again=$({mbsync})");
        let output = std::thread::scope(|scope| {
            let typed = scope.spawn(|| crate::ssh::keyport_ssh(&profile, &sshd, &session));
            let asked = r#"const p = document.querySelector(arguments[0]);
                   return !!p && p.getClientRects().length > 0 && p.innerText.includes("mbsync on 127.0.0.1 wants to read");"#;
            let deadline = Instant::now() + TIMEOUT;
            while !typed.is_finished() && w.js(asked, &[json!(prompt)]) != json!(true) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            if typed.is_finished() {
                let output = typed.join().expect("the keyport ssh thread");
                w.fail(&format!(
                    "`keyport ssh` ended before the question ({}): {}{}",
                    output.status,
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
            w.wait_js(
                "the access prompt for mbsync on 127.0.0.1",
                r#"const p = document.querySelector(arguments[0]);
                   return p && p.getClientRects().length > 0 && p.innerText.includes("mbsync on 127.0.0.1 wants to read");"#,
                &[json!(prompt)],
            );
            w.check(w.exists(r#"[data-testid="prompt-remote"]"#), || {
                "the remote question does not say where it comes from".into()
            });
            let buttons = w.texts(r#"[data-testid="access-prompt"] .prompt-actions button"#).join("|");
            w.check(buttons == "Deny|Allow once|Allow for this session|Always allow for this host", || {
                format!("the buttons are {buttons:?}")
            });
            w.shot("access-prompt-remote");
            w.click(r#"[data-testid="prompt-allow-session"]"#);
            w.wait_gone(prompt, "the remote access prompt to close after Allow for this session");
            typed.join().expect("the keyport ssh thread")
        });
        let printed = String::from_utf8_lossy(&output.stdout).into_owned();
        let first = printed.lines().find_map(|l| l.strip_prefix("first=")).unwrap_or_default().to_owned();
        w.check(output.status.success() && first.len() > 10 && printed.contains(&format!("again={first}\n")), || {
            format!(
                "the remote session printed {printed:?} ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )
        });
        w.check(!w.exists(prompt), || "the session's second read was asked again".into());
    }

    // The account's Activity section: the hand-out to the program, allowed by the answer in the
    // window, newest first. Reopened, as a user would, so the page reads the log again.
    w.nav("Accounts");
    w.wait_for(&card(&account), "the account's card");
    w.click(&card(&account));
    let handed = format!(
        r#"{} [data-testid="activity"] [data-testid="activity-record"][data-outcome="handed_out"][data-program="{}"]"#,
        details(&account),
        me.display()
    );
    w.wait_for(&handed, "the program's read in the account's Activity section");
    let handed_text = w.texts(&handed).join(" ");
    w.check(handed_text.contains(&me_name) && handed_text.contains("Always allow"), || {
        format!("the activity record says {handed_text:?}")
    });
    let refreshed = format!(r#"{} [data-testid="activity-record"][data-why="window"]"#, details(&account));
    w.check(w.exists(&refreshed), || "the refresh in the window is not in the Activity section".into());
    let last_read = format!(r#"{program} [data-testid="program-last-read"]"#);
    w.check(!w.texts(&last_read).join(" ").contains("never"), || {
        format!("the programs list says {:?} about the last read", w.texts(&last_read))
    });
    w.js("document.querySelector(arguments[0]).scrollIntoView({block: 'center'});", &[json!(handed)]);
    w.shot("activity");

    // (e) Revoke: confirm, the account is gone, the server says the tokens are dead.
    let refresh_token = profile.keyring_lookup(&format!("account/{account}/refresh_token")).expect("the refresh token");
    w.js("document.querySelector('[data-testid=\"action-revoke\"]').scrollIntoView({block: 'center'});", &[]);
    w.click(r#"[data-testid="action-revoke"]"#);
    w.wait_for(CONFIRM, "the revoke confirmation");
    let dialog_text = w.texts(r#"dialog[open], [role="dialog"]"#).join(" ");
    w.check(dialog_text.contains("revoke") && dialog_text.contains("local"), || {
        format!("the confirmation does not say that the provider revokes: {dialog_text:?}")
    });
    w.shot("revoke-confirm");
    w.click(CONFIRM);
    w.wait_for(r#"[data-testid="accounts"]"#, "the Accounts screen after Revoke");
    w.wait_gone(&card(&account), "the revoked account's card to go");
    w.wait_for(r#"[data-testid="accounts-empty"]"#, "the empty accounts screen after Revoke");
    w.wait_js(
        "a message that the provider revoked the tokens",
        r#"return [...document.querySelectorAll('[role="status"]')].some((e) => e.textContent.includes('revoked the tokens of'));"#,
        &[],
    );
    w.shot("revoked");
    let introspection = server.introspect(&token);
    w.check(introspection["active"] == false, || format!("the revoked access token is still active: {introspection}"));
    let introspection = server.introspect(&refresh_token);
    w.check(introspection["active"] == false, || format!("the revoked refresh token is still active: {introspection}"));
    w.check(cli_ok(&w, &profile, &["list", "--json"]).trim() == "[]", || "`keyport list` still lists it".into());
    w.check(profile.keyring_lookup(&format!("account/{account}/access_token")).is_none(), || {
        "the revoked access token is still in the keyring".into()
    });

    // (f) Another account, named this time; then Remove: gone here, untouched at the provider.
    let second = add_account(&w, &gate, &server, Some("second"), "second-signin-waiting");
    w.wait_for(&format!(r#"{} [data-testid="status"][data-status="valid"]"#, details(&second)), "status valid");
    w.shot("second-account-details");
    let record: Value = serde_json::from_slice(&std::fs::read(profile.accounts_file()).expect("accounts.json"))
        .expect("accounts.json is JSON");
    let template = record["accounts"][0].clone();
    let second_access =
        profile.keyring_lookup(&format!("account/{second}/access_token")).expect("the second access token");
    w.click(r#"[data-testid="action-remove"]"#);
    w.wait_for(CONFIRM, "the remove confirmation");
    let dialog_text = w.texts(r#"dialog[open], [role="dialog"]"#).join(" ");
    w.check(dialog_text.contains("Remove") && dialog_text.contains("this computer only"), || {
        format!("the confirmation does not say that Remove is local: {dialog_text:?}")
    });
    w.shot("remove-confirm");
    w.click(CONFIRM);
    w.wait_for(r#"[data-testid="accounts"]"#, "the Accounts screen after Remove");
    w.wait_gone(&card(&second), "the removed account's card to go");
    w.wait_for(r#"[data-testid="accounts-empty"]"#, "the empty accounts screen after Remove");
    w.shot("removed");
    w.check(cli_ok(&w, &profile, &["list", "--json"]).trim() == "[]", || "`keyport list` still lists it".into());
    w.check(profile.keyring_lookup(&format!("account/{second}/access_token")).is_none(), || {
        "the removed account's token is still in the keyring".into()
    });
    let introspection = server.introspect(&second_access);
    w.check(introspection["active"] == true, || {
        format!("Remove is local only, yet the server no longer knows the token: {introspection}")
    });

    // (g) The provider `local` edited in the window, its accounts kept: other default scopes,
    // and its revocation endpoint typed in (the one discovery found, so revoking goes on
    // working); then its metadata read again: nothing changed, the typed-in endpoint stays.
    let listed: Value = serde_json::from_str(&cli_ok(&w, &profile, &["provider", "list", "--json"])).unwrap();
    let revocation = listed[0]["endpoints"]["revocation"].as_str().unwrap_or_default().to_owned();
    w.check(listed[0]["name"] == "local" && !revocation.is_empty(), || format!("`provider list`: {listed}"));
    w.check(listed[0]["endpoint_sources"]["revocation"] == "discovered", || format!("`provider list`: {listed}"));
    w.nav("Providers");
    let local = r#"[data-testid="provider"][data-provider="local"]"#;
    w.wait_for(&format!(r#"{local} [data-testid="provider-edit"]"#), "the Edit button on the provider local's card");
    w.check(w.exists(&format!(r#"{local} [data-testid="provider-refresh"]"#)), || {
        "a discovered provider's card has no Refresh metadata button".into()
    });
    w.click(&format!(r#"{local} [data-testid="provider-edit"]"#));
    let dialog = r#"[data-testid="provider-edit-dialog"][data-provider="local"]"#;
    w.wait_for(&format!(r#"{dialog} [data-testid="edit-scopes"]"#), "the edit-provider dialog");
    let dialog_text = w.texts(dialog).join(" ");
    w.check(
        dialog_text.contains(&revocation)
            && dialog_text.contains("(discovered)")
            && dialog_text.contains("registration"),
        || {
            format!(
                "the dialog does not show the revocation endpoint, its source and the redirect hint: {dialog_text:?}"
            )
        },
    );
    // Clear the scopes field as a user would select and delete its text, then type.
    w.js(
        r#"const f = document.querySelector('[data-testid="edit-scopes"]');
           f.value = ""; f.dispatchEvent(new Event("input", { bubbles: true })); return null;"#,
        &[],
    );
    let scopes_field = w.find(&format!(r#"{dialog} [data-testid="edit-scopes"]"#));
    w.session.send_keys(&scopes_field, "openid email").unwrap_or_else(|err| w.fail(&format!("typing scopes: {err}")));
    let revocation_field = w.find(&format!(r#"{dialog} [data-testid="edit-endpoint-revocation-input"]"#));
    w.session
        .send_keys(&revocation_field, &revocation)
        .unwrap_or_else(|err| w.fail(&format!("typing the revocation endpoint: {err}")));
    w.wait_js(
        "the scopes and the endpoint typed",
        r#"return document.querySelector('[data-testid="edit-scopes"]').value === "openid email"
               && document.querySelector('[data-testid="edit-endpoint-revocation-input"]').value === arguments[0];"#,
        &[json!(revocation)],
    );
    w.js(
        "document.querySelector('[data-testid=\"edit-scopes\"]').scrollIntoView({block: 'center'}); return null;",
        &[],
    );
    w.shot("provider-edit");
    w.click(&format!(r#"{dialog} [data-testid="provider-edit-save"]"#));
    w.wait_gone(dialog, "the edit-provider dialog to close after Save");
    w.wait_js(
        "the card to show the new scopes and the typed-in revocation endpoint",
        r#"const card = document.querySelector(arguments[0]);
           const source = card && card.querySelector('[data-testid="endpoint-source-revocation"]');
           return card && card.textContent.includes("openid email") && source && source.textContent.includes("typed in");"#,
        &[json!(local)],
    );
    w.wait_js(
        "a message that the accounts are unchanged",
        r#"return [...document.querySelectorAll('[role="status"]')].some((e) => e.textContent.includes('its accounts are unchanged'));"#,
        &[],
    );
    let listed: Value = serde_json::from_str(&cli_ok(&w, &profile, &["provider", "list", "--json"])).unwrap();
    w.check(listed[0]["scopes"] == json!(["openid", "email"]), || format!("`provider list` after the edit: {listed}"));
    w.check(
        listed[0]["endpoint_sources"]["revocation"] == "given" && listed[0]["endpoints"]["revocation"] == revocation,
        || format!("`provider list` after the edit: {listed}"),
    );
    w.js("const d = document.querySelector(arguments[0] + ' details.endpoints'); d.open = true; d.scrollIntoView({block: 'center'}); return null;", &[json!(local)]);
    w.shot("provider-edited");
    w.click(&format!(r#"{local} [data-testid="provider-refresh"]"#));
    w.wait_for(
        &format!(r#"{local} [data-testid="provider-refresh-nothing"]"#),
        "\"nothing changed\" after Refresh metadata",
    );
    w.wait_js(
        "a message that the metadata said nothing new",
        r#"return [...document.querySelectorAll('[role="status"]')].some((e) => e.textContent.includes('again: nothing changed'));"#,
        &[],
    );
    let listed: Value = serde_json::from_str(&cli_ok(&w, &profile, &["provider", "list", "--json"])).unwrap();
    w.check(listed[0]["endpoint_sources"]["revocation"] == "given", || {
        format!("the typed-in revocation endpoint did not survive Refresh metadata: {listed}")
    });
    w.shot("provider-refreshed");
    // Back to the accounts, which are as they were: none.
    w.nav("Accounts");
    w.wait_for(r#"[data-testid="accounts-empty"]"#, "the empty accounts screen after the provider's edit");

    // (h) A long-time user's thousand accounts are all listed (records only: listing reads no
    // secret). The window reads the list again when it is reloaded.
    const MANY: usize = 1000;
    let mut many = record.clone();
    many["accounts"] = Value::Array(
        (0..MANY)
            .map(|n| {
                let mut account = template.clone();
                account["name"] = json!(format!("user{n:04}@example.test"));
                account
            })
            .collect(),
    );
    let path = profile.accounts_file();
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, serde_json::to_vec_pretty(&many).expect("JSON")).expect("write accounts");
    std::fs::rename(&temporary, &path).expect("replace accounts.json");
    w.js("setTimeout(() => location.reload(), 0); return null;", &[]);
    let listed = w.wait_js(
        "the thousand accounts listed",
        &format!(
            "const n = document.querySelectorAll('[data-testid=\"account-card\"]').length; return n === {MANY} ? n : null;"
        ),
        &[],
    );
    w.check(listed == json!(MANY), || format!("{listed} cards for {MANY} accounts"));
    w.check(w.exists(&card("user0999@example.test")), || "the last of the thousand accounts is not listed".into());
    w.shot("a-thousand-accounts");

    eprintln!("desktop: all steps passed in {:.1} s", started.elapsed().as_secs_f64());
    drop(w);
    drop(session);
    drop(driver);
    drop(xvfb);
}

/// The app, killed (with its web processes) if the test ends early.
struct App(std::process::Child);

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Closes the top-level window called `title` on `display` as a window manager would
/// (`WM_DELETE_WINDOW`; Xvfb has none), once it is mapped; `Err` with python's output if it
/// never was.
fn close_window(display: &str, title: &str) -> Result<(), String> {
    let script = r#"
import sys, time
from Xlib import X, display, protocol
d = display.Display(sys.argv[1])
def find(window):
    for child in window.query_tree().children:
        if child.get_wm_name() == sys.argv[2] and child.get_attributes().map_state == X.IsViewable:
            return child
        found = find(child)
        if found:
            return found
deadline = time.time() + 60
window = None
while window is None:
    window = find(d.screen().root)
    if window is None:
        if time.time() > deadline:
            sys.exit("no window called " + sys.argv[2])
        time.sleep(0.1)
event = protocol.event.ClientMessage(window=window, client_type=d.intern_atom("WM_PROTOCOLS"),
    data=(32, [d.intern_atom("WM_DELETE_WINDOW"), X.CurrentTime, 0, 0, 0]))
window.send_event(event, event_mask=X.NoEventMask)
d.flush()
"#;
    let output = std::process::Command::new("/usr/bin/python3")
        .args(["-c", script, display, title])
        .output()
        .map_err(|err| format!("python3: {err}"))?;
    if output.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&output.stderr).into_owned()) }
}

/// The window is a client of the service: with a headless service running (the CLI started
/// it), the window uses it and starts no other; closing the window ends the window's process
/// (and WebKit's), while the service goes on serving programs.
#[test]
fn the_window_uses_the_running_service_and_its_process_ends_when_it_closes() {
    let profile = Profile::new();
    profile.ok(&["list"]);
    let daemon = profile.daemon_pid().expect("`keyport list` started the service");
    let socket = profile.root().join("run/keyport/keyport.sock");
    assert!(socket.exists());

    let xvfb = Xvfb::start();
    let log = tempfile::NamedTempFile::new().expect("a log file");
    let mut app = App(std::process::Command::new(desktop_binary())
        .env_clear()
        .envs(profile.env())
        .env("DISPLAY", &xvfb.display)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log.reopen().expect("the log file"))
        .spawn()
        .expect("starting keyport-desktop"));
    let output = || std::fs::read_to_string(log.path()).unwrap_or_default();
    // The window is up (it connects before it opens), and closed by its window manager.
    close_window(&xvfb.display, "Keyport").unwrap_or_else(|err| panic!("{err}\nthe app's output:\n{}", output()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = app.0.try_wait().expect("the app's status") {
            break status;
        }
        assert!(start.elapsed() < TIMEOUT, "the app still runs {TIMEOUT:?} after its window closed:\n{}", output());
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "the app exited with {status}:\n{}", output());
    // The same service, still serving.
    assert_eq!(profile.daemon_pid(), Some(daemon), "the window started another service");
    assert!(crate::support::profile::alive(daemon));
    assert_eq!(profile.json(&["list", "--json"]), json!([]));
    assert!(socket.exists());
}
