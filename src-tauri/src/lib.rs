//! Keyport's desktop app: a Tauri v2 window and tray over the same [`Service`] that
//! `keyport daemon` hosts. The app serves the local socket (so other programs keep getting
//! tokens while the window is closed), runs the background refresher, and asks the user about
//! programs without an access rule ([`AccessPrompts`]).
//!
//! Layout: this file (startup, the service's lifetime, events to the window), `commands.rs`
//! (one Tauri command per UI action, each one call into `keyport_service::app`), `tray.rs`,
//! `notify.rs` (desktop notifications), `clipboard.rs` (copying a token without the web view).

mod clipboard;
pub mod commands;
mod notify;
mod tray;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use keyport_core::Keyport;
use keyport_core::browser::SystemBrowser;
use keyport_core::clock::SystemClock;
use keyport_core::http::ReqwestClient;
use keyport_core::paths::Paths;
use keyport_core::secrets::{KeyringStore, OpenOnUse, SecretStore};
use keyport_service::app::{AppError, AppStatus, CopyResult, Navigate};
use keyport_service::prompts::{AccessPrompts, DEFAULT_PROMPT_TIMEOUT, PromptEvent};
use keyport_service::{Service, ServiceConfig, ServiceError};
use keyport_wire::Event;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokio::sync::watch;

/// Event names the web UI listens to (`ui/src/backend.ts`).
pub mod events {
    /// An account event ([`keyport_wire::Event`]).
    pub const ACCOUNT: &str = "keyport://event";
    /// A program asks ([`keyport_service::prompts::AccessPrompt`]).
    pub const PROMPT: &str = "keyport://prompt";
    /// A question was answered or expired (`{ prompt_id }`).
    pub const PROMPT_CLOSED: &str = "keyport://prompt-closed";
    /// Show a screen ([`keyport_service::app::Navigate`]).
    pub const NAVIGATE: &str = "keyport://navigate";
}

/// What the app is started with.
#[derive(Debug)]
pub struct Startup {
    /// The core.
    pub keyport: Keyport,
    /// The service's files and socket.
    pub config: ServiceConfig,
    /// Serve the socket (else only the window, refresher and prompts: tests of the shell).
    pub serve_socket: bool,
    /// Show a tray icon and desktop notifications.
    pub desktop_integration: bool,
}

impl Startup {
    /// The real outside world: the user's files, the system keyring, the network, `$BROWSER`.
    pub fn from_env() -> anyhow::Result<Self> {
        let paths = Paths::from_env()?;
        let secrets: Arc<dyn SecretStore> =
            Arc::new(OpenOnUse::new(|| Ok(Box::new(KeyringStore::open()?) as Box<dyn SecretStore>)));
        let keyport = Keyport::new(
            &paths,
            secrets,
            Arc::new(ReqwestClient::new().context("starting the HTTP client")?),
            Arc::new(SystemClock),
            Arc::new(SystemBrowser::from_env()),
        );
        let socket = keyport_wire::default_socket_path().unwrap_or_default();
        let config =
            ServiceConfig::new(socket, paths.config_dir.join("access.toml"), paths.accounts_file()).with_activity_log();
        Ok(Self { keyport, config, serve_socket: true, desktop_integration: true })
    }
}

/// Whether this app serves the socket, or why not.
#[derive(Debug, Clone, Default)]
struct Serving {
    socket: Option<PathBuf>,
    note: Option<String>,
}

/// The app's state, shared by the commands.
#[derive(Debug)]
pub struct Desktop {
    pub(crate) service: Arc<Service>,
    pub(crate) prompts: Arc<AccessPrompts>,
    serving: Mutex<Serving>,
    clipboard: clipboard::Clipboard,
    shutdown: watch::Sender<bool>,
    stopped: Mutex<Option<tauri::async_runtime::JoinHandle<()>>>,
}

impl Desktop {
    pub(crate) fn status(&self) -> AppStatus {
        let serving = self.serving.lock().expect("serving").clone();
        AppStatus {
            socket: serving.socket.map(|p| p.display().to_string()),
            socket_note: serving.note,
            ..self.service.status()
        }
    }

    pub(crate) async fn copy_token(&self, account: &str) -> Result<CopyResult, AppError> {
        let token = self.service.app_access_token(account).await.map_err(AppError::from)?;
        self.clipboard.copy(token).await
    }

