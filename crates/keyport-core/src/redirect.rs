//! The loopback redirect listener (RFC 8252 §7.3).
//!
//! Binds an ephemeral port on 127.0.0.1 or ::1 only, serves exactly one genuine redirect
//! and then closes. A request is genuine when it is a `GET` on the registered path whose
//! `state` matches; anything else (other paths, `/favicon.ico`, a missing or forged `state`,
//! a response without `code`) gets a 400 page and the listener keeps waiting, so a stray or
//! hostile request can neither complete nor abort the sign-in. An error response (`error=`)
//! with the right `state` ends the sign-in with the provider's reason.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use url::Url;

use crate::error::Error;
use crate::provider::RedirectHost;
use crate::secret::Secret;

/// How often the wait loop looks at the cancel flag and the deadline.
const POLL: Duration = Duration::from_millis(100);

/// The genuine redirect: an authorization code and, when sent, the RFC 9207 issuer.
#[derive(Debug)]
pub struct Callback {
    /// The authorization code.
    pub code: Secret,
    /// The `iss` parameter, when present.
    pub iss: Option<String>,
}

/// How a request to the listener was judged.
#[derive(Debug, PartialEq, Eq)]
pub enum Judgement {
    /// The genuine redirect with a code.
    Code { code: String, iss: Option<String> },
    /// The genuine redirect with an error.
    Refused { error: String, description: Option<String>, iss: Option<String> },
    /// Not part of this sign-in; the reason is for logs and the 400 page.
    Stray(&'static str),
}

/// Judges one request target (`/path?query`) against the expected path and state.
pub fn judge(target: &str, path: &str, state: &str) -> Judgement {
    let Ok(url) = Url::parse("http://loopback.invalid").and_then(|base| base.join(target)) else {
        return Judgement::Stray("unreadable request");
    };
    if url.path() != path {
        return Judgement::Stray("not the redirect path");
    }
    let mut got_state = None;
    let mut code = None;
    let mut error = None;
    let mut description = None;
    let mut iss = None;
    for (key, value) in url.query_pairs() {
        let slot = match key.as_ref() {
            "state" => &mut got_state,
            "code" => &mut code,
            "error" => &mut error,
            "error_description" => &mut description,
            "iss" => &mut iss,
            _ => continue,
        };
        if slot.is_some() {
            return Judgement::Stray("a parameter appears twice");
        }
        *slot = Some(value.into_owned());
    }
    match got_state {
        None => return Judgement::Stray("no state"),
        Some(got) if !constant_time_eq(got.as_bytes(), state.as_bytes()) => return Judgement::Stray("wrong state"),
        Some(_) => {}
    }
    match (code, error) {
        (_, Some(error)) => Judgement::Refused { error, description, iss },
        (Some(code), None) if !code.is_empty() => Judgement::Code { code, iss },
        _ => Judgement::Stray("no code"),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A one-shot HTTP listener for the authorization redirect.
pub struct RedirectListener {
    server: tiny_http::Server,
    redirect_uri: Url,
    path: String,
}

impl std::fmt::Debug for RedirectListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedirectListener").field("redirect_uri", &self.redirect_uri.as_str()).finish()
    }
}

impl RedirectListener {
    /// Binds an ephemeral loopback port. `localhost` binds 127.0.0.1: never a wildcard address.
    pub fn bind(host: RedirectHost, path: &str) -> Result<Self, Error> {
        let address: SocketAddr = match host {
            RedirectHost::Ipv4 | RedirectHost::Localhost => (Ipv4Addr::LOCALHOST, 0).into(),
            RedirectHost::Ipv6 => (Ipv6Addr::LOCALHOST, 0).into(),
        };
        let server = tiny_http::Server::http(address)
            .map_err(|err| Error::RedirectListener { address: address.to_string(), detail: err.to_string() })?;
        let port = server
            .server_addr()
            .to_ip()
            .map(|bound| bound.port())
            .ok_or_else(|| Error::RedirectListener { address: address.to_string(), detail: "no TCP port".into() })?;
        let redirect_uri = Url::parse(&format!("http://{}:{port}{path}", host.as_str()))
            .map_err(|err| Error::InvalidProvider { reason: format!("redirect URI: {err}") })?;
        tracing::debug!(redirect_uri = %redirect_uri, "listening for the redirect");
        Ok(Self { server, redirect_uri, path: path.to_owned() })
    }

    /// The redirect URI to send in the authorization request.
    pub fn redirect_uri(&self) -> &Url {
        &self.redirect_uri
    }

