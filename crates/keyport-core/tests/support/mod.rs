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
use keyport_core::secrets::MemoryStore;
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

/// A Keyport over temporary files, an in-memory secret store and the fake provider, with
/// one user account `acct` signed in (access token `access-0`, refresh token `refresh-0`).
pub struct Fixture {
    pub keyport: Keyport,
    pub fake: FakeProvider,
    pub secrets: Arc<MemoryStore>,
    _dir: tempfile::TempDir,
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
        let keyport = Keyport::new(
            &paths,
            secrets.clone(),
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
        };
        let new = NewProvider {
            spec: ProviderSpec::Manual(Box::new(endpoints)),
            client_id: "client".into(),
            client_secret: None,
            scopes: vec!["api".into()],
            redirect_host: RedirectHost::Ipv4,
            redirect_path: "/callback".into(),
        };
        keyport.add_provider("fake", new).await.unwrap();
        fake.then(Reply::tokens("access-0", Some("refresh-0")));
        let request =
            SignInRequest { account_name: Some("acct".into()), open_browser: false, ..SignInRequest::default() };
        let pending = keyport.begin_sign_in("fake", request).unwrap();
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
        keyport.finish_sign_in(pending).await.unwrap();
        Self { keyport, fake, secrets, _dir: dir }
    }

    /// The stored access and refresh tokens.
    pub fn tokens(&self) -> (String, Option<String>) {
        let (_, access) = self.keyport.access_token("acct").unwrap();
        let refresh = self
            .secrets
            .keys()
            .into_iter()
            .find(|k| k.ends_with("/account/acct/refresh_token"))
            .and_then(|k| self.secrets.get_raw(&k));
        (access.expose().to_owned(), refresh)
    }

    /// Refresh requests seen (the sign-in's code exchange excluded).
    pub fn refresh_requests(&self) -> Vec<Seen> {
        self.fake.seen().into_iter().filter(|s| s.body.contains("grant_type=refresh_token")).collect()
    }
}
