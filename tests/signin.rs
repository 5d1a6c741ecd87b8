//! End to end: the real `keyport` binary signs in against the real `oidc-provider`, with the
//! headless login driver as its browser and a private gnome-keyring as its keyring.

use std::time::{Duration, Instant};

use crate::support::oidc::{self, OidcServer};
use crate::support::profile::Profile;

fn time_of(value: &serde_json::Value) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(value.as_str().expect("a timestamp"), &time::format_description::well_known::Rfc3339)
        .expect("RFC 3339")
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    value.as_array().expect("an array").iter().map(|v| v.as_str().unwrap().to_owned()).collect()
}

#[test]
fn connected_account_is_listed_with_identity_scopes_and_expiry() {
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_local_provider(&server);
    let before = time::OffsetDateTime::now_utc();
    let out = profile.ok(&["add", "local"]);
    assert!(out.contains("Connected alice@example.test (local)"), "{out}");

    let list = profile.json(&["list", "--json"]);
    let accounts = list.as_array().unwrap();
    assert_eq!(accounts.len(), 1);
    let account = &accounts[0];
    assert_eq!(account["name"], "alice@example.test");
    assert_eq!(account["provider"], "local");
    assert_eq!(account["kind"], "user");
    assert_eq!(account["identity"]["sub"], "alice");
    assert_eq!(account["identity"]["email"], "alice@example.test");
    assert_eq!(account["identity"]["name"], "Alice Example");
    let mut scopes = strings(&account["scopes"]);
    scopes.sort();
    assert_eq!(scopes, ["email", "offline_access", "openid", "profile"]);
    assert_eq!(account["status"], "valid");
    assert_eq!(account["has_refresh_token"], true);
    // The server's default access token lifetime is one hour.
    let expires_at = time_of(&account["expires_at"]);
    let lifetime = expires_at - before;
    assert!(lifetime > time::Duration::minutes(59) && lifetime < time::Duration::minutes(61), "{lifetime}");

    // `token` prints exactly the access token, and the server knows it as alice's.
    profile.allow_me("alice@example.test");
    let token = profile.ok(&["token", "alice@example.test"]);
    assert!(token.ends_with('\n') && !token.trim().contains(char::is_whitespace));
    let introspection = server.introspect(token.trim());
    assert_eq!(introspection["active"], true, "{introspection}");
    assert_eq!(introspection["sub"], "alice");
    assert_eq!(introspection["client_id"], oidc::NATIVE_CLIENT);

    let status = profile.json(&["status", "alice@example.test", "--json"]);
    assert_eq!(
        status,
        account
            .clone()
            .as_object()
            .map(|o| {
                let mut o = o.clone();
                o.insert("expires_in_secs".into(), status["expires_in_secs"].clone());
                serde_json::Value::Object(o)
            })
            .unwrap()
    );
    let human = profile.ok(&["status", "alice@example.test"]);
    assert!(human.contains("Alice Example") && human.contains("stored in the keyring"), "{human}");
    let table = profile.ok(&["list"]);
    assert!(table.contains("alice@example.test") && table.contains("valid"), "{table}");
}

#[test]
fn partial_grant_is_recorded_as_granted() {
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_local_provider(&server);
    profile
        .keyport()
        .args(["add", "local"])
        .env("KEYPORT_TEST_DRIVER", "partial:openid email offline_access")
        .output()
        .unwrap();
    let account = &profile.json(&["list", "--json"])[0];
    let mut scopes = strings(&account["scopes"]);
    scopes.sort();
    assert_eq!(scopes, ["email", "offline_access", "openid"], "profile was not granted");
    assert_eq!(account["identity"]["name"], serde_json::Value::Null, "no profile scope, no name");
}

#[test]
fn explicit_scopes_and_name_are_used() {
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_local_provider(&server);
    profile.ok(&["add", "local", "--name", "work", "--scope", "openid email", "--scope", "offline_access"]);
    let account = &profile.json(&["status", "work", "--json"]);
    let mut scopes = strings(&account["scopes"]);
    scopes.sort();
    assert_eq!(scopes, ["email", "offline_access", "openid"]);
}

