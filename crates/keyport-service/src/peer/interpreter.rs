//! Interpreters and shells: programs whose behaviour is the code they are given, so that the
//! program worth naming is the script, not the interpreter.
//!
//! `python3 ~/bin/sync-mail.py`, the same script run by its shebang (the kernel runs
//! `/usr/bin/python3 /home/u/bin/sync-mail.py`), and a pyenv or asdf shim (a shell script
//! that ends by `exec`ing the real interpreter with the script) all leave one process behind:
//! an interpreter whose command line names the script. [`script_operand`] finds that operand
//! the way the interpreter itself would, skipping its options and their values. An
//! interpreter given code another way (`-c`, `-e`, `-m module`, standard input, a REPL) has no
//! script: [`Operand::Code`].
//!
//! Interpreters are known by their executable's file name (`python3.11`, `perl5.36.0` and
//! `pypy3` included). This rests on the command line, which the process wrote itself; the
//! threat model (docs/socket.md) says what that means: a program cannot be mistaken for a
//! script by accident, but code running as the user can borrow a script's name, as it could
//! already wrap or replace an allowed program.

/// How an interpreter reads its command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// POSIX and other shells: `bash`, `sh`, `dash`, `zsh`, `fish`...
    Shell,
    Python,
    Perl,
    Ruby,
    Node,
    Php,
    Lua,
    Tcl,
    R,
}

/// Shells, by executable file name.
pub const SHELLS: &[&str] = &[
    "sh", "dash", "bash", "zsh", "ksh", "ksh93", "mksh", "ash", "yash", "posh", "fish", "tcsh", "csh", "nu", "elvish",
    "oksh", "osh", "busybox",
];

impl Family {
    /// The family of the executable named `file_name` (`python3.11` is Python), if it is an
    /// interpreter Keyport knows.
    pub fn of(file_name: &str) -> Option<Self> {
        if SHELLS.contains(&file_name) {
            return Some(Self::Shell);
        }
        // `python3.11`, `perl5.36.0`, `ruby3.1`, `lua5.4`, `tclsh8.6`, `php8.2`: a version
        // after the name.
        let name = file_name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
        Some(match name {
            "python" | "pypy" => Self::Python,
            "perl" => Self::Perl,
            "ruby" => Self::Ruby,
            "node" | "nodejs" => Self::Node,
            "php" => Self::Php,
            "lua" | "luajit" => Self::Lua,
            "tclsh" | "wish" => Self::Tcl,
            "Rscript" => Self::R,
            _ => return None,
        })
    }

    /// What the family is called in messages.
    pub fn noun(self) -> &'static str {
        if self == Self::Shell { "a shell" } else { "an interpreter" }
    }

    /// Short options that take a value (the rest of the argument, or the next argument).
    fn valued_short(self) -> &'static str {
        match self {
            // fish's `-C INIT-COMMAND` too.
            Self::Shell => "oOC",
            Self::Python => "WX",
            Self::Perl => "IMmxCil0",
            Self::Ruby => "IrCEKFWx",
            Self::Node => "rC",
            Self::Php => "dczt",
            Self::Lua => "l",
            Self::Tcl | Self::R => "",
        }
    }

    /// Short options that give the code on the command line or elsewhere than a file.
    fn code_short(self) -> &'static str {
        match self {
            Self::Shell => "cs",
            Self::Python => "cm",
            Self::Perl | Self::Ruby => "eE",
            Self::Node => "epi",
            Self::Php => "rRBEFa",
            Self::Lua => "ei",
            Self::Tcl => "",
            Self::R => "e",
        }
    }

    /// Long options that take the next argument as their value (unless given as `--x=v`).
    fn valued_long(self) -> &'static [&'static str] {
        match self {
            Self::Shell => &["rcfile", "init-file", "init-command", "config"],
            Self::Python => &["check-hash-based-pycs"],
            Self::Node => &["require", "import", "loader", "experimental-loader", "conditions", "input-type", "title"],
            Self::Tcl => &["encoding"],
            _ => &[],
        }
    }

    /// Long options that give the code another way than a script file.
    fn code_long(self) -> &'static [&'static str] {
        match self {
            Self::Shell => &["command", "commands"],
            Self::Node => &["eval", "print", "interactive"],
            Self::R => &["expr"],
            _ => &[],
        }
    }

    /// `php -f FILE`: an option whose value is the script.
    fn script_short(self) -> Option<char> {
        (self == Self::Php).then_some('f')
    }
}

