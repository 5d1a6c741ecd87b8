//! WebKitGTK, the web view under Tauri on Linux: how it is run for this window. Set before
//! anything else starts, since WebKit's own processes take it from the environment.

/// WebKitGTK composites the page in software unless told otherwise
/// (`WEBKIT_DISABLE_COMPOSITING_MODE=0`): for these few flat screens it paints as fast, and the
/// web process keeps 125 instead of 217 MiB (PSS, `cargo bench --bench desktop`).
pub(crate) fn software_compositing() {
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
        // SAFETY: the first thing `main` does, before any other thread exists (no runtime, no
        // GTK yet), so nothing reads the environment while it changes. WebKit's processes,
        // started later, inherit it.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
        }
    }
}
