//! End to end: keeping tokens alive against the real `oidc-provider` with short lifetimes:
//! background renewal by the daemon, rotation, `token --min-valid`, re-authentication after a
//! dead grant, service accounts, and a process killed at each step of a renewal. Then Keyport
//! issue 10, one test per finding: the keyring locking during a rotating renewal, requests
//! answered while another process holds a lock, lock waits with a deadline, short-lived
//! tokens, `Retry-After` for on-demand renewals, reauth of an account without a subject.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::oidc::{self, OidcServer};
use crate::support::profile::Profile;
use crate::support::rpc::Rpc;

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
    let output = profile.run(&["status", "a", "--json"]);
    if !output.status.success() {
        let log = std::fs::read_to_string(profile.root().join("run/keyport/daemon.log")).unwrap_or_default();
        panic!("keyport status failed: {}\ndaemon.log:\n{log}", String::from_utf8_lossy(&output.stderr));
    }
    serde_json::from_slice(&output.stdout).expect("JSON output")
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
    // 6-second tokens: `--min-valid` is capped at half the lifetime, 3 s.
    let (server, profile) = signed_in(&["--access-ttl", "6"]);
    let first = access_token(&profile);
    assert_eq!(profile.ok(&["token", "a", "--min-valid", "30"]).trim(), first, "fresh: no renewal");
    std::thread::sleep(Duration::from_millis(3500));
    let renewed = profile.ok(&["token", "a", "--min-valid", "30"]);
    assert_ne!(renewed.trim(), first, "less than half its life left: renewed first");
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
    // Long enough that the token just minted is still active when it is introspected on a
    // loaded machine (with 2 s, CI once found it expired already).
    let server = OidcServer::start_with(&["--access-ttl", "5"]);
    let profile = Profile::new();
    profile.add_service_account(&server, "robot");
    let account = profile.json(&["status", "robot", "--json"]);
    assert_eq!(account["kind"], "service");
    assert_eq!(account["has_refresh_token"], false);
    assert_eq!(account["identity"]["sub"], "keyport-service");
    assert!(profile.keyring_lookup("account/robot/client_secret").is_some());
    assert!(!std::fs::read_to_string(profile.accounts_file()).unwrap().contains("keyport-service-secret"));

    profile.allow_me("robot");
    // A token minted now, not the one `add` got a moment ago.
    profile.ok(&["refresh", "robot"]);
    let first = profile.ok(&["token", "robot", "--min-valid", "0"]);
    let introspection = server.introspect(first.trim());
    assert_eq!(introspection["active"], true);
    assert_eq!(introspection["client_id"], "keyport-service");
    std::thread::sleep(Duration::from_millis(5500));
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
                profile.ok(&["refresh", "a"]);
                let token = profile.ok(&["token", "a"]);
                assert_eq!(server.introspect(token.trim())["active"], true, "{step}");
            }
        }
    }
}

// ---- Keyport issue 10 --------------------------------------------------------------------

/// The profile's socket.
fn socket(profile: &Profile) -> std::path::PathBuf {
    profile.root().join("run/keyport/keyport.sock")
}

/// Holds a Keyport lock file as another process would (an `flock` on its own open file).
fn hold_lock(path: &std::path::Path) -> std::fs::File {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path).unwrap();
    file.lock().unwrap();
    file
}