#[test]
fn denied_consent_ends_the_sign_in_with_a_clear_message() {
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_local_provider(&server);
    let output = profile.keyport().args(["add", "local"]).env("KEYPORT_TEST_DRIVER", "deny").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the provider refused the sign-in: access_denied"), "{stderr}");
    assert_eq!(profile.json(&["list", "--json"]), serde_json::json!([]));
}

#[test]
fn forged_state_is_ignored_and_the_genuine_redirect_still_signs_in() {
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_local_provider(&server);
    let output =
        profile.keyport().args(["add", "local"]).env("KEYPORT_TEST_DRIVER", "forge-state-first").output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let log = profile.driver_log();
    let status_of = |step: &str| {
        log.iter().find(|l| l["step"] == step).unwrap_or_else(|| panic!("no {step} in {log:?}"))["status"].clone()
    };
    assert_eq!(status_of("forged-state"), 400);
    assert_eq!(status_of("favicon"), 400);
    assert_eq!(status_of("redirect"), 200);
    assert_eq!(profile.json(&["list", "--json"])[0]["identity"]["sub"], "alice");
}

#[test]
fn sign_in_times_out_when_nobody_comes_back() {
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_local_provider(&server);
    let started = Instant::now();
    let output = profile
        .keyport()
        .args(["add", "local", "--timeout", "2"])
        .env("KEYPORT_TEST_DRIVER", "ignore")
        .output()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not completed within 2 seconds"), "{stderr}");
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(20), "{took:?}");
    assert_eq!(profile.json(&["list", "--json"]), serde_json::json!([]));
}

#[test]
fn no_browser_prints_the_url_only() {
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_local_provider(&server);
    let output = profile.keyport().args(["add", "local", "--no-browser", "--timeout", "1"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("{}/auth?", server.issuer)), "{stderr}");
    assert!(profile.driver_log().is_empty(), "the browser must not be started");
}

#[test]
fn discovery_records_the_servers_endpoints() {
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_local_provider(&server);
    let metadata = server.metadata();
    let providers = profile.json(&["provider", "list", "--json"]);
    let local = &providers[0];
    assert_eq!(local["name"], "local");
    assert_eq!(local["kind"], format!("issuer {}", server.issuer));
    let endpoints = &local["endpoints"];
    assert_eq!(endpoints["authorization"], metadata["authorization_endpoint"]);
    assert_eq!(endpoints["token"], metadata["token_endpoint"]);
    assert_eq!(endpoints["revocation"], metadata["revocation_endpoint"]);
    assert_eq!(endpoints["device_authorization"], metadata["device_authorization_endpoint"]);
    assert_eq!(endpoints["userinfo"], metadata["userinfo_endpoint"]);
    assert_eq!(local["redirect_uri"], "http://127.0.0.1/callback/local");
    assert!(strings(&local["scopes"]).contains(&"offline_access".to_owned()));
}

#[test]
fn plain_http_to_a_non_loopback_host_is_refused() {
    let profile = Profile::new();
    let stderr = profile.fails(&["provider", "add", "x", "--issuer", "http://login.example.com", "--client-id", "c"]);
    assert!(stderr.contains("plain http") && stderr.contains("loopback"), "{stderr}");
    let stderr = profile.fails(&[
        "provider",
        "add",
        "y",
        "--auth-url",
        "https://login.example.com/a",
        "--token-url",
        "http://10.1.2.3/token",
        "--client-id",
        "c",
    ]);
    assert!(stderr.contains("plain http"), "{stderr}");
    assert!(!profile.providers_file().exists(), "nothing was written");
}

