//! A fake provider for faults a real server will not produce: 500s, 429 with Retry-After,
//! slow or garbage responses, missing fields. It is a real HTTP server on 127.0.0.1 (port 0),
//! so Keyport's real HTTP client, `oauth2` and error handling are exercised; only the
//! answers are scripted.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keyport_core::browser::NoBrowser;
use keyport_core::clock::SystemClock;
use keyport_core::http::ReqwestClient;
use keyport_core::paths::Paths;
use keyport_core::provider::{Endpoints, RedirectHost};
use keyport_core::secret::Secret;
use keyport_core::secrets::{MemoryStore, SecretKey, SecretStore, SecretStoreError};
use keyport_core::signin::SignInRequest;
use keyport_core::{Keyport, NewProvider, ProviderSpec};

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
    pub delay: Duration,
}

impl Reply {
    pub fn json(status: u16, body: &str) -> Self {
        Self { status, body: body.to_owned(), headers: vec![], delay: Duration::ZERO }
    }

    /// A token response with `access`, optional `refresh`, one hour of lifetime.
    pub fn tokens(access: &str, refresh: Option<&str>) -> Self {
        let refresh = refresh.map(|r| format!(r#","refresh_token":"{r}""#)).unwrap_or_default();
        Self::json(200, &format!(r#"{{"access_token":"{access}","token_type":"Bearer","expires_in":3600{refresh}}}"#))
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// What the fake saw of one token request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    pub body: String,
}

#[derive(Debug, Default)]
struct State {
    script: VecDeque<Reply>,
    fallback: Option<Reply>,
    seen: Vec<Seen>,
}

/// The fake provider's token endpoint.
pub struct FakeProvider {
    pub base: String,
    state: Arc<Mutex<State>>,
}

impl FakeProvider {
    pub fn start() -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for mut request in server.incoming_requests() {
                let state = shared.clone();
                std::thread::spawn(move || {
                    let mut body = String::new();
                    let _ = request.as_reader().read_to_string(&mut body);
                    let reply = {
                        let mut state = state.lock().unwrap();
                        state.seen.push(Seen { at: Instant::now(), body });
                        state.script.pop_front().or_else(|| state.fallback.clone())
                    };
                    let reply = reply.unwrap_or_else(|| Reply::json(500, r#"{"error":"server_error"}"#));
                    std::thread::sleep(reply.delay);
                    let mut response = tiny_http::Response::from_string(reply.body).with_status_code(reply.status);
                    response.add_header(tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap());
                    for (name, value) in reply.headers {
                        response.add_header(tiny_http::Header::from_bytes(name, value).unwrap());
                    }
                    let _ = request.respond(response);
                });
            }
        });
        Self { base: format!("http://127.0.0.1:{port}"), state }
    }

    /// Queues answers for the next token requests.
    pub fn then(&self, reply: Reply) -> &Self {
        self.state.lock().unwrap().script.push_back(reply);
        self
    }

    /// The answer once the script is used up.
    pub fn otherwise(&self, reply: Reply) {
        self.state.lock().unwrap().fallback = Some(reply);
    }

    /// Token requests seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }
}

/// A [`MemoryStore`] with faults a real keyring produces but cannot be made to produce on cue:
/// writes to chosen keys fail (a keyring locking between two writes), or block until released
/// (a keyring waiting on an unlock dialog, or a slow D-Bus call).
#[derive(Debug, Default)]
pub struct FaultyStore {
    pub memory: Arc<MemoryStore>,
    faults: Mutex<Faults>,
    released: std::sync::Condvar,
}

#[derive(Debug, Default)]
struct Faults {
    /// Writes to keys ending with this fail (`count` more times).
    fail_writes: Option<(String, usize)>,
    /// Calls (reads or writes) to keys ending with this block while `blocked` is set.
    block: Option<String>,
    /// Calls waiting at the gate right now.
    waiting: usize,
}

impl FaultyStore {
    pub fn new(memory: Arc<MemoryStore>) -> Self {
        Self { memory, ..Self::default() }
    }

    /// Makes the next `count` writes to keys ending with `suffix` fail as a locked keyring does.
    pub fn fail_writes(&self, suffix: &str, count: usize) {
        self.faults.lock().unwrap().fail_writes = Some((suffix.to_owned(), count));
    }

    /// Makes calls to keys ending with `suffix` block until [`Self::release`].
    pub fn block(&self, suffix: &str) {
        self.faults.lock().unwrap().block = Some(suffix.to_owned());
    }

    /// Lets blocked calls (and later ones) through.
    pub fn release(&self) {
        self.faults.lock().unwrap().block = None;
        self.released.notify_all();
    }

    /// Waits until a call is blocked at the gate (at most 10 s).
    pub fn wait_until_blocked(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.faults.lock().unwrap().waiting == 0 {
            assert!(Instant::now() < deadline, "no keyring call reached the gate");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn gate(&self, key: &SecretKey) {
        let mut faults = self.faults.lock().unwrap();
        if faults.block.as_ref().is_some_and(|suffix| key.as_str().ends_with(suffix.as_str())) {
            faults.waiting += 1;
            while faults.block.is_some() {
                faults = self.released.wait(faults).unwrap();
            }
            faults.waiting -= 1;
        }
    }
}

impl SecretStore for FaultyStore {
    fn get(&self, key: &SecretKey) -> Result<Option<Secret>, SecretStoreError> {
        self.gate(key);
        self.memory.get(key)
    }

    fn set(&self, key: &SecretKey, value: &Secret) -> Result<(), SecretStoreError> {
        self.gate(key);
        {
            let mut faults = self.faults.lock().unwrap();
            if let Some((suffix, count)) = &mut faults.fail_writes
                && *count > 0
                && key.as_str().ends_with(suffix.as_str())
            {
                *count -= 1;
                return Err(SecretStoreError::Locked);
            }
        }
        self.memory.set(key, value)
    }

    fn delete(&self, key: &SecretKey) -> Result<(), SecretStoreError> {
        self.gate(key);
        self.memory.delete(key)
    }
}

/// A Keyport over temporary files, an in-memory secret store and the fake provider, with
/// one user account `acct` signed in (access token `access-0`, refresh token `refresh-0`).
pub struct Fixture {
    pub keyport: Keyport,
    pub fake: FakeProvider,
    pub secrets: Arc<MemoryStore>,
    pub store: Arc<FaultyStore>,
    pub dir: tempfile::TempDir,
    timeout: Duration,
}

impl Fixture {
    pub async fn signed_in(timeout: Duration) -> Self {
        let fake = FakeProvider::start();
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            config_dir: dir.path().join("config"),
            data_dir: dir.path().join("data"),
            runtime_dir: Some(dir.path().join("run")),
        };
        let secrets = Arc::new(MemoryStore::new());
        let store = Arc::new(FaultyStore::new(secrets.clone()));
        let keyport = Keyport::new(
            &paths,
            store.clone(),
            Arc::new(ReqwestClient::with_timeout(timeout).unwrap()),
            Arc::new(SystemClock),
            Arc::new(NoBrowser),
        );
        let endpoints = Endpoints {
            authorization: format!("{}/authorize", fake.base).parse().unwrap(),
            token: format!("{}/token", fake.base).parse().unwrap(),
            revocation: None,
            device_authorization: None,
            userinfo: None,
            introspection: None,
        };
        let new = NewProvider {
            spec: ProviderSpec::Manual(Box::new(endpoints)),
            client_id: "client".into(),
            client_secret: None,
            scopes: vec!["api".into()],
            redirect_host: RedirectHost::Ipv4,
            redirect_path: Some("/callback".into()),
            given_endpoints: Default::default(),
        };
        keyport.add_provider("fake", new).await.unwrap();
        let fixture = Self { keyport, fake, secrets, store, dir, timeout };
        fixture.fake.then(Reply::tokens("access-0", Some("refresh-0")));
        fixture.sign_in("acct").await.unwrap();
        fixture
    }

    /// Signs in account `name` through the fake (the next scripted reply is the token
    /// response).
    pub async fn sign_in(&self, name: &str) -> Result<keyport_core::account::Account, keyport_core::Error> {
        let request =
            SignInRequest { account_name: Some(name.into()), open_browser: false, ..SignInRequest::default() };
        let pending = self.keyport.begin_sign_in("fake", request).unwrap();
        deliver_redirect(&pending);
        self.keyport.finish_sign_in(pending).await
    }

    /// Another Keyport over the same files and secret store: what a second Keyport process
    /// (the CLI beside the daemon) would see.
    pub fn other_process(&self) -> Keyport {
        let paths = Paths {
            config_dir: self.dir.path().join("config"),
            data_dir: self.dir.path().join("data"),
            runtime_dir: Some(self.dir.path().join("run")),
        };
        Keyport::new(
            &paths,
            self.store.clone(),
            Arc::new(ReqwestClient::with_timeout(self.timeout).unwrap()),
            Arc::new(SystemClock),
            Arc::new(NoBrowser),
        )
    }

    /// Holds `name`'s renewal lock as another process would, until dropped.
    pub fn hold_renewal_lock(&self, name: &str) -> std::fs::File {
        let path = self.dir.path().join(format!("data/locks/{name}.lock"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path).unwrap();
        file.lock().unwrap();
        file
    }

    /// The stored access and refresh tokens.
    pub fn tokens(&self) -> (String, Option<String>) {
        self.tokens_of("acct")
    }

    /// The stored access and refresh tokens of `name`, straight from the store.
    pub fn tokens_of(&self, name: &str) -> (String, Option<String>) {
        let raw = |what: &str| {
            self.secrets
                .keys()
                .into_iter()
                .find(|k| k.ends_with(&format!("/account/{name}/{what}")))
                .and_then(|k| self.secrets.get_raw(&k))
        };
        (raw("access_token").unwrap_or_default(), raw("refresh_token"))
    }

    /// Refresh requests seen (the sign-in's code exchange excluded).
    pub fn refresh_requests(&self) -> Vec<Seen> {
        self.fake.seen().into_iter().filter(|s| s.body.contains("grant_type=refresh_token")).collect()
    }
}

/// Plays the browser: delivers the redirect of a pending sign-in to its loopback listener.
pub fn deliver_redirect(pending: &keyport_core::signin::PendingSignIn) {
    let state = pending.url().query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    let redirect = pending.redirect_uri().clone();
    std::thread::spawn(move || {
        let mut stream =
            std::net::TcpStream::connect((redirect.host_str().unwrap(), redirect.port().unwrap())).unwrap();
        write!(stream, "GET /callback?code=code-1&state={state} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut sink = String::new();
        let _ = stream.read_to_string(&mut sink);
    });
}
