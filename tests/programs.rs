//! End to end: programs by their real names. A script is judged as the script, whether its
//! interpreter is run by hand, by the script's shebang, or through a shim; a `sh -c` command
//! line (a mail client's `passwordeval`) as the program that runs it; interpreters and shells
//! are never advised to be allowed; rules show programs by their desktop entry's name. Against
//! the real service and the real `oidc-provider`, with the real `python3`, `sh` and `bash`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::daemon::{Daemon, system_python};
use crate::support::oidc::OidcServer;
use crate::support::profile::{Profile, keyport_binary};

/// A client of Keyport, written as a script. `argv`: MODE (`socket`: asks the socket itself;
/// `cli`: runs `keyport token a` and reads its output), the socket, the `keyport` binary.
/// Prints the token, or `refused (CODE): MESSAGE`.
const CLIENT: &str = r#"
import json, socket, subprocess, sys
mode, sock, keyport = sys.argv[1], sys.argv[2], sys.argv[3]
if mode == "socket":
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"token.get","params":{"account":"a"}}\n')
    answer = json.loads(s.makefile().readline())
    if "result" in answer:
        print(answer["result"]["access_token"])
    else:
        print("refused (%d): %s" % (answer["error"]["code"], answer["error"]["message"]))
else:
    run = subprocess.run([keyport, "token", "a"], capture_output=True, text=True)
    print(run.stdout.strip() if run.returncode == 0 else "refused (%d): %s" % (run.returncode, run.stderr.strip()))
"#;

/// A mail client's password command: runs `argv[1]` through `/bin/sh -c` (as msmtp's
/// `passwordeval` and mbsync's `PassCmd` do) and prints what it printed, or why it failed.
const MAILER: &str = r#"
import subprocess, sys
run = subprocess.run(["/bin/sh", "-c", sys.argv[1]], capture_output=True, text=True)
ok = run.returncode == 0 and run.stdout.strip()
print(run.stdout.strip() if ok else "refused (%d): %s" % (run.returncode, run.stderr.strip()))
"#;

struct World {
    _server: OidcServer,
    profile: Profile,
    _daemon: Daemon,
    dir: tempfile::TempDir,
    python: PathBuf,
    token: String,
}

impl World {
    /// A service with account `a`, no rules, and a directory for scripts. `before_start` runs
    /// before the service starts (to install desktop entries it reads).
    fn new(before_start: impl FnOnce(&Profile, &Path)) -> Self {
        let server = OidcServer::start();
        let profile = Profile::without_rules();
        let dir = tempfile::tempdir_in(profile.root()).unwrap();
        before_start(&profile, dir.path());
        let daemon = Daemon::start(&profile);
        profile.add_local_provider(&server);
        profile.typed_ok(&["add", "local", "--name", "a"]);
        let token = profile.typed_ok(&["token", "a"]).trim().to_owned();
        let python = system_python().expect("python3 is installed (tests/setup)");
        Self { _server: server, profile, _daemon: daemon, dir, python, token }
    }

    /// Writes an executable file `name` in the scripts directory; its canonical path.
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::canonicalize(path).unwrap()
    }

    /// The client script, with a shebang that finds `python3` through `PATH`.
    fn client_script(&self, name: &str) -> PathBuf {
        self.file(name, &format!("#!/usr/bin/env python3{CLIENT}"))
    }

    /// `program` with the profile's environment, `PATH` set to `path` (directories), in the
    /// scripts directory.
    fn command(&self, program: &Path, path: &[&Path]) -> Command {
        let mut command = Command::new(program);
        command
            .env_clear()
            .envs(self.profile.env())
            .env("PATH", std::env::join_paths(path).unwrap())
            .current_dir(self.dir.path());
        command
    }

    /// Runs `command`, which must succeed; its output.
    fn run(&self, command: &mut Command) -> String {
        let output = command.output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        assert!(output.status.success(), "{command:?}: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
        stdout
    }

    /// What both modes print when the token is handed out.
    fn tokens(&self) -> [String; 2] {
        [self.token.clone(), self.token.clone()]
    }

    fn socket(&self) -> PathBuf {
        self.profile.root().join("run/keyport/keyport.sock")
    }

    /// Runs the client `how` (a command that ends with the script, or the script itself) in
    /// both modes; their outputs.
    fn ask_both(&self, how: &[&Path], path: &[&Path]) -> [String; 2] {
        ["socket", "cli"].map(|mode| {
            let mut command = self.command(how[0], path);
            command.args(&how[1..]).arg(mode).arg(self.socket()).arg(keyport_binary());
            self.run(&mut command)
        })
    }
}

