//! End to end: the mix-up attack of RFC 9700 §4.4, against the real `oidc-provider` as the
//! honest server. A provider added by its endpoints (`mixup`, `rogue`) is an attacker: its
//! authorization endpoint sends the browser on to the honest server with Keyport's public
//! client id there, the same `state`, PKCE challenge and redirect URI; the user signs in at the
//! honest server, which they trust. Were the code accepted, Keyport would post it, with the
//! PKCE verifier, to the attacker's token endpoint, and the attacker could redeem it at the
//! honest server for the user's tokens. Keyport stops it twice over: the honest server's
//! `iss` in the redirect does not belong to the attacker's provider, and each provider's
//! redirect path is its own, so an honest server that checks paths never answers another
//! provider's listener. The attacker's token endpoint must never see a request.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::oidc::{self, OidcServer};
use crate::support::profile::Profile;

/// What the attacker's authorization endpoint does with Keyport's redirect URI.
#[derive(Clone, Copy)]
enum RedirectUri {
    /// Passes it on as it came.
    Keep,
    /// Swaps the path for the honest provider's (`/callback/local`), keeping the port of the
    /// listener waiting for the attacker's sign-in.
    HonestPath,
}

/// The attacker's server: `/authorize` redirects to the honest server's authorization
/// endpoint; every request to `/token` is counted (and refused).
struct Attacker {
    port: u16,
    token_requests: Arc<AtomicUsize>,
}

impl Attacker {
    fn start(honest: &OidcServer, redirect: RedirectUri) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let token_requests = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&token_requests);
        let honest_auth = format!("{}/auth", honest.issuer);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                let target = request_line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let url = url::Url::parse(&format!("http://attacker{target}")).unwrap();
                let answer = if url.path() == "/authorize" {
                    let mut onward = url::Url::parse(&honest_auth).unwrap();
                    {
                        let mut query = onward.query_pairs_mut();
                        for (name, value) in url.query_pairs() {
                            match &*name {
                                "client_id" => query.append_pair("client_id", oidc::NATIVE_CLIENT),
                                "scope" => query.append_pair("scope", "openid email"),
                                "redirect_uri" => {
                                    let mut uri = url::Url::parse(&value).unwrap();
                                    if let RedirectUri::HonestPath = redirect {
                                        uri.set_path("/callback/local");
                                    }
                                    query.append_pair("redirect_uri", uri.as_str())
                                }
                                _ => query.append_pair(&name, &value),
                            };
                        }
                        if !url.query_pairs().any(|(name, _)| name == "scope") {
                            query.append_pair("scope", "openid email");
                        }
                    }
                    format!(
                        "HTTP/1.1 302 Found\r\nLocation: {onward}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    )
                } else {
                    if url.path() == "/token" {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                    let body = r#"{"error":"invalid_grant"}"#;
                    format!(
                        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                         Connection: close\r\n\r\n{body}",
                        body.len()
                    )
                };
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        Self { port, token_requests }
    }

    /// Adds the attacker as provider `name`, by its endpoints, as a user tricked into it would.
    fn add_as(&self, profile: &Profile, name: &str) {
        let base = format!("http://127.0.0.1:{}", self.port);
        profile.ok(&[
            "provider",
            "add",
            name,
            "--auth-url",
            &format!("{base}/authorize"),
            "--token-url",
            &format!("{base}/token"),
            "--client-id",
            "attacker-client",
        ]);
    }

    fn token_requests(&self) -> usize {
        self.token_requests.load(Ordering::SeqCst)
    }
}

/// The driver's delivery of the authorization response to the loopback listener, waited for
/// a few seconds.
fn delivered_redirect(profile: &Profile) -> Option<serde_json::Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        if let Some(line) = profile.driver_log().into_iter().find(|l| l["step"] == "redirect") {
            return Some(line);
        }
        if std::time::Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn setup(redirect: RedirectUri) -> (OidcServer, Profile, Attacker) {
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_local_provider(&server);
    let attacker = Attacker::start(&server, redirect);
    (server, profile, attacker)
}

/// The honest server accepts the attacker's redirect URI (its path is registered there, as
/// at a server that does not check paths), signs the user in and sends its code with its
/// `iss`: Keyport refuses before any token request.
#[test]
fn a_code_from_another_issuer_is_refused_before_it_reaches_any_token_endpoint() {
    let (server, profile, attacker) = setup(RedirectUri::Keep);
    attacker.add_as(&profile, "mixup");
    let output = profile.run(&["add", "mixup", "--timeout", "60"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("mix-up") && stderr.contains(&server.issuer), "{stderr}");
    // Keyport may exit before the driver has logged the answer it got.
    let redirect = delivered_redirect(&profile).unwrap_or_else(|| panic!("{:#?}", profile.driver_log()));
    assert!(redirect["url"].as_str().unwrap().contains("/callback/mixup?code="), "{redirect}");
    assert!(redirect["url"].as_str().unwrap().contains("iss="), "the honest server names itself: {redirect}");
    assert_eq!(attacker.token_requests(), 0, "the code went to the attacker's token endpoint");
    assert_eq!(profile.json(&["list", "--json"]), serde_json::json!([]));

    // The honest provider still signs in as before.
    profile.ok(&["add", "local"]);
    assert_eq!(profile.json(&["list", "--json"])[0]["provider"], "local");
}

/// The other half: the attacker's provider has its own redirect path, which the honest
/// server does not know. Passed on as it came, the honest server refuses the authorization
/// request; swapped for the honest provider's path, the code comes back to the attacker's
/// sign-in listener on a path that is not its own, and is ignored. Either way the sign-in
/// ends by its timeout and the attacker gets nothing.
#[test]
fn a_provider_s_own_redirect_path_keeps_an_honest_server_from_answering_another_provider() {
    for redirect in [RedirectUri::Keep, RedirectUri::HonestPath] {
        let (_server, profile, attacker) = setup(redirect);
        attacker.add_as(&profile, "rogue");
        let providers = profile.json(&["provider", "list", "--json"]);
        let rogue = providers.as_array().unwrap().iter().find(|p| p["name"] == "rogue").unwrap();
        assert_eq!(rogue["redirect_uri"], "http://127.0.0.1/callback/rogue");

        let output = profile.run(&["add", "rogue", "--timeout", "5"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("not completed within 5 seconds"), "{stderr}");
        let log = profile.driver_log();
        match redirect {
            RedirectUri::Keep => assert!(
                !log.iter().any(|l| l["step"] == "redirect"),
                "the honest server must refuse an unregistered redirect URI: {log:#?}"
            ),
            RedirectUri::HonestPath => {
                let delivered = delivered_redirect(&profile).unwrap_or_else(|| panic!("{log:#?}"));
                assert!(delivered["url"].as_str().unwrap().contains("/callback/local?code="), "{delivered}");
                assert_ne!(delivered["status"], 200, "the listener must ignore another provider's path: {delivered}");
            }
        }
        assert_eq!(attacker.token_requests(), 0, "the code went to the attacker's token endpoint");
        assert_eq!(profile.json(&["list", "--json"]), serde_json::json!([]));
    }
}
