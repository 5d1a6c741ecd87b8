//! End to end, in process: the service keeps answering while a keyring call hangs (Keyport
//! issue 10, finding 2). A keyring call can block for as long as a desktop's unlock dialog
//! stays open; the real GNOME Keyring of the tests cannot be made to do that (no prompter runs
//! on the private bus), so the secret store here is an in-memory one whose calls block on cue.
//! Everything else is real: the service on one async worker (as `keyport daemon` runs it),
//! its socket, `oidc-provider`, and a sign-in through the login driver.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use keyport_core::secret::Secret;
use keyport_core::secrets::{MemoryStore, SecretKey, SecretStore, SecretStoreError};
use serde_json::{Value, json};

use crate::support::oidc::{self, OidcServer};
use crate::support::rpc::Rpc;

/// A [`MemoryStore`] whose calls for keys ending with a chosen suffix block until released.
#[derive(Debug, Default)]
struct HangingStore {
    memory: MemoryStore,
    /// The suffix that blocks, and how many calls wait on it now.
    gate: Mutex<(Option<String>, usize)>,
    released: Condvar,
}

impl HangingStore {
    fn hang(&self, suffix: &str) {
        self.gate.lock().unwrap().0 = Some(suffix.to_owned());
    }

    fn release(&self) {
        self.gate.lock().unwrap().0 = None;
        self.released.notify_all();
    }

    fn waiting(&self) -> usize {
        self.gate.lock().unwrap().1
    }

    fn pass(&self, key: &SecretKey) {
        let mut gate = self.gate.lock().unwrap();
        if gate.0.as_ref().is_some_and(|suffix| key.as_str().ends_with(suffix.as_str())) {
            gate.1 += 1;
            while gate.0.is_some() {
                gate = self.released.wait(gate).unwrap();
            }
            gate.1 -= 1;
        }
    }
}

impl SecretStore for HangingStore {
    fn get(&self, key: &SecretKey) -> Result<Option<Secret>, SecretStoreError> {
        self.pass(key);
        self.memory.get(key)
    }

    fn set(&self, key: &SecretKey, value: &Secret) -> Result<(), SecretStoreError> {
        self.pass(key);
        self.memory.set(key, value)
    }

    fn delete(&self, key: &SecretKey) -> Result<(), SecretStoreError> {
        self.pass(key);
        self.memory.delete(key)
    }
}

#[test]
fn the_service_answers_while_a_keyring_call_hangs() {
    use keyport_core::browser::NoBrowser;
    use keyport_core::clock::SystemClock;
    use keyport_core::http::ReqwestClient;
    use keyport_core::paths::Paths;
    use keyport_core::provider::{Endpoints, RedirectHost};

    let server = OidcServer::start();
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths {
        config_dir: dir.path().join("config"),
        data_dir: dir.path().join("data"),
        runtime_dir: Some(dir.path().join("run")),
    };
    let store = Arc::new(HangingStore::default());
    let keyport = keyport_core::Keyport::new(
        &paths,
        store.clone(),
        Arc::new(ReqwestClient::new().unwrap()),
        Arc::new(SystemClock),
        Arc::new(NoBrowser),
    );
    // The daemon's runtime: one async worker.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let endpoints = Endpoints {
        authorization: format!("{}/auth", server.issuer).parse().unwrap(),
        token: format!("{}/token", server.issuer).parse().unwrap(),
        revocation: None,
        device_authorization: None,
        userinfo: None,
        introspection: None,
    };
    let provider = keyport_core::NewProvider {
        spec: keyport_core::ProviderSpec::Manual(Box::new(endpoints)),
        client_id: oidc::NATIVE_CLIENT.into(),
        client_secret: None,
        scopes: vec!["openid".into(), "offline_access".into()],
        redirect_host: RedirectHost::Ipv4,
        redirect_path: None,
        given_endpoints: Default::default(),
    };
    runtime.block_on(keyport.add_provider("local", provider)).unwrap();
    // Sign in with the login driver as the browser (`prompt=consent` for offline access).
    let request = keyport_core::signin::SignInRequest {
        account_name: Some("a".into()),
        open_browser: false,
        ..Default::default()
    };
    let pending = keyport.begin_sign_in("local", request).unwrap();
    let url = format!("{}&prompt=consent", pending.url());
    let driver = std::thread::spawn(move || std::process::Command::new(oidc::driver()).arg(url).status().unwrap());
    runtime.block_on(keyport.finish_sign_in(pending)).unwrap();
    assert!(driver.join().unwrap().success());

    let socket = dir.path().join("keyport.sock");
    let mut config = keyport_service::ServiceConfig::new(
        socket.clone(),
        paths.config_dir.join("access.toml"),
        paths.accounts_file(),
    );
    // This test binary is the program asking, not a `keyport` CLI speaking for its parent.
    config.cli_paths.clear();
    let service = keyport_service::Service::new(keyport, config, Arc::new(keyport_service::access::NoPrompter));
    let me = keyport_service::access::Program::Path(std::fs::canonicalize(std::env::current_exe().unwrap()).unwrap());
    service.rules().set(me, "a", keyport_service::access::Decision::Allow).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = {
        let _guard = runtime.enter();
        let listener = keyport_service::Listener::bind(&socket).unwrap();
        runtime.spawn(keyport_service::serve(service, listener, async {
            let _ = stopped.await;
        }))
    };

    let mut rpc = Rpc::connect(&socket, Duration::from_secs(30));
    let token = rpc.ok("token.get", json!({"account": "a"}))["access_token"].clone();
    // The keyring now hangs on the refresh token (an unlock dialog nobody answers), and a
    // renewal needs it.
    store.hang("/refresh_token");
    let renewal = std::thread::spawn({
        let socket = socket.clone();
        move || Rpc::connect(&socket, Duration::from_secs(60)).call("token.refresh", json!({"account": "a"}))
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while store.waiting() == 0 {
        assert!(std::time::Instant::now() < deadline, "the renewal never reached the keyring");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Other requests are answered meanwhile: an unrelated method, and the cached token.
    let (answered, answers) = std::sync::mpsc::channel();
    std::thread::spawn({
        let socket = socket.clone();
        move || {
            let mut rpc = Rpc::connect(&socket, Duration::from_secs(60));
            let providers = rpc.call("providers.list", Value::Null);
            let cached = rpc.call("token.get", json!({"account": "a"}));
            let _ = answered.send((providers, cached));
        }
    });
    let meanwhile = answers.recv_timeout(Duration::from_secs(5));
    store.release();
    let (providers, cached) = meanwhile.expect("the service stalled while a keyring call hung");
    assert_eq!(providers["result"]["providers"][0]["name"], "local", "{providers}");
    assert_eq!(cached["result"]["access_token"], token, "{cached}");
    let renewed = renewal.join().unwrap();
    assert!(renewed.get("result").is_some(), "the renewal finished once the keyring answered: {renewed}");

    let _ = stop.send(());
    runtime.block_on(served).unwrap();
}
