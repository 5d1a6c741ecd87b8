//! Keyport's desktop window: a Tauri v2 web view that is a client of Keyport's service. The
//! service (`keyport-full daemon`: the socket, renewals, the tray, notifications) runs all the
//! time; this process runs only while the window is open, talks to it over the socket
//! (`service_client.rs`), and exits when the window closes, taking WebKit's memory with it.
//!
//! Layout: this file (the window, the service's events to the web view), `startup.rs`
//! (logging, the service, timings), `commands.rs` (one Tauri command per UI action, each one
//! socket call), `service_client.rs`, `screens.rs` (the first screen: its data, which one),
//! `clipboard.rs` (copying a token without the web view), `browser.rs` (opening a provider's
//! page), `webkit.rs` (WebKitGTK's settings).

mod browser;
mod clipboard;
pub mod commands;
mod screens;
pub mod service_client;
mod startup;
mod webkit;

use std::sync::Arc;

use keyport_wire::{Event, Navigate};
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokio::sync::mpsc;

pub use crate::screens::screen_from_args;
pub use crate::service_client::ServiceClient;

/// Event names the web UI listens to (`ui/src/backend.ts`).
pub mod events {
    /// An account event ([`keyport_wire::Event`]).
    pub const ACCOUNT: &str = "keyport://event";
    /// A program asks ([`keyport_wire::AccessPrompt`]).
    pub const PROMPT: &str = "keyport://prompt";
    /// A question was answered or expired (`{ prompt_id }`).
    pub const PROMPT_CLOSED: &str = "keyport://prompt-closed";
    /// Show a screen ([`keyport_wire::Navigate`]).
    pub const NAVIGATE: &str = "keyport://navigate";
}

/// The window's state, shared by the commands.
#[derive(Debug)]
pub struct Window {
    pub(crate) client: Arc<ServiceClient>,
    clipboard: clipboard::Clipboard,
}

/// Adds Keyport's commands and state to `builder` (the real one, or
/// `tauri::test::mock_builder()` in tests): the window talks to the service through `client`
/// and shows its `events`; its page starts with `start_script` (`screens::start_script`: the
/// first screen's data, the screen to open at), and the process ends when the service does.
pub fn app<R: Runtime>(
    builder: tauri::Builder<R>,
    client: Arc<ServiceClient>,
    events: mpsc::Receiver<Event>,
    start_script: String,
) -> tauri::Builder<R> {
    builder
        .manage(Window { client, clipboard: clipboard::Clipboard::default() })
        .invoke_handler(commands::handler())
        .on_page_load(|_, payload| startup::reached(&format!("page load {:?}", payload.event())))
        .setup(move |app| {
            // The window of tauri.conf.json (none in tests).
            if let Some(config) = app.config().app.windows.first().cloned() {
                tauri::WebviewWindowBuilder::from_config(app.handle(), &config)?
                    .initialization_script(&start_script)
                    .build()?;
            }
            tauri::async_runtime::spawn(forward_events(app.handle().clone(), events));
            Ok(())
        })
        .on_window_event(|window, event| {
            // A copied token is served by this process (X11): it stays, hidden, until cleared.
            let clipboard = &window.app_handle().state::<Window>().clipboard;
            if let tauri::WindowEvent::CloseRequested { api, .. } = event
                && clipboard.holds_token()
            {
                api.prevent_close();
                let _ = window.hide();
                let (app, cleared) = (window.app_handle().clone(), clipboard.until_cleared());
                tauri::async_runtime::spawn(async move {
                    cleared.await;
                    app.exit(0);
                });
            }
        })
}

/// The service's events, to the web view; questions and the tray's "show" bring the window
/// up. When the service goes away, so does the window.
async fn forward_events<R: Runtime>(app: AppHandle<R>, mut events: mpsc::Receiver<Event>) {
    while let Some(event) = events.recv().await {
        match event {
            Event::PromptAsked { prompt } => {
                show_window(&app);
                let _ = app.emit(events::PROMPT, &prompt);
            }
            Event::PromptClosed { prompt_id } => {
                let _ = app.emit(events::PROMPT_CLOSED, serde_json::json!({ "prompt_id": prompt_id }));
            }
            Event::Show { screen } => navigate(&app, screen),
            other => {
                let _ = app.emit(events::ACCOUNT, &other);
            }
        }
    }
    tracing::info!("Keyport's service stopped: closing the window");
    app.exit(0);
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
pub fn navigate<R: Runtime>(app: &AppHandle<R>, screen: Navigate) {
    show_window(app);
    let _ = app.emit(events::NAVIGATE, screen);
}

/// The `keyport-desktop` program.
pub fn main() {
    startup::begin();
    let (client, events, start_script) = startup::connect();
    // First: a second launch only brings this window up at its screen, then exits.
    let builder =
        tauri::Builder::default().plugin(tauri_plugin_single_instance::init(|app, args, _cwd| match screen_from_args(
            args.get(1..).unwrap_or_default(),
        ) {
            Some(screen) => navigate(app, screen),
            None => show_window(app),
        }));
    let built = app(builder, client, events, start_script).build(tauri::generate_context!());
    let app = built.unwrap_or_else(|err| {
        eprintln!("keyport-desktop: could not start the window: {err}");
        std::process::exit(1);
    });
    startup::reached("window built");
    app.run(|_, event| {
        if let tauri::RunEvent::Ready = event {
            startup::reached("event loop running");
        }
    });
}
