//! End to end: `keyport revoke` against the real `oidc-provider`. The server itself says the
//! tokens are dead afterwards (introspection, a refresh attempt), and a provider that cannot be
//! reached leaves the account in place until `--local` is given.

use std::process::Command;

use crate::support::oidc::{self, OidcServer};
use crate::support::profile::Profile;

/// The tokens of account `name`, read straight from the keyring.
fn tokens(profile: &Profile, name: &str) -> (String, String) {
    let access = profile.keyring_lookup(&format!("account/{name}/access_token")).expect("access token in the keyring");
    let refresh =
        profile.keyring_lookup(&format!("account/{name}/refresh_token")).expect("refresh token in the keyring");
    (access, refresh)
}

/// A refresh grant with `refresh_token`, as `client` (with its secret when it has one): the
/// server's JSON answer and HTTP status.
fn refresh_with(server: &OidcServer, client: (&str, Option<&str>), refresh_token: &str) -> (u16, serde_json::Value) {
    let mut curl = Command::new("curl");
    curl.args(["-sS", "-w", "\n%{http_code}"])
        .args(["--data-urlencode", "grant_type=refresh_token"])
        .args(["--data-urlencode", &format!("refresh_token={refresh_token}")]);
    match client {
        (id, Some(secret)) => curl.args(["-u", &format!("{id}:{secret}")]),
        (id, None) => curl.args(["--data-urlencode", &format!("client_id={id}")]),
    };
    let output = curl.arg(format!("{}/token", server.issuer)).output().expect("running curl");
    let text = String::from_utf8(output.stdout).unwrap();
    let (body, status) = text.rsplit_once('\n').expect("status line");
    (status.parse().unwrap(), serde_json::from_str(body).unwrap_or(serde_json::Value::Null))
}

fn assert_revoked_and_gone(server: &OidcServer, profile: &Profile, name: &str, client: (&str, Option<&str>)) {
    let (access, refresh) = tokens(profile, name);
    assert_eq!(server.introspect(&access)["active"], true);
    assert_eq!(server.introspect(&refresh)["active"], true);

    let provider = profile.json(&["status", name, "--json"])["provider"].as_str().unwrap().to_owned();
    let out = profile.ok(&["revoke", name]);
    assert_eq!(
        out,
        format!(
            "Revoked {name} at {provider} and removed it.\n  checked: {provider}'s introspection endpoint says its \
             tokens are no longer active\n"
        )
    );

    assert_eq!(server.introspect(&access)["active"], false, "the access token is revoked");
    assert_eq!(server.introspect(&refresh)["active"], false, "the refresh token is revoked");
    let (status, answer) = refresh_with(server, client, &refresh);
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"], "invalid_grant", "{answer}");

    assert_eq!(profile.json(&["list", "--json"]), serde_json::json!([]));
    assert_eq!(profile.keyring_lookup(&format!("account/{name}/access_token")), None);
    assert_eq!(profile.keyring_lookup(&format!("account/{name}/refresh_token")), None);
}

#[test]
fn revoke_ends_a_public_clients_tokens_at_the_provider_and_removes_the_account() {
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_local_provider(&server);
    profile.ok(&["add", "local", "--name", "a"]);
    assert_revoked_and_gone(&server, &profile, "a", (oidc::NATIVE_CLIENT, None));
}

#[test]
fn revoke_authenticates_a_confidential_client() {
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_confidential_provider(&server);
    profile.ok(&["add", "conf", "--name", "conf-alice"]);
    assert_revoked_and_gone(
        &server,
        &profile,
        "conf-alice",
        (oidc::CONFIDENTIAL_CLIENT, Some(oidc::CONFIDENTIAL_SECRET)),
    );
    // The provider's client secret is not the account's: it stays.
    assert_eq!(profile.keyring_lookup("provider/conf/client_secret").as_deref(), Some(oidc::CONFIDENTIAL_SECRET));
}

