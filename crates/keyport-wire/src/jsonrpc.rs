//! JSON-RPC 2.0 envelopes: [`Request`], [`Response`], [`Notification`], [`ErrorObject`], and
//! [`ServerMessage`] for what a client reads.
//!
//! Two deliberate restrictions of the specification, both answered with -32600 (invalid
//! request) and a `null` id: **batches** (a JSON array of requests) are not supported, and
//! **client notifications** (a request without `id`) are not accepted, so a forgotten `id`
//! is reported instead of silently ignored. Request ids are integers (signed 64-bit) or
//! strings; `null`, fractions, booleans and objects are refused. `params` is an object (by
//! name) or absent; an array of positional params is refused with -32602.
//!
//! What each method means lives in [`crate::method`]; this module knows nothing of methods.

use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::code::ErrorCode;

/// The `"jsonrpc": "2.0"` member: serializes as `"2.0"` and accepts nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Version;

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("2.0")
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Version;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"the string "2.0""#)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Version, E> {
                if v == "2.0" { Ok(Version) } else { Err(E::invalid_value(de::Unexpected::Str(v), &self)) }
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// A request id, chosen by the client and echoed in the response.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Id {
    /// An integer id.
    Number(i64),
    /// A string id.
    String(String),
}

impl Id {
    /// The id in a JSON value, if it is an acceptable one (an `i64` or a string).
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Number(n) => n.as_i64().map(Self::Number),
            Value::String(s) => Some(Self::String(s)),
            _ => None,
        }
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::String(s) => write!(f, "{s:?}"),
        }
    }
}

impl From<i64> for Id {
    fn from(n: i64) -> Self {
        Self::Number(n)
    }
}

impl From<&str> for Id {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}

/// The `error` member of a failed [`Response`]. It is also the error type of typed calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{message} (error {code})")]
pub struct ErrorObject {
    /// The number; see [`ErrorCode`]. May be one this version does not know.
    pub code: i64,
    /// A sentence for people (see the convention in [`crate::code`]). Never a secret.
    pub message: String,
    /// Not used by Keyport so far; clients ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl ErrorObject {
    /// An error with a specific message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code: code.code(), message: message.into(), data: None }
    }

    /// The refusal of the per-program access rules, with the command that lifts it.
    /// `program` is the absolute path of the peer's executable.
    pub fn access_denied(program: &str, account: &str) -> Self {
        Self::new(
            ErrorCode::AccessDenied,
            format!(
                "access denied: {program} may not use account `{account}`; \
                 to allow it, run: keyport allow {program} {account}"
            ),
        )
    }

    /// The code as an [`ErrorCode`], or `None` when a newer daemon sent one this version
    /// does not know.
    pub fn known_code(&self) -> Option<ErrorCode> {
        ErrorCode::from_code(self.code)
    }
}

impl From<ErrorCode> for ErrorObject {
    /// The error with the code's default message.
    fn from(code: ErrorCode) -> Self {
        Self::new(code, code.default_message())
    }
}

/// A request from a client: `{"jsonrpc":"2.0","id":ID,"method":NAME,"params":{...}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request {
    /// Always `"2.0"`.
    pub jsonrpc: Version,
    /// Echoed in the response.
    pub id: Id,
    /// The method name, as sent (it may name no method; see [`crate::Call::from_request`]).
    pub method: String,
    /// Named params, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<Map<String, Value>>,
}

impl Request {
    /// Reads one request line. `Err` is the error response to send back: -32700 for bad
    /// JSON, -32600 for a batch or a malformed request, -32602 for positional params.
    pub fn parse(line: &[u8]) -> Result<Self, Response> {
        match serde_json::from_slice(line) {
            Ok(value) => Self::from_value(value),
            // serde_json's syntax errors say where, never what: no input is echoed.
            Err(err) => Err(reject(None, ErrorCode::ParseError, format!("parse error: {err}"))),
        }
    }

