//! The shell without a display: the real commands over Tauri's mock runtime, the generated
//! TypeScript types, the capability and the CSP.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use keyport_core::Keyport;
use keyport_core::browser::NoBrowser;
use keyport_core::clock::SystemClock;
use keyport_core::http::ReqwestClient;
use keyport_core::paths::Paths;
use keyport_core::secrets::MemoryStore;
use keyport_desktop::ServiceClient;
use keyport_desktop::commands::COMMANDS;
use keyport_service::ServiceConfig;
use serde_json::{Value, json};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, mock_context, noop_assets};
use tauri::webview::InvokeRequest;
use tauri::{WebviewUrl, WebviewWindow, WebviewWindowBuilder};

fn shell_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Shell {
    _app: tauri::App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
    _service: tokio::runtime::Runtime,
    socket: PathBuf,
    _home: tempfile::TempDir,
}

impl Shell {
    /// The real commands over the real socket, to a service over temporary files and an
    /// in-memory keyring, for which this test binary is the installed window.
    fn start() -> Self {
        let home = tempfile::tempdir().unwrap();
        let runtime_dir = home.path().join("run");
        std::fs::create_dir(&runtime_dir).unwrap();
        let paths = Paths {
            config_dir: home.path().join("config"),
            data_dir: home.path().join("data"),
            runtime_dir: Some(runtime_dir.clone()),
        };
        let keyport = Keyport::new(
            &paths,
            Arc::new(MemoryStore::new()),
            Arc::new(ReqwestClient::new().unwrap()),
            Arc::new(SystemClock),
            Arc::new(NoBrowser),
        );
        let socket = keyport_wire::socket_path_in(&runtime_dir);
        let mut config =
            ServiceConfig::new(socket.clone(), paths.config_dir.join("access.toml"), paths.accounts_file());
        config.cli_paths.clear();
        config.desktop_paths = vec![std::fs::canonicalize(std::env::current_exe().unwrap()).unwrap()];
        let questions = keyport_service::prompts::AccessPrompts::new(std::time::Duration::from_secs(30));
        questions.set_window_opener(Arc::new(|_: &keyport_wire::Navigate| false));
        let service = keyport_service::Service::new(keyport, config, questions);
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        {
            let _guard = runtime.enter();
            let listening = keyport_service::bind(&service).unwrap();
            runtime.spawn(keyport_service::run(service, listening, std::future::pending()));
        }
        let (client, events) = tauri::async_runtime::block_on(ServiceClient::connect_or_start(&socket)).unwrap();
        let app = keyport_desktop::app(mock_builder(), client, events, String::new())
            .build(mock_context(noop_assets()))
            .unwrap();
        let window = WebviewWindowBuilder::new(&app, "main", WebviewUrl::default()).build().unwrap();
        Self { _app: app, window, _service: runtime, socket, _home: home }
    }

    fn call(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        let request = InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_owned(),
        };
        get_ipc_response(&self.window, request).map(|body| body.deserialize::<Value>().unwrap())
    }
}

