//! End to end against a second, independently written authorization server: Python Authlib
//! (`tests/authlib/server.py`), with its own login driver as the browser. The main flows of the
//! `oidc-provider` tests run here too: browser sign-in (public and confidential clients),
//! refresh with rotation (on demand and by the daemon), revocation at the endpoint that only the
//! RFC 8414 metadata names, the device flow, client credentials, reauth (also after the refresh
//! token expired), a numeric `sub`. The provider is named `second`, whose redirect
//! path (`/callback/second`) the server registers beside `/callback`.

use std::time::Duration;

use crate::device::{DeviceSignIn, approve_on_other_device};
use crate::support::authlib::{self, AuthlibServer};
use crate::support::profile::Profile;

/// A profile whose browser is the Authlib login driver.
fn profile() -> Profile {
    Profile::new().with_browser(authlib::driver())
}

/// Adds `server` as provider `second` with the public native client.
fn add_second(profile: &Profile, server: &AuthlibServer) {
    profile.ok(&["provider", "add", "second", "--issuer", &server.issuer, "--client-id", authlib::NATIVE_CLIENT]);
}

/// A server started with `args`, a profile, provider `second`, and account `a` signed in.
fn signed_in(args: &[&str]) -> (AuthlibServer, Profile) {
    let server = AuthlibServer::start_with(args);
    let profile = profile();
    add_second(&profile, &server);
    profile.ok(&["add", "second", "--name", "a"]);
    profile.allow_me("a");
    (server, profile)
}

fn keyring_token(profile: &Profile, name: &str, which: &str) -> String {
    profile.keyring_lookup(&format!("account/{name}/{which}")).unwrap_or_else(|| panic!("no {which} of {name}"))
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    let mut list: Vec<String> =
        value.as_array().expect("an array").iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    list.sort();
    list
}

fn time_of(value: &serde_json::Value) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(value.as_str().expect("a timestamp"), &time::format_description::well_known::Rfc3339)
        .expect("RFC 3339")
}

/// The provider `name` as `keyport provider list --json` shows it.
fn provider(profile: &Profile, name: &str) -> serde_json::Value {
    let list = profile.json(&["provider", "list", "--json"]);
    list.as_array().unwrap().iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("no {name}: {list}")).clone()
}

#[test]
fn browser_sign_in_connects_alice_with_identity_scopes_and_expiry() {
    let server = AuthlibServer::start();
    let profile = profile();
    add_second(&profile, &server);
    let before = time::OffsetDateTime::now_utc();
    let out = profile.ok(&["add", "second"]);
    assert!(out.contains("Connected alice@example.test (second)"), "{out}");

    let account = &profile.json(&["list", "--json"])[0];
    assert_eq!(account["name"], "alice@example.test");
    assert_eq!(account["provider"], "second");
    assert_eq!(account["kind"], "user");
    assert_eq!(account["identity"]["sub"], "alice");
    assert_eq!(account["identity"]["email"], "alice@example.test");
    assert_eq!(account["identity"]["name"], "Alice Example");
    assert_eq!(strings(&account["scopes"]), ["email", "offline_access", "openid", "profile"]);
    assert_eq!(account["status"], "valid");
    assert_eq!(account["has_refresh_token"], true);
    let lifetime = time_of(&account["expires_at"]) - before;
    assert!(lifetime > time::Duration::minutes(59) && lifetime < time::Duration::minutes(61), "{lifetime}");

    // The code came back through the login driver to one of the registered redirect paths, on
    // Keyport's loopback port, and Keyport's listener accepted it.
    let log = profile.driver_log();
    let redirect = log.iter().find(|l| l["step"] == "redirect").unwrap_or_else(|| panic!("no redirect: {log:?}"));
    assert_eq!(redirect["status"], 200, "{redirect}");
    let url = url::Url::parse(redirect["url"].as_str().unwrap()).unwrap();
    assert_eq!(url.host_str(), Some("127.0.0.1"));
    assert!(authlib::REDIRECT_URIS.iter().any(|uri| uri.ends_with(url.path())), "{url}");
    let registered = provider(&profile, "second")["redirect_uri"].as_str().unwrap().to_owned();
    assert!(authlib::REDIRECT_URIS.contains(&registered.as_str()), "{registered}");
    assert_eq!(registered.rsplit_once("127.0.0.1").unwrap().1, url.path(), "Keyport used its own redirect path");

    profile.allow_me("alice@example.test");
    let token = profile.ok(&["token", "alice@example.test"]);
    let introspection = server.introspect(token.trim());
    assert_eq!(introspection["active"], true, "{introspection}");
    assert_eq!(introspection["sub"], "alice");
    assert_eq!(introspection["client_id"], authlib::NATIVE_CLIENT);
}

