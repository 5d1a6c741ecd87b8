//! The person at the terminal: is a `keyport` command being typed by the user in an
//! interactive shell, rather than run by a program or a script?
//!
//! The service serves the user at their own terminal without a rule (they could run anything
//! as themselves anyway), and judges everything else by the access rules. It decides from
//! `/proc`, never from what the CLI says about itself:
//!
//! - the CLI has a controlling terminal and is in its foreground process group (a job the
//!   user started and is watching, not a background job);
//! - its standard input or error is that terminal;
//! - its parent is a shell (by executable name) that is interactive: no `-c` and no script
//!   operand on its command line (`bash`, `-zsh`, `fish -l`, `bash --norc -i`), and its own
//!   standard input is the same terminal.
//!
//! A script (`bash script.sh`, a shebang), `sh -c` wrappers in mail or git configs, and
//! programs that run `keyport` (editors, mail clients, build tools) do not pass: they are
//! judged by the rules, as the program they are. What this does not stop, and cannot: code of
//! the same user that starts an interactive shell in a pseudo-terminal of its own and types
//! into it. The threat model (docs/socket.md) says so.

use super::interpreter::{SHELLS, interactive_shell};
use super::process::Process;

/// The terminal (`/dev/pts/3`) when `cli` was typed by the person at it in the interactive
/// shell `shell` (its parent); `None` when it was not.
pub fn person_at(cli: &Process, shell: &Process) -> Option<String> {
    let terminal = cli.stat.tty;
    if terminal == 0 || cli.stat.foreground_group != cli.stat.process_group {
        return None;
    }
    let on_terminal = |process: &Process, fd: u32| process.character_device_on(fd) == Some(terminal);
    if !(on_terminal(cli, 0) || on_terminal(cli, 2)) || !on_terminal(shell, 0) {
        return None;
    }
    let name = shell.exe.file_name()?.to_str()?;
    if !SHELLS.contains(&name) || !interactive_shell(&shell.arguments()) {
        return None;
    }
    [0, 2].into_iter().find(|fd| on_terminal(cli, *fd)).and_then(|fd| cli.fd_target(fd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_without_a_terminal_is_not_a_person() {
        let me = Process::read(std::process::id()).unwrap();
        let parent = me.parent().unwrap();
        // Test runners have no terminal in CI; under a developer's terminal the parent is
        // cargo, not a shell. Either way this process is not typed at a shell prompt.
        assert_eq!(person_at(&me, &parent), None);
    }
}