/// What an interpreter's command line says it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// A script file, as written on the command line (relative to the process's working
    /// directory unless absolute).
    Script(String),
    /// Code that is not a file: a command string (`-c`, `-e`), a module (`-m`), standard input
    /// (`-`, `-s`, nothing), or an interactive session.
    Code,
}

/// The script an interpreter of `family` runs, from its `arguments` (`argv`, its own name
/// first).
pub fn script_operand(family: Family, arguments: &[String]) -> Operand {
    let mut rest = arguments.iter().skip(1);
    while let Some(argument) = rest.next() {
        if argument == "--" {
            return rest.next().map_or(Operand::Code, |script| script_or_stdin(script));
        }
        if argument == "-" {
            return Operand::Code;
        }
        if let Some(long) = argument.strip_prefix("--") {
            let (name, value) = long.split_once('=').map_or((long, None), |(n, v)| (n, Some(v)));
            if family.code_long().contains(&name) {
                return Operand::Code;
            }
            if family.valued_long().contains(&name) && value.is_none() {
                rest.next();
            }
            continue;
        }
        let short = match argument.strip_prefix('-') {
            Some(short) => short,
            // `+o OPTION` (shells) turns an option off; the value follows.
            None if family == Family::Shell && argument.starts_with('+') => {
                if argument.ends_with(['o', 'O']) {
                    rest.next();
                }
                continue;
            }
            None => return Operand::Script(argument.clone()),
        };
        for (at, flag) in short.char_indices() {
            if family.script_short() == Some(flag) {
                let joined = &short[at + flag.len_utf8()..];
                return if joined.is_empty() {
                    rest.next().map_or(Operand::Code, |script| script_or_stdin(script))
                } else {
                    script_or_stdin(joined)
                };
            }
            if family.code_short().contains(flag) {
                return Operand::Code;
            }
            if family.valued_short().contains(flag) {
                // The value is the rest of this argument, or the next one.
                if at + flag.len_utf8() == short.len() {
                    rest.next();
                }
                break;
            }
        }
    }
    Operand::Code
}

fn script_or_stdin(text: &str) -> Operand {
    if text == "-" || text.is_empty() { Operand::Code } else { Operand::Script(text.to_owned()) }
}

/// Whether a shell's arguments start an interactive shell: no command string (`-c`) and no
/// script operand (`bash`, `-zsh`, `fish -l`, `bash --norc -i`).
pub fn interactive_shell(arguments: &[String]) -> bool {
    !runs_command_string(arguments) && script_operand(Family::Shell, arguments) == Operand::Code
}

