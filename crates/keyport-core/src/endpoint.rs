//! The one rule for every URL Keyport talks to: HTTPS, or plain HTTP to a loopback host.
//!
//! Checked when a provider is configured or discovered, and again by the HTTP client before
//! each request, so a bad URL cannot slip in by another path.

use std::net::IpAddr;

use url::{Host, Url};

/// Why a URL is not acceptable as an OAuth endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// Not a URL at all.
    #[error("`{url}` is not a valid URL: {reason}")]
    Malformed { url: String, reason: String },
    /// `http://` to a host that is not loopback: tokens would cross the network in clear.
    #[error(
        "`{url}` uses plain http to a host that is not loopback; Keyport accepts http only for \
         127.0.0.1, [::1] and localhost, and https everywhere else"
    )]
    InsecureHttp { url: String },
    /// Neither http nor https.
    #[error("`{url}` has the scheme `{scheme}`; only https (and http for loopback hosts) is accepted")]
    UnsupportedScheme { url: String, scheme: String },
    /// Credentials or a fragment in an endpoint URL.
    #[error("`{url}` must not contain {what}")]
    Forbidden { url: String, what: &'static str },
}

/// Parses `text` and checks it against [`check`].
pub fn parse(text: &str) -> Result<Url, EndpointError> {
    let url = Url::parse(text.trim())
        .map_err(|err| EndpointError::Malformed { url: text.to_owned(), reason: err.to_string() })?;
    check(&url)?;
    Ok(url)
}

/// Accepts `https://` URLs and `http://` URLs whose host is loopback.
pub fn check(url: &Url) -> Result<(), EndpointError> {
    if !url.username().is_empty() || url.password().is_some() {
        return Err(EndpointError::Forbidden { url: display(url), what: "user credentials" });
    }
    if url.fragment().is_some() {
        return Err(EndpointError::Forbidden { url: display(url), what: "a fragment (#...)" });
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(EndpointError::InsecureHttp { url: display(url) }),
        other => Err(EndpointError::UnsupportedScheme { url: display(url), scheme: other.to_owned() }),
    }
}

/// Whether the URL's host is a loopback address or `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        None => false,
    }
}

/// The URL without its query, for messages: a query may carry codes or tokens.
fn display(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_is_accepted_everywhere() {
        assert!(parse("https://accounts.google.com/o/oauth2/v2/auth").is_ok());
        assert!(parse("https://10.0.0.1/token").is_ok());
    }

    #[test]
    fn http_only_for_loopback() {
        for ok in [
            "http://127.0.0.1:8080/token",
            "http://127.1.2.3/token",
            "http://[::1]:9/token",
            "http://localhost/x",
            "http://LOCALHOST./x",
            "http://dev.localhost/x",
        ] {
            assert!(parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com/token",
            "http://10.0.0.1/token",
            "http://127.0.0.1.nip.io/token",
            "http://localhost.example.com/x",
            "http://[::2]/x",
        ] {
            assert!(matches!(parse(bad), Err(EndpointError::InsecureHttp { .. })), "{bad}");
        }
    }

    #[test]
    fn other_schemes_credentials_and_fragments_are_refused() {
        assert!(matches!(parse("ftp://example.com/"), Err(EndpointError::UnsupportedScheme { .. })));
        assert!(matches!(parse("https://u:p@example.com/"), Err(EndpointError::Forbidden { .. })));
        assert!(matches!(parse("https://example.com/#x"), Err(EndpointError::Forbidden { .. })));
        assert!(matches!(parse("not a url"), Err(EndpointError::Malformed { .. })));
    }

    #[test]
    fn messages_leave_the_query_out() {
        let err = parse("http://example.com/cb?code=secret-code").unwrap_err();
        assert!(!err.to_string().contains("secret-code"), "{err}");
    }
}