#[test]
fn an_unreachable_provider_keeps_the_account_until_local_is_given() {
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_local_provider(&server);
    profile.ok(&["add", "local", "--name", "a"]);
    let (access, _) = tokens(&profile, "a");
    drop(server);

    let output = profile.run(&["revoke", "a"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("could not revoke `a` at provider `local`"), "{stderr}");
    assert!(stderr.contains("kept") && stderr.contains("keyport revoke a --local"), "{stderr}");
    assert!(!stderr.contains(access.as_str()));
    assert_eq!(profile.json(&["list", "--json"])[0]["name"], "a", "the account is still listed");
    assert_eq!(profile.keyring_lookup("account/a/access_token").as_deref(), Some(access.as_str()));
    assert!(profile.keyring_lookup("account/a/refresh_token").is_some());

    let output = profile.run(&["revoke", "a", "--local"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stdout.contains("Removed a and its tokens from Keyport only (not revoked at local)"), "{stdout}");
    assert!(
        stderr.contains("warning: local did not revoke the tokens of a") && stderr.contains("could not reach"),
        "{stderr}"
    );
    assert_eq!(profile.json(&["list", "--json"]), serde_json::json!([]));
    assert_eq!(profile.keyring_lookup("account/a/access_token"), None);
    assert_eq!(profile.keyring_lookup("account/a/refresh_token"), None);
}

#[test]
fn revoking_an_unknown_account_fails() {
    let profile = Profile::new();
    let stderr = profile.fails(&["revoke", "nobody"]);
    assert!(stderr.contains("no account named `nobody`"), "{stderr}");
}

/// A provider with no revocation endpoint (added by its endpoints, without `--revoke-url`):
/// `revoke` says that nothing can be revoked, with exit status 7 on the command line and
/// `cannot_revoke` (-32014) on the socket, and removes nothing; the tokens stay active at
/// the server. Once the endpoints are given with `provider edit`, the same account is
/// revoked and the revocation checked by introspection.
#[test]
fn a_provider_without_a_revocation_endpoint_revokes_nothing_until_one_is_given() {
    let server = OidcServer::start();
    let profile = Profile::new();
    let issuer = &server.issuer;
    profile.ok(&[
        "provider",
        "add",
        "plain",
        "--auth-url",
        &format!("{issuer}/auth"),
        "--token-url",
        &format!("{issuer}/token"),
        "--client-id",
        oidc::NATIVE_CLIENT,
        "--scope",
        "openid offline_access",
    ]);
    profile.ok(&["add", "plain", "--name", "a"]);
    let access = profile.keyring_lookup("account/a/access_token").expect("access token in the keyring");
    let refresh = profile.keyring_lookup("account/a/refresh_token");

    let output = profile.run(&["revoke", "a"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(7), "{stderr}");
    assert!(
        stderr.contains("no revocation endpoint") && stderr.contains("nothing was revoked and a was kept"),
        "{stderr}"
    );
    assert!(stderr.contains("keyport provider edit plain --revoke-url URL"), "{stderr}");
    assert!(output.stdout.is_empty(), "{}", String::from_utf8_lossy(&output.stdout));
    assert_eq!(profile.json(&["list", "--json"])[0]["name"], "a", "the account is kept");
    assert_eq!(server.introspect(&access)["active"], true);

    // The same on the socket, served by the daemon `keyport revoke` started.
    profile.allow_me("a");
    let socket = profile.root().join("run/keyport/keyport.sock");
    let mut rpc = crate::support::rpc::Rpc::connect(&socket, std::time::Duration::from_secs(30));
    let error = rpc.err("accounts.revoke", serde_json::json!({"account": "a"}));
    assert_eq!(error["code"], -32014, "{error}");
    assert!(error["message"].as_str().unwrap().contains("nothing was revoked"), "{error}");
    assert_eq!(profile.json(&["list", "--json"])[0]["name"], "a", "still kept");

    let out = profile.typed_ok(&[
        "provider",
        "edit",
        "plain",
        "--revoke-url",
        &format!("{issuer}/token/revocation"),
        "--introspection-url",
        &format!("{issuer}/token/introspection"),
    ]);
    assert!(out.contains("its accounts are unchanged"), "{out}");
    let list = profile.ok(&["provider", "list"]);
    assert!(list.contains(&format!("revocation:           {issuer}/token/revocation  (given)")), "{list}");
    assert!(list.contains("device authorization: none"), "{list}");

    let out = profile.ok(&["revoke", "a"]);
    assert!(out.contains("Revoked a at plain and removed it."), "{out}");
    assert!(out.contains("checked: plain's introspection endpoint says its tokens are no longer active"), "{out}");
    assert_eq!(server.introspect(&access)["active"], false);
    if let Some(refresh) = refresh {
        assert_eq!(server.introspect(&refresh)["active"], false);
    }
}
