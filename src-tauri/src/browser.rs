//! Opening a provider's page (its client registration, a verification URI) in the user's
//! browser: the window's one action that needs no account, so it is done here with the core's
//! URL rule (https, or http to loopback only) and browser opener, not by the service.

use keyport_core::browser::{BrowserOpener, SystemBrowser};
use keyport_wire::AppError;

/// Opens `typed` in the user's browser (`$BROWSER`, else `xdg-open`).
pub(crate) fn open(typed: &str) -> Result<(), AppError> {
    let url = keyport_core::endpoint::parse(typed.trim()).map_err(|err| AppError::bad_input(err.to_string()))?;
    SystemBrowser::from_env().open(&url).map_err(|err| AppError::internal(err.to_string()))
}