#[test]
fn the_commands_reach_the_service() {
    let shell = Shell::start();
    assert_eq!(shell.call("accounts_list", json!({})).unwrap(), json!([]));
    let presets = shell.call("presets_list", json!({})).unwrap();
    assert_eq!(presets.as_array().unwrap().len(), 4);

    let form = json!({ "form": {
        "name": "local",
        "source": { "kind": "endpoints", "endpoints": {
            "authorization": "http://127.0.0.1:9/authorize", "token": "http://127.0.0.1:9/token" } },
        "client_id": "keyport-test", "client_secret": "s3cret-value", "scopes": ["openid email"] } });
    let added = shell.call("provider_add", form).unwrap();
    assert_eq!(added["name"], "local");
    assert_eq!(added["redirect_uri"], "http://127.0.0.1/callback/local");
    assert_eq!(added["has_client_secret"], true);
    assert!(!added.to_string().contains("s3cret-value"), "{added}");
    let providers = shell.call("providers_list", json!({})).unwrap();
    assert_eq!(providers[0]["scopes"], json!(["openid", "email"]));

    // Edit: a revocation endpoint, other scopes, another redirect path, no client secret.
    let edit = |changes: Value| {
        let mut form = json!({
            "name": "local",
            "endpoints": { "authorization": null, "token": null, "revocation": null,
                           "device_authorization": null, "userinfo": null, "introspection": null },
            "forget_endpoints": [], "scopes": null, "redirect_host": null, "redirect_path": null,
            "client_secret": { "action": "keep" } });
        for (key, value) in changes.as_object().unwrap() {
            form[key] = value.clone();
        }
        shell.call("provider_edit", json!({ "form": form }))
    };
    let edited = edit(json!({
        "endpoints": { "authorization": null, "token": null, "revocation": "http://127.0.0.1:9/revoke",
                       "device_authorization": null, "userinfo": null, "introspection": null },
        "scopes": ["read write"], "redirect_host": "localhost", "redirect_path": "/cb/local",
        "client_secret": { "action": "delete" } }))
    .unwrap();
    assert_eq!(edited["endpoints"]["revocation"], "http://127.0.0.1:9/revoke");
    assert_eq!(edited["endpoint_sources"]["revocation"], "given");
    assert_eq!(edited["scopes"], json!(["read", "write"]));
    assert_eq!(edited["redirect_uri"], "http://localhost/cb/local");
    assert_eq!(edited["has_client_secret"], false);
    assert_eq!(shell.call("providers_list", json!({})).unwrap()[0], edited);
    // A new secret; nothing to change; an endpoint the provider cannot do without.
    let edited = edit(json!({ "client_secret": { "action": "replace", "secret": "n3w-secret" } })).unwrap();
    assert_eq!(edited["has_client_secret"], true);
    assert!(!edited.to_string().contains("n3w-secret"), "{edited}");
    let error = edit(json!({})).unwrap_err();
    assert!(error["message"].as_str().unwrap().contains("nothing to change"), "{error}");
    let error = edit(json!({ "forget_endpoints": ["token"] })).unwrap_err();
    assert_eq!(error["code"], "invalid_params", "{error}");
    // Refresh: a provider given by its endpoints has no metadata to read again.
    let error = shell.call("provider_refresh", json!({ "name": "local" })).unwrap_err();
    assert_eq!(error["code"], "invalid_params", "{error}");
    assert!(error["message"].as_str().unwrap().contains("no metadata"), "{error}");
    let error = shell.call("provider_refresh", json!({ "name": "nowhere" })).unwrap_err();
    assert_eq!(error["code"], "no_such_provider", "{error}");

    // Plain http to a host that is not loopback is refused, in words.
    let insecure = json!({ "form": {
        "name": "remote",
        "source": { "kind": "endpoints", "endpoints": {
            "authorization": "http://example.com/authorize", "token": "https://example.com/token" } },
        "client_id": "x", "client_secret": null, "scopes": [] } });
    let error = shell.call("provider_add", insecure).unwrap_err();
    assert!(error["message"].as_str().unwrap().contains("plain http"), "{error}");

    let error = shell.call("account_details", json!({ "account": "nobody" })).unwrap_err();
    assert_eq!(error["code"], "no_such_account", "{error}");
    let error = shell.call("prompt_answer", json!({ "prompt_id": "gone", "choice": "allow_once" })).unwrap_err();
    assert_eq!(error["code"], "invalid_params", "{error}");
    assert_eq!(shell.call("prompts_pending", json!({})).unwrap(), json!([]));

    let status = shell.call("app_status", json!({})).unwrap();
    assert_eq!(status["socket"], shell.socket.display().to_string());
    assert_eq!(status["pid"], std::process::id());
    assert_eq!(status["needs_attention"], json!([]));

    shell.call("provider_remove", json!({ "name": "local" })).unwrap();
    assert_eq!(shell.call("providers_list", json!({})).unwrap(), json!([]));
}

