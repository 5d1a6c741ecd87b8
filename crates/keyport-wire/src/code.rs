//! The error codes a Keyport socket answers with: the five standard JSON-RPC ones and
//! Keyport's own, in the server range -32000..=-32099.
//!
//! **These numbers never change and are never reused.** New codes are only added (the next
//! free one is -32015). Programs decide by `code`; `message` is for people.
//!
//! The message convention: one short English sentence, lower-case first letter, no trailing
//! period, naming what it is about (account, provider, program, method) and, when there is
//! one, the command that fixes it. A message never contains a token, a secret or an
//! authorization code. [`ErrorCode::default_message`] is the message when nothing more
//! specific is known. What a client should do about each code (show it, retry later, sign
//! in again) is in the table of `docs/socket.md`.

use std::fmt;

/// A stable JSON-RPC error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// -32700: the line is not valid JSON (or not UTF-8).
    ParseError,
    /// -32600: the JSON is not a valid request: not an object, a batch array, no `method`,
    /// `jsonrpc` not `"2.0"`, or an `id` that is neither an integer nor a string.
    InvalidRequest,
    /// -32601: no method by that name.
    MethodNotFound,
    /// -32602: params missing, of the wrong type, or not an object.
    InvalidParams,
    /// -32603: a fault inside the daemon (for example a damaged `accounts.json`, or a result
    /// that would exceed [`crate::MAX_MESSAGE_BYTES`]).
    InternalError,
    /// -32000: no account by that name.
    NoSuchAccount,
    /// -32001: no provider by that name.
    NoSuchProvider,
    /// -32002: an account by that name exists already (for another identity, after a sign-in).
    AccountExists,
    /// -32003: the account's grant is dead; the user must sign in again (`accounts.reauth`).
    NeedsSignIn,
    /// -32004: this program may not use this account (per-program access rules).
    AccessDenied,
    /// -32005: the provider could not be reached or failed transiently; tokens were kept.
    /// Worth retrying later.
    ProviderUnreachable,
    /// -32006: the provider refused in a way retrying will not fix, other than a dead grant
    /// (a missing client secret, `invalid_scope`, an unusable response...).
    ProviderRefused,
    /// -32007: the keyring (Secret Service) is unavailable or locked.
    KeyringUnavailable,
    /// -32008: the sign-in did not complete: timeout, refused code exchange, ID token or
    /// issuer check failed.
    SigninFailed,
    /// -32009: the sign-in was cancelled: `signin.cancel`, the user declined at the
    /// provider, or the daemon shut down.
    SigninCancelled,
    /// -32010: no sign-in in progress with that `signin_id`.
    NoSuchSignin,
    /// -32011: a message exceeds [`crate::MAX_MESSAGE_BYTES`]; the server closes the
    /// connection after sending this.
    MessageTooLarge,
    /// -32012: too many connections, or too many sign-ins at once. Worth retrying later.
    Busy,
    /// -32013: another process held a lock Keyport needed (an account's renewal lock,
    /// `accounts.json`'s) past the deadline; nothing was changed. Worth retrying later.
    LockTimeout,
    /// -32014: `accounts.revoke`: the provider has no revocation endpoint Keyport knows, so
    /// nothing was revoked and nothing removed. `data.page`, when present, is where the user
    /// revokes Keyport's access by hand; `local: true` removes the account anyway.
    CannotRevoke,
}

impl ErrorCode {
    /// Every code, in table order.
    pub const ALL: [ErrorCode; 20] = [
        Self::ParseError,
        Self::InvalidRequest,
        Self::MethodNotFound,
        Self::InvalidParams,
        Self::InternalError,
        Self::NoSuchAccount,
        Self::NoSuchProvider,
        Self::AccountExists,
        Self::NeedsSignIn,
        Self::AccessDenied,
        Self::ProviderUnreachable,
        Self::ProviderRefused,
        Self::KeyringUnavailable,
        Self::SigninFailed,
        Self::SigninCancelled,
        Self::NoSuchSignin,
        Self::MessageTooLarge,
        Self::Busy,
        Self::LockTimeout,
        Self::CannotRevoke,
    ];

    /// The number sent as `error.code`.
    pub const fn code(self) -> i64 {
        match self {
            Self::ParseError => -32700,
            Self::InvalidRequest => -32600,
            Self::MethodNotFound => -32601,
            Self::InvalidParams => -32602,
            Self::InternalError => -32603,
            Self::NoSuchAccount => -32000,
            Self::NoSuchProvider => -32001,
            Self::AccountExists => -32002,
            Self::NeedsSignIn => -32003,
            Self::AccessDenied => -32004,
            Self::ProviderUnreachable => -32005,
            Self::ProviderRefused => -32006,
            Self::KeyringUnavailable => -32007,
            Self::SigninFailed => -32008,
            Self::SigninCancelled => -32009,
            Self::NoSuchSignin => -32010,
            Self::MessageTooLarge => -32011,
            Self::Busy => -32012,
            Self::LockTimeout => -32013,
            Self::CannotRevoke => -32014,
        }
    }

