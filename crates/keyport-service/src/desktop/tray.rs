//! The tray icon, as a StatusNotifierItem on the session bus (`ksni`): Keyport's icon, which
//! turns to the attention icon while accounts need a new sign-in; a tooltip; and a menu to open
//! the window, to sign accounts in again, and to quit.
//!
//! What the tray shows is a pure function of the accounts that need sign-in ([`menu_model`],
//! [`tooltip`]), so it is tested without a bus. Clicks become [`TrayAction`]s sent to the
//! owner on a bounded channel: whoever can reach the session bus can click the menu through
//! `com.canonical.dbusmenu`, so clicks past what the owner has taken are dropped, never queued
//! without bound.

use std::sync::Arc;
use std::time::Duration;

use ksni::TrayMethods;
use tokio::sync::mpsc;

use crate::error::NoTray;

use super::text::{menu_label, one_line};

/// Accounts listed by name in the menu; the rest are counted in one line ("and N more"), so
/// that a long list cannot make a menu taller than the screen.
pub const MAX_MENU_ACCOUNTS: usize = 20;

/// Characters of an account name shown in the menu and the tooltip (names may be 128 long).
pub const MAX_SHOWN_NAME: usize = 48;

/// How long registering the icon may take. A session bus that accepts the connection and
/// then never answers would otherwise hold the desktop integration's start for ever.
pub const REGISTER_TIMEOUT: Duration = Duration::from_secs(10);

const ICON_PNG: &[u8] = include_bytes!("../../../../icons/tray.png");
const ATTENTION_ICON_PNG: &[u8] = include_bytes!("../../../../icons/tray-attention.png");

/// What a click in the tray menu asks the owner to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrayAction {
    /// "Open Keyport": show the accounts.
    Open,
    /// "Sign in again: NAME": show that account (its whole name, even where the menu cut it).
    Account(String),
    /// "Quit Keyport": stop the service.
    Quit,
}

/// One line of the tray menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MenuEntry {
    /// A line that does something when clicked.
    Item {
        /// What it says (plain text; escaped for dbusmenu when shown).
        label: String,
        /// What a click asks for.
        action: TrayAction,
    },
    /// A line that only says something (greyed out).
    Note(String),
    /// A separator.
    Separator,
}

/// The menu for `needs_sign_in` (accounts that need a new sign-in, by name): "Open Keyport";
/// then, when there are any, "Needs sign-in:" and one "Sign in again: NAME" per account (the
/// first [`MAX_MENU_ACCOUNTS`], then "and N more"); then "Quit Keyport".
pub fn menu_model(needs_sign_in: &[String]) -> Vec<MenuEntry> {
    let mut menu = vec![MenuEntry::Item { label: "Open Keyport".to_owned(), action: TrayAction::Open }];
    if !needs_sign_in.is_empty() {
        menu.push(MenuEntry::Separator);
        menu.push(MenuEntry::Note("Needs sign-in:".to_owned()));
        for name in needs_sign_in.iter().take(MAX_MENU_ACCOUNTS) {
            menu.push(MenuEntry::Item {
                label: format!("Sign in again: {}", one_line(name, MAX_SHOWN_NAME)),
                action: TrayAction::Account(name.clone()),
            });
        }
        if needs_sign_in.len() > MAX_MENU_ACCOUNTS {
            menu.push(MenuEntry::Note(format!("and {} more", needs_sign_in.len() - MAX_MENU_ACCOUNTS)));
        }
    }
    menu.push(MenuEntry::Separator);
    menu.push(MenuEntry::Item { label: "Quit Keyport".to_owned(), action: TrayAction::Quit });
    menu
}

/// The tooltip: "Keyport", "Keyport: NAME needs sign-in" or "Keyport: N accounts need
/// sign-in" (the desktop window's tray said the same).
pub fn tooltip(needs_sign_in: &[String]) -> String {
    match needs_sign_in {
        [] => "Keyport".to_owned(),
        [one] => format!("Keyport: {} needs sign-in", one_line(one, MAX_SHOWN_NAME)),
        many => format!("Keyport: {} accounts need sign-in", many.len()),
    }
}