/// Waits until the keyring's refresh token is one the provider accepts (at most `within`).
fn keyring_refresh_token_active(server: &OidcServer, profile: &Profile, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if server.introspect(&refresh_token(profile))["active"] == true {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_keyring_locked_while_a_rotated_refresh_token_is_stored_keeps_the_grant() {
    // Issue 10, finding 1. The provider has rotated the refresh token; the keyring locks before
    // Keyport stores the new one. Before: the new token was dropped (-32603), the next renewal
    // sent the retired one, and oidc-provider's reuse detection ended the grant.
    let (server, mut profile) = signed_in(&[]);
    let old_refresh = refresh_token(&profile);
    server.faults(json!([{"hold": true}]));
    let refresh = std::thread::spawn({
        let socket = socket(&profile);
        move || Rpc::connect(&socket, Duration::from_secs(60)).call("token.refresh", json!({"account": "a"}))
    });
    server.wait_until_held(1); // the provider has answered, and retired `old_refresh`
    assert_eq!(server.introspect(&old_refresh)["active"], false);
    profile.keyring().lock();
    server.release();
    let answer = refresh.join().unwrap();
    assert_eq!(answer["error"]["code"], -32007, "keyring_unavailable: {answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("locked") && message.contains("kept in memory"), "{message}");
    // Unlocked: the token waiting in memory reaches the keyring with no new sign-in and no
    // second request.
    profile.keyring().unlock();
    assert!(keyring_refresh_token_active(&server, &profile, Duration::from_secs(30)), "the grant was lost");
    assert_eq!(server.refresh_requests(), 1);
    assert_eq!(status(&profile)["status"], "valid");
    profile.ok(&["refresh", "a"]);
    assert_eq!(server.introspect(&access_token(&profile))["active"], true);
}

#[test]
fn an_unrelated_request_is_answered_while_another_process_holds_accounts_lock() {
    // Issue 10, finding 2: a renewal waiting for `accounts.lock` blocked the service's only
    // async worker; `providers.list` waited with it.
    let (server, profile) = signed_in(&[]);
    let lock = hold_lock(&profile.root().join("data/keyport/accounts.lock"));
    let refresh = std::thread::spawn({
        let socket = socket(&profile);
        move || Rpc::connect(&socket, Duration::from_secs(60)).call("token.refresh", json!({"account": "a"}))
    });
    // The renewal has its answer and now waits to write accounts.json.
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.refresh_requests() == 0 {
        assert!(Instant::now() < deadline, "no renewal reached the provider");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let (answered, answers) = std::sync::mpsc::channel();
    std::thread::spawn({
        let socket = socket(&profile);
        move || {
            let mut rpc = Rpc::connect(&socket, Duration::from_secs(60));
            let asked = Instant::now();
            let providers = rpc.call("providers.list", serde_json::Value::Null);
            let _ = answered.send((providers, asked.elapsed()));
        }
    });
    let providers = answers.recv_timeout(Duration::from_secs(5));
    let answered_while_held = providers.is_ok();
    drop(lock);
    assert!(answered_while_held, "providers.list waited for a lock it does not need");
    let (providers, took) = providers.unwrap();
    println!("providers.list while another process holds accounts.lock: answered in {took:?}");
    assert_eq!(providers["result"]["providers"][0]["name"], "local");
    // The renewal went on once the lock was free; the grant is intact.
    let answer = refresh.join().unwrap();
    assert!(answer.get("result").is_some(), "{answer}");
    assert!(keyring_refresh_token_active(&server, &profile, Duration::from_secs(10)));
}

#[test]
fn a_renewal_lock_held_elsewhere_ends_in_lock_timeout_and_other_accounts_keep_renewing() {
    // Issue 10, finding 3: with one account's renewal lock held by another process, its
    // `token.get` hung, and the background refresher renewed no other account.
    let server = OidcServer::start_with(&["--access-ttl", "4"]);
    let profile = Profile::new();
    profile.add_local_provider(&server);
    for name in ["a", "b"] {
        profile.ok(&["add", "local", "--name", name]);
        profile.allow_me(name);
    }
    profile.stop_daemon();
    let lock = hold_lock(&profile.root().join("data/keyport/locks/a.lock"));
    let mut daemon = profile.keyport().arg("daemon").stderr(Stdio::piped()).spawn().unwrap();
    let stderr = BufReader::new(daemon.stderr.take().unwrap());
    let (lines_tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket(&profile).exists() {
        assert!(Instant::now() < deadline, "the daemon did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = Instant::now();
    let answer =
        Rpc::connect(&socket(&profile), Duration::from_secs(30)).call("token.refresh", json!({"account": "a"}));
    assert_eq!(answer["error"]["code"], -32013, "lock_timeout: {answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("locks/a.lock"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(25), "the wait has a deadline");
    // Meanwhile (the lock still held), `b`'s 4-second tokens kept being renewed.
    let mut renewed_b = 0;
    let mut seen = Vec::new();
    while let Ok(line) = lines.try_recv() {
        renewed_b += usize::from(line.contains("b: token renewed"));
        seen.push(line);
    }
    drop(lock);
    assert!(renewed_b >= 2, "`b` renewed {renewed_b} times while `a` waited: {seen:#?}");
    Rpc::connect(&socket(&profile), Duration::from_secs(30)).ok("token.refresh", json!({"account": "a"}));
    let _ = Command::new("kill").args(["-TERM", &daemon.id().to_string()]).status();
    let _ = daemon.wait();
}

#[test]
fn short_lived_tokens_are_not_renewed_on_every_read() {
    // Issue 10, finding 4: with 20-second tokens, 300 `token.get`s (default min_valid, 60 s)
    // made 300 refresh requests and 300 distinct tokens.
    let (server, profile) = signed_in(&["--access-ttl", "20"]);
    let mut rpc = Rpc::connect(&socket(&profile), Duration::from_secs(30));
    let before = server.refresh_requests();
    let mut tokens = std::collections::HashSet::new();
    let mut took = Vec::new();
    for _ in 0..300 {
        let started = Instant::now();
        let result = rpc.ok("token.get", json!({"account": "a"}));
        took.push(started.elapsed());
        tokens.insert(result["access_token"].as_str().unwrap().to_owned());
    }
    let renewals = server.refresh_requests() - before;
    took.sort();
    println!(
        "300 token.get with 20-second tokens: {renewals} renewals, {} distinct tokens, p50 {:?}",
        tokens.len(),
        took[150]
    );
    assert!(renewals <= 2, "{renewals} renewals for 300 reads");
    assert!(tokens.len() <= 3, "{} distinct tokens", tokens.len());
}

#[test]
fn retry_after_holds_back_on_demand_renewals() {
    // Issue 10, finding 5: ten `token.get`s sent ten refresh requests although the provider
    // had answered 429 with `Retry-After: 120`.
    let (server, profile) = signed_in(&["--access-ttl", "4"]);
    let slow_down = json!({"status": 429, "headers": {"Retry-After": "120"}, "body": "{\"error\":\"slow_down\"}"});
    server.faults(json!(vec![slow_down; 10]));
    // Past half its life, every `token.get` wants the token renewed first.
    std::thread::sleep(Duration::from_millis(2500));
    let mut rpc = Rpc::connect(&socket(&profile), Duration::from_secs(30));
    let mut codes = Vec::new();
    for _ in 0..10 {
        codes.push(rpc.call("token.get", json!({"account": "a"}))["error"]["code"].clone());
    }
    let sent = server.refresh_requests();
    assert_eq!(sent, 1, "one request (by the refresher or the first token.get), then the provider's wait: {codes:?}");
    assert!(codes.iter().all(|code| *code == -32005), "{codes:?}");
    let error = rpc.err("token.get", json!({"account": "a"}));
    assert!(error["message"].as_str().unwrap().contains("not renewing the token of `a` for another"), "{error}");
}

#[test]
fn an_account_without_a_subject_can_sign_in_again() {
    // Issue 10, finding 7: a provider by endpoints, without userinfo (no subject known), and
    // `reauth` always answered `account_exists`.
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.ok(&[
        "provider",
        "add",
        "plain",
        "--auth-url",
        &format!("{}/auth", server.issuer),
        "--token-url",
        &format!("{}/token", server.issuer),
        "--client-id",
        oidc::NATIVE_CLIENT,
        "--scope",
        "profile",
    ]);
    profile.ok(&["add", "plain", "--name", "p"]);
    let before = profile.json(&["status", "p", "--json"]);
    assert!(before["identity"]["sub"].is_null(), "{before}");
    profile.ok(&["reauth", "p"]);
    let after = profile.json(&["status", "p", "--json"]);
    assert_eq!(after["status"], "valid");
    assert_eq!(after["created_at"], before["created_at"], "the same account, signed in again");
    // A new sign-in under that name is still refused.
    let stderr = profile.fails(&["add", "plain", "--name", "p"]);
    assert!(stderr.contains("already exists"), "{stderr}");
}

/// Issue 11, part 6: a refresh-token end the provider states (`refresh_expires_in`, added to
/// the real server's answer) is shown at sign-in, in `list`, in `status` and its JSON (served
/// over the socket); a renewal that says nothing new keeps it, and an account whose provider
/// says nothing shows "no known expiry".
#[test]
fn the_refresh_token_end_the_provider_states_is_shown_everywhere() {
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_local_provider(&server);
    let six_days = 6 * 24 * 3600;
    server.faults(serde_json::json!([{
        "rewrite": { "pattern": "\"expires_in\":\\s*(\\d+)", "with": format!("\"expires_in\":$1,\"refresh_expires_in\":{six_days}") }
    }]));
    let before = time::OffsetDateTime::now_utc();
    let out = profile.ok(&["add", "local", "--name", "a"]);
    assert!(out.contains("refresh token:  stored in the keyring; expires in 5d 23h (the provider says)"), "{out}");

    let status = profile.json(&["status", "a", "--json"]);
    assert_eq!(status["refresh_token_expiry"], "provider", "{status}");
    let left = status["refresh_token_expires_in_secs"].as_i64().unwrap();
    assert!(left > six_days - 60 && left <= six_days, "{status}");
    let end = time::OffsetDateTime::parse(
        status["refresh_token_expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!((end - before - time::Duration::seconds(six_days)).abs() < time::Duration::seconds(60), "{end}");
    let list = profile.ok(&["list"]);
    assert!(list.contains("yes, 5d 23h left"), "{list}");
    let text = profile.ok(&["status", "a"]);
    assert!(text.contains("Refresh token:  stored in the keyring; expires in 5d 23h (the provider says)"), "{text}");

    // oidc-provider rotates refresh tokens and says nothing of their end: the new one's end
    // is unknown.
    profile.allow_me("a");
    profile.ok(&["refresh", "a"]);
    let status = profile.json(&["status", "a", "--json"]);
    assert_eq!(status["refresh_token_expires_at"], serde_json::Value::Null, "{status}");
    assert!(profile.ok(&["status", "a"]).contains("no known expiry"));
}