fn system_path() -> [&'static Path; 2] {
    [Path::new("/usr/bin"), Path::new("/bin")]
}

#[test]
fn a_script_is_judged_as_itself_by_its_interpreter_its_shebang_or_a_shim() {
    let world = World::new(|_, _| {});
    let script = world.client_script("bin/sync-mail.py");
    let python = world.python.as_path();
    let path = system_path();

    // No rule: refused as the script, in both modes, and told to allow the script.
    for answer in world.ask_both(&[python, &script], &path) {
        assert!(answer.starts_with("refused"), "{answer}");
        assert!(
            answer.contains(&format!("{} may not use account `a`", script.display()))
                && answer.contains(&format!("keyport allow {} a", script.display())),
            "{answer}"
        );
    }
    world.profile.typed_ok(&["allow", script.to_str().unwrap(), "a"]);

    // Run by its interpreter, by its shebang, by a relative path from its directory.
    assert_eq!(world.ask_both(&[python, &script], &path), world.tokens());
    assert_eq!(world.ask_both(&[&script], &path), world.tokens());
    assert_eq!(world.ask_both(&[python, Path::new("bin/sync-mail.py")], &path), world.tokens());
    // With interpreter options before the script.
    assert_eq!(
        world.ask_both(&[python, Path::new("-u"), Path::new("-W"), Path::new("ignore"), &script], &path),
        world.tokens()
    );
    // Through a symbolic link to it: the rule names the file.
    let link = world.dir.path().join("sync-link.py");
    std::os::unix::fs::symlink(&script, &link).unwrap();
    assert_eq!(world.ask_both(&[&link], &path), world.tokens());

    // Through shims first in PATH (`#!/usr/bin/env python3` finds them): one that `exec`s the
    // interpreter (as pyenv's and asdf's do, through `pyenv exec`), and one that does not (the
    // shim's shell stays as the interpreter's parent).
    let exec_shim = world.file("exec-shims/python3", &format!("#!/bin/sh\nexec {} \"$@\"\n", python.display()));
    let plain_shim = world.file("plain-shims/python3", &format!("#!/bin/sh\n{} \"$@\"\n", python.display()));
    for shim in [&exec_shim, &plain_shim] {
        let shims = shim.parent().unwrap();
        assert_eq!(world.ask_both(&[&script], &[shims, path[0], path[1]]), world.tokens(), "{shim:?}");
    }
    // pyenv's own shim, where pyenv is installed (on the development machine; not in CI).
    if let Some(pyenv_shims) = std::env::var_os("HOME").map(|h| Path::new(&h).join(".pyenv/shims"))
        && pyenv_shims.join("python3").exists()
    {
        let mut command = world.command(&script, &[&pyenv_shims, path[0], path[1]]);
        command.arg("socket").arg(world.socket()).arg(keyport_binary()).env("PYENV_VERSION", "system");
        let answer = world.run(&mut command);
        assert_eq!(answer, world.token, "through pyenv's shim");
        eprintln!("pyenv's shim: passed");
    }

    // Another script, even with the same text, is another program.
    let other = world.client_script("elsewhere/sync-mail.py");
    for answer in world.ask_both(&[&other], &path) {
        assert!(answer.contains(&format!("{} may not use account `a`", other.display())), "{answer}");
    }
    // Code given on the command line is not a script: refused, and allowing the interpreter
    // is not advised.
    let inline = world
        .run(world.command(python, &path).args(["-c", CLIENT, "socket"]).arg(world.socket()).arg(keyport_binary()));
    assert!(inline.starts_with("refused (-32004)") && inline.contains("is an interpreter"), "{inline}");
    assert!(!inline.contains(&format!("keyport allow {}", python.display())), "{inline}");
    // Nor is a binary given as the script: `python3 /usr/bin/true` is not `true`, even when the
    // code it runs first (a `sitecustomize` module) asks before Python reads the binary.
    let truth = std::fs::canonicalize("/usr/bin/true").unwrap();
    world.profile.typed_ok(&["allow", truth.to_str().unwrap(), "a"]);
    let site = world.file("site/sitecustomize.py", &format!("{CLIENT}\nimport os\nsys.stdout.flush()\nos._exit(0)\n"));
    let mut posing = world.command(python, &path);
    posing
        .arg(&truth)
        .arg("socket")
        .arg(world.socket())
        .arg(keyport_binary())
        .env("PYTHONPATH", site.parent().unwrap());
    let posing = world.run(&mut posing);
    assert!(posing.starts_with("refused (-32004)") && posing.contains("is an interpreter"), "{posing}");

    // The rules list the script by its file name, with its path.
    let rules = world.profile.typed_ok(&["apps"]);
    assert!(rules.contains(&format!("sync-mail.py\n  {}\n", script.display())), "{rules}");
}