/// The two icons as StatusNotifierItem pixmaps, decoded once.
#[derive(Debug)]
struct Icons {
    normal: ksni::Icon,
    attention: ksni::Icon,
}

impl Icons {
    fn decode() -> Result<Self, NoTray> {
        Ok(Self { normal: argb_pixmap(ICON_PNG)?, attention: argb_pixmap(ATTENTION_ICON_PNG)? })
    }
}

/// A PNG as a StatusNotifierItem pixmap: ARGB32, network byte order.
fn argb_pixmap(png_bytes: &[u8]) -> Result<ksni::Icon, NoTray> {
    let bad = |detail: String| NoTray::Icon(detail);
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    // Palette, grey and 16-bit images come out as 8-bit RGB(A) or grey (with alpha).
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(|err| bad(err.to_string()))?;
    let mut buffer = vec![0; reader.output_buffer_size().ok_or_else(|| bad("image too large".to_owned()))?];
    let frame = reader.next_frame(&mut buffer).map_err(|err| bad(err.to_string()))?;
    let pixels = &buffer[..frame.buffer_size()];
    let mut data = Vec::with_capacity((frame.width * frame.height * 4) as usize);
    match frame.color_type {
        png::ColorType::Rgba => {
            for p in pixels.chunks_exact(4) {
                data.extend_from_slice(&[p[3], p[0], p[1], p[2]]);
            }
        }
        png::ColorType::Rgb => {
            for p in pixels.chunks_exact(3) {
                data.extend_from_slice(&[0xff, p[0], p[1], p[2]]);
            }
        }
        png::ColorType::GrayscaleAlpha => {
            for p in pixels.chunks_exact(2) {
                data.extend_from_slice(&[p[1], p[0], p[0], p[0]]);
            }
        }
        png::ColorType::Grayscale => {
            for p in pixels {
                data.extend_from_slice(&[0xff, *p, *p, *p]);
            }
        }
        png::ColorType::Indexed => return Err(bad("palette left after expansion".to_owned())),
    }
    let size = |n: u32| i32::try_from(n).map_err(|_| bad("image too large".to_owned()));
    Ok(ksni::Icon { width: size(frame.width)?, height: size(frame.height)?, data })
}

/// The `ksni::Tray`: everything it shows follows from `needs_sign_in`.
struct KeyportTray {
    needs_sign_in: Vec<String>,
    icons: Arc<Icons>,
    actions: mpsc::Sender<TrayAction>,
}

impl std::fmt::Debug for KeyportTray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyportTray").field("needs_sign_in", &self.needs_sign_in).finish_non_exhaustive()
    }
}

impl KeyportTray {
    fn send(&self, action: TrayAction) {
        // `try_send`: the menu's D-Bus handler must not wait for the owner, and clicks beyond
        // what the owner has taken are not worth keeping.
        if let Err(err) = self.actions.try_send(action) {
            tracing::debug!(%err, "tray click dropped");
        }
    }
}

impl ksni::Tray for KeyportTray {
    // A left click opens the menu, as the window's tray did: every action is in it.
    const MENU_ON_ACTIVATE: bool = true;

    fn id(&self) -> String {
        "keyport".to_owned()
    }

    fn title(&self) -> String {
        "Keyport".to_owned()
    }

    fn status(&self) -> ksni::Status {
        if self.needs_sign_in.is_empty() { ksni::Status::Active } else { ksni::Status::NeedsAttention }
    }

    // Hosts that ignore the NeedsAttention status (or its attention icon) still show the
    // attention icon: it is the icon itself while accounts need sign-in.
    fn icon_pixmap(&self) -> Vec<ksni::Icon> {
        let icon = if self.needs_sign_in.is_empty() { &self.icons.normal } else { &self.icons.attention };
        vec![icon.clone()]
    }

    fn attention_icon_pixmap(&self) -> Vec<ksni::Icon> {
        vec![self.icons.attention.clone()]
    }

