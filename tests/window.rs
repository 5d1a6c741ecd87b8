//! The desktop window's socket methods (`accounts.details`, `providers.*`, `signin.device`,
//! `prompts.*`, `service.*`), served by the real service on a real socket against
//! `oidc-provider`: only the window (here: this test binary, named as the installed window)
//! and the person may call them, a program is refused, programs' questions reach the window
//! and are answered there, and with no window the service starts one or refuses at once.
//! `keyport quit` stops a real daemon.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::daemon::{python_client, system_python};
use crate::support::oidc::{OidcServer, SERVICE_CLIENT};
use crate::support::profile::Profile;
use crate::support::rpc::Rpc;

pub(crate) const TIMEOUT: Duration = Duration::from_secs(30);

/// A service run in this process over a temporary profile (secrets in memory), whose
/// installed window is this test binary when `as_window`.
pub(crate) struct Hosted {
    _dir: tempfile::TempDir,
    pub(crate) socket: PathBuf,
    runtime: tokio::runtime::Runtime,
    service: Arc<keyport_service::Service>,
    served: Option<tokio::task::JoinHandle<Result<(), keyport_service::ServiceError>>>,
    /// The screens the service asked its window opener for.
    opened: Arc<Mutex<Vec<keyport_wire::Navigate>>>,
}

impl Hosted {
    pub(crate) fn start(as_window: bool, opener_works: bool) -> Self {
        use keyport_core::browser::NoBrowser;
        use keyport_core::clock::SystemClock;
        use keyport_core::http::ReqwestClient;
        use keyport_core::paths::Paths;
        use keyport_core::secrets::MemoryStore;
        let dir = tempfile::tempdir().unwrap();
        let runtime_dir = dir.path().join("run");
        std::fs::create_dir_all(&runtime_dir).unwrap();
        std::os::unix::fs::PermissionsExt::set_mode(&mut std::fs::metadata(&runtime_dir).unwrap().permissions(), 0o700);
        let paths = Paths {
            config_dir: dir.path().join("config"),
            data_dir: dir.path().join("data"),
            runtime_dir: Some(runtime_dir.clone()),
        };
        let keyport = keyport_core::Keyport::new(
            &paths,
            Arc::new(MemoryStore::new()),
            Arc::new(ReqwestClient::new().unwrap()),
            Arc::new(SystemClock),
            Arc::new(NoBrowser),
        );
        let socket = keyport_wire::socket_path_in(&runtime_dir);
        let mut config = keyport_service::ServiceConfig::new(
            socket.clone(),
            paths.config_dir.join("access.toml"),
            paths.accounts_file(),
        );
        // This binary is not the CLI here; it is the window when the test says so.
        config.cli_paths.clear();
        config.desktop_paths =
            if as_window { vec![std::fs::canonicalize(std::env::current_exe().unwrap()).unwrap()] } else { vec![] };
        config.autostart = Some(keyport_service::autostart::Autostart::Xdg {
            user_dir: dir.path().join("home/.config/autostart"),
            system_dirs: vec![dir.path().join("etc/xdg/autostart")],
        });
        let prompts = keyport_service::prompts::AccessPrompts::new(Duration::from_secs(20));
        let opened = Arc::new(Mutex::new(Vec::new()));
        let record = opened.clone();
        prompts.set_window_opener(Arc::new(move |screen: &keyport_wire::Navigate| {
            record.lock().unwrap().push(screen.clone());
            opener_works
        }));
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let service = keyport_service::Service::new(keyport, config, prompts);
        let served = {
            let _guard = runtime.enter();
            let listening = keyport_service::bind(&service).unwrap();
            runtime.spawn(keyport_service::run(service.clone(), listening, std::future::pending()))
        };
        Self { _dir: dir, socket, runtime, service, served: Some(served), opened }
    }

    pub(crate) fn rpc(&self) -> Rpc {
        Rpc::connect(&self.socket, TIMEOUT)
    }
}

