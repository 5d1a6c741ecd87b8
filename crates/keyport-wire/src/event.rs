//! [`Event`]: what the daemon pushes to connections that called `events.subscribe`, as
//! `{"jsonrpc":"2.0","method":"event","params":EVENT}` notifications.
//!
//! The account events mirror the core's `AccountEvent` one for one (same tag, same fields);
//! the sign-in events report the end of a `signin.start`, `signin.device` or `accounts.reauth`;
//! the prompt events and `show` go to the desktop window only; and `missed` tells a slow reader
//! that events were dropped. No event ever carries a token. New events
//! may be added: clients ignore an `event` they do not know (it reads as [`Event::Unknown`]).

use serde::{Deserialize, Serialize};

use crate::jsonrpc::{Notification, Version};

/// The `method` of event notifications.
pub const EVENT_METHOD: &str = "event";

/// Something that happened, tagged by its `event` member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// An account was connected, or signed in again.
    Added {
        /// The account's name.
        account: String,
    },
    /// Its access token was renewed.
    Refreshed {
        /// The account's name.
        account: String,
        /// The new expiry (RFC 3339 UTC), or `null` when the provider gave no lifetime.
        expires_at: Option<String>,
    },
    /// The provider refused the grant; the user must sign in again.
    NeedsSignIn {
        /// The account's name.
        account: String,
        /// The provider's reason (`invalid_grant`...).
        reason: String,
    },
    /// The provider revoked its tokens and the account was removed.
    Revoked {
        /// The account's name.
        account: String,
    },
    /// The account was removed from Keyport.
    Removed {
        /// The account's name.
        account: String,
    },
    /// Something failed that may fix itself (network, provider outage); tokens were kept.
    Error {
        /// The account's name.
        account: String,
        /// What failed, for people.
        message: String,
    },
    /// The account's refresh token stops working within a day, and renewing cannot move that
    /// end: the user should sign in again (`accounts.reauth`) before then.
    RefreshTokenExpiring {
        /// The account's name.
        account: String,
        /// When it stops working (RFC 3339 UTC).
        expires_at: String,
    },
    /// A sign-in completed: the account is connected (an `added` event follows or precedes).
    SigninFinished {
        /// From `signin.start` / `accounts.reauth`.
        signin_id: String,
        /// The account's name.
        account: String,
    },
    /// A sign-in ended without an account.
    SigninFailed {
        /// From `signin.start` / `accounts.reauth`.
        signin_id: String,
        /// The account's name when it was known (given, or a re-sign-in), else `null`.
        account: Option<String>,
        /// An error code, typically `signin_failed`, `signin_cancelled` or `account_exists`.
        code: i64,
        /// What went wrong, for people.
        message: String,
    },
    /// A program asks the user (only to the window's `prompts.subscribe` connection).
    PromptAsked {
        /// The question.
        prompt: crate::app::AccessPrompt,
    },
    /// A question was answered or expired (only to `prompts.subscribe` connections).
    PromptClosed {
        /// The question.
        prompt_id: String,
    },
    /// The user asked for the window at this screen (tray menu, a notification): the window
    /// shows itself there (only to `prompts.subscribe` connections).
    Show {
        /// Where.
        screen: crate::app::Navigate,
    },
    /// This connection read too slowly and `count` events were dropped; re-read the state
    /// (`accounts.list`).
    Missed {
        /// How many events were dropped.
        count: u64,
    },
    /// An event added after this version (read only).
    #[serde(other, skip_serializing)]
    #[cfg_attr(feature = "ts", ts(skip))]
    Unknown,
}

impl Event {
    /// The notification that carries this event.
    pub fn to_notification(&self) -> Result<Notification, serde_json::Error> {
        Ok(Notification { jsonrpc: Version, method: EVENT_METHOD.into(), params: Some(serde_json::to_value(self)?) })
    }

    /// The event in a notification, or `None` if it is not an `event` notification.
    pub fn from_notification(notification: &Notification) -> Option<Result<Self, serde_json::Error>> {
        (notification.method == EVENT_METHOD)
            .then(|| serde_json::from_value(notification.params.clone().unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn events_have_the_core_shape_and_unknown_ones_are_tolerated() {
        let event = Event::NeedsSignIn { account: "a".into(), reason: "invalid_grant".into() };
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            json!({"event": "needs_sign_in", "account": "a", "reason": "invalid_grant"})
        );
        let later: Event = serde_json::from_value(json!({"event": "renamed", "account": "a", "to": "b"})).unwrap();
        assert_eq!(later, Event::Unknown);
        let notification = event.to_notification().unwrap();
        assert_eq!(Event::from_notification(&notification).unwrap().unwrap(), event);
    }
}
