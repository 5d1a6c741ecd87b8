//! The service's own desktop integration (feature `desktop`): Keyport's tray icon, desktop
//! notifications, and starting the window program when either is clicked, so that the
//! long-lived service keeps them and the window (`keyport-desktop`, WebKit) runs only while it
//! is open.
//!
//! - [`TrayIcon`] (`tray.rs`): a StatusNotifierItem on the session bus with the attention icon
//!   while accounts need sign-in, a tooltip, and a menu ("Open Keyport", one "Sign in again:
//!   NAME" per account, "Quit Keyport") whose clicks are [`TrayAction`]s.
//! - [`Notifier`] (`notify.rs`): freedesktop notifications for [`Notice`]s (an account that
//!   needs sign-in, a refresh token about to end, an access question), whose "Open Keyport"
//!   action is a [`DesktopAction::Show`]; a bounded number wait for their action, for a
//!   bounded time.
//! - [`WindowLauncher`] (`window.rs`): starts `keyport-desktop` at a screen, detached, rate
//!   limited, only when a display is named.
//! - [`run_desktop`] ties them to a [`Service`]: the tray follows its events, the events and
//!   questions worth it become notifications, clicks start windows, and "Quit Keyport" asks
//!   the host to stop the service.
//!
//! What it leaves out: the window itself and what it does with its arguments; answering
//! access questions (the window does, over the socket); any fallback where the desktop has no
//! StatusNotifierItem tray (the old XEmbed tray): then there is simply no icon, which
//! [`TrayIcon::spawn`] says ([`NoTray`]) and [`run_desktop`] logs once; and watching for a
//! tray that appears after the service started (a service started before the desktop's panel
//! has no icon until it is started again).
//!
//! Everything here runs as tasks on the service's tokio runtime: no thread of its own.

mod notify;
mod text;
mod tray;
mod window;

use std::future::Future;
use std::sync::Arc;

use keyport_wire::Event;
use tokio::sync::{broadcast, mpsc, watch};

pub use self::notify::{ACTION_WAIT, MAX_WAITING_NOTIFICATIONS, Notice, NoticeOutcome, Notifier};
pub use self::tray::{
    MAX_MENU_ACCOUNTS, MAX_SHOWN_NAME, MenuEntry, REGISTER_TIMEOUT, TrayAction, TrayIcon, menu_model, tooltip,
};
pub use self::window::{
    MAX_STARTS_PER_SECOND, SAME_SCREEN_INTERVAL, WINDOW_PROGRAM, WindowLauncher, display_available, window_arguments,
    window_program_near,
};
use crate::Service;
use crate::app::Navigate;
pub use crate::error::{CannotShowWindow, NoTray};
use crate::prompts::PromptEvent;

/// Clicks (tray, notifications) not yet taken by the integration's loop; more are dropped.
/// People click a few times a second at most; anything faster is not a person.
const ACTION_QUEUE: usize = 16;

/// Events read in one go before the tray is brought up to date once for all of them.
const EVENTS_PER_UPDATE: usize = 256;

/// What a click on the desktop integration asks the host to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DesktopAction {
    /// Show the window at this screen.
    Show(Navigate),
    /// Stop the service ("Quit Keyport").
    Quit,
}

impl From<TrayAction> for DesktopAction {
    fn from(action: TrayAction) -> Self {
        match action {
            TrayAction::Open => Self::Show(Navigate::Accounts),
            TrayAction::Account(account) => Self::Show(Navigate::Account { account }),
            TrayAction::Quit => Self::Quit,
        }
    }
}

/// Runs the desktop integration for `service` until `stop` completes (see the module docs):
/// the tray (if the desktop has one) shows the accounts that need sign-in and follows the
/// service's events; `needs_sign_in` and `refresh_token_expiring` events, and access
/// questions from `prompts` when given, are notified; a question also brings the window up at
/// it. Clicks start `launcher`'s window at their screen (with no launcher, nothing is shown);
/// "Quit Keyport" sends `true` on `quit`. The tray icon is removed when it returns.
///
/// Call inside the tokio runtime that runs the service, e.g. beside `keyport_service::run`,
/// with `quit` the sender whose receiver ends `run`'s shutdown future.
pub async fn run_desktop(
    service: Arc<Service>,
    launcher: Option<Arc<WindowLauncher>>,
    prompts: Option<broadcast::Receiver<PromptEvent>>,
    quit: watch::Sender<bool>,
    stop: impl Future<Output = ()>,
) {
    // Subscribed before the first read of the accounts, so no change falls in between.
    let events = service.subscribe();
    let shows = service.clone();
    let needs_sign_in = move || {
        let service = service.clone();
        async move { service.needs_attention_now().await }
    };
    DesktopIntegration { events, prompts, needs_sign_in, launcher, quit, service: Some(shows) }.run(stop).await;
}

/// How the service's questions reach a window when none answers: `launcher` starts one at the
/// question; without a launcher (no window program installed) nothing can, and questions are
/// refused at once. Set it with [`crate::prompts::AccessPrompts::set_window_opener`] before
/// the service serves.
pub fn window_opener(launcher: Option<Arc<WindowLauncher>>) -> Arc<crate::prompts::WindowOpener> {
    Arc::new(move |screen: &Navigate| {
        let Some(launcher) = &launcher else { return false };
        match launcher.show(screen) {
            Ok(_) => true,
            Err(err) => {
                tracing::info!(%err, "no window for the question");
                false
            }
        }
    })
}

