//! Opening the authorization URL in the user's browser, behind [`BrowserOpener`].
//!
//! [`SystemBrowser`] honours `$BROWSER` (a list of commands separated as `PATH` is, `:`, or
//! `;` on Windows where `:` is in `C:\…`; each given the URL as its argument, or in place of
//! `%s`), which is how SSH users and the tests substitute their own; otherwise it uses the
//! platform's opener (`xdg-open` on Linux, `open` on macOS, `explorer` on Windows).

use std::ffi::OsString;
use std::fmt::Debug;
use std::process::{Command, Stdio};

use url::Url;

/// Why no browser could be started.
#[derive(Debug, thiserror::Error)]
#[error("could not open a browser ({tried}); open the URL yourself")]
pub struct BrowserError {
    /// The commands tried, for the message.
    pub tried: String,
}

/// Shows a URL to the user in a browser.
pub trait BrowserOpener: Send + Sync + Debug {
    /// Starts opening `url` and returns without waiting for the browser to close.
    fn open(&self, url: &Url) -> Result<(), BrowserError>;
}

/// The user's browser: `$BROWSER` when set, else the platform opener.
#[derive(Debug, Clone, Default)]
pub struct SystemBrowser {
    browser_var: Option<OsString>,
}

impl SystemBrowser {
    /// Reads `$BROWSER` from the environment now.
    pub fn from_env() -> Self {
        Self { browser_var: std::env::var_os("BROWSER").filter(|value| !value.is_empty()) }
    }

    fn commands(&self, url: &str) -> Vec<Vec<String>> {
        self.commands_separated(url, if cfg!(windows) { ';' } else { ':' })
    }

    fn commands_separated(&self, url: &str, separator: char) -> Vec<Vec<String>> {
        match &self.browser_var {
            Some(var) => var
                .to_string_lossy()
                .split(separator)
                .filter(|entry| !entry.trim().is_empty())
                .map(|entry| command_line(entry, url))
                .collect(),
            None => platform_openers().iter().map(|opener| command_line(opener, url)).collect(),
        }
    }
}

impl BrowserOpener for SystemBrowser {
    fn open(&self, url: &Url) -> Result<(), BrowserError> {
        let commands = self.commands(url.as_str());
        for argv in &commands {
            let Some((program, args)) = argv.split_first() else { continue };
            let spawned = Command::new(program)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            match spawned {
                Ok(mut child) => {
                    tracing::debug!(program, "started the browser");
                    // Reap it whenever it exits, so it never lingers as a zombie.
                    std::thread::spawn(move || child.wait());
                    return Ok(());
                }
                Err(err) => tracing::debug!(program, %err, "could not start this browser command"),
            }
        }
        let tried = commands.iter().filter_map(|argv| argv.first().cloned()).collect::<Vec<_>>().join(", ");
        Err(BrowserError { tried: if tried.is_empty() { "no command".into() } else { tried } })
    }
}

/// Splits one `$BROWSER` entry into words and puts the URL where `%s` is, or at the end.
fn command_line(entry: &str, url: &str) -> Vec<String> {
    let mut words: Vec<String> = entry.split_whitespace().map(str::to_owned).collect();
    if words.iter().any(|word| word.contains("%s")) {
        for word in &mut words {
            *word = word.replace("%s", url);
        }
    } else {
        words.push(url.to_owned());
    }
    words
}

fn platform_openers() -> &'static [&'static str] {
    if cfg!(target_os = "macos") {
        &["open"]
    } else if cfg!(target_os = "windows") {
        &["explorer"]
    } else {
        &["xdg-open", "gio open", "sensible-browser"]
    }
}

/// Opens nothing: for `--no-browser`, where the URL is only printed.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBrowser;

impl BrowserOpener for NoBrowser {
    fn open(&self, _url: &Url) -> Result<(), BrowserError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_variable_is_a_colon_separated_list_with_optional_placeholder() {
        let browser = SystemBrowser { browser_var: Some("firefox --new-tab:w3m %s -dump".into()) };
        assert_eq!(
            browser.commands_separated("https://x/y", ':'),
            vec![
                vec!["firefox".to_owned(), "--new-tab".into(), "https://x/y".into()],
                vec!["w3m".to_owned(), "https://x/y".into(), "-dump".into()],
            ]
        );
    }

    #[test]
    fn on_windows_browser_entries_are_separated_by_semicolons() {
        let browser =
            SystemBrowser { browser_var: Some(r"C:\Mozilla\firefox.exe -new-tab;C:\Tools\open.exe %s".into()) };
        assert_eq!(
            browser.commands_separated("https://x/y", ';'),
            vec![
                vec![r"C:\Mozilla\firefox.exe".to_owned(), "-new-tab".into(), "https://x/y".into()],
                vec![r"C:\Tools\open.exe".to_owned(), "https://x/y".into()],
            ]
        );
    }

    #[test]
    fn failing_commands_give_an_error_naming_them() {
        let browser = SystemBrowser { browser_var: Some("/nonexistent/browser-a:/nonexistent/browser-b".into()) };
        let err = browser.open(&Url::parse("https://example.com/").unwrap()).unwrap_err();
        assert!(err.tried.contains("browser-a") && err.tried.contains("browser-b"), "{err}");
    }
}
