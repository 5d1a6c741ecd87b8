//! Desktop notifications (freedesktop, over D-Bus), with an "Open" action that brings the
//! window to the screen they are about. Without a notification server they are skipped.

use keyport_service::app::Navigate;
use tauri::{AppHandle, Runtime};

/// Shows a notification; activating it shows `screen`.
pub(crate) fn show<R: Runtime>(app: &AppHandle<R>, summary: String, body: String, screen: Navigate) {
    let app = app.clone();
    // Showing waits for D-Bus and the action for the user: a thread of its own.
    let spawned = std::thread::Builder::new().name("notification".into()).spawn(move || {
        let shown = notify_rust::Notification::new()
            .appname("Keyport")
            .summary(&summary)
            .body(&body)
            .icon("keyport-desktop")
            .action("default", "Open Keyport")
            .show();
        match shown {
            Ok(handle) => handle.wait_for_action(|action| {
                if action == "default" {
                    crate::navigate(&app, screen);
                }
            }),
            Err(err) => tracing::debug!(%err, "no desktop notification"),
        }
    });
    if let Err(err) = spawned {
        tracing::warn!(%err, "no thread for a notification");
    }
}
