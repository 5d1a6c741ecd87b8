//! Which screen the window opens at: from its command line (`--account NAME`, `--prompt ID`,
//! as the service's tray and notifications start it) to the web UI's location hash
//! (`ui/src/route.ts`).

use keyport_wire::{
    AccessPrompt, AccountsListResult, AppStatus, AutostartStatus, Call, FirstScreen, Navigate, ProvidersListResult,
};

use crate::ServiceClient;

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

/// What the first screen shows, from the service: four calls side by side (about a
/// millisecond in all), made while nothing else waits on the socket. `prompts` are the
/// questions [`crate::ServiceClient::answer_questions`] found waiting.
pub(crate) async fn first_screen(client: &ServiceClient, prompts: Option<Vec<AccessPrompt>>) -> FirstScreen {
    let (accounts, providers, status, autostart) = tokio::join!(
        client.call::<AccountsListResult>(Call::AccountsList),
        client.call::<ProvidersListResult>(Call::ProvidersList),
        client.call::<AppStatus>(Call::ServiceStatus),
        client.call::<AutostartStatus>(Call::ServiceAutostart),
    );
    FirstScreen {
        accounts: accounts.ok().map(|list| list.accounts),
        providers: providers.ok().map(|list| list.providers),
        status: status.ok(),
        autostart: autostart.ok(),
        prompts,
    }
}

/// The web view's first script: hands the page its `first` screen (`ui/src/firstScreen.ts`),
/// and opens it at `screen` (unless it is reloaded at another). JSON is a JavaScript
/// expression; nothing in it is secret (no token is ever in these answers).
pub(crate) fn start_script(screen: Option<&Navigate>, first: &FirstScreen) -> String {
    let mut script = match serde_json::to_string(first) {
        Ok(json) => format!("window.__KEYPORT_FIRST_SCREEN__ = {json};\n"),
        Err(_) => String::new(),
    };
    if let Some(hash) = screen.and_then(hash_of) {
        script.push_str(&format!("if (!location.hash) location.hash = {hash};"));
    }
    script
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

    #[test]
    fn the_start_script_hands_over_the_first_screen_as_a_js_expression() {
        let first =
            FirstScreen { accounts: Some(vec![]), status: None, prompts: Some(vec![]), ..FirstScreen::default() };
        let script = start_script(None, &first);
        let json = script
            .strip_prefix("window.__KEYPORT_FIRST_SCREEN__ = ")
            .and_then(|rest| rest.strip_suffix(";\n"))
            .unwrap_or_else(|| panic!("{script}"));
        let back: FirstScreen = serde_json::from_str(json).unwrap();
        assert_eq!(back, first);
        let at = start_script(Some(&Navigate::Account { account: "work".into() }), &first);
        assert!(
            at.starts_with(&script) && at.ends_with(r##"if (!location.hash) location.hash = "#/account/work";"##),
            "{at}"
        );
    }
}