/// A connection that reads notifications too (the window's subscription).
pub(crate) struct Subscription {
    stream: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Subscription {
    pub(crate) fn open(socket: &Path) -> Self {
        let stream = UnixStream::connect(socket).unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Self { stream, reader }
    }

    pub(crate) fn send(&mut self, id: i64, method: &str, params: Value) {
        let mut request = json!({"jsonrpc": "2.0", "id": id, "method": method});
        if !params.is_null() {
            request["params"] = params;
        }
        self.stream.write_all(format!("{request}\n").as_bytes()).unwrap();
    }

    /// The next message that `wanted` accepts (others are skipped).
    fn next(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        loop {
            let mut line = String::new();
            assert!(self.reader.read_line(&mut line).unwrap() > 0, "the service closed the connection");
            let message: Value = serde_json::from_str(&line).unwrap();
            if wanted(&message) {
                return message;
            }
        }
    }

    pub(crate) fn response(&mut self, id: i64) -> Value {
        self.next(|m| m["id"] == json!(id))
    }

    pub(crate) fn event(&mut self, kind: &str) -> Value {
        self.next(|m| m["method"] == "event" && m["params"]["event"] == kind)["params"].clone()
    }
}

/// Adds provider `svc` (the server's client-credentials client) and service account `ci`, as
/// the window.
pub(crate) fn add_service_account(window: &mut Rpc, server: &OidcServer) {
    window.ok(
        "providers.add",
        json!({"name": "svc", "source": {"kind": "issuer", "issuer": server.issuer}, "client_id": SERVICE_CLIENT.0,
               "client_secret": null, "scopes": []}),
    );
    window.ok(
        "accounts.add_service",
        json!({"provider": "svc", "name": "ci", "scopes": [], "client_id": null, "client_secret": SERVICE_CLIENT.1}),
    );
}

/// A token request by another program (the system's python3), waiting for its answer.
fn program_asks(socket: &Path, python: &Path, account: &str) -> std::thread::JoinHandle<Value> {
    let (socket, python, account) = (socket.to_owned(), python.to_owned(), account.to_owned());
    std::thread::spawn(move || {
        let request = json!({"jsonrpc": "2.0", "id": 1, "method": "token.get", "params": {"account": account}});
        python_client(&[], &python, None, &socket, &[request])
    })
}

#[test]
fn the_window_adds_providers_and_service_accounts_over_the_socket_and_a_program_may_not() {
    let server = OidcServer::start();
    let hosted = Hosted::start(true, true);
    let mut window = hosted.rpc();

    let presets = window.ok("providers.presets", Value::Null);
    let ids: Vec<&str> = presets["presets"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["google", "microsoft", "github", "gitlab"]);

    let provider = window.ok(
        "providers.add",
        json!({"name": "svc", "source": {"kind": "issuer", "issuer": server.issuer}, "client_id": SERVICE_CLIENT.0,
               "client_secret": null, "scopes": []}),
    );
    assert_eq!(provider["name"], "svc", "{provider}");
    assert_eq!(provider["endpoints"]["token"], format!("{}/token", server.issuer), "{provider}");

    let edited = window.ok(
        "providers.edit",
        json!({"name": "svc", "endpoints": {"authorization": null, "token": null, "revocation": null,
               "device_authorization": null, "userinfo": null, "introspection": null},
               "forget_endpoints": [], "scopes": ["api:read"], "redirect_host": null, "redirect_path": null,
               "client_secret": {"action": "keep"}}),
    );
    assert_eq!(edited["scopes"], json!(["api:read"]), "{edited}");
    let refreshed = window.ok("providers.refresh", json!({"provider": "svc"}));
    assert_eq!(refreshed["changes"], json!([]), "the metadata did not change: {refreshed}");

    // Endpoints over the discovered ones and the redirect URI as registered, at once (as
    // `keyport provider add` sends them).
    let device = format!("{}/elsewhere/device", server.issuer);
    let given = window.ok(
        "providers.add",
        json!({"name": "given", "source": {"kind": "issuer", "issuer": server.issuer}, "client_id": "keyport-native",
               "client_secret": null, "scopes": [],
               "endpoints": {"authorization": null, "token": null, "revocation": null,
                             "device_authorization": device, "userinfo": "  ", "introspection": null},
               "redirect_host": "localhost", "redirect_path": "/cb/given"}),
    );
    assert_eq!(given["endpoints"]["device_authorization"], device.as_str(), "{given}");
    assert_eq!(given["endpoint_sources"]["device_authorization"], "given", "{given}");
    assert_eq!(given["endpoint_sources"]["token"], "discovered", "{given}");
    assert_eq!(given["redirect_uri"], "http://localhost/cb/given", "{given}");
    window.ok("providers.remove", json!({"provider": "given"}));
    // Typed-in endpoints are all in the source; a bad redirect host is named.
    let both = window.err(
        "providers.add",
        json!({"name": "both", "source": {"kind": "endpoints", "endpoints": {"authorization": device, "token": device}},
               "client_id": "x", "client_secret": null, "scopes": [],
               "endpoints": {"authorization": null, "token": null, "revocation": device,
                             "device_authorization": null, "userinfo": null, "introspection": null}}),
    );
    assert_eq!(both["code"], -32602, "{both}");
    let host = window.err(
        "providers.add",
        json!({"name": "host", "source": {"kind": "issuer", "issuer": server.issuer}, "client_id": "x",
               "client_secret": null, "scopes": [], "redirect_host": "0.0.0.0"}),
    );
    assert_eq!(host["code"], -32602, "{host}");
    assert!(host["message"].as_str().unwrap().contains("0.0.0.0"), "{host}");
    assert_eq!(window.ok("providers.list", Value::Null)["providers"].as_array().unwrap().len(), 1, "{both} {host}");

    // A wrong secret is the provider's refusal, and nothing is added.
    let wrong = window.err(
        "accounts.add_service",
        json!({"provider": "svc", "name": "ci", "scopes": [], "client_id": null, "client_secret": "nope"}),
    );
    assert!(wrong["code"].as_i64().is_some_and(|code| code != -32004), "the provider's refusal: {wrong}");
    assert!(!wrong.to_string().contains("nope"), "the secret is not echoed: {wrong}");
    assert_eq!(window.ok("accounts.list", Value::Null)["accounts"], json!([]));

    let account = window.ok(
        "accounts.add_service",
        json!({"provider": "svc", "name": "ci", "scopes": [], "client_id": null, "client_secret": SERVICE_CLIENT.1}),
    );
    assert_eq!(account["kind"], "service", "{account}");
    assert_eq!(account["status"], "valid", "{account}");
    let details = window.ok("accounts.details", json!({"account": "ci"}));
    assert_eq!(details["account"]["name"], "ci");
    assert_eq!(details["programs"], json!([]));
    assert_eq!(details["last_error"], Value::Null);

    let status = window.ok("service.status", Value::Null);
    assert_eq!(status["pid"], std::process::id(), "{status}");
    assert_eq!(status["socket"], hosted.socket.display().to_string(), "{status}");
    assert_eq!(status["needs_attention"], json!([]));

    // Another program (python3) is refused every one of these, and learns who may.
    let Some(python) = system_python() else {
        println!("SKIPPED the program half of the test: no system python3");
        return;
    };
    let calls = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "providers.add", "params": {"name": "x", "source": {"kind": "issuer", "issuer": server.issuer}, "client_id": "x", "client_secret": null, "scopes": []}}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "accounts.details", "params": {"account": "ci"}}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "providers.remove", "params": {"provider": "svc"}}),
        json!({"jsonrpc": "2.0", "id": 4, "method": "prompts.subscribe"}),
        json!({"jsonrpc": "2.0", "id": 5, "method": "service.stop"}),
        json!({"jsonrpc": "2.0", "id": 6, "method": "providers.presets"}),
    ];
    let answers = python_client(&[], &python, None, &hosted.socket, &calls);
    let responses = answers["responses"].as_array().unwrap();
    assert_eq!(responses.len(), 6, "{answers}");
    for response in &responses[..5] {
        assert_eq!(response["error"]["code"], -32004, "{response}");
    }
    assert!(responses[0]["error"]["message"].as_str().unwrap().contains("only you"), "{}", responses[0]);
    assert!(responses[3]["error"]["message"].as_str().unwrap().contains("only the Keyport window"), "{}", responses[3]);
    assert_eq!(responses[5]["result"]["presets"].as_array().unwrap().len(), 4, "presets are public");
    assert_eq!(window.ok("providers.list", Value::Null)["providers"].as_array().unwrap().len(), 1, "nothing added");
    assert!(!hosted.served.as_ref().unwrap().is_finished(), "service.stop by a program did not stop it");

    // The window removes the account, then the provider.
    window.ok("accounts.remove", json!({"account": "ci"}));
    assert_eq!(window.ok("providers.remove", json!({"provider": "svc"})), json!({}));
    assert_eq!(window.ok("providers.list", Value::Null)["providers"], json!([]));
}