    /// Stops the service (the socket is removed) and waits a moment for it.
    fn shut_down(&self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.stopped.lock().expect("stopped").take() {
            tauri::async_runtime::block_on(async {
                let _ = tokio::time::timeout(Duration::from_secs(3), task).await;
            });
        }
    }
}

/// Adds Keyport's commands and state to `builder` (the real one, or
/// `tauri::test::mock_builder()` in tests); once the app runs, its setup starts the service
/// (socket, refresher), the tray and the forwarding of events to the window.
pub fn app<R: Runtime>(builder: tauri::Builder<R>, startup: Startup) -> tauri::Builder<R> {
    let Startup { keyport, config, serve_socket, desktop_integration } = startup;
    let prompts = AccessPrompts::new(DEFAULT_PROMPT_TIMEOUT);
    let service = Service::new(keyport, config, prompts.clone());
    let (shutdown, stopping) = watch::channel(false);
    let desktop = Desktop {
        service,
        prompts,
        serving: Mutex::new(Serving::default()),
        clipboard: clipboard::Clipboard::default(),
        shutdown,
        stopped: Mutex::new(None),
    };
    builder
        .manage(desktop)
        .invoke_handler(commands::handler())
        .setup(move |app| {
            setup(app.handle(), serve_socket, desktop_integration, stopping);
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the window keeps Keyport running in the tray.
            if let tauri::WindowEvent::CloseRequested { api, .. } = event
                && window.app_handle().tray_by_id(tray::ID).is_some()
            {
                api.prevent_close();
                let _ = window.hide();
            }
        })
}

fn setup<R: Runtime>(
    app: &AppHandle<R>,
    serve_socket: bool,
    desktop_integration: bool,
    mut stopping: watch::Receiver<bool>,
) {
    let desktop = app.state::<Desktop>();
    let service = desktop.service.clone();
    let handle = app.clone();
    let run_service = service.clone();
    let task = tauri::async_runtime::spawn(async move {
        let stop = async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        };
        let listening = if serve_socket { Some(bind_or_take_over(&run_service).await) } else { None };
        let desktop = handle.state::<Desktop>();
        match listening {
            Some(Ok(listening)) => {
                desktop.serving.lock().expect("serving").socket = Some(listening.socket().to_owned());
                if let Err(err) = keyport_service::run(run_service, listening, stop).await {
                    tracing::error!(%err, "the service stopped");
                }
            }
            Some(Err(note)) => {
                tracing::warn!(%note, "not serving the socket");
                desktop.serving.lock().expect("serving").note = Some(note);
                keyport_service::run_without_socket(run_service, stop).await;
            }
            None => keyport_service::run_without_socket(run_service, stop).await,
        }
    });
    *desktop.stopped.lock().expect("stopped") = Some(task);

    // SIGTERM (logout, `kill`) and SIGINT (Ctrl-C under `./run`) quit like the tray's Quit:
    // the service stops and removes its socket.
    let quitting = app.clone();
    tauri::async_runtime::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        quitting.exit(0);
    });

    let needs_attention = service.needs_attention();
    if desktop_integration && let Err(err) = tray::create(app, &needs_attention) {
        tracing::warn!(%err, "no tray icon");
    }
    tauri::async_runtime::spawn(forward_account_events(
        app.clone(),
        service.subscribe(),
        needs_attention,
        desktop_integration,
    ));
    tauri::async_runtime::spawn(forward_prompts(app.clone(), desktop.prompts.subscribe(), desktop_integration));
}

/// Binds the socket. When a headless `keyport daemon` of this user holds it (started by the
/// CLI on demand, or by systemd), asks it to stop (SIGTERM; it finishes its requests and
/// removes the socket) and takes over, so that programs' access questions reach this window.
async fn bind_or_take_over(service: &Service) -> Result<keyport_service::Listening, String> {
    match keyport_service::bind(service) {
        Ok(listening) => Ok(listening),
        Err(ServiceError::AlreadyRunning { pid, socket }) => {
            let Some(pid) = pid.parse::<u32>().ok().filter(|pid| is_headless_daemon(*pid)) else {
                return Err(format!(
                    "another Keyport (process {pid}) serves {}; programs get their tokens there, and \
                     their access questions are not shown here",
                    socket.display()
                ));
            };
            tracing::info!(pid, "taking the socket over from the headless daemon");
            let _ = std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
            let mut last = String::new();
            for _ in 0..50 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                match keyport_service::bind(service) {
                    Ok(listening) => return Ok(listening),
                    Err(err) => last = err.to_string(),
                }
            }
            Err(format!("the headless Keyport daemon (process {pid}) did not hand over the socket: {last}"))
        }
        Err(err) => Err(format!("other programs cannot get tokens from this app: {err}")),
    }
}