/// Whether a shell's arguments give it a command string (`-c`, `-ec`, `--command`).
pub fn runs_command_string(arguments: &[String]) -> bool {
    let mut rest = arguments.iter().skip(1);
    while let Some(argument) = rest.next() {
        if argument == "--" || argument == "-" {
            return false;
        }
        if let Some(long) = argument.strip_prefix("--") {
            let name = long.split_once('=').map_or(long, |(n, _)| n);
            if Family::Shell.code_long().contains(&name) {
                return true;
            }
            if Family::Shell.valued_long().contains(&name) && !long.contains('=') {
                rest.next();
            }
            continue;
        }
        let Some(short) = argument.strip_prefix('-').or_else(|| argument.strip_prefix('+')) else { return false };
        if argument.starts_with('-') && short.contains('c') {
            return true;
        }
        if short.ends_with(['o', 'O', 'C']) {
            rest.next();
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split(' ').map(str::to_owned).collect()
    }

    fn script(family: Family, line: &str) -> Option<String> {
        match script_operand(family, &args(line)) {
            Operand::Script(script) => Some(script),
            Operand::Code => None,
        }
    }

    #[test]
    fn families_are_known_by_file_name_with_or_without_a_version() {
        assert_eq!(Family::of("python3.11"), Some(Family::Python));
        assert_eq!(Family::of("python3"), Some(Family::Python));
        assert_eq!(Family::of("pypy3"), Some(Family::Python));
        assert_eq!(Family::of("perl5.36.0"), Some(Family::Perl));
        assert_eq!(Family::of("bash"), Some(Family::Shell));
        assert_eq!(Family::of("nodejs"), Some(Family::Node));
        assert_eq!(Family::of("tclsh8.6"), Some(Family::Tcl));
        assert_eq!(Family::of("thunderbird"), None);
        assert_eq!(Family::of("python-config"), None);
        assert_eq!(Family::of("msmtp"), None);
    }

    #[test]
    fn the_script_is_found_past_options_and_their_values() {
        let cases = [
            (Family::Python, "python3 /home/u/bin/sync-mail.py --quiet", Some("/home/u/bin/sync-mail.py")),
            (Family::Python, "python3 -u -W ignore sync.py", Some("sync.py")),
            (Family::Python, "python3 -Wignore -X dev -OO sync.py -c x", Some("sync.py")),
            (Family::Python, "python3 -- -odd.py", Some("-odd.py")),
            (Family::Python, "python3 -c import_os /home/u/bin/sync-mail.py", None),
            (Family::Python, "python3 -uc x sync.py", None),
            (Family::Python, "python3 -m mailsync", None),
            (Family::Python, "python3 -", None),
            (Family::Python, "python3", None),
            (Family::Python, "python3 -i", None),
            (Family::Shell, "bash /home/u/bin/sync.sh arg", Some("/home/u/bin/sync.sh")),
            (Family::Shell, "sh -e -o pipefail ./sync", Some("./sync")),
            (Family::Shell, "bash +o posix --rcfile x run.sh", Some("run.sh")),
            (Family::Shell, "sh -c keyport", None),
            (Family::Shell, "bash -lc keyport", None),
            (Family::Shell, "sh -s arg", None),
            (Family::Perl, "perl -w -I lib -Mstrict tool.pl", Some("tool.pl")),
            (Family::Perl, "perl -e print", None),
            (Family::Ruby, "ruby -r json -W2 tool.rb", Some("tool.rb")),
            (Family::Node, "node --require ts-node/register --inspect app.js", Some("app.js")),
            (Family::Node, "node --eval=x app.js", None),
            (Family::Node, "node -e x", None),
            (Family::Php, "php -d x=1 -f tool.php", Some("tool.php")),
            (Family::Php, "php tool.php", Some("tool.php")),
            (Family::Php, "php -r x", None),
            (Family::Lua, "lua -l socket run.lua", Some("run.lua")),
        ];
        for (family, line, expected) in cases {
            assert_eq!(script(family, line).as_deref(), expected, "{line}");
        }
    }

    #[test]
    fn interactive_shells_are_told_from_scripts_and_command_strings() {
        for line in [
            "bash",
            "-bash",
            "-zsh",
            "fish -l",
            "bash --norc -i",
            "bash -o vi",
            "zsh -o vi -i",
            "bash --rcfile f",
            "fish -C x",
        ] {
            assert!(interactive_shell(&args(line)), "{line}");
        }
        for line in [
            "bash script.sh",
            "sh -c keyport",
            "bash -lc keyport",
            "bash -ec x",
            "fish --command=x",
            "fish --command x",
            "zsh -i script",
            "bash -- script",
            "/bin/sh ./sync-mail",
            "nu -c ls",
        ] {
            assert!(!interactive_shell(&args(line)), "{line}");
        }
    }

    #[test]
    fn command_strings_are_recognised() {
        for line in ["sh -c x", "bash -ec x", "dash -e -c x", "fish --command=x", "bash -o pipefail -c x"] {
            assert!(runs_command_string(&args(line)), "{line}");
        }
        for line in ["sh", "sh script", "bash -i", "sh -o vi", "bash -- -c"] {
            assert!(!runs_command_string(&args(line)), "{line}");
        }
    }
}