    /// The code with that number, if Keyport knows it. Clients must expect numbers they do not
    /// know (added by a newer daemon) and treat them as a generic failure.
    pub fn from_code(code: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|known| known.code() == code)
    }

    /// A short snake_case name, as in the table of `docs/socket.md`. Not sent on the wire.
    pub const fn name(self) -> &'static str {
        match self {
            Self::ParseError => "parse_error",
            Self::InvalidRequest => "invalid_request",
            Self::MethodNotFound => "method_not_found",
            Self::InvalidParams => "invalid_params",
            Self::InternalError => "internal_error",
            Self::NoSuchAccount => "no_such_account",
            Self::NoSuchProvider => "no_such_provider",
            Self::AccountExists => "account_exists",
            Self::NeedsSignIn => "needs_sign_in",
            Self::AccessDenied => "access_denied",
            Self::ProviderUnreachable => "provider_unreachable",
            Self::ProviderRefused => "provider_refused",
            Self::KeyringUnavailable => "keyring_unavailable",
            Self::SigninFailed => "signin_failed",
            Self::SigninCancelled => "signin_cancelled",
            Self::NoSuchSignin => "no_such_signin",
            Self::MessageTooLarge => "message_too_large",
            Self::Busy => "busy",
            Self::LockTimeout => "lock_timeout",
            Self::CannotRevoke => "cannot_revoke",
        }
    }

    /// The message to send when nothing more specific is known.
    pub const fn default_message(self) -> &'static str {
        match self {
            Self::ParseError => "parse error: the line is not valid JSON",
            Self::InvalidRequest => "invalid request",
            Self::MethodNotFound => "method not found",
            Self::InvalidParams => "invalid params",
            Self::InternalError => "internal error",
            Self::NoSuchAccount => "no such account",
            Self::NoSuchProvider => "no such provider",
            Self::AccountExists => "an account by that name exists already",
            Self::NeedsSignIn => "the account needs a new sign-in",
            Self::AccessDenied => "access denied",
            Self::ProviderUnreachable => "the provider could not be reached; try again later",
            Self::ProviderRefused => "the provider refused the request",
            Self::KeyringUnavailable => "the keyring is unavailable or locked",
            Self::SigninFailed => "the sign-in failed",
            Self::SigninCancelled => "the sign-in was cancelled",
            Self::NoSuchSignin => "no sign-in in progress with that id",
            Self::MessageTooLarge => "message too large: at most 65536 bytes per line",
            Self::Busy => "busy; try again later",
            Self::LockTimeout => "another process held a lock too long; nothing was changed, try again later",
            Self::CannotRevoke => "the provider has no revocation endpoint; nothing was revoked or removed",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn codes_are_distinct_and_in_their_ranges() {
        let codes: HashSet<i64> = ErrorCode::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(codes.len(), ErrorCode::ALL.len());
        let names: HashSet<&str> = ErrorCode::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        for code in ErrorCode::ALL {
            let n = code.code();
            let standard = [-32700, -32600, -32601, -32602, -32603].contains(&n);
            assert!(standard || (-32099..=-32000).contains(&n), "{code} is outside the server range");
            assert_eq!(ErrorCode::from_code(n), Some(code));
        }
        assert_eq!(ErrorCode::from_code(-32099), None);
    }

    #[test]
    fn the_numbers_are_the_published_ones() {
        // These are a public contract (docs/socket.md): this test fails if one ever moves.
        let published: Vec<(i64, &str)> = ErrorCode::ALL.iter().map(|c| (c.code(), c.name())).collect();
        assert_eq!(
            published,
            [
                (-32700, "parse_error"),
                (-32600, "invalid_request"),
                (-32601, "method_not_found"),
                (-32602, "invalid_params"),
                (-32603, "internal_error"),
                (-32000, "no_such_account"),
                (-32001, "no_such_provider"),
                (-32002, "account_exists"),
                (-32003, "needs_sign_in"),
                (-32004, "access_denied"),
                (-32005, "provider_unreachable"),
                (-32006, "provider_refused"),
                (-32007, "keyring_unavailable"),
                (-32008, "signin_failed"),
                (-32009, "signin_cancelled"),
                (-32010, "no_such_signin"),
                (-32011, "message_too_large"),
                (-32012, "busy"),
                (-32013, "lock_timeout"),
                (-32014, "cannot_revoke"),
            ]
        );
    }
}