#[test]
fn a_programs_question_reaches_the_window_and_its_answer_is_kept() {
    let Some(python) = system_python() else {
        println!("SKIPPED a_programs_question_reaches_the_window_and_its_answer_is_kept: no system python3");
        return;
    };
    let server = OidcServer::start();
    let hosted = Hosted::start(true, true);
    let mut window = hosted.rpc();
    add_service_account(&mut window, &server);

    let mut answering = Subscription::open(&hosted.socket);
    answering.send(1, "prompts.subscribe", Value::Null);
    assert_eq!(answering.response(1)["result"], json!({"prompts": []}));

    // The program waits while the window is asked; no window is started, one is here.
    let asking = program_asks(&hosted.socket, &python, "ci");
    let asked = answering.event("prompt_asked");
    let prompt = &asked["prompt"];
    assert_eq!(prompt["account"], "ci", "{asked}");
    assert_eq!(prompt["action"], "read_token", "{asked}");
    assert!(prompt["program"].as_str().unwrap().contains("python"), "{asked}");
    assert!(hosted.opened.lock().unwrap().is_empty(), "a window answers: none is started");
    assert!(prompt.get("host").is_none(), "a local program's question names no host: {asked}");
    // "For this session" is for a `keyport ssh` session's question only.
    let session = window.err("prompts.answer", json!({"prompt_id": prompt["prompt_id"], "choice": "allow_session"}));
    assert_eq!(session["code"], -32602, "{session}");
    assert!(session["message"].as_str().unwrap().contains("`keyport ssh` session only"), "{session}");

    answering.send(2, "prompts.answer", json!({"prompt_id": prompt["prompt_id"], "choice": "allow_always"}));
    assert_eq!(answering.response(2)["result"], json!({}));
    assert_eq!(answering.event("prompt_closed")["prompt_id"], prompt["prompt_id"]);
    let answered = asking.join().unwrap();
    let token = answered["responses"][0]["result"]["access_token"].as_str().unwrap_or_default();
    assert!(!token.is_empty(), "the program got its token once allowed: {answered}");

    // Remembered: the rule is on the account's page, and the program is not asked again.
    let details = window.ok("accounts.details", json!({"account": "ci"}));
    assert_eq!(details["programs"][0]["decision"], "allow", "{details}");
    let again = program_asks(&hosted.socket, &python, "ci").join().unwrap();
    assert!(again["responses"][0]["result"]["access_token"].is_string(), "{again}");
    // An answered question cannot be answered again.
    let gone = window.err("prompts.answer", json!({"prompt_id": prompt["prompt_id"], "choice": "deny"}));
    assert_eq!(gone["code"], -32602, "{gone}");
}

