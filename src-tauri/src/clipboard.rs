//! Copying an access token: the shell puts it on the system clipboard itself, so the token
//! never enters the web view, and clears it after [`CLEAR_AFTER`] unless something else was
//! copied since. On X11 the copying process serves the clipboard: a window closed before the
//! token is cleared stays, hidden, until then ([`Clipboard::until_cleared`]).

use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use keyport_wire::{AccessToken, AppError, CopyResult};
use tokio::sync::watch;

/// How long a copied token stays on the clipboard.
pub(crate) const CLEAR_AFTER: Duration = Duration::from_secs(45);

/// The system clipboard. On X11 this process serves what it copied, so it is kept open.
pub(crate) struct Clipboard {
    inner: Arc<Mutex<Option<arboard::Clipboard>>>,
    /// Tokens copied and not cleared yet.
    pending: watch::Sender<usize>,
}

impl Default for Clipboard {
    fn default() -> Self {
        Self { inner: Arc::default(), pending: watch::channel(0).0 }
    }
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
    pub(crate) async fn copy(&self, token: AccessToken) -> Result<CopyResult, AppError> {
        let token = Arc::new(token);
        let inner = self.inner.clone();
        let copied = token.clone();
        tokio::task::spawn_blocking(move || with(&inner, |clipboard| clipboard.set_text(copied.secret())))
            .await
            .map_err(|err| AppError::internal(err.to_string()))??;
        let inner = self.inner.clone();
        self.pending.send_modify(|pending| *pending += 1);
        let pending = self.pending.clone();
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(CLEAR_AFTER).await;
            let _ = tokio::task::spawn_blocking(move || {
                with(&inner, |clipboard| {
                    if clipboard.get_text().is_ok_and(|now| now == token.secret()) {
                        clipboard.clear()?;
                    }
                    Ok(())
                })
            })
            .await;
            pending.send_modify(|pending| *pending -= 1);
        });
        Ok(CopyResult { clears_in_secs: CLEAR_AFTER.as_secs() as u32 })
    }

    /// Whether a copied token is still to be cleared.
    pub(crate) fn holds_token(&self) -> bool {
        *self.pending.borrow() > 0
    }

    /// Completes once every copied token was cleared.
    pub(crate) fn until_cleared(&self) -> impl std::future::Future<Output = ()> + use<> {
        let mut pending = self.pending.subscribe();
        async move {
            let _ = pending.wait_for(|pending| *pending == 0).await;
        }
    }
}