    /// Serves requests until the genuine redirect arrives, `deadline` passes or `cancelled`
    /// is set. Consumes the listener: it serves one sign-in only.
    pub fn wait(self, state: &str, deadline: Instant, cancelled: &AtomicBool) -> Result<Callback, Error> {
        loop {
            if cancelled.load(Ordering::Relaxed) {
                return Err(Error::SignInCancelled);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::SignInTimedOut { secs: 0 });
            }
            let request = match self.server.recv_timeout(POLL.min(deadline - now)) {
                Ok(Some(request)) => request,
                Ok(None) => continue,
                Err(err) => {
                    return Err(Error::RedirectListener {
                        address: self.redirect_uri.to_string(),
                        detail: err.to_string(),
                    });
                }
            };
            let judgement = if *request.method() == tiny_http::Method::Get {
                judge(request.url(), &self.path, state)
            } else {
                Judgement::Stray("not a GET")
            };
            match judgement {
                Judgement::Stray(reason) => {
                    tracing::warn!(
                        path = request.url().split('?').next().unwrap_or(""),
                        reason,
                        "ignored a request that is not this sign-in's redirect"
                    );
                    respond(request, 400, page::stray(reason));
                }
                Judgement::Code { code, iss } => {
                    respond(request, 200, page::success());
                    return Ok(Callback { code: Secret::new(code), iss });
                }
                Judgement::Refused { error, description, iss: _ } => {
                    respond(request, 200, page::refused(&error, description.as_deref()));
                    return Err(Error::AuthorizationDenied { error, description });
                }
            }
        }
    }
}

fn respond(request: tiny_http::Request, status: u16, html: String) {
    let headers = [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Cache-Control", "no-store"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"),
        ("Connection", "close"),
    ];
    let mut response = tiny_http::Response::from_string(html).with_status_code(status);
    for (name, value) in headers {
        response.add_header(tiny_http::Header::from_bytes(name, value).expect("static headers are valid"));
    }
    if let Err(err) = request.respond(response) {
        tracing::debug!(%err, "the browser went away before the page was sent");
    }
}