#[test]
fn confidential_client_secret_lives_only_in_the_keyring() {
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_confidential_provider(&server);
    assert_eq!(profile.keyring_lookup("provider/conf/client_secret").as_deref(), Some(oidc::CONFIDENTIAL_SECRET));
    let toml = std::fs::read_to_string(profile.providers_file()).unwrap();
    assert!(!toml.contains(oidc::CONFIDENTIAL_SECRET), "{toml}");
    assert!(toml.contains("client_secret_in_keyring = true"), "{toml}");

    profile.ok(&["add", "conf", "--name", "conf-alice"]);
    profile.allow_me("conf-alice");
    let token = profile.ok(&["token", "conf-alice"]);
    let introspection = server.introspect(token.trim());
    assert_eq!(introspection["client_id"], oidc::CONFIDENTIAL_CLIENT);

    let refused = profile.typed(&["provider", "remove", "conf"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("conf-alice"), "{refused:?}");
    profile.ok(&["remove", "conf-alice"]);
    profile.typed_ok(&["provider", "remove", "conf"]);
    assert_eq!(profile.keyring_lookup("provider/conf/client_secret"), None);
}

#[test]
fn tokens_survive_the_process_and_removal_deletes_them() {
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_local_provider(&server);
    profile.ok(&["add", "local", "--name", "a"]);
    // Each `keyport` run is a new process: the tokens come back from the keyring.
    let access = profile.keyring_lookup("account/a/access_token").expect("access token in the keyring");
    profile.allow_me("a");
    assert_eq!(profile.ok(&["token", "a"]).trim(), access);
    assert!(profile.keyring_lookup("account/a/refresh_token").is_some());
    profile.ok(&["remove", "a"]);
    assert_eq!(profile.keyring_lookup("account/a/access_token"), None);
    assert_eq!(profile.keyring_lookup("account/a/refresh_token"), None);
    let stderr = profile.fails(&["token", "a"]);
    assert!(stderr.contains("no account named `a`"), "{stderr}");
}

#[test]
fn no_token_text_in_files_or_trace_logs() {
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_local_provider(&server);
    // The service does the work: run it in the foreground with trace logs, and the CLI too.
    profile.stop_daemon();
    let mut daemon = profile
        .keyport()
        .args(["-vv", "daemon"])
        .env("RUST_LOG", "trace")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let daemon_log = daemon.stderr.take().unwrap();
    let daemon_lines = std::thread::spawn(move || std::io::read_to_string(daemon_log).unwrap_or_default());
    while profile.daemon_pid().is_none() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let output =
        profile.keyport().args(["-vv", "add", "local", "--name", "a"]).env("RUST_LOG", "trace").output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    profile.allow_me("a");
    let token_run = profile.keyport().args(["-vv", "token", "a"]).env("RUST_LOG", "trace").output().unwrap();
    profile.stop_daemon();
    let _ = daemon.wait();
    let daemon_logs = daemon_lines.join().unwrap();
    assert!(daemon_logs.lines().count() > 20, "trace logging was on in the service: {daemon_logs}");
    let logs = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout)
        + &daemon_logs
        + &String::from_utf8_lossy(&token_run.stderr);
    let access = profile.keyring_lookup("account/a/access_token").unwrap();
    let refresh = profile.keyring_lookup("account/a/refresh_token").unwrap();
    let codes: Vec<String> = profile
        .driver_log()
        .iter()
        .filter(|l| l["step"] == "redirect")
        .filter_map(|l| url::Url::parse(l["url"].as_str()?).ok())
        .flat_map(|u| u.query_pairs().filter(|(k, _)| k == "code").map(|(_, v)| v.into_owned()).collect::<Vec<_>>())
        .collect();
    assert_eq!(codes.len(), 1, "the driver delivered one code");
    for secret in [&access, &refresh, &codes[0]] {
        assert!(secret.len() > 20);
        assert!(!logs.contains(secret.as_str()), "a secret appears in the logs");
        for (path, bytes) in profile.all_files() {
            assert!(
                !String::from_utf8_lossy(&bytes).contains(secret.as_str()),
                "a secret appears in {}",
                path.display()
            );
        }
    }
    // `token -vv` prints the token on stdout and nothing else.
    assert_eq!(String::from_utf8_lossy(&token_run.stdout).trim(), access);
}

#[test]
fn implicit_and_password_grants_are_refused() {
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_local_provider(&server);
    let stderr = profile.fails(&["add", "local", "--implicit"]);
    assert!(stderr.contains("implicit") && stderr.contains("RFC 9700"), "{stderr}");
    let stderr = profile.fails(&["add", "local", "--password"]);
    assert!(stderr.contains("password") && stderr.contains("RFC 9700"), "{stderr}");
    assert!(profile.driver_log().is_empty());
}