#[test]
fn a_sh_c_command_line_is_judged_as_the_program_that_runs_it() {
    let world = World::new(|_, _| {});
    let mailer = world.file("mailer.py", &format!("#!/usr/bin/env python3{MAILER}"));
    let keyport = keyport_binary();
    let keyport = keyport.display();
    let path = system_path();
    let passwordeval = |command: &str| world.run(world.command(&mailer, &path).arg(command));

    // No rule: the mail client is named (not the shell), with the command that lifts it.
    let refused = passwordeval(&format!("{keyport} token a"));
    assert!(refused.starts_with("refused (4)"), "{refused}");
    assert!(refused.contains(&format!("keyport allow {} a", mailer.display())), "{refused}");
    assert!(!refused.contains("keyport allow /usr/bin/dash") && !refused.contains("/bin/sh a"), "{refused}");

    world.profile.typed_ok(&["allow", mailer.to_str().unwrap(), "a"]);
    // No `exec` needed: a command line the shell cannot replace itself with, and shells
    // within shells.
    for command in [
        format!("{keyport} token a"),
        format!("{keyport} token a; true"),
        format!("sh -c '{keyport} token a; true'; true"),
        format!("bash -c '{keyport} token a; true'"),
    ] {
        assert_eq!(passwordeval(&command), world.token, "{command}");
    }
    // The token must reach the mail client: output through another program is refused, and
    // the refusal says why.
    let piped = passwordeval(&format!("{keyport} token a | cat"));
    assert!(piped.starts_with("refused") && piped.contains("not to the program that ran it"), "{piped}");
    // A shell script run by the mail client is the script, not the mail client.
    let script = world.file("get-token.sh", &format!("#!/bin/sh\n{keyport} token a\n"));
    let through_script = passwordeval(&script.display().to_string());
    assert!(through_script.contains(&format!("keyport allow {} a", script.display())), "{through_script}");
}

#[test]
fn at_the_terminal_a_command_line_is_yours_and_a_background_job_is_not() {
    let world = World::new(|_, _| {});
    // `sh -c` typed at the prompt, in the foreground: the person.
    let typed = world.profile.typed_shell("sh -c 'keyport token a; true'");
    assert_eq!(
        String::from_utf8_lossy(&typed.stdout).trim(),
        world.token,
        "{}",
        String::from_utf8_lossy(&typed.stderr)
    );
    // A background job is not the person at the terminal, and the shell that ran it is not
    // advised to be allowed.
    let background = world.profile.typed_shell("keyport token a & wait $!");
    let stderr = String::from_utf8_lossy(&background.stderr);
    assert_eq!(background.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("is a shell") && !stderr.contains("keyport allow /usr/bin/bash"), "{stderr}");
}

#[test]
fn programs_are_shown_by_their_desktop_entry_name() {
    let tool_path = std::cell::OnceCell::new();
    let world = World::new(|profile, dir| {
        // A program with a desktop entry in the user's applications directory, installed before
        // the service starts.
        let tool = dir.join("bin/mailtool");
        std::fs::create_dir_all(tool.parent().unwrap()).unwrap();
        std::fs::write(&tool, format!("#!/usr/bin/env python3{CLIENT}")).unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let apps = profile.root().join("data/applications");
        std::fs::create_dir_all(&apps).unwrap();
        std::fs::write(
            apps.join("org.example.MailTool.desktop"),
            format!("[Desktop Entry]\nType=Application\nName=Mail Tool\nExec=\"{}\" %u\n", tool.display()),
        )
        .unwrap();
        tool_path.set(std::fs::canonicalize(tool).unwrap()).unwrap();
    });
    let tool = tool_path.get().unwrap();
    world.profile.typed_ok(&["allow", tool.to_str().unwrap(), "a"]);
    let rules = world.profile.typed_ok(&["apps", "--json"]);
    let rules: serde_json::Value = serde_json::from_str(&rules).unwrap();
    assert_eq!(rules[0]["program"], tool.display().to_string());
    assert_eq!(rules[0]["program_name"], "Mail Tool");
    let text = world.profile.typed_ok(&["apps"]);
    assert!(text.contains(&format!("Mail Tool\n  {}\n    allow  a", tool.display())), "{text}");
    // It reads, as itself (the script's shebang starts the interpreter).
    assert_eq!(world.ask_both(&[tool], &system_path()), world.tokens());
}