/// The small pages the browser shows.
mod page {
    fn layout(title: &str, body: &str) -> String {
        format!(
            "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
             <title>{title} - Keyport</title>\
             <style>body{{font:16px system-ui,sans-serif;max-width:32em;margin:15vh auto;padding:0 1em;color:#1b1f24;background:#fff}}\
             @media(prefers-color-scheme:dark){{body{{color:#e6e6e6;background:#16181c}}}}h1{{font-size:1.4em}}</style>\
             <h1>{title}</h1>{body}</html>"
        )
    }

    pub fn success() -> String {
        layout("Signed in", "<p>Keyport has your sign-in. You can close this tab and go back to Keyport.</p>")
    }

    pub fn refused(error: &str, description: Option<&str>) -> String {
        let detail = description.map(|d| format!(" ({})", escape(d))).unwrap_or_default();
        layout(
            "Sign-in not completed",
            &format!(
                "<p>The provider answered <code>{}</code>{detail}. Nothing was saved. You can close this tab.</p>",
                escape(error)
            ),
        )
    }

    pub fn stray(reason: &str) -> String {
        layout(
            "Not a Keyport sign-in",
            &format!("<p>This request does not belong to the sign-in Keyport is waiting for ({}).</p>", escape(reason)),
        )
    }

    pub fn escape(text: &str) -> String {
        text.chars()
            .map(|c| match c {
                '<' => "&lt;".to_owned(),
                '>' => "&gt;".to_owned(),
                '&' => "&amp;".to_owned(),
                '"' => "&quot;".to_owned(),
                '\'' => "&#39;".to_owned(),
                other => other.to_string(),
            })
            .collect()
    }
}

/// Waits for the redirect on a blocking thread, so the async caller can select on Ctrl-C; a
/// dropped future sets the cancel flag and the thread ends within [`POLL`].
pub(crate) async fn wait_async(
    listener: RedirectListener,
    state: String,
    timeout: Duration,
) -> Result<Callback, Error> {
    struct CancelOnDrop(std::sync::Arc<AtomicBool>);
    impl Drop for CancelOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let cancelled = std::sync::Arc::new(AtomicBool::new(false));
    let guard = CancelOnDrop(cancelled.clone());
    let deadline = Instant::now() + timeout;
    let result = tokio::task::spawn_blocking(move || listener.wait(&state, deadline, &cancelled))
        .await
        .unwrap_or(Err(Error::SignInCancelled));
    drop(guard);
    result.map_err(|err| match err {
        Error::SignInTimedOut { .. } => Error::SignInTimedOut { secs: timeout.as_secs() },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn genuine_redirect_is_recognised() {
        assert_eq!(
            judge("/callback?code=abc&state=s1&iss=https%3A%2F%2Fid.example", "/callback", "s1"),
            Judgement::Code { code: "abc".into(), iss: Some("https://id.example".into()) }
        );
    }

    #[test]
    fn stray_requests_are_recognised() {
        for (target, why) in [
            ("/favicon.ico", "not the redirect path"),
            ("/callback?code=abc", "no state"),
            ("/callback?code=abc&state=forged", "wrong state"),
            ("/callback?state=s1", "no code"),
            ("/callback?code=&state=s1", "no code"),
            ("/callback?code=a&code=b&state=s1", "a parameter appears twice"),
            ("/callbackx?code=a&state=s1", "not the redirect path"),
            ("/callback?error=access_denied", "no state"),
            ("/callback?error=access_denied&state=forged", "wrong state"),
        ] {
            assert_eq!(judge(target, "/callback", "s1"), Judgement::Stray(why), "{target}");
        }
    }

    #[test]
    fn error_with_the_right_state_ends_the_sign_in() {
        assert_eq!(
            judge("/callback?error=access_denied&error_description=no+thanks&state=s1", "/callback", "s1"),
            Judgement::Refused { error: "access_denied".into(), description: Some("no thanks".into()), iss: None }
        );
    }

    #[test]
    fn pages_escape_provider_text() {
        let html = page::refused("<script>", Some("\"x\" & y"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;") && html.contains("&quot;x&quot; &amp; y"));
    }

    fn get(port: u16, target: &str) -> String {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(stream, "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        reply
    }

    #[test]
    fn listener_ignores_strays_then_takes_the_genuine_redirect_and_closes() {
        let listener = RedirectListener::bind(RedirectHost::Ipv4, "/callback").unwrap();
        let uri = listener.redirect_uri().clone();
        assert_eq!(uri.host_str(), Some("127.0.0.1"));
        assert_eq!(uri.path(), "/callback");
        let port = uri.port().unwrap();
        let client = std::thread::spawn(move || {
            let forged = get(port, "/callback?code=evil&state=forged");
            let favicon = get(port, "/favicon.ico");
            let genuine = get(port, "/callback?code=good&state=s1");
            (forged, favicon, genuine)
        });
        let flag = AtomicBool::new(false);
        let callback = listener.wait("s1", Instant::now() + Duration::from_secs(10), &flag).unwrap();
        assert_eq!(callback.code.expose(), "good");
        let (forged, favicon, genuine) = client.join().unwrap();
        assert!(forged.starts_with("HTTP/1.1 400"), "{forged}");
        assert!(favicon.starts_with("HTTP/1.1 400"), "{favicon}");
        assert!(genuine.starts_with("HTTP/1.1 200") && genuine.contains("Signed in"), "{genuine}");
        // Single use: the port closes once the listener is gone (tiny_http's accept thread
        // ends shortly after the server is dropped).
        let closing = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            assert!(closing.elapsed() < Duration::from_secs(5), "the listener still accepts connections");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn listener_times_out_and_can_be_cancelled() {
        let listener = RedirectListener::bind(RedirectHost::Ipv4, "/callback").unwrap();
        let flag = AtomicBool::new(false);
        let err = listener.wait("s1", Instant::now() + Duration::from_millis(300), &flag).unwrap_err();
        assert!(matches!(err, Error::SignInTimedOut { .. }));
        let listener = RedirectListener::bind(RedirectHost::Ipv4, "/callback").unwrap();
        let flag = AtomicBool::new(true);
        assert!(matches!(
            listener.wait("s1", Instant::now() + Duration::from_secs(60), &flag),
            Err(Error::SignInCancelled)
        ));
    }

    #[test]
    fn listener_binds_loopback_only() {
        let listener = RedirectListener::bind(RedirectHost::Localhost, "/cb").unwrap();
        assert_eq!(listener.redirect_uri().host_str(), Some("localhost"));
        let addr = listener.server.server_addr().to_ip().unwrap();
        assert!(addr.ip().is_loopback());
        if let Ok(v6) = RedirectListener::bind(RedirectHost::Ipv6, "/cb") {
            assert!(v6.server.server_addr().to_ip().unwrap().ip().is_loopback());
            assert_eq!(v6.redirect_uri().host_str(), Some("[::1]"));
        }
    }
}