#[test]
fn discovery_merges_both_metadata_documents() {
    let server = AuthlibServer::start();
    let profile = profile();
    add_second(&profile, &server);
    let openid = server.openid_metadata();
    let rfc8414 = server.rfc8414_metadata();
    // The server is like the one in issue 11: no revocation endpoint in the OpenID document.
    assert!(openid.get("revocation_endpoint").is_none(), "{openid}");
    assert!(rfc8414["revocation_endpoint"].is_string(), "{rfc8414}");
    assert!(rfc8414.get("device_authorization_endpoint").is_none(), "no --publish-device: {rfc8414}");

    let second = provider(&profile, "second");
    assert_eq!(second["kind"], format!("issuer {}", server.issuer));
    let endpoints = &second["endpoints"];
    assert_eq!(endpoints["authorization"], openid["authorization_endpoint"]);
    assert_eq!(endpoints["token"], openid["token_endpoint"]);
    assert_eq!(endpoints["userinfo"], openid["userinfo_endpoint"]);
    assert_eq!(endpoints["revocation"], rfc8414["revocation_endpoint"], "found only in the RFC 8414 document");
    assert!(endpoints["device_authorization"].is_null(), "{second}");
    assert!(strings(&second["scopes"]).contains(&"offline_access".to_owned()), "{second}");
}

#[test]
fn confidential_client_signs_in_and_revokes_with_its_secret() {
    let server = AuthlibServer::start();
    let profile = profile();
    let args = [
        "provider",
        "add",
        "second",
        "--issuer",
        &server.issuer,
        "--client-id",
        authlib::CONFIDENTIAL_CLIENT,
        "--client-secret-stdin",
    ];
    let output = profile.run_with_stdin(&args, authlib::CONFIDENTIAL_SECRET);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    profile.ok(&["add", "second", "--name", "c"]);
    profile.allow_me("c");
    let access = profile.ok(&["token", "c"]).trim().to_owned();
    let refresh = keyring_token(&profile, "c", "refresh_token");
    let introspection = server.introspect(&access);
    assert_eq!(introspection["active"], true, "{introspection}");
    assert_eq!(introspection["client_id"], authlib::CONFIDENTIAL_CLIENT);

    profile.ok(&["refresh", "c"]);
    let rotated = keyring_token(&profile, "c", "refresh_token");
    assert_ne!(rotated, refresh);
    assert_eq!(server.introspect(&refresh)["active"], false, "rotated away");
    let access = keyring_token(&profile, "c", "access_token");

    // A confidential client may introspect its tokens: the revocation is checked.
    assert_eq!(
        profile.ok(&["revoke", "c"]),
        "Revoked c at second and removed it.\n  checked: second's introspection endpoint says its tokens are no \
         longer active\n"
    );
    assert_eq!(server.introspect(&access)["active"], false);
    assert_eq!(server.introspect(&rotated)["active"], false);
}

