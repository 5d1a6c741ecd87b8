//! Keyport's end-to-end tests: one test binary, helpers in `support/`.
//!
//! They need `node` with `tests/oidc/node_modules`, `/usr/bin/python3` with Authlib and Flask
//! (`tests/authlib`), `dbus-daemon`, `gnome-keyring-daemon`, `secret-tool`, `curl` and `git`, and
//! for the desktop test `Xvfb`, `tauri-driver` and `WebKitWebDriver`; `tests/setup` installs them
//! and `tests/run` runs everything. They are Linux's: elsewhere this binary is empty (README,
//! "Platforms").
#![cfg(target_os = "linux")]

mod activity;
mod authlib;
mod desktop;
mod device;
mod fault_matrix;
mod helpers;
mod hostile;
mod keyring_store;
mod listener;
mod mixup;
mod programs;
mod renewal;
mod responsive;
mod revoke;
mod signin;
mod socket;
mod ssh;
mod support;
mod thin_client;
mod window;