#[test]
fn with_no_window_the_service_starts_one_on_the_question_or_refuses_at_once() {
    let Some(python) = system_python() else {
        println!("SKIPPED with_no_window_the_service_starts_one_on_the_question_or_refuses_at_once: no system python3");
        return;
    };
    let server = OidcServer::start();
    for opener_works in [false, true] {
        let hosted = Hosted::start(true, opener_works);
        let mut window = hosted.rpc();
        add_service_account(&mut window, &server);
        let started = Instant::now();
        let asking = program_asks(&hosted.socket, &python, "ci");
        if !opener_works {
            // No display, no window binary: refused at once, not after the question's 20 s.
            let refused = asking.join().unwrap();
            assert_eq!(refused["responses"][0]["error"]["code"], -32004, "{refused}");
            assert!(started.elapsed() < Duration::from_secs(10), "refused at once: {:?}", started.elapsed());
            let opened = hosted.opened.lock().unwrap().clone();
            assert_eq!(opened.len(), 1, "one window was tried: {opened:?}");
            assert!(matches!(opened[0], keyport_wire::Navigate::Prompt { .. }), "{opened:?}");
            continue;
        }
        // A window is started at the question; when it connects, it finds the question waiting.
        let deadline = Instant::now() + TIMEOUT;
        while hosted.opened.lock().unwrap().is_empty() {
            assert!(Instant::now() < deadline, "no window was started");
            std::thread::sleep(Duration::from_millis(20));
        }
        let keyport_wire::Navigate::Prompt { prompt_id } = hosted.opened.lock().unwrap()[0].clone() else {
            panic!("the window is started at the question")
        };
        let mut started_window = Subscription::open(&hosted.socket);
        started_window.send(1, "prompts.subscribe", Value::Null);
        let pending = started_window.response(1)["result"]["prompts"].clone();
        assert_eq!(pending[0]["prompt_id"], json!(prompt_id), "{pending}");
        started_window.send(2, "prompts.answer", json!({"prompt_id": prompt_id, "choice": "deny"}));
        assert_eq!(started_window.response(2)["result"], json!({}));
        let denied = asking.join().unwrap();
        assert_eq!(denied["responses"][0]["error"]["code"], -32004, "{denied}");
        // While a window answers, showing a screen is an event to it, not a new window.
        assert!(hosted.service.show_window(keyport_wire::Navigate::Account { account: "ci".into() }));
        let shown = started_window.event("show");
        assert_eq!(shown["screen"], json!({"screen": "account", "account": "ci"}));
        assert_eq!(hosted.opened.lock().unwrap().len(), 1, "no second window");
    }
}

