//! Access denied to a shell: when the service refused a shell that ran `keyport` through
//! `sh -c` (git's `!command` helpers, msmtp's `passwordeval`, mbsync's `PassCmd`...), the CLI
//! says what happened instead of suggesting to allow the shell: dash, unlike bash, does not
//! replace itself with the last command, so the program the user meant is the shell's parent.
//! Used by the thin client and the full CLI (`helpers::through_shell`) alike.

use std::path::PathBuf;

/// Shells that run a program's command line (`sh -c "keyport token work"`).
pub const SHELLS: &[&str] = &["sh", "dash", "bash", "zsh", "ksh", "ksh93", "mksh", "ash", "busybox", "yash", "posh"];

/// The message replacing an access refusal for `account` when this process's parent is a
/// shell running a command line; `None` when it is not (the service's message stands).
pub fn refusal_through_shell(account: &str) -> Option<String> {
    let (shell, runner) = shell_parent()?;
    let (runner_text, allow) = match &runner {
        Some(runner) => (format!(" ({})", runner.display()), runner.display().to_string()),
        None => (String::new(), "PROGRAM".to_owned()),
    };
    Some(format!(
        "access denied: `keyport` was run by the shell {shell} (`sh -c`), so Keyport judged the shell, not \
         the program that started it{runner_text}. Do not allow the shell: every shell script could then \
         read `{account}`. Have the shell replace itself with keyport by starting the command with `exec` \
         (`exec keyport token {account}`; for git: `!exec keyport git-credential`), then allow the program: \
         keyport allow {allow} {account} (see docs/clients.md)",
        shell = shell.display(),
    ))
}

/// This process's parent, when it is a shell running a command line (`-c`), and that shell's
/// parent.
fn shell_parent() -> Option<(PathBuf, Option<PathBuf>)> {
    let parent = std::os::unix::process::parent_id();
    let shell = std::fs::read_link(format!("/proc/{parent}/exe")).ok()?;
    if !SHELLS.contains(&shell.file_name()?.to_str()?) {
        return None;
    }
    let cmdline = std::fs::read(format!("/proc/{parent}/cmdline")).ok()?;
    if !runs_command_line(&cmdline) {
        return None;
    }
    let runner = parent_of(parent).and_then(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).ok());
    Some((shell, runner))
}

/// Whether a shell's NUL-separated command line has `-c` among its options (`-c`, `-ec`...).
fn runs_command_line(cmdline: &[u8]) -> bool {
    cmdline
        .split(|byte| *byte == 0)
        .skip(1)
        .take_while(|arg| arg.starts_with(b"-") && !arg.starts_with(b"--"))
        .any(|arg| arg[1..].iter().all(u8::is_ascii_alphabetic) && arg.contains(&b'c'))
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shells_running_a_command_line_are_recognised() {
        assert!(runs_command_line(b"/bin/sh\0-c\0keyport token work\0"));
        assert!(runs_command_line(b"bash\0-ec\0keyport token work\0"));
        assert!(!runs_command_line(b"-bash\0"));
        assert!(!runs_command_line(b"bash\0script.sh\0-c\0"));
        assert!(!runs_command_line(b"bash\0--rcfile\0x\0"));
    }
}