#[test]
fn without_a_keyring_commands_say_what_to_start() {
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_local_provider(&server);
    // The service that added the provider holds the keyring: the one started next has none.
    profile.stop_daemon();
    let output = profile
        .keyport()
        .args(["add", "local"])
        .env("DBUS_SESSION_BUS_ADDRESS", format!("unix:path={}/no-such-bus", profile.root().display()))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no keyring is available") && stderr.contains("gnome-keyring"), "{stderr}");
    assert!(profile.driver_log().is_empty(), "no browser is opened when the tokens could not be kept");
    // Listing needs no secret, so it still works.
    assert_eq!(profile.json(&["list", "--json"]), serde_json::json!([]));
}

#[test]
fn a_damaged_accounts_file_is_reported_and_left_alone() {
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_local_provider(&server);
    std::fs::create_dir_all(profile.accounts_file().parent().unwrap()).unwrap();
    std::fs::write(profile.accounts_file(), b"{\"format\": 1, \"accounts\": [oops").unwrap();
    let stderr = profile.fails(&["list"]);
    assert!(stderr.contains("is damaged") && stderr.contains("will not overwrite"), "{stderr}");
    profile.fails(&["add", "local"]);
    assert_eq!(std::fs::read(profile.accounts_file()).unwrap(), b"{\"format\": 1, \"accounts\": [oops");
}

