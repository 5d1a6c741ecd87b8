//! Copying an access token: the shell puts it on the system clipboard itself, so the token
//! never enters the web view, and clears it after [`CLEAR_AFTER`] unless something else was
//! copied since.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use keyport_core::secret::Secret;
use keyport_service::app::{AppError, CopyResult};

/// How long a copied token stays on the clipboard.
pub(crate) const CLEAR_AFTER: Duration = Duration::from_secs(45);

/// The system clipboard. On X11 this process serves what it copied, so it is kept open.
#[derive(Default)]
pub(crate) struct Clipboard {
    inner: Arc<Mutex<Option<arboard::Clipboard>>>,
}

impl std::fmt::Debug for Clipboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clipboard")
    }
}

fn with<T>(
    inner: &Mutex<Option<arboard::Clipboard>>,
    use_it: impl FnOnce(&mut arboard::Clipboard) -> Result<T, arboard::Error>,
) -> Result<T, AppError> {
    let mut guard = inner.lock().expect("clipboard");
    if guard.is_none() {
        *guard = Some(arboard::Clipboard::new().map_err(|err| AppError::internal(format!("no clipboard: {err}")))?);
    }
    use_it(guard.as_mut().expect("just opened"))
        .map_err(|err| AppError::internal(format!("the clipboard refused the token: {err}")))
}

impl Clipboard {
    /// Copies `token`, and clears it later if it is still there.
    pub(crate) async fn copy(&self, token: Arc<Secret>) -> Result<CopyResult, AppError> {
        let inner = self.inner.clone();
        let copied = token.clone();
        tokio::task::spawn_blocking(move || with(&inner, |clipboard| clipboard.set_text(copied.expose())))
            .await
            .map_err(|err| AppError::internal(err.to_string()))??;
        let inner = self.inner.clone();
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(CLEAR_AFTER).await;
            let _ = tokio::task::spawn_blocking(move || {
                with(&inner, |clipboard| {
                    if clipboard.get_text().is_ok_and(|now| now == token.expose()) {
                        clipboard.clear()?;
                    }
                    Ok(())
                })
            })
            .await;
        });
        Ok(CopyResult { clears_in_secs: CLEAR_AFTER.as_secs() as u32 })
    }
}
