//! End to end: `keyport git-credential` run by the real `git`, and `keyport xoauth2`, against
//! the real `oidc-provider`.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use base64::Engine;

use crate::support::oidc::OidcServer;
use crate::support::profile::Profile;

const KEYPORT: &str = env!("CARGO_BIN_EXE_keyport");

/// A profile with account `a` (alice) signed in at a fresh server.
fn signed_in() -> (OidcServer, Profile) {
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_local_provider(&server);
    profile.ok(&["add", "local", "--name", "a"]);
    (server, profile)
}

/// `git ARGS` with the profile's environment, no system or global git configuration, no
/// terminal prompts, `helper` as the only credential helper, and `input` on stdin.
fn git(profile: &Profile, helper: &str, args: &[&str], input: &str) -> Output {
    let template = profile.keyport();
    let mut command = Command::new("git");
    command.env_clear();
    for (key, value) in template.get_envs() {
        if let Some(value) = value {
            command.env(key, value);
        }
    }
    let mut child = command
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        // An empty value first resets the helper list.
        .args(["-c", "credential.helper=", "-c", &format!("credential.helper={helper}")])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running git (tests/setup installs it)");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// The `key=value` lines of git's output, as a map.
fn fields(output: &Output) -> std::collections::BTreeMap<String, String> {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn expires_at_unix(profile: &Profile, account: &str) -> i64 {
    let status = profile.json(&["status", account, "--json"]);
    time::OffsetDateTime::parse(status["expires_at"].as_str().unwrap(), &time::format_description::well_known::Rfc3339)
        .unwrap()
        .unix_timestamp()
}

#[test]
fn git_credential_fill_gets_the_token_that_keyport_token_prints() {
    let (server, profile) = signed_in();
    // `!exec ...`: the shell git starts replaces itself with keyport, so the program judged is
    // git (the process running the helper), as `keyport allow git` names it.
    profile.typed_ok(&["allow", "git", "a"]);
    let helper = format!("!exec {KEYPORT} git-credential --account a");
    let output = git(&profile, &helper, &["credential", "fill"], "protocol=https\nhost=example.test\n\n");
    assert!(output.status.success(), "{}", stderr(&output));
    let answer = fields(&output);
    assert_eq!(answer["protocol"], "https");
    assert_eq!(answer["host"], "example.test");
    assert_eq!(answer["username"], "oauth2");
    let password = &answer["password"];
    let introspection = server.introspect(password);
    assert_eq!(introspection["active"], true, "{introspection}");
    assert_eq!(introspection["sub"], "alice");
    assert_eq!(answer["password_expiry_utc"], expires_at_unix(&profile, "a").to_string());

    profile.allow_me("a");
    assert_eq!(profile.ok(&["token", "a"]).trim(), password);
    // A user name in the request is kept; github.com gets GitHub's.
    let output = git(&profile, &helper, &["credential", "fill"], "protocol=https\nhost=example.test\nusername=bob\n\n");
    assert_eq!(fields(&output)["username"], "bob");
    let output = git(&profile, &helper, &["credential", "fill"], "protocol=https\nhost=github.com\n\n");
    assert_eq!(fields(&output)["username"], "x-access-token");
    // `store` has nothing to do.
    let output = git(
        &profile,
        &helper,
        &["credential", "approve"],
        &format!("protocol=https\nhost=example.test\nusername=oauth2\npassword={password}\n\n"),
    );
    assert!(output.status.success() && output.stdout.is_empty() && output.stderr.is_empty(), "{}", stderr(&output));
}

#[test]
fn a_shell_between_git_and_keyport_is_looked_through() {
    let (_server, profile) = signed_in();
    profile.typed_ok(&["allow", "git", "a"]);
    // Without `exec`, git's `sh -c` stays between git and keyport (dash does not replace itself
    // with the command, and no shell does inside a function, as in git's documented
    // `!f() { ...; }; f` form): the service judges git, which ran the shell, and the token
    // reaches git through the shell's output.
    for helper in [
        format!("!{KEYPORT} git-credential --account a"),
        format!("!f() {{ {KEYPORT} git-credential --account a \"$@\"; }}; f"),
    ] {
        let output = git(&profile, &helper, &["credential", "fill"], "protocol=https\nhost=example.test\n\n");
        assert!(output.status.success(), "{helper}: {}", stderr(&output));
        let token = profile.keyring_lookup("account/a/access_token").expect("a token");
        assert_eq!(fields(&output)["password"], token, "{helper}");
    }
}

/// A loopback HTTP server that answers 401 (Basic) until a request carries credentials, then
/// reports the `Authorization` header and answers 404.
fn http_server_wanting_credentials() -> (u16, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut authorization = None;
            for line in BufReader::new(stream.try_clone().unwrap()).lines() {
                let Ok(line) = line else { break };
                if line.is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("authorization")
                {
                    authorization = Some(value.trim().to_owned());
                }
            }
            let answer = match authorization {
                None => "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"test\"\r\n",
                Some(authorization) => {
                    let _ = tx.send(authorization);
                    "HTTP/1.1 404 Not Found\r\n"
                }
            };
            let _ = write!(stream, "{answer}Content-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (port, rx)
}

#[test]
fn a_git_fetch_sends_the_token_and_is_judged_as_gits_http_transport() {
    let (_server, profile) = signed_in();
    profile.allow_me("a");
    let token = profile.ok(&["token", "a"]).trim().to_owned();
    // Fetches and pushes run the helper from git's HTTP transport, `git-remote-http(s)` in
    // `git --exec-path`, not from `git` itself.
    let exec_path = Command::new("git").arg("--exec-path").output().unwrap();
    let exec_path = String::from_utf8(exec_path.stdout).unwrap().trim().to_owned();
    let transport = format!("{exec_path}/git-remote-http");
    let (port, authorizations) = http_server_wanting_credentials();
    let url = format!("http://127.0.0.1:{port}/repo.git");
    let helper = format!("!exec {KEYPORT} git-credential --account a");

    let output = git(&profile, &helper, &["ls-remote", &url], "");
    let message = stderr(&output);
    let seen = std::fs::canonicalize(&transport).unwrap();
    assert!(message.contains(&format!("keyport allow {} a", seen.display())), "{message}");
    assert!(authorizations.try_recv().is_err(), "no credentials without a rule");

    profile.typed_ok(&["allow", &transport, "a"]);
    let _ = git(&profile, &helper, &["ls-remote", &url], "");
    let authorization = authorizations.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("oauth2:{token}"));
    assert_eq!(authorization, format!("Basic {basic}"));
}

#[test]
fn git_toml_maps_hosts_to_accounts_and_plain_http_is_refused() {
    let (server, profile) = signed_in();
    profile.typed_ok(&["allow", "git", "a"]);
    std::fs::write(
        profile.root().join("config/keyport/git.toml"),
        "[hosts]\n\"example.test\" = \"a\"\n\"example.test/team\" = { account = \"a\", username = \"team-bot\" }\n",
    )
    .unwrap();
    let helper = format!("!exec {KEYPORT} git-credential");
    let output = git(&profile, &helper, &["credential", "fill"], "protocol=https\nhost=example.test\n\n");
    assert!(output.status.success(), "{}", stderr(&output));
    let answer = fields(&output);
    assert_eq!(answer["username"], "oauth2");
    assert_eq!(server.introspect(&answer["password"])["active"], true);
    // With the path (credential.useHttpPath), the longer entry wins.
    let output = git(
        &profile,
        &helper,
        &["-c", "credential.useHttpPath=true", "credential", "fill"],
        "url=https://example.test/team/repo.git\n\n",
    );
    assert_eq!(fields(&output)["username"], "team-bot", "{}", stderr(&output));
    // An unmapped host: the helper says nothing and git, unable to prompt, gives up.
    let output = git(&profile, &helper, &["credential", "fill"], "protocol=https\nhost=other.test\n\n");
    assert!(!output.status.success());
    assert!(!stderr(&output).contains("keyport"), "{}", stderr(&output));
    // Plain http to another machine: no token, and a reason.
    let output = git(&profile, &helper, &["credential", "fill"], "protocol=http\nhost=example.test\n\n");
    assert!(!output.status.success());
    assert!(!String::from_utf8_lossy(&output.stdout).contains("password="));
    assert!(stderr(&output).contains("plain http"), "{}", stderr(&output));
}

#[test]
fn git_credential_reject_renews_the_token_it_handed_out() {
    let (server, profile) = signed_in();
    profile.typed_ok(&["allow", "git", "a"]);
    profile.allow_me("a");
    let helper = format!("!exec {KEYPORT} git-credential --account a");
    let first = profile.ok(&["token", "a"]).trim().to_owned();
    let reject = |password: &str| {
        let input = format!("protocol=https\nhost=example.test\nusername=oauth2\npassword={password}\n\n");
        let output = git(&profile, &helper, &["credential", "reject"], &input);
        assert!(output.status.success(), "{}", stderr(&output));
        output
    };
    // Another helper's password: not Keyport's, nothing renewed.
    reject("somebody-elses-password");
    assert_eq!(profile.ok(&["token", "a"]).trim(), first);
    // Keyport's token: renewed, and the next `get` hands out the new one.
    let output = reject(&first);
    assert!(output.stderr.is_empty(), "{}", stderr(&output));
    let second = profile.ok(&["token", "a"]).trim().to_owned();
    assert_ne!(second, first);
    assert_eq!(server.introspect(&second)["active"], true);
    let output = git(&profile, &helper, &["credential", "fill"], "protocol=https\nhost=example.test\n\n");
    assert_eq!(fields(&output)["password"], second);
}

#[test]
fn xoauth2_is_the_base64_of_user_and_bearer_token() {
    let (_server, profile) = signed_in();
    profile.allow_me("a");
    let token = profile.ok(&["token", "a"]).trim().to_owned();
    let raw = format!("user=alice@example.test\x01auth=Bearer {token}\x01\x01");
    let encoded = base64::engine::general_purpose::STANDARD.encode(&raw);
    assert_eq!(profile.ok(&["xoauth2", "a"]), format!("{encoded}\n"));
    assert_eq!(profile.ok(&["xoauth2", "a", "--raw"]), format!("{raw}\n"));
    let bob = format!("user=bob@example.test\x01auth=Bearer {token}\x01\x01");
    assert_eq!(profile.ok(&["xoauth2", "a", "--user", "bob@example.test", "--raw"]), format!("{bob}\n"));
    // Access rules apply as for `keyport token`.
    profile.forbid_me("a");
    let output = profile.run(&["xoauth2", "a"]);
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(output.stdout.is_empty());
}

#[test]
fn xoauth2_without_a_known_email_asks_for_user() {
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_service_account(&server, "robot");
    profile.allow_me("robot");
    let message = profile.fails(&["xoauth2", "robot"]);
    assert!(message.contains("pass --user EMAIL"), "{message}");
    let output = profile.ok(&["xoauth2", "robot", "--user", "robot@example.test"]);
    let decoded = base64::engine::general_purpose::STANDARD.decode(output.trim()).unwrap();
    assert!(decoded.starts_with(b"user=robot@example.test\x01auth=Bearer "), "{decoded:?}");
}
