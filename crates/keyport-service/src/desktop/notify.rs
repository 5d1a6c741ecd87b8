//! Desktop notifications (freedesktop `org.freedesktop.Notifications`, through `notify-rust`)
//! whose default action, "Open Keyport", asks the owner to show the screen they are about.
//!
//! Showing one and waiting for its action is a task on the runtime (no thread), holding one of
//! [`MAX_WAITING_NOTIFICATIONS`] places for at most [`ACTION_WAIT`]. A notice that is already
//! waiting is not shown twice (an account that keeps failing the same way makes one
//! notification at a time), and a notice that finds every place taken is skipped: the tray
//! and the window show the same state, so a notification is a courtesy, never the only sign.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyport_wire::Event;
use tokio::sync::{Semaphore, mpsc};

use super::DesktopAction;
use super::text::{body_text, one_line};
use crate::app::Navigate;
use crate::prompts::AccessPrompt;
use keyport_wire::AccountAction as Action;

/// Notifications waiting for their action at once; beyond it new ones are skipped.
pub const MAX_WAITING_NOTIFICATIONS: usize = 4;

/// How long a notification's action is waited for (and its showing, should the server not
/// answer). Later, a click on it (in the notification list) does nothing; the tray still
/// shows the accounts that need sign-in.
pub const ACTION_WAIT: Duration = Duration::from_secs(5 * 60);

/// Characters of a name (account, program) in a notification.
const MAX_NAME: usize = 64;

/// Characters of a program's path in a notification.
const MAX_PATH: usize = 256;

/// A notification to show: plain-text summary, body (escaped for servers that read markup),
/// and the screen its action opens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Notice {
    /// The headline.
    pub summary: String,
    /// The text under it.
    pub body: String,
    /// What "Open Keyport" shows.
    pub screen: Navigate,
}

impl Notice {
    /// The notice for a service event, for the events worth interrupting someone:
    /// [`Event::NeedsSignIn`] and [`Event::RefreshTokenExpiring`].
    pub fn for_event(event: &Event) -> Option<Self> {
        let (summary, body, account) = match event {
            Event::NeedsSignIn { account, .. } => (
                format!("{} needs you to sign in again", one_line(account, MAX_NAME)),
                "The provider no longer accepts this account's sign-in. Open Keyport and choose Sign in again.",
                account,
            ),
            Event::RefreshTokenExpiring { account, .. } => (
                format!("{} needs a new sign-in within a day", one_line(account, MAX_NAME)),
                "The provider ends this account's refresh token soon, and renewing cannot extend it. Open \
                 Keyport and choose Sign in again before then.",
                account,
            ),
            _ => return None,
        };
        Some(Self { summary, body: body.to_owned(), screen: Navigate::Account { account: account.clone() } })
    }

    /// The notice for an access question: "PROGRAM wants to read ACCOUNT" (or to do what else
    /// it asks). Program names and paths come from whoever asks, so they are cut to one bounded
    /// line and escaped.
    pub fn for_prompt(prompt: &AccessPrompt) -> Self {
        let account = one_line(&prompt.account, MAX_NAME);
        let (mut name, program) = (one_line(&prompt.program_name, MAX_NAME), one_line(&prompt.program, MAX_PATH));
        if let Some(host) = &prompt.host {
            // "mbsync on build-01": the name is the remote side's claim.
            name = format!("{name} on {}", one_line(host, MAX_NAME));
        }
        let (summary, body) = match prompt.action {
            Action::ReadToken => (
                format!("{name} wants to read {account}"),
                format!("{program} asks for an access token of {account}. Allow it in Keyport."),
            ),
            other => {
                let wants = other.phrase(&account);
                (format!("{name} wants to {wants}"), format!("{program} asks to {wants}. Allow it in Keyport."))
            }
        };
        Self { summary, body: body_text(&body), screen: Navigate::Prompt { prompt_id: prompt.prompt_id.clone() } }
    }
}

/// What became of a notice handed to [`Notifier::show`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeOutcome {
    /// It is being shown, and its action waited for.
    Showing,
    /// The same notice is still waiting for its action: not shown again.
    AlreadyShowing,
    /// [`MAX_WAITING_NOTIFICATIONS`] (or the notifier's own limit) are waiting: skipped.
    Skipped,
}

