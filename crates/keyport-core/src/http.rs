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

/// Reads a JSON body after checking the status is 2xx.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(response: &Response) -> Result<T, String> {
    if !response.status().is_success() {
        return Err(format!("HTTP status {}", response.status()));
    }
    serde_json::from_slice(response.body()).map_err(|err| format!("the response is not the JSON expected: {err}"))
}
