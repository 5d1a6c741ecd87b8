//! Shell completions and the man page, generated from the command-line definition itself
//! (`keyport completions SHELL`, `keyport man`), so they can never describe another version.
//! The copies in `contrib/completions/` and `contrib/man/`, which the .deb installs, are
//! checked against them by the tests below (`UPDATE_CLI_DOCS=1 cargo test -p keyport --bin
//! keyport-full cli_docs` writes them anew).

use clap::CommandFactory;
use clap_complete::Shell;

use crate::Cli;

/// The completion script for `shell`.
pub fn completions(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "keyport", &mut out);
    out
}

/// keyport(1), in roff: the synopsis, every command with its options, exit status, files.
pub fn man_page() -> Vec<u8> {
    let command = Cli::command();
    let man = clap_mangen::Man::new(command.clone());
    let mut out = Vec::new();
    man.render_title(&mut out).expect("writing to memory");
    man.render_name_section(&mut out).expect("writing to memory");
    man.render_synopsis_section(&mut out).expect("writing to memory");
    man.render_description_section(&mut out).expect("writing to memory");
    man.render_options_section(&mut out).expect("writing to memory");
    // Each command with its own options, rather than only a list of names.
    out.extend_from_slice(b".SH COMMANDS\n");
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        render_command(&mut out, &format!("keyport {}", sub.get_name()), sub);
    }
    out.extend_from_slice(EXTRA_SECTIONS.as_bytes());
    man.render_version_section(&mut out).expect("writing to memory");
    out
}

/// One command (and its subcommands): its usage, what it does, its arguments.
fn render_command(out: &mut Vec<u8>, path: &str, command: &clap::Command) {
    if command.has_subcommands() {
        for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
            render_command(out, &format!("{path} {}", sub.get_name()), sub);
        }
        return;
    }
    out.extend_from_slice(format!(".TP\n\\fB{}\\fR\n", roff_escape(path)).as_bytes());
    if let Some(about) = command.get_about() {
        out.extend_from_slice(format!("{}\n", roff_escape(&about.to_string())).as_bytes());
    }
    for arg in command.get_arguments().filter(|arg| !arg.is_hide_set() && arg.get_id() != "help") {
        let name = match (arg.get_long(), arg.get_short()) {
            (Some(long), Some(short)) => format!("-{short}, --{long}"),
            (Some(long), None) => format!("--{long}"),
            (None, Some(short)) => format!("-{short}"),
            (None, None) => arg.get_id().as_str().to_uppercase(),
        };
        let help = arg.get_help().map(|help| help.to_string()).unwrap_or_default();
        out.extend_from_slice(
            format!(".RS\n.TP\n\\fI{}\\fR\n{}\n.RE\n", roff_escape(&name), roff_escape(&help)).as_bytes(),
        );
    }
}

/// Text for roff: backslashes doubled, and a leading `.` or `'` kept from being a request.
fn roff_escape(text: &str) -> String {
    let text = text.replace('\\', "\\\\").replace('-', "\\-");
    text.lines()
        .map(|line| if line.starts_with(['.', '\'']) { format!("\\&{line}") } else { line.to_owned() })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Sections clap does not know.
const EXTRA_SECTIONS: &str = r#".SH EXIT STATUS
0 success; 1 failure (the message says why); 2 bad usage; 3 the account needs a new sign\-in;
4 access denied; 5 the provider could not be reached (try again later); 6 no such account;
7 the provider cannot revoke (nothing was revoked or removed); 130 cancelled.
.SH ENVIRONMENT
.TP
\fBBROWSER\fR
The browser for sign\-in: a \fB:\fR\-separated list of commands, each given the URL (or \fB%s\fR replaced by it); else \fBxdg\-open\fR.
.TP
\fBRUST_LOG\fR
Log filter for standard error (overrides \fB\-v\fR). No token, code or secret is ever logged.
.TP
\fBXDG_CONFIG_HOME\fR, \fBXDG_DATA_HOME\fR, \fBXDG_RUNTIME_DIR\fR
Where providers.toml, accounts.json and the socket live.
.SH FILES
.TP
\fI$XDG_CONFIG_HOME/keyport/providers.toml\fR
The providers (never a secret).
.TP
\fI$XDG_DATA_HOME/keyport/accounts.json\fR
The accounts' metadata (never a token: tokens and secrets are in the keyring).
.TP
\fI$XDG_RUNTIME_DIR/keyport/keyport.sock\fR
The service's socket (docs/socket.md).
.SH SEE ALSO
\fBkeyport\-desktop\fR, the desktop app. Keyport's README and docs/ (clients.md, socket.md, json.md) in its source describe providers, mail and git setups, the socket protocol and the JSON output.
"#;

#[cfg(test)]
mod tests {
    use super::*;

    /// The generated files in contrib/ and where each comes from.
    fn generated() -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("contrib/completions/keyport.bash", completions(Shell::Bash)),
            ("contrib/completions/_keyport", completions(Shell::Zsh)),
            ("contrib/completions/keyport.fish", completions(Shell::Fish)),
            ("contrib/man/keyport.1", man_page()),
        ]
    }

    /// The copies the .deb installs are those of this version (rewritten with
    /// `UPDATE_CLI_DOCS=1`, as the TypeScript bindings are).
    #[test]
    fn the_packaged_completions_and_man_page_are_current() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for (path, content) in generated() {
            let file = root.join(path);
            if std::env::var_os("UPDATE_CLI_DOCS").is_some() {
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                std::fs::write(&file, &content).unwrap();
                continue;
            }
            let committed = std::fs::read(&file).unwrap_or_default();
            assert!(
                committed == content,
                "{path} is out of date: run UPDATE_CLI_DOCS=1 cargo test -p keyport --bin keyport-full cli_docs"
            );
        }
    }

    #[test]
    fn completions_know_every_command_and_the_man_page_every_option() {
        let bash = String::from_utf8(completions(Shell::Bash)).unwrap();
        for command in ["provider", "add", "token", "reauth", "revoke", "allow", "completions", "man"] {
            assert!(bash.contains(command), "bash completion lacks {command}");
        }
        let fish = String::from_utf8(completions(Shell::Fish)).unwrap();
        assert!(fish.contains("-l revoke-url") && fish.contains("-l forget-url"), "{fish}");
        let man = String::from_utf8(man_page()).unwrap();
        for needle in
            ["keyport provider edit", "\\-\\-introspection\\-url", "keyport token", ".SH EXIT STATUS", "cannot revoke"]
        {
            assert!(man.contains(needle), "the man page lacks {needle}");
        }
    }
}