    fn tool_tip(&self) -> ksni::ToolTip {
        ksni::ToolTip { title: tooltip(&self.needs_sign_in), ..Default::default() }
    }

    fn menu(&self) -> Vec<ksni::MenuItem<Self>> {
        menu_model(&self.needs_sign_in)
            .into_iter()
            .map(|entry| match entry {
                MenuEntry::Item { label, action } => ksni::menu::StandardItem {
                    label: menu_label(&label),
                    activate: Box::new(move |tray: &mut Self| tray.send(action.clone())),
                    ..Default::default()
                }
                .into(),
                MenuEntry::Note(text) => {
                    ksni::menu::StandardItem { label: menu_label(&text), enabled: false, ..Default::default() }.into()
                }
                MenuEntry::Separator => ksni::MenuItem::Separator,
            })
            .collect()
    }
}

/// Keyport's icon in the desktop's tray, while it is kept: dropping it takes the icon out
/// ([`TrayIcon::remove`] does too, and waits until it is out).
pub struct TrayIcon {
    handle: ksni::Handle<KeyportTray>,
    shown: Vec<String>,
}

impl std::fmt::Debug for TrayIcon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrayIcon").field("shown", &self.shown).finish_non_exhaustive()
    }
}

impl TrayIcon {
    /// Puts the icon in the tray, showing `needs_sign_in` (account names), with clicks sent to
    /// `actions`. Call inside a tokio runtime.
    ///
    /// Where the desktop has no tray (no session bus, no `org.kde.StatusNotifierWatcher`, or a
    /// watcher without a host) the answer is [`NoTray`], after at most [`REGISTER_TIMEOUT`].
    pub async fn spawn(needs_sign_in: Vec<String>, actions: mpsc::Sender<TrayAction>) -> Result<Self, NoTray> {
        let needs_sign_in = normalized(needs_sign_in);
        let icons = Arc::new(Icons::decode()?);
        let tray = KeyportTray { needs_sign_in: needs_sign_in.clone(), icons, actions };
        let handle = match tokio::time::timeout(REGISTER_TIMEOUT, tray.spawn()).await {
            Err(_) => return Err(NoTray::Timeout(REGISTER_TIMEOUT)),
            Ok(Err(ksni::Error::Dbus(err))) => return Err(NoTray::NoSessionBus(err.to_string())),
            Ok(Err(ksni::Error::Watcher(err))) => return Err(NoTray::NoWatcher(err.to_string())),
            Ok(Err(ksni::Error::WontShow)) => return Err(NoTray::NoHost),
            Ok(Err(err)) => return Err(NoTray::NoWatcher(err.to_string())),
            Ok(Ok(handle)) => handle,
        };
        Ok(Self { handle, shown: needs_sign_in })
    }

    /// Shows `needs_sign_in` (account names, in any order) instead of what is shown. Redraws
    /// (icon, status, tooltip, menu) only when the list changed; returns whether it did.
    pub async fn set_needs_attention(&mut self, needs_sign_in: Vec<String>) -> bool {
        let needs_sign_in = normalized(needs_sign_in);
        if needs_sign_in == self.shown {
            return false;
        }
        let shown = needs_sign_in.clone();
        if self.handle.update(move |tray| tray.needs_sign_in = needs_sign_in).await.is_none() {
            tracing::debug!("the tray icon is gone");
            return false;
        }
        self.shown = shown;
        true
    }

    /// The account names shown.
    pub fn shown(&self) -> &[String] {
        &self.shown
    }

    /// Takes the icon out of the tray (its D-Bus connection closes) and waits until it is out.
    pub async fn remove(self) {
        self.handle.shutdown().await;
    }
}

impl Drop for TrayIcon {
    fn drop(&mut self) {
        // Without this, ksni's task would keep the icon (and its connection) until the
        // process ends. The request is queued at once; nothing needs to wait for it here.
        drop(self.handle.shutdown());
    }
}