#[test]
fn refresh_rotates_and_every_spent_refresh_token_is_dead() {
    let (server, profile) = signed_in(&[]);
    let mut spent = Vec::new();
    let mut previous_expiry = profile.json(&["status", "a", "--json"])["expires_at"].as_str().unwrap().to_owned();
    for round in 0..3 {
        let old_refresh = keyring_token(&profile, "a", "refresh_token");
        let old_access = keyring_token(&profile, "a", "access_token");
        // Expiry times have one-second resolution: make the new one visibly later.
        std::thread::sleep(Duration::from_millis(1100));
        let after = profile.json(&["refresh", "a", "--json"]);
        assert_eq!(after["status"], "valid", "round {round}: {after}");
        assert!(after["expires_at"].as_str().unwrap() > previous_expiry.as_str(), "round {round}: {after}");
        previous_expiry = after["expires_at"].as_str().unwrap().to_owned();
        let new_refresh = keyring_token(&profile, "a", "refresh_token");
        let new_access = keyring_token(&profile, "a", "access_token");
        assert_ne!(new_refresh, old_refresh, "round {round}: the server rotated the refresh token");
        assert_ne!(new_access, old_access, "round {round}");
        let old = server.introspect(&old_refresh);
        assert_eq!(old["active"], false, "round {round}: the spent refresh token is dead: {old}");
        let new = server.introspect(&new_refresh);
        assert_eq!(new["active"], true, "round {round}: {new}");
        assert_eq!(new["token_type"], "refresh_token", "round {round}: {new}");
        assert_eq!(server.introspect(&new_access)["active"], true, "round {round}");
        spent.push(old_refresh);
    }
    // None of the spent ones works any more, straight at the server.
    for old in &spent {
        let (status, answer) = server.token_request(&[("grant_type", "refresh_token"), ("refresh_token", old)]);
        assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_grant")), "{answer}");
    }
    // Keyport still works: the current token is live and a further renewal succeeds.
    let token = profile.ok(&["token", "a"]);
    assert_eq!(token.trim(), keyring_token(&profile, "a", "access_token"));
    assert_eq!(server.introspect(token.trim())["active"], true);
    profile.ok(&["refresh", "a"]);
    assert_eq!(profile.json(&["status", "a", "--json"])["status"], "valid");
}

#[test]
fn token_min_valid_renews_a_short_lived_token() {
    // 6-second access tokens: `--min-valid` is capped at half the lifetime, 3 s.
    let (server, profile) = signed_in(&["--access-ttl", "6"]);
    let first = keyring_token(&profile, "a", "access_token");
    let first_refresh = keyring_token(&profile, "a", "refresh_token");
    assert_eq!(profile.ok(&["token", "a", "--min-valid", "30"]).trim(), first, "fresh: no renewal");
    std::thread::sleep(Duration::from_millis(3500));
    let renewed = profile.ok(&["token", "a", "--min-valid", "30"]);
    assert_ne!(renewed.trim(), first, "less than half its life left: renewed first");
    assert_eq!(server.introspect(renewed.trim())["active"], true);
    assert_eq!(server.introspect(&first_refresh)["active"], false, "rotated on the way");
}

#[test]
fn revoke_uses_the_endpoint_found_only_in_rfc8414_metadata() {
    let (server, profile) = signed_in(&[]);
    let revocation = provider(&profile, "second")["endpoints"]["revocation"].clone();
    assert_eq!(revocation, format!("{}/revoke", server.issuer));
    assert!(server.openid_metadata().get("revocation_endpoint").is_none());

    let access = keyring_token(&profile, "a", "access_token");
    let refresh = keyring_token(&profile, "a", "refresh_token");
    assert_eq!(server.introspect(&access)["active"], true);
    assert_eq!(server.introspect(&refresh)["active"], true);

    // The public client may not introspect here (Authlib wants client authentication), so
    // the revocation is done but not checked, and Keyport says why.
    let out = profile.ok(&["revoke", "a"]);
    assert_eq!(
        out,
        "Revoked a at second and removed it.\n  not checked: the introspection endpoint answered HTTP 401\n"
    );
    assert_eq!(server.introspect(&access)["active"], false, "the access token is revoked");
    assert_eq!(server.introspect(&refresh)["active"], false, "the refresh token is revoked");
    let (status, answer) = server.token_request(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)]);
    assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_grant")), "{answer}");
    assert_eq!(profile.json(&["list", "--json"]), serde_json::json!([]));
    assert_eq!(profile.keyring_lookup("account/a/access_token"), None);
    assert_eq!(profile.keyring_lookup("account/a/refresh_token"), None);
}

