//! End to end: `keyport add --device` (RFC 8628) against the real `oidc-provider`. Keyport prints
//! the code; the test plays the user on "another device" by running the login driver on the
//! `verification_uri_complete` it read from Keyport's stderr.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::support::oidc::{self, OidcServer};
use crate::support::profile::Profile;

/// A `keyport add ... --device` running in the background, its stderr read up to the link.
pub(crate) struct DeviceSignIn {
    child: Child,
    /// The stderr lines read so far.
    pub(crate) shown: Vec<String>,
    rest: JoinHandle<String>,
}

impl DeviceSignIn {
    /// Starts `keyport ARGS` and reads its stderr until the link with the code is shown.
    pub(crate) fn start(profile: &Profile, args: &[&str]) -> Self {
        let mut child = profile.keyport().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut shown = Vec::new();
        loop {
            let mut line = String::new();
            if stderr.read_line(&mut line).unwrap() == 0 {
                panic!("keyport ended before showing a code:\n{}", shown.join(""));
            }
            let done = line.starts_with("The code is valid for");
            shown.push(line);
            if done {
                break;
            }
        }
        let rest = std::thread::spawn(move || {
            let mut text = String::new();
            stderr.read_to_string(&mut text).unwrap();
            text
        });
        Self { child, shown, rest }
    }

    /// The indented line after the one starting with `label`.
    pub(crate) fn value_after(&self, label: &str) -> String {
        let at = self.shown.iter().position(|line| line.starts_with(label)).unwrap_or_else(|| {
            panic!("no {label:?} in:\n{}", self.shown.join(""));
        });
        self.shown[at + 1..].iter().find(|line| !line.trim().is_empty()).unwrap().trim().to_owned()
    }

    pub(crate) fn link(&self) -> String {
        self.value_after("Or open this link")
    }

    /// Waits for keyport; returns its output with the whole stderr.
    pub(crate) fn wait(mut self) -> Output {
        let mut stdout = String::new();
        self.child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
        let status = self.child.wait().unwrap();
        let stderr = self.shown.concat() + &self.rest.join().unwrap();
        Output { status, stdout: stdout.into_bytes(), stderr: stderr.into_bytes() }
    }
}

/// Runs the profile's login driver on `link` in `mode`, as the user on their phone.
pub(crate) fn approve_on_other_device(profile: &Profile, link: &str, mode: &str) {
    let output = Command::new(profile.browser())
        .arg(link)
        .env("KEYPORT_TEST_DRIVER", mode)
        .env("KEYPORT_TEST_DRIVER_LOG", profile.driver_log_path())
        .output()
        .expect("running the login driver");
    assert!(output.status.success(), "driver {mode} failed: {}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn device_sign_in_approved_on_another_device_connects_the_account() {
    let server = OidcServer::start_with(&["--device-interval", "1"]);
    let profile = Profile::new();
    profile.add_local_provider(&server);
    let sign_in = DeviceSignIn::start(&profile, &["add", "local", "--device", "--name", "d"]);
    let page = sign_in.value_after("To sign in, open this page");
    let code = sign_in.value_after("and enter the code");
    let link = sign_in.link();
    assert_eq!(page, format!("{}/device", server.issuer));
    assert!(link.starts_with(&page) && link.contains(&code), "{link} carries {code}");
    assert!(sign_in.shown.iter().any(|line| line.contains('█')), "a QR code is shown");
    assert!(sign_in.shown.last().unwrap().contains("valid for 10m 0s"), "{:?}", sign_in.shown.last());

    approve_on_other_device(&profile, &link, "device-approve");
    let output = sign_in.wait();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("Connected d (local) as Alice Example <alice@example.test>."), "{stdout}");

    let account = &profile.json(&["status", "d", "--json"]);
    assert_eq!(account["identity"]["sub"], "alice");
    assert_eq!(account["identity"]["email"], "alice@example.test");
    assert_eq!(account["kind"], "user");
    assert_eq!(account["has_refresh_token"], true, "offline_access gives a refresh token without prompt");
    assert!(account["scopes"].as_array().unwrap().iter().any(|s| s == "offline_access"), "{account}");
    profile.allow_me("d");
    let token = profile.ok(&["token", "d"]);
    let introspection = server.introspect(token.trim());
    assert_eq!(introspection["active"], true, "{introspection}");
    assert_eq!(introspection["sub"], "alice");
    assert_eq!(introspection["client_id"], oidc::NATIVE_CLIENT);
}

#[test]
fn device_sign_in_polls_every_5_seconds_when_the_provider_names_no_interval() {
    // This server sends no `interval`; RFC 8628 then says 5 seconds.
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_local_provider(&server);
    let started = Instant::now();
    let sign_in = DeviceSignIn::start(&profile, &["add", "local", "--device"]);
    approve_on_other_device(&profile, &sign_in.link(), "device-approve");
    let approved = started.elapsed();
    let output = sign_in.wait();
    let took = started.elapsed();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(approved < Duration::from_secs(5), "the test assumes approval within 5 s: {approved:?}");
    // The first poll comes 5 s after the code was issued, so it cannot finish earlier.
    assert!(took >= Duration::from_secs(5) && took < Duration::from_secs(30), "{took:?}");
    assert_eq!(profile.json(&["list", "--json"])[0]["name"], "alice@example.test");
}

#[test]
fn device_sign_in_denied_on_the_other_device_fails_and_stores_nothing() {
    let server = OidcServer::start_with(&["--device-interval", "1"]);
    let profile = Profile::new();
    profile.add_local_provider(&server);
    let sign_in = DeviceSignIn::start(&profile, &["add", "local", "--device", "--name", "d"]);
    approve_on_other_device(&profile, &sign_in.link(), "device-deny");
    let output = sign_in.wait();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("keyport: the provider refused the sign-in: access_denied"), "{stderr}");
    assert_eq!(profile.json(&["list", "--json"]), serde_json::json!([]));
}

#[test]
fn device_code_expires_when_nobody_approves() {
    let server = OidcServer::start_with(&["--device-interval", "1", "--device-ttl", "2"]);
    let profile = Profile::new();
    profile.add_local_provider(&server);
    let started = Instant::now();
    let sign_in = DeviceSignIn::start(&profile, &["add", "local", "--device"]);
    assert!(sign_in.shown.last().unwrap().contains("valid for 2s"), "{:?}", sign_in.shown.last());
    let output = sign_in.wait();
    let took = started.elapsed();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the device code expired: the sign-in was not approved within 2 seconds"), "{stderr}");
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert_eq!(profile.json(&["list", "--json"]), serde_json::json!([]));
}

#[test]
fn device_flow_needs_a_device_endpoint_and_excludes_browser_options() {
    let profile = Profile::new();
    profile.ok(&[
        "provider",
        "add",
        "plain",
        "--auth-url",
        "https://as.example/authorize",
        "--token-url",
        "https://as.example/token",
        "--client-id",
        "cid",
    ]);
    let stderr = profile.fails(&["add", "plain", "--device"]);
    assert!(stderr.contains("provider `plain` has no device authorization endpoint"), "{stderr}");

    let output = profile.run(&["add", "plain", "--device", "--no-browser"]);
    assert_eq!(output.status.code(), Some(2), "usage error");
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot be used with"));
}
