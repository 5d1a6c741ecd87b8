//! Keyport's headless core: providers, accounts, sign-in, token storage.
//!
//! Nothing here knows about Tauri, a terminal or a socket; the `keyport` CLI, the daemon and
//! the desktop shell are thin layers over [`Keyport`]. Everything outside the process (HTTP,
//! the keyring, the clock, the browser) is reached through a small trait so tests can fail it
//! on purpose: [`http::HttpClient`], [`secrets::SecretStore`], [`clock::Clock`],
//! [`browser::BrowserOpener`].

pub mod account;
pub mod browser;
pub mod clock;
pub mod device;
mod discovery;
pub mod endpoint;
mod error;
pub mod events;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
mod id_token;
mod keyport;
pub mod oauth;
pub mod paths;
pub mod provider;
pub mod redirect;
pub mod refresh;
pub mod refresher;
mod revoke;
mod seconds;
pub mod secret;
pub mod secrets;
mod service;
pub mod signin;
#[cfg(target_os = "linux")]
pub mod sock_diag;
mod store;
#[cfg(test)]
mod testing;

pub use crate::device::{DeviceRequest, PendingDeviceSignIn};
pub use crate::error::Error;
pub use crate::keyport::{Keyport, NewProvider, ProviderEdit, ProviderRefresh, ProviderSpec, ProviderView};
pub use crate::revoke::{RevokeMode, RevokeOutcome, Verification};
pub use crate::service::ServiceAccountRequest;

/// Whole-file atomic writes (temporary file, fsync, rename, mode 0600) for front ends'
/// own small files, so they keep the same guarantees as Keyport's, and the lock deadline.
pub mod files {
    pub use crate::store::{LOCK_WAIT, read_optional, write_atomic};
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
