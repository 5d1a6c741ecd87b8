//! What other local processes write that the service reads to tell who is asking
//! (`keyport_service::fuzzing`): `/proc/PID/stat` (whose command name the process chooses),
//! `fdinfo`, a command line (NUL-separated, as `/proc/PID/cmdline`) read as each interpreter
//! family reads it, sandbox metadata (a Flatpak's `/.flatpak-info`, podman's
//! `/run/.containerenv`, an AppArmor label), and desktop entries.
//!
//! `proc_files`: the first byte picks the file, the rest is its text. Promises: no panic; a
//! sandbox name is short and made of letters, digits, `.`, `_`, `-` (it is shown and stored in
//! rules); a script operand is a non-empty argument (or the end of one, `-fFILE`), never `-`;
//! a shell given a command string is never taken for an interactive one.
//! `desktop_entry`: the whole input is the file. Promises: no panic; a name is non-empty, short
//! and free of control characters; a command is never empty.

use keyport_service::fuzzing::{self, Operand};

/// Pieces of the files' syntax.
pub const PROC_DICTIONARY: &[&[u8]] = &[
    b"\x00",
    b"\x01",
    b"\x02",
    b"\x03",
    b"\x04",
    b"\x05",
    b"-c",
    b"-m",
    b"-e",
    b"-f",
    b"-W",
    b"--",
    b"-",
    b"--command=",
    b"--rcfile",
    b"+o",
    b"-o",
    b"python3",
    b"bash",
    b"script.py",
    b") S 1 1 1 34816 1 ",
    b"(a) b)",
    b"flags:\t02100002\n",
    b"[Application]\nname=",
    b"[Instance]\n",
    b"name=\"",
    b"snap.",
    b" (enforce)",
    b"org.mozilla.Thunderbird",
];

/// Pieces of desktop entries.
pub const ENTRY_DICTIONARY: &[&[u8]] = &[
    b"[Desktop Entry]\n",
    b"[Desktop Action x]\n",
    b"Type=Application\n",
    b"Name=",
    b"Name[de]=",
    b"Exec=",
    b"TryExec=",
    b"X-Flatpak=",
    b"X-SnapInstanceName=",
    b"Hidden=true\n",
    b"env A=1 ",
    b"\"",
    b"\\",
    b" %u",
    b"\n",
    b"=",
];

/// Runs one `/proc` or sandbox file (Linux's: elsewhere only command lines are read).
pub fn proc_files(data: &[u8]) -> String {
    #[cfg(not(target_os = "linux"))]
    if data.first().is_some_and(|kind| kind % 6 != 1) {
        return "not read on this system".into();
    }
    let Some((&kind, rest)) = data.split_first() else { return "empty".into() };
    let text = String::from_utf8_lossy(rest);
    #[cfg(not(target_os = "linux"))]
    let _ = text;
    match kind % 6 {
        1 => command_line(rest),
        #[cfg(target_os = "linux")]
        0 => match fuzzing::Stat::parse(&text) {
            Some(_) => "stat".into(),
            None => "stat unreadable".into(),
        },
        #[cfg(target_os = "linux")]
        2 => sandbox_id("flatpak", fuzzing::flatpak_app(&text)),
        #[cfg(target_os = "linux")]
        3 => sandbox_id("container", fuzzing::container_name(&text)),
        #[cfg(target_os = "linux")]
        4 => sandbox_id("snap", fuzzing::snap_name(&text).map(str::to_owned)),
        #[cfg(target_os = "linux")]
        _ => match fuzzing::FdFlags::parse(&text) {
            Some(flags) => format!("flags cloexec={}", flags.close_on_exec()),
            None => "flags unreadable".into(),
        },
        #[cfg(not(target_os = "linux"))]
        _ => unreachable!("returned above"),
    }
}

#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn sandbox_id(what: &str, id: Option<String>) -> String {
    let Some(id) = id else { return format!("{what}: none") };
    assert!(!id.is_empty() && id.len() <= 255, "{what} id {id:?}");
    assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')), "{what} id {id:?}");
    format!("{what}: named")
}

/// A command line as `/proc/PID/cmdline` gives it (NUL-separated, empty arguments dropped, as
/// the service reads it), read as each family reads it.
fn command_line(bytes: &[u8]) -> String {
    let arguments: Vec<String> =
        bytes.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    let mut scripts = 0;
    for &family in fuzzing::FAMILIES {
        if let Operand::Script(script) = fuzzing::script_operand(family, &arguments) {
            assert!(!script.is_empty() && script != "-", "{family:?}: script {script:?} of {arguments:?}");
            assert!(
                arguments.iter().skip(1).any(|a| a.ends_with(script.as_str())),
                "{family:?}: {script:?} is not an argument of {arguments:?}"
            );
            scripts += 1;
        }
    }
    let command_string = fuzzing::runs_command_string(&arguments);
    if command_string {
        assert!(
            !fuzzing::interactive_shell(&arguments),
            "a command string taken for an interactive shell: {arguments:?}"
        );
    }
    format!(
        "scripts {scripts}, command string {command_string}, interactive {}",
        fuzzing::interactive_shell(&arguments)
    )
}

/// Runs one desktop entry.
pub fn desktop_entry(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    let Some(entry) = fuzzing::desktop_entry(&text) else { return "no entry".into() };
    assert!(!entry.name.is_empty() && entry.name.chars().count() <= fuzzing::MAX_NAME_CHARS, "{entry:?}");
    assert!(!entry.name.chars().any(char::is_control), "{entry:?}");
    assert!(entry.command.as_deref() != Some(""), "{entry:?}");
    format!(
        "entry command={} flatpak={} snap={}",
        entry.command.is_some(),
        entry.flatpak.is_some(),
        entry.snap.is_some()
    )
}

/// Pieces of host names and program names.
pub const CLAIM_DICTIONARY: &[&[u8]] =
    &[b"\n", b":", b"/", b"..", b"-", b".", b"build-01", b"mbsync", b"remote:", b"*"];

/// `remote_claim`: the first line is the host `keyport ssh` named, the rest the program name a
/// remote request claims (absent when there is no newline). Promises: no panic; a claim is
/// refused (-32602) or becomes `remote:HOST:CLAIM` that reads back as itself, never naming
/// another host and never the whole host's rule; without a claim, the whole host's rule.
pub fn remote_claim(input: &[u8]) -> String {
    let text = String::from_utf8_lossy(input);
    let (host, claimed) = match text.split_once('\n') {
        Some((host, claimed)) => (host, Some(claimed)),
        None => (text.as_ref(), None),
    };
    let Some(judged) = fuzzing::remote_program(host, claimed) else { return "no host".into() };
    let host = host.to_ascii_lowercase();
    match judged {
        Err(code) => {
            assert_eq!(code, -32602, "a claim is refused as invalid params");
            assert!(claimed.is_some(), "only a claim is refused");
            "claim refused".into()
        }
        Ok(program) => {
            assert_eq!(fuzzing::program_text(&program).as_deref(), Some(program.as_str()), "reads back: {program}");
            let whole_host = format!("remote:{host}");
            match claimed {
                None => assert_eq!(program, whole_host),
                Some(claimed) => {
                    assert_eq!(program, format!("{whole_host}:{claimed}"), "the claim as it is");
                    assert!(!claimed.contains([':', '/']) && !claimed.is_empty(), "{claimed:?}");
                }
            }
            if claimed.is_some() { "claim".into() } else { "host".into() }
        }
    }
}