#[test]
fn a_program_that_is_not_the_installed_window_cannot_answer_questions() {
    // The same binary, but not the one installed as the window: it is a program.
    let hosted = Hosted::start(false, false);
    let mut client = hosted.rpc();
    let refused = client.err("prompts.subscribe", Value::Null);
    assert_eq!(refused["code"], -32004, "{refused}");
    let refused = client.err("prompts.answer", json!({"prompt_id": "x", "choice": "allow_once"}));
    assert_eq!(refused["code"], -32004, "{refused}");
    let refused = client.err("service.status", Value::Null);
    assert_eq!(refused["code"], -32004, "{refused}");
}

#[test]
fn service_stop_from_the_window_stops_the_service_and_removes_the_socket() {
    let mut hosted = Hosted::start(true, false);
    let mut window = hosted.rpc();
    assert_eq!(window.ok("service.stop", Value::Null), json!({}));
    let served = hosted.served.take().unwrap();
    let stopped = hosted.runtime.block_on(async { tokio::time::timeout(TIMEOUT, served).await });
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "the service stopped cleanly: {stopped:?}");
    assert!(!hosted.socket.exists(), "the socket is removed");
}

#[test]
fn keyport_quit_stops_the_daemon_and_says_so_when_none_runs() {
    let profile = Profile::new();
    profile.ok(&["list"]);
    let pid = profile.daemon_pid().expect("the CLI started a daemon");
    assert_eq!(profile.typed_ok(&["quit"]).trim(), "Keyport stopped.");
    let deadline = Instant::now() + TIMEOUT;
    while Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z ")
    {
        assert!(Instant::now() < deadline, "the daemon {pid} did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(profile.typed_ok(&["quit"]).trim(), "Keyport is not running.");
}

#[test]
fn the_window_reads_a_thousand_accounts_in_one_answer() {
    let hosted = Hosted::start(true, false);
    let accounts: Vec<Value> = (0..1000)
        .map(|n| {
            json!({
                "name": format!("user{n:04}@example.test"), "provider": "local", "kind": "user", "identity": {},
                "scopes": ["openid"], "requested_scopes": ["openid"],
                "expires_at": "2026-01-01T13:00:00Z", "token_issued_at": "2026-01-01T12:00:00Z",
                "token_type": "Bearer", "has_refresh_token": true, "health": { "state": "ok" },
                "created_at": "2026-01-01T12:00:00Z", "updated_at": "2026-01-01T12:00:00Z",
            })
        })
        .collect();
    let file = json!({ "format": 1, "keyring_namespace": "0011223344556677", "accounts": accounts });
    let path = hosted._dir.path().join("data/accounts.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, file.to_string()).unwrap();
    let mut window = Subscription::open(&hosted.socket);
    window.send(1, "prompts.subscribe", Value::Null);
    assert_eq!(window.response(1)["result"], json!({"prompts": []}));
    window.send(2, "accounts.list", Value::Null);
    let listed = window.response(2);
    assert_eq!(listed["result"]["accounts"].as_array().map(Vec::len), Some(1000), "{}", &listed.to_string()[..200]);
}

#[test]
fn the_window_turns_starting_at_login_on_and_off_and_a_program_may_not() {
    let hosted = Hosted::start(true, false);
    let mut window = hosted.rpc();
    // The package's entry for every user: on.
    let system = hosted._dir.path().join("etc/xdg/autostart/keyport.desktop");
    std::fs::create_dir_all(system.parent().unwrap()).unwrap();
    std::fs::write(
        &system,
        "[Desktop Entry]\nType=Application\nName=Keyport\nExec=/usr/lib/keyport/keyport-full daemon\n",
    )
    .unwrap();
    assert_eq!(
        window.ok("service.autostart", Value::Null),
        json!({"enabled": true, "entry": system.display().to_string()})
    );
    // Off: the user's entry hides the system's.
    let user = hosted._dir.path().join("home/.config/autostart/keyport.desktop");
    let off = window.ok("service.set_autostart", json!({"enabled": false}));
    assert_eq!(off, json!({"enabled": false, "entry": user.display().to_string()}));
    let text = std::fs::read_to_string(&user).unwrap();
    assert!(text.contains("Hidden=true"), "{text}");
    // On again: the user's entry runs this service.
    let on = window.ok("service.set_autostart", json!({"enabled": true}));
    assert_eq!(on["enabled"], true);
    let me = std::fs::canonicalize(std::env::current_exe().unwrap()).unwrap();
    let text = std::fs::read_to_string(&user).unwrap();
    assert!(text.contains(&format!("Exec=\"{}\" daemon", me.display())), "{text}");

    let Some(python) = system_python() else {
        println!("SKIPPED the program half of the test: no system python3");
        return;
    };
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": "service.set_autostart", "params": {"enabled": false}});
    let refused = python_client(&[], &python, None, &hosted.socket, &[request]);
    assert_eq!(refused["responses"][0]["error"]["code"], -32004, "{refused}");
    assert!(std::fs::read_to_string(&user).unwrap().contains("Hidden=false"), "unchanged");
}

#[test]
fn a_window_that_went_away_no_longer_takes_the_questions_but_a_half_closed_one_still_hears() {
    let Some(python) = system_python() else {
        println!("SKIPPED a_window_that_went_away_no_longer_takes_the_questions: no system python3");
        return;
    };
    let server = OidcServer::start();
    let hosted = Hosted::start(true, true);
    let mut window = hosted.rpc();
    add_service_account(&mut window, &server);

    // A window that shut down only its sending side still hears, like `printf ... | socat`.
    let mut half = Subscription::open(&hosted.socket);
    half.send(1, "prompts.subscribe", Value::Null);
    assert_eq!(half.response(1)["result"], json!({"prompts": []}));
    half.stream.shutdown(std::net::Shutdown::Write).unwrap();
    std::thread::sleep(Duration::from_millis(600));
    assert!(hosted.service.window_answers(), "a half-closed window still answers");
    assert!(hosted.service.show_window(keyport_wire::Navigate::Accounts));
    assert_eq!(half.event("show")["screen"], json!({"screen": "accounts"}));

    // Gone entirely (the window closed, its process exited): within a moment it is not asked.
    drop(half);
    let deadline = Instant::now() + TIMEOUT;
    while hosted.service.window_answers() {
        assert!(Instant::now() < deadline, "the closed window still counts as answering");
        std::thread::sleep(Duration::from_millis(20));
    }
    let asking = program_asks(&hosted.socket, &python, "ci");
    while hosted.opened.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no window was started for the question");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The started window answers it.
    let keyport_wire::Navigate::Prompt { prompt_id } = hosted.opened.lock().unwrap()[0].clone() else {
        panic!("started at the question")
    };
    let mut started = Subscription::open(&hosted.socket);
    started.send(1, "prompts.subscribe", Value::Null);
    started.response(1);
    started.send(2, "prompts.answer", json!({"prompt_id": prompt_id, "choice": "allow_once"}));
    assert_eq!(started.response(2)["result"], json!({}));
    assert!(asking.join().unwrap()["responses"][0]["result"]["access_token"].is_string());
}