    /// Checks a parsed JSON value as a request (see [`Request::parse`]).
    pub fn from_value(value: Value) -> Result<Self, Response> {
        let mut object = match value {
            Value::Object(object) => object,
            Value::Array(_) => {
                return Err(reject(
                    None,
                    ErrorCode::InvalidRequest,
                    "invalid request: batches (JSON arrays) are not supported; send one request per line",
                ));
            }
            _ => return Err(reject(None, ErrorCode::InvalidRequest, "invalid request: a request is a JSON object")),
        };
        let id = match object.remove("id") {
            None => {
                return Err(reject(
                    None,
                    ErrorCode::InvalidRequest,
                    "invalid request: `id` is missing (Keyport does not accept notifications)",
                ));
            }
            Some(id) => Id::from_value(id).ok_or_else(|| {
                reject(None, ErrorCode::InvalidRequest, "invalid request: `id` must be an integer or a string")
            })?,
        };
        let invalid = |id: Id, message: &str| Err(reject(Some(id), ErrorCode::InvalidRequest, message));
        if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return invalid(id, r#"invalid request: `jsonrpc` must be "2.0""#);
        }
        let Some(Value::String(method)) = object.remove("method") else {
            return invalid(id, "invalid request: `method` must be a string");
        };
        let params = match object.remove("params") {
            None => None,
            Some(Value::Object(params)) => Some(params),
            Some(Value::Array(_)) => {
                return Err(reject(
                    Some(id),
                    ErrorCode::InvalidParams,
                    "invalid params: params are named (an object), not positional (an array)",
                ));
            }
            Some(_) => return invalid(id, "invalid request: `params` must be an object"),
        };
        Ok(Self { jsonrpc: Version, id, method, params })
    }
}

impl<'de> Deserialize<'de> for Request {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::from_value(Value::deserialize(deserializer)?).map_err(|response| match response.outcome {
            Err(error) => de::Error::custom(error.message),
            Ok(_) => de::Error::custom("invalid request"),
        })
    }
}

fn reject(id: Option<Id>, code: ErrorCode, message: impl Into<String>) -> Response {
    Response::error(id, ErrorObject::new(code, message))
}

/// The answer to one request: `{"jsonrpc":"2.0","id":ID,"result":...}` or
/// `{"jsonrpc":"2.0","id":ID,"error":{"code":N,"message":"..."}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The request's id; `None` (sent as `null`) only when the request could not be read.
    pub id: Option<Id>,
    /// `result` or `error`.
    pub outcome: Result<Value, ErrorObject>,
}

/// Why a typed call ([`Response::into_typed`]) gave no result.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The server answered with an error.
    #[error(transparent)]
    Server(#[from] ErrorObject),
    /// The result does not have the documented shape.
    #[error("the result does not have the expected shape: {0}")]
    Decode(#[from] serde_json::Error),
}

impl Response {
    /// A success carrying `result`.
    pub fn result(id: Id, result: &impl Serialize) -> Result<Self, serde_json::Error> {
        Ok(Self { id: Some(id), outcome: Ok(serde_json::to_value(result)?) })
    }

    /// A failure.
    pub fn error(id: Option<Id>, error: ErrorObject) -> Self {
        Self { id, outcome: Err(error) }
    }

    /// The result as the method's result type, or the server's error.
    pub fn into_typed<T: DeserializeOwned>(self) -> Result<T, CallError> {
        Ok(serde_json::from_value(self.outcome?)?)
    }

    fn from_value(value: Value) -> Result<Self, String> {
        let Value::Object(mut object) = value else { return Err("a response is a JSON object".into()) };
        if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return Err(r#"`jsonrpc` must be "2.0""#.into());
        }
        let id = match object.remove("id") {
            Some(Value::Null) => None,
            Some(id) => Some(Id::from_value(id).ok_or("`id` must be an integer, a string or null")?),
            None => return Err("`id` is missing".into()),
        };
        let outcome = match (object.remove("result"), object.remove("error")) {
            (Some(result), None) => Ok(result),
            (None, Some(error)) => Err(serde_json::from_value(error).map_err(|e| format!("`error`: {e}"))?),
            _ => return Err("a response has exactly one of `result` and `error`".into()),
        };
        Ok(Self { id, outcome })
    }
}

impl Serialize for Response {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("jsonrpc", &Version)?;
        map.serialize_entry("id", &self.id)?;
        match &self.outcome {
            Ok(result) => map.serialize_entry("result", result)?,
            Err(error) => map.serialize_entry("error", error)?,
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Response {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::from_value(Value::deserialize(deserializer)?).map_err(de::Error::custom)
    }
}

/// A message from the server that answers nothing: `{"jsonrpc":"2.0","method":NAME,"params":...}`.
/// Keyport sends one kind, `event` (see [`crate::Event`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Always `"2.0"`.
    pub jsonrpc: Version,
    /// The notification's name.
    pub method: String,
    /// Its params.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
}

/// One line a client reads: the answer to one of its requests, or a notification.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ServerMessage {
    /// A response (it has an `id`).
    Response(Response),
    /// A notification (it has a `method`).
    Notification(Notification),
}