/// Shows [`Notice`]s and sends [`DesktopAction::Show`] to the owner when one is clicked.
#[derive(Debug, Clone)]
pub struct Notifier {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// Where clicks go (notifications with actions: org.freedesktop.Notifications only).
    #[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))]
    actions: mpsc::Sender<DesktopAction>,
    places: Arc<Semaphore>,
    waiting: Mutex<HashSet<Notice>>,
    wait: Duration,
}

impl Notifier {
    /// A notifier sending clicks to `actions`, with the usual limits.
    pub fn new(actions: mpsc::Sender<DesktopAction>) -> Self {
        Self::with_limits(actions, MAX_WAITING_NOTIFICATIONS, ACTION_WAIT)
    }

    /// A notifier with at most `max_waiting` notifications waiting `wait` each.
    pub fn with_limits(actions: mpsc::Sender<DesktopAction>, max_waiting: usize, wait: Duration) -> Self {
        Self {
            shared: Arc::new(Shared {
                actions,
                places: Arc::new(Semaphore::new(max_waiting)),
                waiting: Mutex::new(HashSet::new()),
                wait,
            }),
        }
    }

    /// Shows `notice` unless it is already showing or every place is taken (see the module
    /// docs). Returns at once; the showing and the waiting are a task of their own. Call inside
    /// a tokio runtime.
    pub fn show(&self, notice: Notice) -> NoticeOutcome {
        // One lock from the look to the insertion: the same notice shown from two threads at
        // once is shown once.
        let mut waiting = self.shared.waiting.lock().expect("notices");
        if waiting.contains(&notice) {
            return NoticeOutcome::AlreadyShowing;
        }
        let Ok(place) = self.shared.places.clone().try_acquire_owned() else {
            tracing::debug!("too many notifications waiting; one skipped");
            return NoticeOutcome::Skipped;
        };
        waiting.insert(notice.clone());
        drop(waiting);
        let shared = self.shared.clone();
        tokio::spawn(async move {
            let _place = place;
            let _waiting = Waiting { shared: &shared, notice: &notice };
            show_and_wait(&shared, &notice).await;
        });
        NoticeOutcome::Showing
    }
}

/// Marks a notice as no longer waiting when its task ends, however it ends.
struct Waiting<'a> {
    shared: &'a Shared,
    notice: &'a Notice,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.shared.waiting.lock().expect("notices").remove(self.notice);
    }
}

/// Shows `notice` and waits for a click on it (org.freedesktop.Notifications, with actions).
#[cfg(all(unix, not(target_os = "macos")))]
async fn show_and_wait(shared: &Shared, notice: &Notice) {
    let notification = notify_rust::Notification::new()
        .appname("Keyport")
        .summary(&notice.summary)
        .body(&notice.body)
        .icon("keyport-desktop")
        .action("default", "Open Keyport")
        .finalize();
    let handle = match tokio::time::timeout(shared.wait, notification.show_async()).await {
        Ok(Ok(handle)) => handle,
        Ok(Err(err)) => {
            tracing::debug!(%err, "no desktop notification");
            return;
        }
        Err(_) => {
            tracing::debug!("the notification server did not answer");
            return;
        }
    };
    let (actions, screen) = (shared.actions.clone(), notice.screen.clone());
    let waited = tokio::time::timeout(
        shared.wait,
        handle.wait_for_action_async(move |response| {
            if matches!(response, notify_rust::NotificationResponse::Default)
                && let Err(err) = actions.try_send(DesktopAction::Show(screen))
            {
                tracing::debug!(%err, "notification click dropped");
            }
        }),
    )
    .await;
    if waited.is_err() {
        tracing::debug!("stopped waiting for a notification's action");
    }
}

