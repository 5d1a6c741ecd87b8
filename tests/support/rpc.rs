//! A minimal JSON-RPC client for Keyport's socket (one request at a time, no notifications
//! expected), for tests that need the service's exact answers and error codes.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

/// One connection to the socket.
pub struct Rpc {
    stream: UnixStream,
    reader: BufReader<UnixStream>,
    next_id: i64,
}

impl Rpc {
    /// Connects to `socket`; a read waits at most `timeout` (then the call panics).
    pub fn connect(socket: &Path, timeout: Duration) -> Self {
        let stream = UnixStream::connect(socket).unwrap_or_else(|err| panic!("connect {}: {err}", socket.display()));
        stream.set_read_timeout(Some(timeout)).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Self { stream, reader, next_id: 1 }
    }

    /// Sends one request and returns the whole response (`result` or `error`).
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.try_call(method, params).unwrap_or_else(|err| panic!("{err}"))
    }

    /// [`Self::call`], with a lost connection or a timeout as an error instead of a panic.
    pub fn try_call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        let mut request = json!({"jsonrpc": "2.0", "id": id, "method": method});
        if !params.is_null() {
            request["params"] = params;
        }
        self.stream.write_all(format!("{request}\n").as_bytes()).map_err(|err| format!("write {request}: {err}"))?;
        loop {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) => return Err(format!("the service closed the connection before answering {request}")),
                Ok(_) => {}
                Err(err) => return Err(format!("no answer to {request}: {err}")),
            }
            let message: Value = serde_json::from_str(&line).map_err(|err| format!("not JSON ({err}): {line}"))?;
            if message.get("id") == Some(&json!(id)) {
                return Ok(message);
            }
        }
    }

    /// `result` of a call that must succeed.
    pub fn ok(&mut self, method: &str, params: Value) -> Value {
        let response = self.call(method, params);
        assert!(response.get("error").is_none(), "{method} failed: {response}");
        response["result"].clone()
    }

    /// `error` of a call that must fail.
    pub fn err(&mut self, method: &str, params: Value) -> Value {
        let response = self.call(method, params);
        assert!(response.get("result").is_none(), "{method} should have failed: {response}");
        response["error"].clone()
    }
}