#[test]
fn device_sign_in_with_the_published_device_endpoint() {
    let server = AuthlibServer::start_with(&["--publish-device", "--device-interval", "1"]);
    let profile = profile();
    add_second(&profile, &server);
    let device_endpoint = server.rfc8414_metadata()["device_authorization_endpoint"].clone();
    assert_eq!(provider(&profile, "second")["endpoints"]["device_authorization"], device_endpoint);

    let sign_in = DeviceSignIn::start(&profile, &["add", "second", "--device", "--name", "d"]);
    let page = sign_in.value_after("To sign in, open this page");
    let code = sign_in.value_after("and enter the code");
    let link = sign_in.link();
    assert_eq!(page, format!("{}/device", server.issuer));
    assert!(link.starts_with(&page) && link.contains(&code), "{link} carries {code}");
    approve_on_other_device(&profile, &link, "device-approve");
    let output = sign_in.wait();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("Connected d (second) as Alice Example <alice@example.test>."), "{stdout}");
    let log = profile.driver_log();
    assert!(log.iter().any(|l| l["step"] == "device-confirm" && l["status"] == 200), "{log:?}");

    let account = profile.json(&["status", "d", "--json"]);
    assert_eq!(account["identity"]["sub"], "alice");
    assert_eq!(account["has_refresh_token"], true);
    profile.allow_me("d");
    let token = profile.ok(&["token", "d"]);
    let introspection = server.introspect(token.trim());
    assert_eq!(introspection["active"], true, "{introspection}");
    assert_eq!(introspection["client_id"], authlib::NATIVE_CLIENT);
    profile.ok(&["refresh", "d"]);
    assert_eq!(server.introspect(&keyring_token(&profile, "d", "access_token"))["active"], true);
}

#[test]
fn device_sign_in_denied_stores_nothing() {
    let server = AuthlibServer::start_with(&["--publish-device", "--device-interval", "1"]);
    let profile = profile();
    add_second(&profile, &server);
    let sign_in = DeviceSignIn::start(&profile, &["add", "second", "--device"]);
    approve_on_other_device(&profile, &sign_in.link(), "device-deny");
    let output = sign_in.wait();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the provider refused the sign-in: access_denied"), "{stderr}");
    assert_eq!(profile.json(&["list", "--json"]), serde_json::json!([]));
}

#[test]
fn device_flow_is_refused_when_no_metadata_names_a_device_endpoint() {
    let server = AuthlibServer::start();
    let profile = profile();
    add_second(&profile, &server);
    let stderr = profile.fails(&["add", "second", "--device"]);
    assert!(stderr.contains("provider `second` has no device authorization endpoint"), "{stderr}");
    assert!(profile.driver_log().is_empty());
}

