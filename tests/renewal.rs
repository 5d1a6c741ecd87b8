//! End to end: keeping tokens alive against the real `oidc-provider` with short lifetimes:
//! background renewal by the daemon, rotation, `token --min-valid`, re-authentication after a
//! dead grant, service accounts, and a process killed at each step of a renewal.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::oidc::{self, OidcServer};
use crate::support::profile::Profile;

fn signed_in(server_args: &[&str]) -> (OidcServer, Profile) {
    let server = OidcServer::start_with(server_args);
    let profile = Profile::new();
    profile.add_local_provider(&server);
    profile.ok(&["add", "local", "--name", "a"]);
    profile.allow_me("a");
    (server, profile)
}

fn refresh_token(profile: &Profile) -> String {
    profile.keyring_lookup("account/a/refresh_token").expect("a refresh token in the keyring")
}

fn access_token(profile: &Profile) -> String {
    profile.keyring_lookup("account/a/access_token").expect("an access token in the keyring")
}

fn status(profile: &Profile) -> serde_json::Value {
    profile.json(&["status", "a", "--json"])
}

/// A refresh_token grant sent straight to the server, bypassing Keyport.
fn raw_refresh(server: &OidcServer, refresh_token: &str) -> serde_json::Value {
    let output = Command::new("curl")
        .args(["-sS", "--data-urlencode", "grant_type=refresh_token", "--data-urlencode"])
        .arg(format!("refresh_token={refresh_token}"))
        .args(["--data-urlencode", &format!("client_id={}", oidc::NATIVE_CLIENT)])
        .arg(format!("{}/token", server.issuer))
        .output()
        .unwrap();
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn refresh_rotates_the_refresh_token() {
    let (server, profile) = signed_in(&[]);
    let old_refresh = refresh_token(&profile);
    let old_access = access_token(&profile);
    let before = status(&profile);
    std::thread::sleep(Duration::from_millis(1100));
    let after = profile.json(&["refresh", "a", "--json"]);
    assert!(after["expires_at"].as_str() > before["expires_at"].as_str(), "{before} {after}");
    assert!(after["last_refreshed_at"].is_string());
    let new_refresh = refresh_token(&profile);
    let new_access = access_token(&profile);
    assert_ne!(new_refresh, old_refresh, "the server rotated the refresh token");
    assert_ne!(new_access, old_access);
    assert_eq!(server.introspect(&old_refresh)["active"], false, "the old refresh token is refused");
    assert_eq!(server.introspect(&new_refresh)["active"], true, "the new one works");
    assert_eq!(server.introspect(&new_access)["active"], true);
    // Spending the old refresh token is refused by the server (and, by oidc-provider's reuse
    // detection, kills the grant: do it last).
    assert_eq!(raw_refresh(&server, &old_refresh)["error"], "invalid_grant");
}

#[test]
fn token_min_valid_renews_only_when_the_token_would_expire_sooner() {
    let (server, profile) = signed_in(&[]);
    let first = access_token(&profile);
    assert_eq!(profile.ok(&["token", "a", "--min-valid", "30"]).trim(), first, "an hour left: no renewal");
    let renewed = profile.ok(&["token", "a", "--min-valid", "7200"]);
    assert_ne!(renewed.trim(), first, "less than two hours left: renewed first");
    assert_eq!(renewed.trim(), access_token(&profile));
    assert_eq!(server.introspect(renewed.trim())["active"], true);
}

#[test]
fn daemon_renews_tokens_in_the_background() {
    let (server, profile) = signed_in(&["--access-ttl", "6"]);
    let first_expiry = status(&profile)["expires_at"].as_str().unwrap().to_owned();
    let first_access = access_token(&profile);
    profile.stop_daemon(); // the one the commands above started
    let mut daemon = profile.keyport().arg("daemon").stderr(Stdio::piped()).spawn().unwrap();
    let stderr = BufReader::new(daemon.stderr.take().unwrap());
    let (lines_tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    // A 6-second token is renewed with half its life (the floor, capped) left: within ~3 s.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut renewals = 0;
    let mut seen = Vec::new();
    while renewals < 2 && Instant::now() < deadline {
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) {
            if line.contains("a: token renewed") {
                renewals += 1;
            }
            seen.push(line);
        }
    }
    assert!(renewals >= 2, "the daemon renewed twice: {seen:#?}");
    let now = status(&profile);
    assert_ne!(now["expires_at"].as_str().unwrap(), first_expiry);
    assert_eq!(now["status"], "valid");
    let access = access_token(&profile);
    assert_ne!(access, first_access);
    assert_eq!(server.introspect(&access)["active"], true);
    assert!(Command::new("kill").args(["-TERM", &daemon.id().to_string()]).status().unwrap().success());
    assert!(daemon.wait().unwrap().success(), "SIGTERM stops the daemon cleanly");
}

#[test]
fn dead_grant_needs_sign_in_and_reauth_recovers() {
    let (server, profile) = signed_in(&[]);
    // Revoke the refresh token behind Keyport's back: the grant is dead.
    let output = Command::new("curl")
        .args(["-sS", "--fail", "--data-urlencode", &format!("token={}", refresh_token(&profile))])
        .args(["--data-urlencode", &format!("client_id={}", oidc::NATIVE_CLIENT)])
        .arg(format!("{}/token/revocation", server.issuer))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = profile.fails(&["refresh", "a"]);
    assert!(stderr.contains("needs a new sign-in") && stderr.contains("keyport reauth a"), "{stderr}");
    let dead = status(&profile);
    assert_eq!(dead["status"], "needs_sign_in");
    assert!(dead["needs_sign_in_reason"].as_str().unwrap().contains("invalid_grant"), "{dead}");
    assert!(profile.fails(&["token", "a"]).contains("needs a new sign-in"));
    let human = profile.ok(&["status", "a"]);
    assert!(human.contains("NEEDS SIGN-IN") && human.contains("keyport reauth a"), "{human}");

    profile.ok(&["reauth", "a"]);
    let alive = status(&profile);
    assert_eq!(alive["status"], "valid");
    assert_eq!(alive["created_at"], dead["created_at"], "same account, kept its history");
    assert_eq!(server.introspect(&access_token(&profile))["active"], true);
    profile.ok(&["refresh", "a"]);
}

#[test]
fn reauth_can_add_scopes_and_refuses_another_identity() {
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_local_provider(&server);
    profile.ok(&["add", "local", "--name", "a", "--scope", "openid offline_access"]);
    assert_eq!(status(&profile)["identity"]["email"], serde_json::Value::Null);
    profile.ok(&["reauth", "a", "--scope", "email"]);
    let account = status(&profile);
    let scopes: Vec<&str> = account["scopes"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert!(scopes.contains(&"email") && scopes.contains(&"offline_access"), "{scopes:?}");
    assert_eq!(account["identity"]["email"], "alice@example.test");
    // Bob signing in cannot take over Alice's account.
    let output = profile.keyport().args(["reauth", "a"]).env("KEYPORT_TEST_USER", "bob").output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("another identity (this sign-in was bob@example.test)"), "{stderr}");
    assert_eq!(status(&profile)["identity"]["sub"], "alice");
}

#[test]
fn service_account_is_minted_and_minted_again() {
    let server = OidcServer::start_with(&["--access-ttl", "2"]);
    let profile = Profile::new();
    profile.add_service_account(&server, "robot");
    let account = profile.json(&["status", "robot", "--json"]);
    assert_eq!(account["kind"], "service");
    assert_eq!(account["has_refresh_token"], false);
    assert_eq!(account["identity"]["sub"], "keyport-service");
    assert!(profile.keyring_lookup("account/robot/client_secret").is_some());
    assert!(!std::fs::read_to_string(profile.accounts_file()).unwrap().contains("keyport-service-secret"));

    profile.allow_me("robot");
    let first = profile.ok(&["token", "robot", "--min-valid", "0"]);
    let introspection = server.introspect(first.trim());
    assert_eq!(introspection["active"], true);
    assert_eq!(introspection["client_id"], "keyport-service");
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(server.introspect(first.trim())["active"], false, "the first token expired");
    let second = profile.ok(&["token", "robot", "--min-valid", "0"]);
    assert_ne!(second, first, "a new token was minted");
    assert_eq!(server.introspect(second.trim())["active"], true);
    // Wrong secrets are refused up front.
    let output = profile.run_with_stdin(&["add", "svc", "--client-credentials", "--name", "robot2"], "wrong");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid_client"));
}

#[test]
fn a_process_killed_at_any_step_of_a_renewal_leaves_a_usable_or_clearly_dead_account() {
    for step in keyport_core::refresh::CRASH_POINTS {
        let (server, profile) = signed_in(&[]);
        // The service renews: start one that will crash at `step`.
        profile.stop_daemon();
        let output = profile.keyport().args(["refresh", "a"]).env("KEYPORT_TEST_CRASH_AT", step).output().unwrap();
        assert!(!output.status.success(), "{step}: the service was killed mid-request");
        let log = std::fs::read_to_string(profile.root().join("run/keyport/daemon.log")).unwrap();
        assert!(log.contains(&format!("KEYPORT_TEST_CRASH_AT={step}")), "{step}: {log}");
        let killed = Instant::now();
        while profile.daemon_pid().is_some() {
            assert!(killed.elapsed() < Duration::from_secs(10), "{step}: the service is gone");
            std::thread::sleep(Duration::from_millis(20));
        }
        // The store is never corrupt.
        let account = status(&profile);
        match step {
            // The server rotated the refresh token and the new one was lost with the process:
            // the old one is refused, and the account says it needs a sign-in.
            "after-response" => {
                let stderr = profile.fails(&["refresh", "a"]);
                assert!(stderr.contains("needs a new sign-in"), "{step}: {stderr}");
                assert_eq!(status(&profile)["status"], "needs_sign_in", "{step}");
                profile.ok(&["reauth", "a"]);
                assert_eq!(status(&profile)["status"], "valid", "{step}");
            }
            _ => {
                assert_eq!(account["status"], "valid", "{step}");
                let token = profile.ok(&["token", "a", "--min-valid", "7200"]);
                assert_eq!(server.introspect(token.trim())["active"], true, "{step}");
            }
        }
    }
}
