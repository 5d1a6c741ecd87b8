//! HTTP, behind the [`HttpClient`] trait so tests can make a provider slow, broken or rude.
//!
//! The real client ([`ReqwestClient`]) uses rustls with the system's root certificates,
//! follows no redirects (a token endpoint that redirects is a misconfiguration, and following
//! one could leak credentials), bounds time and response size, and refuses URLs that break
//! the [`crate::endpoint`] rule.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::endpoint::{self, EndpointError};

/// A request as Keyport sends it.
pub type Request = http::Request<Vec<u8>>;
/// A response as Keyport reads it.
pub type Response = http::Response<Vec<u8>>;
/// The future an [`HttpClient`] returns.
pub type ResponseFuture<'a> = Pin<Box<dyn Future<Output = Result<Response, HttpError>> + Send + 'a>>;

/// Why a request got no response.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The URL breaks the endpoint rule.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// No response in time.
    #[error("{host} did not answer in time")]
    Timeout { host: String },
    /// Connection refused, DNS failure, TLS failure, reset...
    #[error("could not reach {host}: {detail}")]
    Unreachable { host: String, detail: String },
    /// The response body is larger than Keyport accepts.
    #[error("{host} sent a response larger than {limit} bytes")]
    TooLarge { host: String, limit: usize },
}

/// Sends one HTTP request and returns the whole response.
pub trait HttpClient: Send + Sync + Debug {
    /// Sends `request`. Non-2xx statuses are responses, not errors.
    fn send(&self, request: Request) -> ResponseFuture<'_>;
}

/// Largest response body accepted. Token and metadata documents are a few KiB; this leaves
/// room for large JWKS or userinfo documents without letting a hostile server fill memory.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Total time allowed for one request, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The real HTTP client.
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    inner: reqwest::Client,
}

impl ReqwestClient {
    /// A client with Keyport's settings.
    pub fn new() -> Result<Self, HttpError> {
        Self::with_timeout(REQUEST_TIMEOUT)
    }

    /// A client whose requests give up after `timeout` (tests use short ones).
    pub fn with_timeout(timeout: Duration) -> Result<Self, HttpError> {
        let inner = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10).min(timeout))
            .timeout(timeout)
            .user_agent(concat!("keyport/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| HttpError::Unreachable { host: "-".into(), detail: err.to_string() })?;
        Ok(Self { inner })
    }

    async fn send_checked(&self, request: Request) -> Result<Response, HttpError> {
        let url = url::Url::parse(&request.uri().to_string()).map_err(|err| EndpointError::Malformed {
            url: request.uri().path().to_owned(),
            reason: err.to_string(),
        })?;
        endpoint::check(&url)?;
        let host = url.host_str().unwrap_or("-").to_owned();
        let unreachable = |err: reqwest::Error| {
            if err.is_timeout() {
                HttpError::Timeout { host: host.clone() }
            } else {
                // `without_url` keeps query strings (which may hold codes) out of the message.
                HttpError::Unreachable { host: host.clone(), detail: error_chain(&err.without_url()) }
            }
        };
        let request = reqwest::Request::try_from(request).map_err(unreachable)?;
        let mut response = self.inner.execute(request).await.map_err(unreachable)?;
        let mut builder = http::Response::builder().status(response.status()).version(response.version());
        for (name, value) in response.headers() {
            builder = builder.header(name, value);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(HttpError::TooLarge { host, limit: MAX_RESPONSE_BYTES });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(builder.body(body).expect("a response built from a valid response"))
    }
}

impl HttpClient for ReqwestClient {
    fn send(&self, request: Request) -> ResponseFuture<'_> {
        Box::pin(self.send_checked(request))
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The longest `Retry-After` honoured: one hour. A server may ask for more (up to `u64::MAX`
/// seconds, or a date in the year 9999); Keyport then tries again after an hour, which costs
/// that server one request, where believing it could stop renewals for good.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);

/// Reads `Retry-After` (RFC 9110 §10.2.3) as a delay from `now`: delay-seconds (digits only;
/// more than fit in a `u64` count as [`MAX_RETRY_AFTER`]) or an HTTP date (a past one is no
/// delay), at most [`MAX_RETRY_AFTER`]. `None` when the header is absent or unreadable.
pub(crate) fn retry_after(headers: &http::HeaderMap, now: time::OffsetDateTime) -> Option<Duration> {
    let value = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        let secs = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    }
    let at = time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    // A difference of two representable dates always fits in `time::Duration`.
    let delay = Duration::try_from(at - now).unwrap_or(Duration::ZERO);
    Some(delay.min(MAX_RETRY_AFTER))
}

/// Reads a JSON body after checking the status is 2xx.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(response: &Response) -> Result<T, String> {
    if !response.status().is_success() {
        return Err(format!("HTTP status {}", response.status()));
    }
    serde_json::from_slice(response.body()).map_err(|err| format!("the response is not the JSON expected: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn after(value: &[u8]) -> Option<Duration> {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, http::HeaderValue::from_bytes(value).unwrap());
        retry_after(&headers, datetime!(2030-01-01 12:00 UTC))
    }

    #[test]
    fn retry_after_seconds_are_clamped_and_never_overflow() {
        assert_eq!(after(b"120"), Some(Duration::from_secs(120)));
        assert_eq!(after(b" 0 "), Some(Duration::ZERO));
        assert_eq!(after(b"3600"), Some(MAX_RETRY_AFTER));
        assert_eq!(after(b"3601"), Some(MAX_RETRY_AFTER));
        assert_eq!(after(b"18446744073709551615"), Some(MAX_RETRY_AFTER));
        assert_eq!(after(b"99999999999999999999999999999999999999"), Some(MAX_RETRY_AFTER));
        for unreadable in [&b"-1"[..], b"+5", b"1.5", b"1e400", b"soon", b"", b"\xff"] {
            assert_eq!(after(unreadable), None, "{}", String::from_utf8_lossy(unreadable));
        }
        assert_eq!(retry_after(&http::HeaderMap::new(), datetime!(2030-01-01 12:00 UTC)), None);
    }

    #[test]
    fn retry_after_dates_count_from_now_and_are_clamped() {
        assert_eq!(after(b"Tue, 01 Jan 2030 12:02:00 GMT"), Some(Duration::from_secs(120)));
        assert_eq!(after(b"Tue, 01 Jan 2030 11:00:00 GMT"), Some(Duration::ZERO), "a past date is no delay");
        assert_eq!(after(b"Fri, 31 Dec 9999 23:59:59 GMT"), Some(MAX_RETRY_AFTER));
        assert_eq!(after(b"Mon, 01 Jan 0001 00:00:00 GMT"), None, "year 1 is not a valid RFC 2822 year");
        assert_eq!(after(b"Tue, 01 Jan 2030 25:00:00 GMT"), None);
    }
}
