//! The tray icon: its menu (open, accounts that need sign-in, quit) and its look, which
//! changes when an account needs attention.

use keyport_service::app::Navigate;
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Runtime};

/// The tray icon's id.
pub(crate) const ID: &str = "keyport";

const ICON: &[u8] = include_bytes!("../../icons/tray.png");
const ATTENTION_ICON: &[u8] = include_bytes!("../../icons/tray-attention.png");

/// Menu ids: `open`, `quit`, and `account:NAME` for each account that needs sign-in.
const OPEN: &str = "open";
const QUIT: &str = "quit";
const ACCOUNT_PREFIX: &str = "account:";

pub(crate) fn create<R: Runtime>(app: &AppHandle<R>, needs_attention: &[String]) -> tauri::Result<()> {
    TrayIconBuilder::with_id(ID)
        .icon(icon(needs_attention)?)
        .tooltip(tooltip(needs_attention))
        .menu(&menu(app, needs_attention)?)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| {
            let id = event.id().as_ref();
            match id {
                OPEN => crate::show_window(app),
                QUIT => app.exit(0),
                _ => {
                    if let Some(account) = id.strip_prefix(ACCOUNT_PREFIX) {
                        crate::navigate(app, Navigate::Account { account: account.to_owned() });
                    }
                }
            }
        })
        .build(app)?;
    Ok(())
}

/// Brings the icon, tooltip and menu up to date.
pub(crate) fn update<R: Runtime>(app: &AppHandle<R>, needs_attention: &[String]) {
    let Some(tray) = app.tray_by_id(ID) else { return };
    let result = (|| -> tauri::Result<()> {
        tray.set_icon(Some(icon(needs_attention)?))?;
        tray.set_tooltip(Some(tooltip(needs_attention)))?;
        tray.set_menu(Some(menu(app, needs_attention)?))?;
        Ok(())
    })();
    if let Err(err) = result {
        tracing::warn!(%err, "updating the tray icon");
    }
}

fn icon(needs_attention: &[String]) -> tauri::Result<Image<'static>> {
    Image::from_bytes(if needs_attention.is_empty() { ICON } else { ATTENTION_ICON })
}

pub(crate) fn tooltip(needs_attention: &[String]) -> String {
    match needs_attention.len() {
        0 => "Keyport".to_owned(),
        1 => format!("Keyport: {} needs sign-in", needs_attention[0]),
        n => format!("Keyport: {n} accounts need sign-in"),
    }
}

fn menu<R: Runtime>(app: &AppHandle<R>, needs_attention: &[String]) -> tauri::Result<Menu<R>> {
    let menu = Menu::new(app)?;
    menu.append(&MenuItem::with_id(app, OPEN, "Open Keyport", true, None::<&str>)?)?;
    if !needs_attention.is_empty() {
        menu.append(&PredefinedMenuItem::separator(app)?)?;
        menu.append(&MenuItem::new(app, "Needs sign-in:", false, None::<&str>)?)?;
        for account in needs_attention {
            let id = format!("{ACCOUNT_PREFIX}{account}");
            menu.append(&MenuItem::with_id(app, id, format!("Sign in again: {account}"), true, None::<&str>)?)?;
        }
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(app, QUIT, "Quit Keyport", true, None::<&str>)?)?;
    Ok(menu)
}
