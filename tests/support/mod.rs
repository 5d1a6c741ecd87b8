//! Helpers shared by the end-to-end tests.

pub mod authlib;
pub mod daemon;
pub mod display;
pub mod keyring_session;
pub mod oidc;
pub mod profile;
pub mod rpc;
pub mod server;
pub mod sshd;
pub mod webdriver;