/// Shows `notice` through the system's notifications (Windows toasts, macOS Notification
/// Center), which notify-rust offers without click actions: the notice opens nothing there.
#[cfg(not(all(unix, not(target_os = "macos"))))]
async fn show_and_wait(shared: &Shared, notice: &Notice) {
    let notification =
        notify_rust::Notification::new().appname("Keyport").summary(&notice.summary).body(&notice.body).finalize();
    let shown =
        tokio::time::timeout(shared.wait, tokio::task::spawn_blocking(move || notification.show().map(drop))).await;
    if !matches!(shown, Ok(Ok(Ok(())))) {
        tracing::debug!("no desktop notification");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_events_have_the_window_app_words_and_open_the_account() {
        let notice =
            Notice::for_event(&Event::NeedsSignIn { account: "work".into(), reason: "invalid_grant".into() }).unwrap();
        assert_eq!(notice.summary, "work needs you to sign in again");
        assert_eq!(
            notice.body,
            "The provider no longer accepts this account's sign-in. Open Keyport and choose Sign in again."
        );
        assert_eq!(notice.screen, Navigate::Account { account: "work".into() });

        let notice = Notice::for_event(&Event::RefreshTokenExpiring {
            account: "work".into(),
            expires_at: "2026-01-02T00:00:00Z".into(),
        })
        .unwrap();
        assert_eq!(notice.summary, "work needs a new sign-in within a day");
        assert_eq!(
            notice.body,
            "The provider ends this account's refresh token soon, and renewing cannot extend it. Open Keyport \
             and choose Sign in again before then."
        );
        assert_eq!(notice.screen, Navigate::Account { account: "work".into() });
    }

    #[test]
    fn other_events_make_no_notification() {
        for event in [
            Event::Added { account: "work".into() },
            Event::Refreshed { account: "work".into(), expires_at: None },
            Event::Error { account: "work".into(), message: "offline".into() },
            Event::Removed { account: "work".into() },
            Event::Missed { count: 3 },
        ] {
            assert_eq!(Notice::for_event(&event), None, "{event:?}");
        }
    }

    #[test]
    fn a_prompt_notice_bounds_and_escapes_what_the_program_says() {
        let prompt = AccessPrompt {
            prompt_id: "p1".into(),
            program: format!("/tmp/<b>{}</b>\n&", "x".repeat(400)),
            program_name: format!("Evil\nApp{}", "y".repeat(100)),
            host: None,
            account: "work".into(),
            action: Action::ReadToken,
            asked_at: "2026-01-01T00:00:00Z".into(),
            expires_at: "2026-01-01T00:02:00Z".into(),
        };
        let notice = Notice::for_prompt(&prompt);
        assert!(notice.summary.starts_with("Evil App"), "{}", notice.summary);
        assert!(notice.summary.ends_with("… wants to read work"), "{}", notice.summary);
        assert!(!notice.summary.contains('\n'));
        assert!(notice.body.starts_with("/tmp/&lt;b&gt;xxx"), "{}", notice.body);
        assert!(!notice.body.contains('<') && !notice.body.contains('\n'), "{}", notice.body);
        assert!(notice.body.ends_with("… asks for an access token of work. Allow it in Keyport."), "{}", notice.body);
        assert!(notice.body.chars().count() < MAX_PATH + 80, "{}", notice.body.len());
        assert_eq!(notice.screen, Navigate::Prompt { prompt_id: "p1".into() });

        let revoke = Notice::for_prompt(&AccessPrompt {
            action: Action::Revoke,
            program: "/usr/bin/tool".into(),
            program_name: "Tool".into(),
            ..prompt
        });
        assert_eq!(revoke.summary, "Tool wants to revoke and remove `work`");
        assert_eq!(revoke.body, "/usr/bin/tool asks to revoke and remove `work`. Allow it in Keyport.");

        let remote = Notice::for_prompt(&AccessPrompt {
            program: "remote:build-01:mbsync".into(),
            program_name: "mbsync".into(),
            host: Some("build-01".into()),
            ..remote_prompt()
        });
        assert_eq!(remote.summary, "mbsync on build-01 wants to read work");
        assert_eq!(remote.body, "remote:build-01:mbsync asks for an access token of work. Allow it in Keyport.");
    }

    fn remote_prompt() -> AccessPrompt {
        AccessPrompt {
            prompt_id: "p2".into(),
            program: String::new(),
            program_name: String::new(),
            host: None,
            account: "work".into(),
            action: Action::ReadToken,
            asked_at: "2026-01-01T00:00:00Z".into(),
            expires_at: "2026-01-01T00:02:00Z".into(),
        }
    }
}