/// The TypeScript types in `ui/src/bindings/` are what ts-rs makes of the Rust types today.
/// `UPDATE_BINDINGS=1 cargo test -p keyport-desktop --test shell` rewrites them.
#[test]
fn typescript_bindings_are_current() {
    use keyport_wire as app;
    use keyport_wire as prompts;
    use ts_rs::{Config, TS};

    let fresh = tempfile::tempdir().unwrap();
    let config = Config::new().with_out_dir(fresh.path()).with_large_int("number");
    type Export = fn(&Config) -> Result<(), ts_rs::ExportError>;
    let exports: [Export; 20] = [
        app::AccountDetails::export_all,
        app::AppError::export_all,
        app::AppStatus::export_all,
        app::AutostartStatus::export_all,
        app::BrowserSignIn::export_all,
        app::CopyResult::export_all,
        app::DeviceStart::export_all,
        app::FirstScreen::export_all,
        app::Navigate::export_all,
        app::NewProviderForm::export_all,
        app::PresetInfo::export_all,
        app::ProviderEditForm::export_all,
        app::ProviderRefreshed::export_all,
        app::ServiceAccountForm::export_all,
        app::SignInForm::export_all,
        prompts::AccessPrompt::export_all,
        prompts::PromptChoice::export_all,
        keyport_wire::Event::export_all,
        keyport_wire::ProviderSummary::export_all,
        keyport_wire::RevokeResult::export_all,
    ];
    for export in exports {
        export(&config).unwrap();
    }

    let committed_dir = shell_dir().join("../ui/src/bindings");
    let generated = read_dir(fresh.path());
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        let _ = std::fs::remove_dir_all(&committed_dir);
        std::fs::create_dir_all(&committed_dir).unwrap();
        for (name, text) in &generated {
            std::fs::write(committed_dir.join(name), text).unwrap();
        }
    }
    let committed = read_dir(&committed_dir);
    let names = |files: &Vec<(String, String)>| files.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&committed),
        names(&generated),
        "ui/src/bindings is stale: run `UPDATE_BINDINGS=1 cargo test -p keyport-desktop --test shell`"
    );
    for ((name, old), (_, new)) in committed.iter().zip(&generated) {
        assert_eq!(
            old, new,
            "ui/src/bindings/{name} is stale: run `UPDATE_BINDINGS=1 cargo test -p keyport-desktop --test shell`"
        );
    }
}

fn read_dir(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            (path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// The main window may call exactly the app's own commands and listen to events: no plugin
/// and no other core permission.
#[test]
fn the_capability_grants_only_the_apps_commands() {
    let capability: Value =
        serde_json::from_str(&std::fs::read_to_string(shell_dir().join("capabilities/main.json")).unwrap()).unwrap();
    assert_eq!(
        capability["permissions"],
        json!(["core:event:allow-listen", "core:event:allow-unlisten", "allow-app-commands"])
    );
    let set: toml::Value =
        toml::from_str(&std::fs::read_to_string(shell_dir().join("permissions/app.toml")).unwrap()).unwrap();
    let granted: Vec<String> =
        set["set"][0]["permissions"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_owned()).collect();
    let commands: Vec<String> = COMMANDS.iter().map(|c| format!("allow-{}", c.replace('_', "-"))).collect();
    assert_eq!(granted, commands);
}

#[test]
fn the_content_security_policy_is_strict() {
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(shell_dir().join("tauri.conf.json")).unwrap()).unwrap();
    let csp = &config["app"]["security"]["csp"];
    assert_eq!(csp["default-src"], "'self'");
    assert_eq!(csp["script-src"], "'self'");
    assert_eq!(csp["object-src"], "'none'");
    assert!(!csp.to_string().contains("unsafe"), "{csp}");
    assert_eq!(config["app"]["withGlobalTauri"], false);
    assert_eq!(config["app"]["security"]["freezePrototype"], true);
    // The UI is embedded from ui/dist in every build: no dev server to load code from.
    assert!(config["build"].get("devUrl").is_none());
}
