//! Test doubles for unit tests: an [`HttpClient`] that answers from a script and records
//! what it was asked.

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::http::{HttpClient, HttpError, Request, Response, ResponseFuture};

/// Answers requests in order from a queue of canned responses.
#[derive(Debug, Default)]
pub(crate) struct ScriptedHttp {
    replies: Mutex<VecDeque<Result<Response, HttpError>>>,
    pub requests: Mutex<Vec<(String, String, String)>>,
    /// The headers of each request, in the order of `requests`.
    pub headers: Mutex<Vec<http::HeaderMap>>,
}

impl ScriptedHttp {
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues a response with `status`, a JSON content type and `body`.
    pub fn reply(self, status: u16, body: &str) -> Self {
        let response = http::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(body.as_bytes().to_vec())
            .unwrap();
        self.replies.lock().unwrap().push_back(Ok(response));
        self
    }

    /// Queues a response with `status`, the given content type and `body`.
    pub fn reply_typed(self, status: u16, content_type: &str, body: &str) -> Self {
        let response = http::Response::builder()
            .status(status)
            .header("content-type", content_type)
            .body(body.as_bytes().to_vec())
            .unwrap();
        self.replies.lock().unwrap().push_back(Ok(response));
        self
    }

    /// Queues a failure to get any response (connection refused...).
    pub fn fail(self, error: HttpError) -> Self {
        self.replies.lock().unwrap().push_back(Err(error));
        self
    }

    /// The headers of the `index`th request so far.
    pub fn request_headers(&self, index: usize) -> http::HeaderMap {
        self.headers.lock().unwrap()[index].clone()
    }

    /// (method, URL, body) of each request so far.
    pub fn requests(&self) -> Vec<(String, String, String)> {
        self.requests.lock().unwrap().clone()
    }
}

impl HttpClient for ScriptedHttp {
    fn send(&self, request: Request) -> ResponseFuture<'_> {
        self.headers.lock().unwrap().push(request.headers().clone());
        self.requests.lock().unwrap().push((
            request.method().to_string(),
            request.uri().to_string(),
            String::from_utf8_lossy(request.body()).into_owned(),
        ));
        let reply = self.replies.lock().unwrap().pop_front().expect("an unexpected extra request");
        Box::pin(async move { reply })
    }
}