/// Whether `pid` is this user's `keyport daemon` (run by `keyport-full`, the full CLI, or by a
/// `keyport` of before the thin client).
fn is_headless_daemon(pid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let mine = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
    let theirs = std::fs::metadata(&proc_dir).map(|m| m.uid()).ok();
    if mine.is_none() || mine != theirs {
        return false;
    }
    let exe = std::fs::read_link(proc_dir.join("exe")).ok();
    let cmdline = std::fs::read(proc_dir.join("cmdline")).unwrap_or_default();
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    exe.as_deref().and_then(|p| p.file_name()).is_some_and(|name| name == "keyport-full" || name == "keyport")
        && args.iter().skip(1).any(|arg| *arg == b"daemon")
}

/// Shows, unminimizes and focuses the main window.
pub fn show_window<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}

/// Shows the window at `screen`.
pub(crate) fn navigate<R: Runtime>(app: &AppHandle<R>, screen: Navigate) {
    show_window(app);
    let _ = app.emit(events::NAVIGATE, screen);
}

async fn forward_account_events<R: Runtime>(
    app: AppHandle<R>,
    mut events: tokio::sync::broadcast::Receiver<Event>,
    // What the tray shows; it is redrawn only when this changes, not at every renewal.
    mut shown: Vec<String>,
    desktop_integration: bool,
) {
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(count)) => Event::Missed { count },
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        let _ = app.emit(events::ACCOUNT, &event);
        if !desktop_integration {
            continue;
        }
        if let Event::NeedsSignIn { account, .. } = &event {
            notify::show(
                &app,
                format!("{account} needs you to sign in again"),
                "The provider no longer accepts this account's sign-in. Open Keyport and choose \
                 Sign in again."
                    .to_owned(),
                Navigate::Account { account: account.clone() },
            );
        }
        if let Event::RefreshTokenExpiring { account, .. } = &event {
            notify::show(
                &app,
                format!("{account} needs a new sign-in within a day"),
                "The provider ends this account's refresh token soon, and renewing cannot extend it. \
                 Open Keyport and choose Sign in again before then."
                    .to_owned(),
                Navigate::Account { account: account.clone() },
            );
        }
        let needs = app.state::<Desktop>().service.needs_attention();
        if needs != shown {
            tray::update(&app, &needs);
            shown = needs;
        }
    }
}

async fn forward_prompts<R: Runtime>(
    app: AppHandle<R>,
    mut events: tokio::sync::broadcast::Receiver<PromptEvent>,
    desktop_integration: bool,
) {
    loop {
        match events.recv().await {
            Ok(PromptEvent::Asked(prompt)) => {
                // Someone is waiting: bring the question up at once.
                show_window(&app);
                let _ = app.emit(events::PROMPT, &prompt);
                if desktop_integration {
                    notify::show(
                        &app,
                        format!("{} wants to read {}", prompt.program_name, prompt.account),
                        format!(
                            "{} asks for an access token of {}. Allow it in Keyport.",
                            prompt.program, prompt.account
                        ),
                        Navigate::Prompt { prompt_id: prompt.prompt_id.clone() },
                    );
                }
            }
            Ok(PromptEvent::Closed { prompt_id }) => {
                let _ = app.emit(events::PROMPT_CLOSED, serde_json::json!({ "prompt_id": prompt_id }));
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// The `keyport-desktop` program.
pub fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KEYPORT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,keyport=info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let startup = match Startup::from_env() {
        Ok(startup) => startup,
        Err(err) => {
            eprintln!("keyport-desktop: {err:#}");
            std::process::exit(1);
        }
    };
    // First: a second launch only focuses the first one's window, then exits.
    let builder =
        tauri::Builder::default().plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| show_window(app)));
    let app = match app(builder, startup).build(tauri::generate_context!()) {
        Ok(app) => app,
        Err(err) => {
            eprintln!("keyport-desktop: could not start the window: {err}");
            std::process::exit(1);
        }
    };
    app.run(|app, event| match event {
        // The last window closed: keep running in the tray (quit is in its menu).
        tauri::RunEvent::ExitRequested { api, code: None, .. } if app.tray_by_id(tray::ID).is_some() => {
            api.prevent_exit();
        }
        tauri::RunEvent::Exit => app.state::<Desktop>().shut_down(),
        _ => {}
    });
}
