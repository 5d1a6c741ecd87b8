//! `KeyringStore` against a real Secret Service (GNOME Keyring on a private D-Bus session).
//!
//! The store finds the bus through `DBUS_SESSION_BUS_ADDRESS`, which it reads from the process
//! environment. Tests run as parallel threads of one process, and each needs its own bus, so
//! the code that uses the store runs in a child process: the parent test starts a
//! [`KeyringSession`] and re-runs this test binary, filtered to one `child::*` test, with the
//! session's environment. The alternative, a global mutex around `std::env::set_var`, would
//! still race with every other thread that reads the environment (any `Command::spawn`,
//! `getenv` in C code) — undefined behaviour on glibc, hence `unsafe` in edition 2024 — and
//! would serialize the tests. Child processes also give the "another process reads what this
//! one wrote" check for free.
//!
//! The `child::*` tests are `#[ignore]`d and do nothing unless `KEYPORT_KEYRING_TEST_CHILD` is
//! set, so `cargo test -- --include-ignored` stays harmless.

use std::process::{Command, Output, Stdio};

use keyport_core::secret::Secret;
use keyport_core::secrets::{KeyringStore, SecretKey, SecretStore, SecretStoreError};

use crate::support::keyring_session::KeyringSession;

/// Set in the child's environment.
const CHILD_FLAG: &str = "KEYPORT_KEYRING_TEST_CHILD";
/// Values passed to a child (keys and secrets are test data, not real secrets).
const VALUE_VAR: &str = "KEYPORT_KEYRING_TEST_VALUE";

