//! The desktop integration (`keyport_service::desktop`) over a real D-Bus session bus, private
//! to each test, with a fake tray and a fake notification server on it (`session.rs`): what a
//! tray host reads (status, icons, tooltip, the dbusmenu layout), clicks made the way a tray
//! host makes them, notifications as a notification server receives them and their actions,
//! windows started as real processes, and no tray where there is none.
//!
//! Each test named after what it proves starts a bus and runs its `…_inside` part (an
//! `#[ignore]`d test) in a child process with that bus as its session bus (see `session.rs`).
//! D-Bus trays and notifications are Linux's: elsewhere this binary is empty.
#![cfg(target_os = "linux")]

mod session;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use keyport_service::app::Navigate;
use keyport_service::desktop::{
    DesktopAction, DesktopIntegration, MAX_WAITING_NOTIFICATIONS, Notice, NoticeOutcome, Notifier,
    SAME_SCREEN_INTERVAL, TrayAction, TrayIcon, WindowLauncher,
};
use keyport_service::prompts::{AccessPrompt, PromptEvent};
use keyport_service::{CannotShowWindow, NoTray};
use keyport_wire::Event;
use session::{DEADLINE, ItemReader, MenuLine, PrivateBus, next, run_inside};
use tokio::sync::{broadcast, mpsc, watch};

#[test]
fn the_tray_shows_accounts_that_need_sign_in_and_sends_clicks_to_its_owner() {
    let bus = PrivateBus::start();
    run_inside("tray_inside", &[("DBUS_SESSION_BUS_ADDRESS", bus.address())]);
}

#[test]
fn notifications_say_what_happened_and_their_action_opens_the_account() {
    let bus = PrivateBus::start();
    run_inside("notifications_inside", &[("DBUS_SESSION_BUS_ADDRESS", bus.address())]);
}

#[test]
fn the_integration_follows_events_shows_notifications_starts_windows_and_quits() {
    let bus = PrivateBus::start();
    run_inside("integration_inside", &[("DBUS_SESSION_BUS_ADDRESS", bus.address()), ("DISPLAY", ":keyport-test")]);
}

#[test]
fn without_a_tray_host_there_is_no_tray_and_the_integration_runs_on() {
    let bus = PrivateBus::start();
    run_inside("no_tray_host_inside", &[("DBUS_SESSION_BUS_ADDRESS", bus.address())]);
}

#[test]
fn without_a_session_bus_there_is_no_tray() {
    let dir = tempfile::tempdir().unwrap();
    let address = format!("unix:path={}", dir.path().join("no-bus-here").display());
    run_inside("no_session_bus_inside", &[("DBUS_SESSION_BUS_ADDRESS", &address)]);
}

/// The menu as text: `label` (as sent, dbusmenu escaping included), `(label)` when disabled,
/// `---` for a separator.
fn lines(menu: &[MenuLine]) -> Vec<String> {
    menu.iter()
        .map(|line| match line {
            MenuLine { separator: true, .. } => "---".to_owned(),
            MenuLine { enabled: false, label, .. } => format!("({label})"),
            MenuLine { label, .. } => label.clone(),
        })
        .collect()
}

async fn clicked<T>(clicks: &mut mpsc::Receiver<T>) -> T {
    tokio::time::timeout(DEADLINE, clicks.recv()).await.expect("a click within the deadline").expect("a click")
}

