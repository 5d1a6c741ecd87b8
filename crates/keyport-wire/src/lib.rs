//! The wire format of Keyport's local socket, defined in one place: JSON-RPC 2.0 messages
//! ([`jsonrpc`]), the method names and their typed params and results ([`method`],
//! [`types`]), the events pushed to subscribers ([`event`]), the stable error codes
//! ([`code`]) and the line framing ([`frame`]).
//!
//! The protocol itself is documented for people, and for programs in any language, in
//! `docs/socket.md`; the examples in that document are checked by this crate's tests.
//!
//! It also says where the service listens on each platform ([`path`]) and connects to it
//! ([`local`]: a Unix socket, or a named pipe on Windows). It leaves out on purpose: binding
//! the socket and checking its peers, the per-program access policy, and any behaviour; those
//! belong to the service. It never depends on `keyport-core`: the daemon converts core
//! values into these types.
//!
//! A client in Rust builds a [`Call`], sends it with [`frame::write_message`], and reads
//! [`ServerMessage`]s with [`frame::read_answer`]:
//!
//! ```
//! use keyport_wire::{Call, Id, TokenGetParams};
//!
//! let request = Call::TokenGet(TokenGetParams { account: "alice@example.com".into(), min_valid_secs: None, program: None })
//!     .into_request(Id::Number(1));
//! assert_eq!(
//!     serde_json::to_string(&request).unwrap(),
//!     r#"{"jsonrpc":"2.0","id":1,"method":"token.get","params":{"account":"alice@example.com"}}"#
//! );
//! ```

pub mod app;
pub mod code;
pub mod event;
pub mod frame;
pub mod jsonrpc;
pub mod local;
pub mod method;
pub mod path;
pub mod token;
pub mod types;

pub use app::*;
pub use code::ErrorCode;
pub use event::{EVENT_METHOD, Event};
pub use frame::{FrameError, MAX_ANSWER_BYTES, MAX_MESSAGE_BYTES, MAX_REQUEST_BYTES};
pub use jsonrpc::{CallError, ErrorObject, Id, Notification, Request, Response, ServerMessage, Version};
pub use method::{Call, Method};
pub use path::{
    FORWARD_DIR, FORWARD_PREFIX, FORWARD_SUFFIX, Platform, SOCKET_DIR, SOCKET_ENV, SOCKET_FILE, default_socket_path,
    socket_path_for, socket_path_in,
};
pub use token::AccessToken;
pub use types::*;