/// Runs `child::<name>` in a new process of this test binary with `env` and returns its
/// output; panics unless exactly that one test ran and passed.
fn run_child(name: &str, env: &[(String, String)]) -> Output {
    // module_path!() is "<crate>::keyring_store::child"-like; test names omit the crate.
    let module = child::MODULE.split_once("::").map_or(child::MODULE, |(_, rest)| rest);
    let test = format!("{module}::{name}");
    let output = Command::new(std::env::current_exe().expect("current test binary"))
        .args([&test, "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env(CHILD_FLAG, "1")
        .stdin(Stdio::null())
        .output()
        .expect("run the test binary as a child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child test {test} failed ({}):\n--- stdout:\n{stdout}\n--- stderr:\n{stderr}",
        output.status
    );
    output
}

fn session_env_with(session: &KeyringSession, value: &str) -> Vec<(String, String)> {
    let mut env = session.env();
    env.push((VALUE_VAR.to_owned(), value.to_owned()));
    env
}

fn secret_tool(session: &KeyringSession, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = Command::new("secret-tool")
        .args(args)
        .envs(session.env())
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run secret-tool (package libsecret-tools; run tests/setup)");
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(text.as_bytes()).expect("write to secret-tool");
    }
    let output = child.wait_with_output().expect("wait for secret-tool");
    assert!(output.status.success(), "secret-tool {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    output
}

#[test]
fn set_get_replace_delete() {
    let session = KeyringSession::start();
    run_child("round_trip", &session.env());
}

#[test]
fn works_from_async_code_and_spawn_blocking() {
    let session = KeyringSession::start();
    run_child("inside_tokio", &session.env());
}

#[test]
fn secrets_outlive_the_process_and_are_visible_to_other_clients() {
    let session = KeyringSession::start();
    let key = SecretKey::refresh_token("test", "alice");

    // One process writes through KeyringStore...
    run_child("write", &session_env_with(&session, "written-by-keyport"));
    // ...another process reads it back through KeyringStore...
    run_child("read", &session_env_with(&session, "written-by-keyport"));
    // ...and libsecret sees an ordinary item with readable attributes and label.
    let lookup = secret_tool(&session, &["lookup", "service", "keyport", "username", key.as_str()], None);
    assert_eq!(String::from_utf8_lossy(&lookup.stdout), "written-by-keyport");
    let search = secret_tool(&session, &["search", "--all", "service", "keyport", "username", key.as_str()], None);
    let listing = String::from_utf8_lossy(&search.stdout);
    assert!(listing.contains(&format!("label = Keyport: {}", key.as_str())), "{listing}");

    // An item written by another client is read (and replaced) by KeyringStore.
    secret_tool(
        &session,
        &["store", "--label=written by secret-tool", "service", "keyport", "username", key.as_str()],
        Some("written-by-secret-tool"),
    );
    run_child("read", &session_env_with(&session, "written-by-secret-tool"));
}

#[test]
fn locked_keyring_is_reported_as_locked() {
    let session = KeyringSession::start();
    run_child("write", &session_env_with(&session, "before-the-lock"));
    session.lock();
    run_child("locked", &session.env());
}

#[test]
fn no_session_bus_is_unavailable_with_advice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let address = format!("unix:path={}", dir.path().join("no-such-bus").display());
    run_child("unavailable", &[("DBUS_SESSION_BUS_ADDRESS".to_owned(), address)]);
}

/// The code that runs in the child processes.
mod child {
    use super::*;

    pub(super) const MODULE: &str = module_path!();

    /// True in a child started by [`run_child`]; the parent's run skips these tests.
    fn is_child() -> bool {
        std::env::var_os(CHILD_FLAG).is_some()
    }

    fn expected_value() -> String {
        std::env::var(VALUE_VAR).expect("the parent passes the value")
    }

    #[test]
    #[ignore = "run in a child process by the keyring_store tests"]
    fn round_trip() {
        if !is_child() {
            return;
        }
        let store = KeyringStore::open().expect("open the keyring");
        let key = SecretKey::access_token("test", "alice");
        let other = SecretKey::client_secret("test", "provider");

        assert!(store.get(&key).expect("get missing").is_none());
        store.delete(&key).expect("deleting a missing key is fine");

        store.set(&key, &Secret::new("first")).expect("set");
        assert_eq!(store.get(&key).expect("get").expect("present").expose(), "first");
        store.set(&key, &Secret::new("second")).expect("replace");
        assert_eq!(store.get(&key).expect("get").expect("present").expose(), "second");
        assert!(store.get(&other).expect("get other").is_none());

        store.delete(&key).expect("delete");
        assert!(store.get(&key).expect("get deleted").is_none());
        store.delete(&key).expect("delete again");
    }

    #[test]
    #[ignore = "run in a child process by the keyring_store tests"]
    fn inside_tokio() {
        if !is_child() {
            return;
        }
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        runtime.block_on(async {
            // Opened and used directly on a runtime worker thread.
            let store = std::sync::Arc::new(KeyringStore::open().expect("open in async code"));
            let key = SecretKey::access_token("test", "async");
            store.set(&key, &Secret::new("from-async")).expect("set in async code");
            assert_eq!(store.get(&key).expect("get").expect("present").expose(), "from-async");
            // And from the blocking pool, concurrently.
            let mut tasks = Vec::new();
            for i in 0..4 {
                let store = store.clone();
                tasks.push(tokio::task::spawn_blocking(move || {
                    let key = SecretKey::access_token("test", &format!("blocking-{i}"));
                    store.set(&key, &Secret::new(format!("value-{i}"))).expect("set");
                    let got = store.get(&key).expect("get").expect("present");
                    assert_eq!(got.expose(), format!("value-{i}"));
                    store.delete(&key).expect("delete");
                }));
            }
            for task in tasks {
                task.await.expect("blocking task");
            }
            store.delete(&key).expect("delete in async code");
        });
        // And with no runtime at all, after one existed.
        let store = KeyringStore::open().expect("open outside a runtime");
        assert!(store.get(&SecretKey::access_token("test", "async")).expect("get").is_none());
    }

    #[test]
    #[ignore = "run in a child process by the keyring_store tests"]
    fn write() {
        if !is_child() {
            return;
        }
        let store = KeyringStore::open().expect("open the keyring");
        let key = SecretKey::refresh_token("test", "alice");
        store.set(&key, &Secret::new(expected_value())).expect("set");
    }

    #[test]
    #[ignore = "run in a child process by the keyring_store tests"]
    fn read() {
        if !is_child() {
            return;
        }
        let store = KeyringStore::open().expect("open the keyring");
        let key = SecretKey::refresh_token("test", "alice");
        let value = store.get(&key).expect("get").expect("written by the other process");
        assert_eq!(value.expose(), expected_value());
    }

    #[test]
    #[ignore = "run in a child process by the keyring_store tests"]
    fn locked() {
        if !is_child() {
            return;
        }
        let store = KeyringStore::open().expect("a locked keyring still opens");
        let key = SecretKey::refresh_token("test", "alice");
        let err = store.get(&key).expect_err("read from a locked keyring");
        assert!(matches!(err, SecretStoreError::Locked), "{err:?}");
        let err = store.set(&key, &Secret::new("after-the-lock")).expect_err("write to a locked keyring");
        assert!(matches!(err, SecretStoreError::Locked), "{err:?}");
        assert!(err.to_string().contains("unlock"), "{err}");
    }

    #[test]
    #[ignore = "run in a child process by the keyring_store tests"]
    fn unavailable() {
        if !is_child() {
            return;
        }
        let err = match KeyringStore::open() {
            Err(err) => err,
            // Connecting might succeed lazily on some versions; the first call must then fail.
            Ok(store) => store.get(&SecretKey::access_token("test", "alice")).expect_err("no bus, yet the read worked"),
        };
        assert!(matches!(err, SecretStoreError::Unavailable { .. }), "expected Unavailable, got {err:?}");
        let message = err.to_string();
        assert!(
            message.contains("install") && message.contains("Secret Service"),
            "the message should say how to get a keyring: {message}"
        );
        eprintln!("Unavailable message: {message}");
    }
}
