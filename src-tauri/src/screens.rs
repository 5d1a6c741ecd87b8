//! Which screen the window opens at: from its command line (`--account NAME`, `--prompt ID`,
//! as the service's tray and notifications start it) to the web UI's location hash
//! (`ui/src/route.ts`).

use keyport_wire::Navigate;

/// The screen named on the command line: `--account NAME` or `--prompt ID` (as the service's
/// tray and notifications start the window), else none.
pub fn screen_from_args(args: &[String]) -> Option<Navigate> {
    match args {
        [flag, account, ..] if flag == "--account" => Some(Navigate::Account { account: account.clone() }),
        [flag, prompt_id, ..] if flag == "--prompt" => Some(Navigate::Prompt { prompt_id: prompt_id.clone() }),
        _ => None,
    }
}

/// The location hash of the UI's screen for `screen` (`ui/src/route.ts`), as a JS string.
pub(crate) fn hash_of(screen: &Navigate) -> Option<String> {
    match screen {
        Navigate::Account { account } => serde_json::to_string(&format!("#/account/{}", encode(account))).ok(),
        // The accounts list is the first screen; waiting questions are shown on any screen.
        Navigate::Accounts | Navigate::Prompt { .. } => None,
    }
}

/// `encodeURIComponent`, for an account name in the hash.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The web view's first script, which opens the UI at `screen` (unless it is reloaded at
/// another).
pub(crate) fn start_script(screen: Option<&Navigate>) -> String {
    screen.and_then(hash_of).map(|hash| format!("if (!location.hash) location.hash = {hash};")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_names_a_screen_and_the_hash_is_a_safe_js_string() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(screen_from_args(&args(&[])), None);
        assert_eq!(screen_from_args(&args(&["--account"])), None);
        let work = screen_from_args(&args(&["--account", "a b/\"c'</script>"])).unwrap();
        assert_eq!(work, Navigate::Account { account: "a b/\"c'</script>".into() });
        assert_eq!(hash_of(&work).unwrap(), r##""#/account/a%20b%2F%22c'%3C%2Fscript%3E""##);
        let prompt = screen_from_args(&args(&["--prompt", "0123abcd"])).unwrap();
        assert_eq!(prompt, Navigate::Prompt { prompt_id: "0123abcd".into() });
        assert_eq!(hash_of(&prompt), None, "questions show on any screen");
        assert_eq!(hash_of(&Navigate::Accounts), None);
    }
}