/// [`run_desktop`]'s parts, for a host that reads the accounts another way (and for tests).
#[derive(Debug)]
pub struct DesktopIntegration<N> {
    /// The service's events ([`Service::subscribe`]).
    pub events: broadcast::Receiver<Event>,
    /// Access questions to notify and show, if any ([`crate::prompts::AccessPrompts::subscribe`]).
    pub prompts: Option<broadcast::Receiver<PromptEvent>>,
    /// Reads the names of the accounts that need a new sign-in now
    /// ([`Service::needs_attention_now`]).
    pub needs_sign_in: N,
    /// Starts the window; `None` shows nothing.
    pub launcher: Option<Arc<WindowLauncher>>,
    /// Receives `true` for "Quit Keyport".
    pub quit: watch::Sender<bool>,
    /// When given, a screen goes to the window that answers the service's questions, if one
    /// is connected ([`Service::show_window`]); else `launcher` starts one.
    pub service: Option<Arc<Service>>,
}

impl<N, F> DesktopIntegration<N>
where
    N: FnMut() -> F,
    F: Future<Output = Vec<String>>,
{
    /// [`run_desktop`], with these parts.
    pub async fn run(self, stop: impl Future<Output = ()>) {
        let Self { mut events, mut prompts, mut needs_sign_in, launcher, quit, service } = self;
        let (tray_clicks, mut tray_actions) = mpsc::channel(ACTION_QUEUE);
        let (notice_clicks, mut notice_actions) = mpsc::channel(ACTION_QUEUE);
        let notifier = Notifier::new(notice_clicks);
        tokio::pin!(stop);
        // A stop while the tray registers (up to its timeout) is not kept waiting.
        let spawned = tokio::select! {
            () = &mut stop => return,
            spawned = async { TrayIcon::spawn(needs_sign_in().await, tray_clicks).await } => spawned,
        };
        let mut tray = match spawned {
            Ok(tray) => Some(tray),
            Err(no_tray) => {
                tracing::info!("{no_tray}; Keyport runs without a tray icon");
                None
            }
        };
        let host = Host { launcher, quit, service };
        loop {
            tokio::select! {
                () = &mut stop => break,
                received = events.recv() => {
                    let mut changed = match received {
                        Ok(event) => host.on_event(&notifier, &event),
                        Err(broadcast::error::RecvError::Lagged(_)) => true,
                        Err(broadcast::error::RecvError::Closed) => break,
                    };
                    // What else is waiting is read first: the tray is updated once for all.
                    for _ in 0..EVENTS_PER_UPDATE {
                        match events.try_recv() {
                            Ok(event) => changed |= host.on_event(&notifier, &event),
                            Err(broadcast::error::TryRecvError::Lagged(_)) => changed = true,
                            Err(_) => break,
                        }
                    }
                    if changed && let Some(tray) = tray.as_mut() {
                        tray.set_needs_attention(needs_sign_in().await).await;
                    }
                }
                question = next_prompt(&mut prompts) => match question {
                    Ok(PromptEvent::Asked(prompt)) => {
                        // Someone is waiting for the answer: the window comes up at once.
                        notifier.show(Notice::for_prompt(&prompt));
                        host.show(&Navigate::Prompt { prompt_id: prompt.prompt_id });
                    }
                    Ok(PromptEvent::Closed { .. }) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => prompts = None,
                },
                Some(action) = tray_actions.recv() => host.act(action.into()),
                Some(action) = notice_actions.recv() => host.act(action),
            }
        }
        if let Some(tray) = tray {
            tray.remove().await;
        }
    }
}

/// The next question, or never when there are none to follow.
async fn next_prompt(
    prompts: &mut Option<broadcast::Receiver<PromptEvent>>,
) -> Result<PromptEvent, broadcast::error::RecvError> {
    match prompts {
        Some(prompts) => prompts.recv().await,
        None => std::future::pending().await,
    }
}

/// What clicks reach: the window and the service's stop.
#[derive(Debug)]
struct Host {
    launcher: Option<Arc<WindowLauncher>>,
    quit: watch::Sender<bool>,
    service: Option<Arc<Service>>,
}

impl Host {
    /// Notifies `event` if it is worth it; returns whether it may change which accounts need
    /// sign-in.
    fn on_event(&self, notifier: &Notifier, event: &Event) -> bool {
        if let Some(notice) = Notice::for_event(event) {
            notifier.show(notice);
        }
        !matches!(event, Event::Error { .. } | Event::RefreshTokenExpiring { .. } | Event::SigninFailed { .. })
    }

    fn act(&self, action: DesktopAction) {
        match action {
            DesktopAction::Show(screen) => self.show(&screen),
            DesktopAction::Quit => {
                tracing::info!("Quit Keyport chosen: stopping");
                let _ = self.quit.send(true);
            }
        }
    }

    fn show(&self, screen: &Navigate) {
        if let Some(service) = &self.service
            && service.window_answers()
        {
            service.show_window(screen.clone());
            return;
        }
        let Some(launcher) = &self.launcher else {
            tracing::debug!("no window program to show");
            return;
        };
        match launcher.show(screen) {
            Ok(_) => {}
            Err(err @ CannotShowWindow::Start { .. }) => tracing::warn!(%err, "no window"),
            Err(err) => tracing::debug!(%err, "no window"),
        }
    }
}
