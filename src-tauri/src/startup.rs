//! The window's startup: logging, WebKit's settings, the service and what the first screen
//! shows; each step is timed, logged at debug level with the milliseconds since the process
//! started (`KEYPORT_LOG=keyport=debug keyport-desktop`), to see where a slow start goes
//! (`cargo bench --bench desktop` measures the whole of it from outside).

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use keyport_wire::Event;
use tokio::sync::mpsc;

use crate::{ServiceClient, screens, webkit};

static STARTED: OnceLock<Instant> = OnceLock::new();

/// The first thing `main` does: notes the time, sets WebKit's environment (before any thread
/// exists) and starts logging to standard error (`KEYPORT_LOG`, default `warn,keyport=info`).
pub(crate) fn begin() {
    STARTED.get_or_init(Instant::now);
    webkit::software_compositing();
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEYPORT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,keyport=info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

/// Logs that startup reached `step`.
pub(crate) fn reached(step: &str) {
    let ms = STARTED.get().map_or(0, |started| started.elapsed().as_millis());
    tracing::debug!(ms, "startup: {step}");
}

/// Connects to the service (starting it when none runs; exits when that fails), answers its
/// questions from now on, and reads what the first screen shows: the page's first script
/// (`screens::start_script`), for the screen the command line names.
pub(crate) fn connect() -> (Arc<ServiceClient>, mpsc::Receiver<Event>, String) {
    let screen = screens::screen_from_args(&std::env::args().skip(1).collect::<Vec<_>>());
    let socket = keyport_wire::default_socket_path().unwrap_or_default();
    let (client, events, first) = tauri::async_runtime::block_on(async {
        let (client, events) = ServiceClient::connect_or_start(&socket).await?;
        let waiting = client.answer_questions().await;
        let first = screens::first_screen(&client, waiting).await;
        Ok::<_, keyport_wire::AppError>((client, events, first))
    })
    .unwrap_or_else(|err| {
        eprintln!("keyport-desktop: {err}");
        std::process::exit(1);
    });
    reached("connected to the service, first screen read");
    (client, events, screens::start_script(screen.as_ref(), &first))
}