/// The second finding: the server publishes no device endpoint, so the user gives it
/// by hand beside discovery (`--device-url`), and the device flow works; `provider list`
/// marks it as given and the rest as discovered.
#[test]
fn device_sign_in_with_a_device_endpoint_given_by_hand() {
    let server = AuthlibServer::start_with(&["--device-interval", "1"]);
    let profile = profile();
    let device_url = format!("{}/device_authorization", server.issuer);
    profile.ok(&[
        "provider",
        "add",
        "second",
        "--issuer",
        &server.issuer,
        "--client-id",
        authlib::NATIVE_CLIENT,
        "--device-url",
        &device_url,
    ]);
    let second = provider(&profile, "second");
    assert_eq!(second["endpoints"]["device_authorization"], device_url.as_str());
    assert_eq!(second["endpoint_sources"]["device_authorization"], "given");
    assert_eq!(second["endpoint_sources"]["revocation"], "discovered");

    let sign_in = DeviceSignIn::start(&profile, &["add", "second", "--device", "--name", "d"]);
    approve_on_other_device(&profile, &sign_in.link(), "device-approve");
    let output = sign_in.wait();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(profile.json(&["status", "d", "--json"])["identity"]["sub"], "alice");
}

#[test]
fn service_account_is_minted_and_minted_again() {
    let server = AuthlibServer::start_with(&["--access-ttl", "2"]);
    let profile = profile();
    profile.ok(&["provider", "add", "svc", "--issuer", &server.issuer, "--client-id", authlib::SERVICE_CLIENT.0]);
    let output =
        profile.run_with_stdin(&["add", "svc", "--client-credentials", "--name", "robot"], authlib::SERVICE_CLIENT.1);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let account = profile.json(&["status", "robot", "--json"]);
    assert_eq!(account["kind"], "service");
    assert_eq!(account["has_refresh_token"], false);
    assert!(profile.keyring_lookup("account/robot/client_secret").is_some());

    profile.allow_me("robot");
    let first = profile.ok(&["token", "robot", "--min-valid", "0"]);
    let introspection = server.introspect(first.trim());
    assert_eq!(introspection["active"], true, "{introspection}");
    assert_eq!(introspection["client_id"], authlib::SERVICE_CLIENT.0);
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(server.introspect(first.trim())["active"], false, "the first token expired");
    let second = profile.ok(&["token", "robot", "--min-valid", "0"]);
    assert_ne!(second, first, "a new token was minted");
    assert_eq!(server.introspect(second.trim())["active"], true);

    let output = profile.run_with_stdin(&["add", "svc", "--client-credentials", "--name", "robot2"], "wrong");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid_client"), "{output:?}");
}

#[test]
fn reauth_signs_in_again_to_the_same_account_and_refuses_another_identity() {
    let (server, profile) = signed_in(&[]);
    let before = profile.json(&["status", "a", "--json"]);
    let old_access = keyring_token(&profile, "a", "access_token");
    let old_refresh = keyring_token(&profile, "a", "refresh_token");

    profile.ok(&["reauth", "a"]);
    let after = profile.json(&["status", "a", "--json"]);
    assert_eq!(after["status"], "valid");
    assert_eq!(after["created_at"], before["created_at"], "same account, kept its history");
    assert_eq!(after["identity"]["sub"], "alice");
    let new_access = keyring_token(&profile, "a", "access_token");
    let new_refresh = keyring_token(&profile, "a", "refresh_token");
    assert_ne!(new_access, old_access, "a new sign-in, new tokens");
    assert_ne!(new_refresh, old_refresh);
    assert_eq!(server.introspect(&new_access)["active"], true);
    assert_eq!(profile.json(&["list", "--json"]).as_array().unwrap().len(), 1, "no second account");

    let output = profile.keyport().args(["reauth", "a"]).env("KEYPORT_TEST_USER", "bob").output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("another identity (this sign-in was bob@example.test)"), "{stderr}");
    assert_eq!(profile.json(&["status", "a", "--json"])["identity"]["sub"], "alice");
    assert_eq!(keyring_token(&profile, "a", "access_token"), new_access, "bob's tokens were not stored");
}