impl ServerMessage {
    /// Reads one line from the server.
    pub fn parse(line: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(line)
    }
}

impl<'de> Deserialize<'de> for ServerMessage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        if value.get("method").is_some() {
            serde_json::from_value(value).map(Self::Notification).map_err(de::Error::custom)
        } else {
            Response::from_value(value).map(Self::Response).map_err(de::Error::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rejected(line: &str) -> (Option<Id>, i64) {
        let response = Request::parse(line.as_bytes()).unwrap_err();
        (response.id, response.outcome.unwrap_err().code)
    }

    #[test]
    fn malformed_json_is_a_parse_error() {
        assert_eq!(rejected(r#"{"jsonrpc":"2.0","id":1,"method":"#), (None, -32700));
        assert_eq!(rejected("not json"), (None, -32700));
        assert_eq!(rejected("\u{FEFF}"), (None, -32700));
        assert_eq!(Request::parse(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\"}").unwrap_err().id, None);
    }

    #[test]
    fn batches_are_invalid_requests() {
        assert_eq!(rejected(r#"[{"jsonrpc":"2.0","id":1,"method":"accounts.list"}]"#), (None, -32600));
        assert_eq!(rejected("[]"), (None, -32600));
        let message = Request::parse(b"[]").unwrap_err().outcome.unwrap_err().message;
        assert!(message.contains("batches"), "{message}");
    }

    #[test]
    fn malformed_requests_are_invalid_requests_with_the_id_when_known() {
        assert_eq!(rejected(r#"{"jsonrpc":"2.0","method":"accounts.list"}"#), (None, -32600));
        assert_eq!(rejected(r#"{"jsonrpc":"2.0","id":null,"method":"accounts.list"}"#), (None, -32600));
        assert_eq!(rejected(r#"{"jsonrpc":"2.0","id":1.5,"method":"accounts.list"}"#), (None, -32600));
        assert_eq!(rejected(r#"{"jsonrpc":"1.0","id":7,"method":"accounts.list"}"#), (Some(Id::Number(7)), -32600));
        assert_eq!(rejected(r#"{"jsonrpc":"2.0","id":"a","method":3}"#), (Some(Id::from("a")), -32600));
        assert_eq!(rejected(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":null}"#), (Some(Id::Number(1)), -32600));
        assert_eq!(rejected(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":["a"]}"#), (Some(Id::Number(1)), -32602));
        assert_eq!(rejected("42"), (None, -32600));
    }

    #[test]
    fn requests_ignore_unknown_members_and_round_trip() {
        let line = r#"{"jsonrpc":"2.0","id":"x-1","method":"accounts.list","future":true}"#;
        let request = Request::parse(line.as_bytes()).unwrap();
        assert_eq!(request.id, Id::from("x-1"));
        assert_eq!(request.method, "accounts.list");
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"jsonrpc": "2.0", "id": "x-1", "method": "accounts.list"})
        );
    }

    #[test]
    fn responses_and_notifications_are_told_apart() {
        let ok = r#"{"jsonrpc":"2.0","id":1,"result":{}}"#;
        let err = r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}"#;
        let note = r#"{"jsonrpc":"2.0","method":"event","params":{"event":"added","account":"a"}}"#;
        for line in [ok, err, note] {
            let message = ServerMessage::parse(line.as_bytes()).unwrap();
            let reparsed: Value = serde_json::from_str(line).unwrap();
            assert_eq!(serde_json::to_value(&message).unwrap(), reparsed);
        }
        let ServerMessage::Response(response) = ServerMessage::parse(err.as_bytes()).unwrap() else { panic!() };
        assert_eq!(response.outcome.unwrap_err().known_code(), Some(ErrorCode::ParseError));
        assert!(ServerMessage::parse(br#"{"jsonrpc":"2.0","id":1,"result":{},"error":{}}"#).is_err());
        assert!(ServerMessage::parse(br#"{"jsonrpc":"2.0","id":1}"#).is_err());
    }

    #[test]
    fn access_denied_names_the_command_that_lifts_it() {
        let error = ErrorObject::access_denied("/usr/bin/thunderbird", "alice@example.com");
        assert_eq!(error.known_code(), Some(ErrorCode::AccessDenied));
        assert!(error.message.ends_with("keyport allow /usr/bin/thunderbird alice@example.com"), "{}", error.message);
    }
}