/// Sorted and without repeats: the same accounts in another order are not a change.
fn normalized(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    fn item(label: &str, action: TrayAction) -> MenuEntry {
        MenuEntry::Item { label: label.to_owned(), action }
    }

    #[test]
    fn with_nothing_to_sign_in_the_menu_opens_and_quits() {
        assert_eq!(
            menu_model(&[]),
            [item("Open Keyport", TrayAction::Open), MenuEntry::Separator, item("Quit Keyport", TrayAction::Quit)]
        );
    }

    #[test]
    fn each_account_that_needs_sign_in_has_its_item() {
        assert_eq!(
            menu_model(&names(&["personal", "work"])),
            [
                item("Open Keyport", TrayAction::Open),
                MenuEntry::Separator,
                MenuEntry::Note("Needs sign-in:".to_owned()),
                item("Sign in again: personal", TrayAction::Account("personal".to_owned())),
                item("Sign in again: work", TrayAction::Account("work".to_owned())),
                MenuEntry::Separator,
                item("Quit Keyport", TrayAction::Quit),
            ]
        );
    }

    #[test]
    fn the_menu_lists_twenty_accounts_and_counts_the_rest() {
        let many: Vec<String> = (0..25).map(|i| format!("account{i:02}")).collect();
        let menu = menu_model(&many);
        let accounts: Vec<&TrayAction> = menu
            .iter()
            .filter_map(|entry| match entry {
                MenuEntry::Item { action: action @ TrayAction::Account(_), .. } => Some(action),
                _ => None,
            })
            .collect();
        assert_eq!(accounts.len(), MAX_MENU_ACCOUNTS);
        assert_eq!(accounts[0], &TrayAction::Account("account00".to_owned()));
        assert_eq!(accounts[19], &TrayAction::Account("account19".to_owned()));
        assert!(menu.contains(&MenuEntry::Note("and 5 more".to_owned())), "{menu:?}");
        assert_eq!(menu.last(), Some(&item("Quit Keyport", TrayAction::Quit)));
        // Exactly twenty: nothing to count.
        assert!(!menu_model(&many[..20]).iter().any(|e| matches!(e, MenuEntry::Note(n) if n.contains("more"))));
    }

    #[test]
    fn a_long_name_is_cut_in_the_label_but_whole_in_the_action() {
        let long = format!("{}@example.test", "a".repeat(100));
        let menu = menu_model(std::slice::from_ref(&long));
        let MenuEntry::Item { label, action } = &menu[3] else { panic!("{menu:?}") };
        assert_eq!(label.chars().count(), "Sign in again: ".len() + MAX_SHOWN_NAME);
        assert!(label.ends_with('…'), "{label}");
        assert_eq!(action, &TrayAction::Account(long.clone()));
        assert!(tooltip(&[long]).chars().count() <= "Keyport: ".len() + MAX_SHOWN_NAME + " needs sign-in".len());
    }

    #[test]
    fn the_tooltip_names_one_account_and_counts_several() {
        assert_eq!(tooltip(&[]), "Keyport");
        assert_eq!(tooltip(&names(&["work"])), "Keyport: work needs sign-in");
        assert_eq!(tooltip(&names(&["personal", "work"])), "Keyport: 2 accounts need sign-in");
        assert_eq!(tooltip(&names(&["a\nb"])), "Keyport: a b needs sign-in");
    }

    #[test]
    fn the_icons_decode_to_argb_pixmaps_of_their_size() {
        let icons = Icons::decode().unwrap();
        for icon in [&icons.normal, &icons.attention] {
            assert_eq!((icon.width, icon.height), (64, 64));
            assert_eq!(icon.data.len(), 64 * 64 * 4);
        }
        assert_ne!(icons.normal.data, icons.attention.data);
        // Not blank: some pixel is opaque, and a corner is transparent (the icons are round).
        assert!(icons.normal.data.chunks_exact(4).any(|p| p[0] == 0xff));
        assert_eq!(icons.normal.data[0], 0, "the top left corner is transparent");
    }

    #[test]
    fn the_same_accounts_in_another_order_are_the_same_list() {
        assert_eq!(normalized(names(&["b", "a", "b"])), names(&["a", "b"]));
    }
}