#[test]
fn denied_consent_and_a_partial_grant() {
    let server = AuthlibServer::start();
    let profile = profile();
    add_second(&profile, &server);
    let output = profile.keyport().args(["add", "second"]).env("KEYPORT_TEST_DRIVER", "deny").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the provider refused the sign-in: access_denied"), "{stderr}");
    assert_eq!(profile.json(&["list", "--json"]), serde_json::json!([]));

    let output = profile
        .keyport()
        .args(["add", "second", "--name", "p"])
        .env("KEYPORT_TEST_DRIVER", "partial:openid email offline_access")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let account = profile.json(&["status", "p", "--json"]);
    assert_eq!(strings(&account["scopes"]), ["email", "offline_access", "openid"], "profile was not granted");
    assert_eq!(account["identity"]["name"], serde_json::Value::Null, "no profile scope, no name");
    assert_eq!(account["identity"]["email"], "alice@example.test");
}

#[test]
fn a_numeric_subject_is_read_as_its_decimal_text() {
    let (server, profile) = signed_in(&["--sub-numeric"]);
    let account = profile.json(&["status", "a", "--json"]);
    assert_eq!(account["identity"]["sub"], "1", "{account}");
    assert_eq!(account["identity"]["email"], "alice@example.test");
    assert_eq!(server.introspect(&keyring_token(&profile, "a", "access_token"))["sub"], "1");
    // The subject still guards reauth: bob (sub 2) cannot take alice's account.
    let output = profile.keyport().args(["reauth", "a"]).env("KEYPORT_TEST_USER", "bob").output().unwrap();
    assert!(!output.status.success(), "bob signed in to alice's account");
    profile.ok(&["reauth", "a"]);
    assert_eq!(profile.json(&["status", "a", "--json"])["identity"]["sub"], "1");
}

#[test]
fn the_server_accepts_only_its_registered_redirect_paths_on_any_loopback_port() {
    // The server itself, without Keyport: what the tests above rely on.
    let server = AuthlibServer::start();
    let authorize = |redirect_uri: &str, method: &str| {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", authlib::NATIVE_CLIENT)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", "openid")
            .append_pair("state", "s")
            .append_pair("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
            .append_pair("code_challenge_method", method)
            .finish();
        server.status_of(&format!("/authorize?{query}"))
    };
    // 200: the login page; 400: an error page (nothing redirected to an unregistered URI).
    assert_eq!(authorize("http://127.0.0.1:40001/callback/second", "S256"), 200);
    assert_eq!(authorize("http://127.0.0.1:40002/callback", "S256"), 200);
    assert_eq!(authorize("http://127.0.0.1/callback", "S256"), 200);
    for refused in [
        "http://127.0.0.1:40001/callback/other",
        "http://127.0.0.1:40001/callback/second/",
        "http://127.0.0.1:40001/Callback",
        "http://localhost:40001/callback",
        "http://[::1]:40001/callback",
        "https://127.0.0.1:40001/callback",
        "http://127.0.0.1:40001/callback?x=1",
    ] {
        assert_eq!(authorize(refused, "S256"), 400, "{refused}");
    }
    // PKCE: S256 only, although the metadata lists plain (like the real server of issue 11).
    assert!(strings(&server.openid_metadata()["code_challenge_methods_supported"]).contains(&"plain".to_owned()));
    let status = authorize("http://127.0.0.1:40001/callback", "plain");
    assert_eq!(status, 302, "a redirected invalid_request");
}