#[test]
fn ctrl_c_cancels_the_sign_in_cleanly() {
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_local_provider(&server);
    let mut child = profile
        .keyport()
        .args(["add", "local", "--no-browser"])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it listens: the redirect URI is printed before the wait starts.
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut text = String::new();
    let port = loop {
        let mut line = String::new();
        assert!(std::io::BufRead::read_line(&mut stderr, &mut line).unwrap() > 0, "keyport ended early: {text}");
        text.push_str(&line);
        if let Some(rest) = line.split("redirect to http://127.0.0.1:").nth(1) {
            break rest.split('/').next().unwrap().parse::<u16>().unwrap();
        }
    };
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert_eq!(status.code(), Some(130), "{text}{rest}");
    assert!(rest.contains("the sign-in was cancelled"), "{rest}");
    // The listener (in the service) closes within moments of the cancellation.
    let cancelled = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(cancelled.elapsed() < Duration::from_secs(5), "the listener is gone");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Issue 10, finding 6: a token response whose `expires_in` is 18446744073709551615 (u64::MAX)
/// panicked the sign-in task of 19b339a: no outcome ever came, and its place among the 16
/// sign-ins the service runs at once was never given back. Now the lifetime is clamped (ten
/// years), and seventeen such sign-ins in a row, more than there are places, all end.
#[test]
fn an_absurd_lifetime_at_sign_in_is_clamped_and_every_sign_in_ends() {
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_local_provider(&server);
    let absurd = serde_json::json!([{
        "rewrite": { "pattern": "\"expires_in\":\\s*\\d+", "with": "\"expires_in\":18446744073709551615" }
    }]);
    for n in 1..=17 {
        server.faults(absurd.clone());
        let name = format!("absurd{n}");
        let output = profile.run(&["add", "local", "--name", &name, "--timeout", "20"]);
        assert!(output.status.success(), "sign-in {n} did not end well: {}", String::from_utf8_lossy(&output.stderr));
        let status = profile.json(&["status", &name, "--json"]);
        let left = status["expires_in_secs"].as_i64().unwrap_or_else(|| panic!("no expiry: {status}"));
        let ten_years = 10 * 365 * 24 * 3600;
        assert!(left > ten_years - 60 && left <= ten_years, "{name}: expires in {left} s");
    }
    assert_eq!(server.stats()["queued"], 0, "every rewrite was used by a sign-in");
}

/// Endpoints given by hand next to discovery (issue 11: a server whose metadata lacks the
/// device endpoint): `provider add --issuer URL --device-url URL` keeps the discovered
/// endpoints and the given one, `provider list` says which is which, `provider refresh`
/// re-reads the metadata without losing what was given, and `provider edit` moves the
/// redirect path without touching the accounts.
#[test]
fn endpoints_given_by_hand_sit_beside_discovered_ones_and_can_be_edited() {
    let server = OidcServer::start();
    let profile = Profile::new();
    let issuer = &server.issuer;
    let device = format!("{issuer}/device/auth");
    profile.ok(&[
        "provider",
        "add",
        "local",
        "--issuer",
        issuer,
        "--client-id",
        oidc::NATIVE_CLIENT,
        "--device-url",
        &device,
    ]);
    let local = &profile.json(&["provider", "list", "--json"])[0];
    assert_eq!(local["endpoints"]["device_authorization"], device.as_str());
    assert_eq!(local["endpoint_sources"]["device_authorization"], "given");
    assert_eq!(local["endpoint_sources"]["token"], "discovered");
    assert_eq!(local["endpoint_sources"]["introspection"], "discovered");
    assert_eq!(local["shared_redirect_uri"], false);
    let text = profile.ok(&["provider", "list"]);
    assert!(text.contains(&format!("device authorization: {device}  (given)")), "{text}");
    assert!(text.contains(&format!("token:                {issuer}/token  (discovered)")), "{text}");

    let refreshed = profile.typed_ok(&["provider", "refresh", "local"]);
    assert!(refreshed.contains("says the same as before"), "{refreshed}");
    assert!(refreshed.contains(&format!("{device}  (given)")), "{refreshed}");

    profile.ok(&["add", "local", "--name", "a"]);
    // A provider from before paths were per provider: shared, marked, and moved by an edit.
    profile.typed_ok(&["provider", "edit", "local", "--redirect-path", "/callback"]);
    let text = profile.ok(&["provider", "list"]);
    assert!(text.contains("note: shared redirect path"), "{text}");
    profile.ok(&["reauth", "a"]);
    profile.typed_ok(&["provider", "edit", "local", "--redirect-path", "/callback/local", "--forget-url", "device"]);
    let local = &profile.json(&["provider", "list", "--json"])[0];
    assert_eq!(local["redirect_uri"], "http://127.0.0.1/callback/local");
    assert_eq!(local["endpoint_sources"]["device_authorization"], "discovered");
    assert_eq!(profile.json(&["list", "--json"])[0]["name"], "a", "the account stays");
    profile.ok(&["reauth", "a"]);

    let stderr = String::from_utf8(profile.typed(&["provider", "refresh", "nope"]).stderr).unwrap();
    assert!(stderr.contains("nope"), "{stderr}");
    let stderr = profile.fails(&["provider", "edit", "local"]);
    assert!(stderr.contains("nothing to change"), "{stderr}");
}

#[test]
fn only_you_change_a_provider_and_a_program_allowed_every_account_may_add_one() {
    let server = OidcServer::start();
    let profile = Profile::without_rules();
    let add = ["provider", "add", "local", "--issuer", &server.issuer, "--client-id", oidc::NATIVE_CLIENT];
    let stderr = profile.fails(&add);
    assert!(stderr.contains("may not add a provider") && stderr.contains("--every-account"), "{stderr}");
    assert!(!profile.providers_file().exists(), "nothing was written");

    profile.allow_me(keyport_service::access::EVERY_ACCOUNT);
    profile.ok(&add);
    // Its endpoints and secret are where its accounts' refresh tokens go: a program, even one
    // allowed every account, may not change them, read them again or remove the provider.
    let before = profile.json(&["provider", "list", "--json"]);
    for args in [
        &["provider", "edit", "local", "--token-url", "http://127.0.0.1:9/steal"][..],
        &["provider", "refresh", "local"][..],
        &["provider", "remove", "local"][..],
    ] {
        let stderr = profile.fails(args);
        assert!(stderr.contains("access denied: only you"), "{args:?}: {stderr}");
    }
    assert_eq!(profile.json(&["provider", "list", "--json"]), before, "the provider is unchanged");

    // You, typing at a terminal, may.
    let out = profile.typed_ok(&["provider", "edit", "local", "--redirect-host", "localhost"]);
    assert!(out.contains("redirect URI:         http://localhost/callback/local"), "{out}");
    profile.typed_ok(&["provider", "remove", "local"]);
    assert_eq!(profile.json(&["provider", "list", "--json"]), serde_json::json!([]));
}
