//! Keyport's service: the one owner of the accounts at run time. It runs the background
//! refresher and serves the local socket (`docs/socket.md`) with per-program access rules.
//! `keyport daemon` hosts it headless; the desktop app hosts the same service with a
//! prompter that asks the user.
//!
//! Layout: [`Service`] (state and caches), `server.rs` (socket, connections), `methods.rs`
//! (one function per method), [`access`] (who may read what), [`instance`] (one service per
//! user, private runtime directory), `convert.rs` (core values to wire values), [`desktop`]
//! (feature `desktop`: tray icon, notifications, starting the window).

pub mod access;
pub mod activity;
pub mod app;
pub mod autostart;
mod convert;
#[cfg(feature = "desktop")]
pub mod desktop;
mod error;
pub mod forward;
#[doc(hidden)]
pub mod fuzzing;
#[cfg(unix)]
pub mod instance;
mod lines;
mod log_budget;
mod methods;
pub mod names;
pub mod peer;
pub mod prompts;
pub mod resident;
mod server;
mod service;
pub mod start;
pub mod transport;

use std::sync::Arc;

pub use crate::convert::account as account_summary;
pub use crate::error::{CannotShowWindow, NoTray, ServiceError};
pub use crate::server::{
    LINE_DEADLINE, MAX_CONNECTIONS_PER_PROGRAM, MAX_IN_FLIGHT_PER_CONNECTION, MAX_IN_FLIGHT_PER_PROGRAM,
    WRITE_DEADLINE, serve,
};
pub use crate::service::{Service, ServiceConfig, cli_executables_near};
pub use crate::transport::Listener;

/// The socket (or pipe), bound and owned by this instance.
#[derive(Debug)]
pub struct Listening {
    /// One service per user: the lock in the private runtime directory. A Windows pipe is
    /// created as its first instance or not at all, which is that lock.
    #[cfg(unix)]
    _instance: instance::InstanceLock,
    listener: Listener,
    socket: std::path::PathBuf,
}

impl Listening {
    /// The socket's path.
    pub fn socket(&self) -> &std::path::Path {
        &self.socket
    }
}

/// Takes the instance lock (refusing when another service runs) and binds the socket, mode
/// 0600 in a 0700 directory (on Windows: creates the pipe, for this user alone). Call inside a
/// tokio runtime.
pub fn bind(service: &Service) -> Result<Listening, ServiceError> {
    let socket = service.config.socket.clone();
    let failed = |source| ServiceError::Socket { path: socket.clone(), source };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let instance = instance::acquire(&socket)?;
        let listener = Listener::bind(&socket).map_err(failed)?;
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600)).map_err(failed)?;
        Ok(Listening { _instance: instance, listener, socket })
    }
    #[cfg(windows)]
    {
        let listener = Listener::bind(&socket).map_err(|source| match source.kind() {
            // The first instance exists already: another service of this user, or someone
            // else's pipe of that name (which clients would refuse to talk to).
            std::io::ErrorKind::PermissionDenied => {
                ServiceError::AlreadyRunning { pid: "unknown".into(), socket: socket.clone() }
            }
            _ => failed(source),
        })?;
        Ok(Listening { listener, socket })
    }
}

/// Runs the refresher, the event forwarding and the server on `listening` until `shutdown`
/// completes, then removes the socket.
pub async fn run(
    service: Arc<Service>,
    listening: Listening,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), ServiceError> {
    run_with(service, Some(listening), shutdown).await
}

/// [`run`] without a socket: the refresher and the events only. The desktop app runs this
/// when another Keyport (a `keyport daemon`) already serves the socket.
pub async fn run_without_socket(service: Arc<Service>, shutdown: impl std::future::Future<Output = ()>) {
    let _ = run_with(service, None, shutdown).await;
}

async fn run_with(
    service: Arc<Service>,
    listening: Option<Listening>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), ServiceError> {
    let forward = tokio::spawn(service.clone().forward_core_events());
    let forward_prompts = tokio::spawn(service.clone().forward_prompt_events());
    let requested = service.stop_requested();
    let shutdown = async move {
        tokio::select! {
            () = shutdown => {}
            () = requested => tracing::info!("stopping, as asked over the socket"),
        }
    };
    let activity = service.activity.clone();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let refresher_service = service.clone();
    let mut refresher_stopped = stopped.clone();
    let refresher = tokio::spawn(async move {
        let policy = refresher_service.config.refresh.clone();
        refresher_service
            .keyport()
            .run_refresher(policy, async move {
                let _ = refresher_stopped.wait_for(|stop| *stop).await;
            })
            .await;
    });
    match listening {
        Some(listening) => {
            let socket = listening.socket.clone();
            tracing::info!(socket = %socket.display(), "serving");
            let releaser = tokio::spawn(release_when_idle(service.clone()));
            serve(service.clone(), listening.listener, shutdown).await;
            service.forwards.close_all();
            releaser.abort();
            #[cfg(unix)]
            let _ = std::fs::remove_file(&socket);
        }
        None => shutdown.await,
    }
    let _ = stop.send(true);
    // A renewal waiting on the network must not hold up a stop: the next start renews again.
    if tokio::time::timeout(std::time::Duration::from_millis(500), refresher).await.is_err() {
        tracing::info!("stopped without waiting for a renewal in progress");
    }
    forward.abort();
    forward_prompts.abort();
    drop(stopped);
    // Counted repeats are written now, not lost with the process.
    let _ = tokio::task::spawn_blocking(move || activity.finish()).await;
    Ok(())
}

/// Gives back the executable's code pages once the socket has been quiet for
/// [`resident::IDLE_BEFORE_RELEASE`], again after each busy spell (`resident.rs`).
async fn release_when_idle(service: Arc<Service>) {
    use std::sync::atomic::Ordering;
    let mut seen = service.requests_read.load(Ordering::Relaxed);
    let mut quiet_since = tokio::time::Instant::now();
    let mut released = false;
    loop {
        tokio::time::sleep(resident::IDLE_CHECK).await;
        let now = service.requests_read.load(Ordering::Relaxed);
        if now != seen {
            (seen, quiet_since, released) = (now, tokio::time::Instant::now(), false);
            continue;
        }
        if !released && quiet_since.elapsed() >= resident::IDLE_BEFORE_RELEASE {
            released = true;
            match tokio::task::spawn_blocking(resident::release_code_pages).await {
                Ok(Ok(bytes)) => tracing::debug!(bytes, "idle: code pages given back"),
                Ok(Err(err)) => tracing::debug!(%err, "idle: code pages not given back"),
                Err(_) => {}
            }
        }
    }
}

/// An id for a sign-in, a question or a forward's socket: unique in this process, not guessable
/// from outside.
pub fn random_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher
        .write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    format!("{:016x}", hasher.finish())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::io::Write;

    use crate::lines::{Incoming, LineReader};

    /// A client that connects and writes the moment the socket exists (as the CLI does after
    /// starting a daemon), before the server accepts, is still known by its pid.
    #[tokio::test]
    async fn a_request_written_before_the_server_accepts_carries_its_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyport.sock");
        let mut listener = super::Listener::bind(&path).unwrap();
        let mut early = std::os::unix::net::UnixStream::connect(&path).unwrap();
        early.write_all(b"{\"early\":1}\n").unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let line = LineReader::new(64, None).next(&server).await.unwrap();
        assert_eq!(line, Incoming::Line { bytes: b"{\"early\":1}".to_vec(), writers: vec![std::process::id()] });
    }
}