#[test]
fn a_forged_state_is_ignored_and_the_genuine_redirect_still_signs_in() {
    let server = AuthlibServer::start();
    let profile = profile();
    add_second(&profile, &server);
    let output =
        profile.keyport().args(["add", "second"]).env("KEYPORT_TEST_DRIVER", "forge-state-first").output().unwrap();
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
fn the_daemon_renews_in_the_background_and_each_renewal_rotates() {
    let (server, profile) = signed_in(&["--access-ttl", "6"]);
    let first_refresh = keyring_token(&profile, "a", "refresh_token");
    profile.stop_daemon(); // the one the commands above started
    let mut daemon = profile.keyport().arg("daemon").stderr(std::process::Stdio::piped()).spawn().unwrap();
    let stderr = std::io::BufReader::new(daemon.stderr.take().unwrap());
    let (lines_tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in stderr.lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    // A 6-second token is renewed with about half its life left: twice within ~6 s.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let (mut renewals, mut seen) = (0, Vec::new());
    while renewals < 2 && std::time::Instant::now() < deadline {
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) {
            renewals += usize::from(line.contains("a: token renewed"));
            seen.push(line);
        }
    }
    assert!(renewals >= 2, "the daemon renewed twice: {seen:#?}");
    let refresh = keyring_token(&profile, "a", "refresh_token");
    assert_ne!(refresh, first_refresh);
    assert_eq!(server.introspect(&first_refresh)["active"], false, "spent by the first renewal");
    assert_eq!(server.introspect(&refresh)["active"], true, "the keyring holds the live one");
    assert_eq!(server.introspect(&keyring_token(&profile, "a", "access_token"))["active"], true);
    assert_eq!(profile.json(&["status", "a", "--json"])["status"], "valid");
    assert!(std::process::Command::new("kill").args(["-TERM", &daemon.id().to_string()]).status().unwrap().success());
    assert!(daemon.wait().unwrap().success(), "SIGTERM stops the daemon cleanly");
}

/// Issue 11, part 6, against this server: it states `refresh_expires_in`, so the service
/// renews ahead of that end even though the access token (an hour) is far from expiring, and
/// the account outlives its first refresh token.
#[test]
fn a_refresh_token_with_a_stated_end_is_renewed_ahead_of_it() {
    // Six seconds: renewed every three, which leaves a loaded machine three to spare.
    let (server, profile) = signed_in(&["--refresh-ttl", "6"]);
    let status = profile.json(&["status", "a", "--json"]);
    assert_eq!(status["refresh_token_expiry"], "provider", "{status}");
    assert!(status["refresh_token_expires_in_secs"].as_i64().unwrap() <= 6, "{status}");
    let first = keyring_token(&profile, "a", "refresh_token");
    std::thread::sleep(Duration::from_millis(7500));
    assert_eq!(server.introspect(&first)["active"], false, "the first refresh token is gone");
    let now = keyring_token(&profile, "a", "refresh_token");
    assert_ne!(now, first, "the service renewed ahead of its end and stored the rotated one");
    assert_eq!(server.introspect(&now)["active"], true);
    assert_eq!(profile.json(&["status", "a", "--json"])["status"], "valid");
    profile.ok(&["refresh", "a"]);
}

/// A server that keeps a refresh token's end to itself: Keyport cannot know it, the token
/// dies, and the account needs a new sign-in, which `reauth` gives.
#[test]
fn an_expired_refresh_token_needs_a_sign_in_and_reauth_recovers() {
    let (server, profile) = signed_in(&["--refresh-ttl", "2", "--silent-refresh-expiry"]);
    assert!(profile.ok(&["status", "a"]).contains("no known expiry"));
    let created = profile.json(&["status", "a", "--json"])["created_at"].clone();
    let refresh = keyring_token(&profile, "a", "refresh_token");
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(server.introspect(&refresh)["active"], false, "the refresh token expired");
    let stderr = profile.fails(&["refresh", "a"]);
    assert!(stderr.contains("needs a new sign-in") && stderr.contains("keyport reauth a"), "{stderr}");
    let dead = profile.json(&["status", "a", "--json"]);
    assert_eq!(dead["status"], "needs_sign_in", "{dead}");
    assert!(dead["needs_sign_in_reason"].as_str().unwrap().contains("invalid_grant"), "{dead}");

    profile.ok(&["reauth", "a"]);
    let alive = profile.json(&["status", "a", "--json"]);
    assert_eq!(alive["status"], "valid");
    assert_eq!(alive["created_at"], created, "same account");
    assert_eq!(server.introspect(&keyring_token(&profile, "a", "access_token"))["active"], true);
}