/// Polls `check` until it holds, at most [`DEADLINE`].
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + DEADLINE;
    while !check().await {
        assert!(Instant::now() < deadline, "not within {DEADLINE:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
#[ignore = "run by the_tray_shows_accounts_that_need_sign_in_and_sends_clicks_to_its_owner"]
async fn tray_inside() {
    if !session::inside() {
        return;
    }
    let (_watcher, mut items) = session::serve_watcher(true).await;
    let (actions, mut clicks) = mpsc::channel(16);
    let mut tray = TrayIcon::spawn(vec!["work".into(), "my_work".into()], actions).await.expect("a tray icon");
    let item = next(&mut items, "item registered with the watcher").await;
    assert!(item.starts_with("org.kde.StatusNotifierItem-"), "{item}");

    let connection = session::connect().await;
    let reader = ItemReader::new(&connection, &item);
    assert_eq!(reader.status().await, "NeedsAttention");
    let attention = reader.icon_pixmap().await;
    assert_eq!(attention.len(), 1);
    assert_eq!((attention[0].0, attention[0].1, attention[0].2.len()), (64, 64, 64 * 64 * 4));
    assert_eq!(reader.attention_icon_pixmap().await, attention);
    assert_eq!(reader.tooltip().await, "Keyport: 2 accounts need sign-in");
    let (revision, menu) = reader.menu().await;
    assert_eq!(
        lines(&menu),
        [
            "Open Keyport",
            "---",
            "(Needs sign-in:)",
            "Sign in again: my__work",
            "Sign in again: work",
            "---",
            "Quit Keyport"
        ]
    );

    // Clicks reach the owner as typed actions, with the whole account name.
    reader.click("Sign in again: work").await;
    assert_eq!(clicked(&mut clicks).await, TrayAction::Account("work".into()));
    reader.click("Sign in again: my__work").await;
    assert_eq!(clicked(&mut clicks).await, TrayAction::Account("my_work".into()));
    reader.click("Open Keyport").await;
    assert_eq!(clicked(&mut clicks).await, TrayAction::Open);
    reader.click("Quit Keyport").await;
    assert_eq!(clicked(&mut clicks).await, TrayAction::Quit);

    // The same accounts (in another order): nothing is redrawn.
    assert!(!tray.set_needs_attention(vec!["my_work".into(), "work".into()]).await);
    assert_eq!(reader.menu().await.0, revision);

    // Nobody needs sign-in any more.
    assert!(tray.set_needs_attention(Vec::new()).await);
    assert_eq!(reader.status().await, "Active");
    assert_eq!(lines(&reader.menu().await.1), ["Open Keyport", "---", "Quit Keyport"]);
    assert_eq!(reader.tooltip().await, "Keyport");
    let normal = reader.icon_pixmap().await;
    assert_eq!((normal[0].0, normal[0].1), (64, 64));
    assert_ne!(normal, attention, "the icon is the normal one again");

    // Clicks nobody takes are not queued without bound.
    for _ in 0..40 {
        reader.click("Open Keyport").await;
    }
    let mut queued = 0;
    while clicks.try_recv().is_ok() {
        queued += 1;
    }
    assert_eq!(queued, 16, "the channel's capacity, the rest dropped");

    tray.remove().await;
    eventually("the item leaves the bus", || async { !session::has_owner(&connection, &item).await }).await;

    // Dropping the icon takes it out too.
    let (actions, _clicks) = mpsc::channel(16);
    let dropped = TrayIcon::spawn(Vec::new(), actions).await.expect("a tray icon");
    let item = next(&mut items, "item registered with the watcher").await;
    assert!(session::has_owner(&connection, &item).await);
    drop(dropped);
    eventually("a dropped item leaves the bus", || async { !session::has_owner(&connection, &item).await }).await;
}

#[tokio::test]
#[ignore = "run by notifications_say_what_happened_and_their_action_opens_the_account"]
async fn notifications_inside() {
    if !session::inside() {
        return;
    }
    let (server, mut calls) = session::serve_notifications().await;
    let (actions, mut clicks) = mpsc::channel(16);
    let notifier = Notifier::new(actions);

    let needs = Notice::for_event(&Event::NeedsSignIn { account: "work".into(), reason: "invalid_grant".into() })
        .expect("a notice");
    assert_eq!(notifier.show(needs.clone()), NoticeOutcome::Showing);
    let shown = next(&mut calls, "Notify").await;
    assert_eq!(shown.app_name, "Keyport");
    assert_eq!(shown.icon, "keyport-desktop");
    assert_eq!(shown.summary, "work needs you to sign in again");
    assert_eq!(
        shown.body,
        "The provider no longer accepts this account's sign-in. Open Keyport and choose Sign in again."
    );
    assert_eq!(shown.actions, ["default", "Open Keyport"]);
    // While it waits, the same notice is not shown twice.
    assert_eq!(notifier.show(needs.clone()), NoticeOutcome::AlreadyShowing);

    // The user clicks it. (The server may click before notify-rust listens for the click, as
    // a fast user could: clicked again until it is heard.)
    let action = tokio::time::timeout(DEADLINE, async {
        loop {
            session::click_notification(&server, shown.id).await;
            if let Ok(Some(action)) = tokio::time::timeout(Duration::from_millis(100), clicks.recv()).await {
                return action;
            }
        }
    })
    .await
    .expect("the click is delivered");
    assert_eq!(action, DesktopAction::Show(Navigate::Account { account: "work".into() }));
    // Once clicked, the wait is over: the same notice may be shown again.
    eventually("the notice's place is free", || {
        let outcome = notifier.show(needs.clone());
        async move { outcome == NoticeOutcome::Showing }
    })
    .await;
    let again = next(&mut calls, "Notify").await;
    assert_eq!(again.summary, shown.summary);

    // A refresh token about to end.
    let expiring = Notice::for_event(&Event::RefreshTokenExpiring {
        account: "personal".into(),
        expires_at: "2026-01-02T00:00:00Z".into(),
    })
    .expect("a notice");
    assert_eq!(notifier.show(expiring), NoticeOutcome::Showing);
    let shown_expiring = next(&mut calls, "Notify").await;
    assert_eq!(shown_expiring.summary, "personal needs a new sign-in within a day");
    assert_eq!(
        shown_expiring.body,
        "The provider ends this account's refresh token soon, and renewing cannot extend it. Open Keyport and \
         choose Sign in again before then."
    );

    // Two wait (the second "work" and "personal"); a flood of others finds the rest of the
    // places, then is skipped: only that many reach the server.
    let flood: Vec<NoticeOutcome> = (0..20)
        .map(|i| {
            notifier.show(Notice { summary: format!("flood {i}"), body: String::new(), screen: Navigate::Accounts })
        })
        .collect();
    let free = MAX_WAITING_NOTIFICATIONS - 2;
    assert_eq!(flood.iter().filter(|o| **o == NoticeOutcome::Showing).count(), free, "{flood:?}");
    assert_eq!(flood.iter().filter(|o| **o == NoticeOutcome::Skipped).count(), 20 - free);
    for _ in 0..free {
        assert!(next(&mut calls, "Notify").await.summary.starts_with("flood "));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(calls.try_recv().is_err(), "no more than the places allow reached the server");

    // Dismissing a notification frees its place, and sends nothing.
    session::dismiss_notification(&server, shown_expiring.id).await;
    eventually("a dismissed notification frees its place", || {
        let outcome =
            notifier.show(Notice { summary: "after".into(), body: String::new(), screen: Navigate::Accounts });
        async move { outcome == NoticeOutcome::Showing }
    })
    .await;
    assert_eq!(next(&mut calls, "Notify").await.summary, "after");
    assert!(clicks.try_recv().is_err(), "a dismissal is no click");

    // A wait ends after its time even if nobody acts.
    let (actions, _clicks) = mpsc::channel(16);
    let short = Notifier::with_limits(actions, 1, Duration::from_millis(200));
    let first = Notice { summary: "first".into(), body: String::new(), screen: Navigate::Accounts };
    let second = Notice { summary: "second".into(), body: String::new(), screen: Navigate::Accounts };
    assert_eq!(short.show(first), NoticeOutcome::Showing);
    assert_eq!(short.show(second.clone()), NoticeOutcome::Skipped);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(short.show(second), NoticeOutcome::Showing);
}

/// A stand-in `keyport-desktop` that records, per start: its pid, its session id, its
/// stdin, stdout and stderr, its working directory and its arguments.
fn fake_window_program(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let program = dir.join("keyport-desktop");
    std::fs::write(
        &program,
        r#"#!/bin/sh
session=$(cut -d' ' -f6 /proc/$$/stat)
in=$(readlink /proc/$$/fd/0); out=$(readlink /proc/$$/fd/1); err=$(readlink /proc/$$/fd/2)
printf '%s|%s|%s|%s|%s|%s|%s\n' "$$" "$session" "$in" "$out" "$err" "$(pwd)" "$*" >> "$(dirname "$0")/starts"
"#,
    )
    .unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    program
}

/// One start of the fake window program.
#[derive(Debug, Clone)]
struct Start {
    pid: u32,
    session: u32,
    streams: [String; 3],
    cwd: String,
    args: String,
}

fn starts(dir: &Path) -> Vec<Start> {
    let text = std::fs::read_to_string(dir.join("starts")).unwrap_or_default();
    text.lines()
        .map(|line| {
            let f: Vec<&str> = line.splitn(7, '|').collect();
            Start {
                pid: f[0].parse().unwrap(),
                session: f[1].parse().unwrap(),
                streams: [f[2].to_owned(), f[3].to_owned(), f[4].to_owned()],
                cwd: f[5].to_owned(),
                args: f[6].to_owned(),
            }
        })
        .collect()
}

async fn started(dir: &Path, count: usize) -> Vec<Start> {
    eventually(&format!("{count} window starts"), || async { starts(dir).len() >= count }).await;
    starts(dir)
}

#[tokio::test]
#[ignore = "run by the_integration_follows_events_shows_notifications_starts_windows_and_quits"]
async fn integration_inside() {
    if !session::inside() {
        return;
    }
    let (_watcher, mut items) = session::serve_watcher(true).await;
    let (server, mut calls) = session::serve_notifications().await;
    let windows = tempfile::tempdir().unwrap();
    let launcher = WindowLauncher::new(fake_window_program(windows.path()));
    assert!(launcher.has_display(), "DISPLAY is set for this test");

    let needing = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let (events, events_received) = broadcast::channel(64);
    let (prompts, prompts_received) = broadcast::channel(8);
    let (quit, mut quitting) = watch::channel(false);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let reads = needing.clone();
    let integration = DesktopIntegration {
        events: events_received,
        prompts: Some(prompts_received),
        needs_sign_in: move || {
            let names = reads.lock().unwrap().clone();
            async move { names }
        },
        launcher: Some(std::sync::Arc::new(launcher)),
        quit,
        service: None,
    };
    let running = tokio::spawn(integration.run(async {
        let _ = stopped.await;
    }));

    let item = next(&mut items, "item registered with the watcher").await;
    let connection = session::connect().await;
    let reader = ItemReader::new(&connection, &item);
    assert_eq!(reader.status().await, "Active");

    // An account needs sign-in: the tray shows it and a notification says so.
    needing.lock().unwrap().push("work".into());
    events.send(Event::NeedsSignIn { account: "work".into(), reason: "invalid_grant".into() }).unwrap();
    let notified = next(&mut calls, "Notify").await;
    assert_eq!(notified.summary, "work needs you to sign in again");
    eventually("the tray needs attention", || async { reader.status().await == "NeedsAttention" }).await;
    assert!(lines(&reader.menu().await.1).contains(&"Sign in again: work".to_owned()));
    assert_eq!(reader.tooltip().await, "Keyport: work needs sign-in");

    // Clicking the notification starts the window at the account: detached, in a session of
    // its own, its streams on /dev/null, in /.
    let deadline = Instant::now() + DEADLINE;
    while starts(windows.path()).is_empty() {
        assert!(Instant::now() < deadline, "the notification's click started no window");
        session::click_notification(&server, notified.id).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let first = started(windows.path(), 1).await.remove(0);
    assert_eq!(first.args, "--account work");
    assert_eq!(first.session, first.pid, "the window leads a session of its own");
    assert_ne!(first.session, own_session_id(), "not the test's session");
    assert_eq!(first.streams, ["/dev/null", "/dev/null", "/dev/null"]);
    assert_eq!(first.cwd, "/");

    // From the tray, a second later: a double click on the account starts one window (the
    // second click comes within the second), and another screen starts at once.
    tokio::time::sleep(SAME_SCREEN_INTERVAL + Duration::from_millis(100)).await;
    reader.click("Sign in again: work").await;
    reader.click("Sign in again: work").await;
    reader.click("Open Keyport").await;
    started(windows.path(), 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut args: Vec<String> = starts(windows.path())[1..].iter().map(|start| start.args.clone()).collect();
    args.sort();
    assert_eq!(args, ["", "--account work"], "Open Keyport shows the accounts; one window for the double click");

    // Every window that exited was reaped: no zombie left of them.
    for start in starts(windows.path()) {
        eventually(&format!("window {} reaped", start.pid), || async move {
            !Path::new(&format!("/proc/{}", start.pid)).exists()
        })
        .await;
    }

    // An access question: a notification, and the window at the question at once.
    prompts
        .send(PromptEvent::Asked(AccessPrompt {
            prompt_id: "0123abcd".into(),
            program: "/usr/bin/tool".into(),
            program_name: "Tool".into(),
            host: None,
            account: "work".into(),
            action: keyport_wire::AccountAction::ReadToken,
            asked_at: "2026-01-01T00:00:00Z".into(),
            expires_at: "2026-01-01T00:02:00Z".into(),
        }))
        .unwrap();
    let asked = next(&mut calls, "Notify").await;
    assert_eq!(asked.summary, "Tool wants to read work");
    assert_eq!(asked.body, "/usr/bin/tool asks for an access token of work. Allow it in Keyport.");
    assert_eq!(started(windows.path(), 4).await[3].args, "--prompt 0123abcd");
    assert_eq!(starts(windows.path()).len(), 4);

    // Signed in again: the tray is back to normal.
    needing.lock().unwrap().clear();
    events.send(Event::Added { account: "work".into() }).unwrap();
    eventually("the tray is active again", || async { reader.status().await == "Active" }).await;
    assert_eq!(lines(&reader.menu().await.1), ["Open Keyport", "---", "Quit Keyport"]);

    // Quit asks the host to stop the service.
    reader.click("Quit Keyport").await;
    tokio::time::timeout(DEADLINE, quitting.wait_for(|quit| *quit)).await.expect("quit within the deadline").unwrap();

    // The host stops it: the tray icon leaves the bus.
    stop.send(()).unwrap();
    tokio::time::timeout(DEADLINE, running).await.expect("the integration stops").unwrap();
    eventually("the item leaves the bus", || async { !session::has_owner(&connection, &item).await }).await;
}

/// This process's session id, read from `/proc/self/stat`.
fn own_session_id() -> u32 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // After the command name in parentheses: state, ppid, pgrp, session.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    after.split(' ').nth(3).unwrap().parse().unwrap()
}

#[tokio::test]
#[ignore = "run by without_a_tray_host_there_is_no_tray_and_the_integration_runs_on"]
async fn no_tray_host_inside() {
    if !session::inside() {
        return;
    }
    // Nobody keeps a tray on this bus.
    let (actions, _clicks) = mpsc::channel(16);
    match TrayIcon::spawn(vec!["work".into()], actions.clone()).await {
        Err(NoTray::NoWatcher(_)) => {}
        other => panic!("expected no watcher, got {other:?}"),
    }
    // A watcher, but no host to show the icons.
    {
        let (_watcher, _items) = session::serve_watcher(false).await;
        match TrayIcon::spawn(vec!["work".into()], actions).await {
            Err(NoTray::NoHost) => {}
            other => panic!("expected no host, got {other:?}"),
        }
    }

    // No display here: no window, said so.
    let launcher = WindowLauncher::new(PathBuf::from("/bin/true"));
    assert!(!launcher.has_display());
    assert!(matches!(launcher.show(&Navigate::Accounts), Err(CannotShowWindow::NoDisplay)));

    // The whole integration runs without a tray or a notification server, and stops.
    let (events, events_received) = broadcast::channel(8);
    let (quit, quitting) = watch::channel(false);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let integration = DesktopIntegration {
        events: events_received,
        prompts: None,
        needs_sign_in: || async { vec!["work".to_owned()] },
        launcher: Some(std::sync::Arc::new(launcher)),
        quit,
        service: None,
    };
    let running = tokio::spawn(integration.run(async {
        let _ = stopped.await;
    }));
    events.send(Event::NeedsSignIn { account: "work".into(), reason: "invalid_grant".into() }).unwrap();
    events.send(Event::Added { account: "work".into() }).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).unwrap();
    tokio::time::timeout(DEADLINE, running).await.expect("the integration stops").unwrap();
    assert!(!*quitting.borrow());
}

#[tokio::test]
#[ignore = "run by without_a_session_bus_there_is_no_tray"]
async fn no_session_bus_inside() {
    if !session::inside() {
        return;
    }
    let (actions, _clicks) = mpsc::channel(16);
    match TrayIcon::spawn(vec!["work".into()], actions).await {
        Err(NoTray::NoSessionBus(_)) => {}
        other => panic!("expected no session bus, got {other:?}"),
    }
}
