//! The one stream of account events: what happened to which account, for the daemon's log,
//! the socket (`events.subscribe`) and the desktop app's notifications.
//!
//! A [`tokio::sync::broadcast`] channel: publishing never blocks and never fails when nobody
//! listens; a subscriber that falls behind by more than [`CAPACITY`] events is told how many it
//! missed and carries on.

use serde::Serialize;
use time::OffsetDateTime;
use tokio::sync::broadcast;

/// Events kept for slow subscribers before they start missing some.
pub const CAPACITY: usize = 256;

/// Something that happened to an account. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AccountEvent {
    /// A new account was connected, or an existing one signed in again.
    Added { account: String },
    /// Its access token was renewed (refresh, or a new client-credentials token).
    Refreshed {
        account: String,
        #[serde(with = "time::serde::rfc3339::option")]
        expires_at: Option<OffsetDateTime>,
    },
    /// The provider refused the grant; the user must sign in again.
    NeedsSignIn { account: String, reason: String },
    /// The provider revoked its tokens and the account was removed.
    Revoked { account: String },
    /// The account was removed locally.
    Removed { account: String },
    /// Something failed that may fix itself (network, provider outage); tokens were kept.
    Error { account: String, message: String },
    /// The refresh token stops working within a day, and renewing cannot move that: the
    /// user should sign in again before then.
    RefreshTokenExpiring {
        account: String,
        #[serde(with = "time::serde::rfc3339")]
        expires_at: OffsetDateTime,
    },
}

impl AccountEvent {
    /// The account the event is about.
    pub fn account(&self) -> &str {
        match self {
            Self::Added { account }
            | Self::Refreshed { account, .. }
            | Self::NeedsSignIn { account, .. }
            | Self::Revoked { account }
            | Self::Removed { account }
            | Self::Error { account, .. }
            | Self::RefreshTokenExpiring { account, .. } => account,
        }
    }
}

/// The sending side, shared by every clone of [`crate::Keyport`].
#[derive(Debug, Clone)]
pub struct Events {
    sender: broadcast::Sender<AccountEvent>,
}

impl Default for Events {
    fn default() -> Self {
        Self { sender: broadcast::channel(CAPACITY).0 }
    }
}

impl Events {
    /// Publishes an event to every current subscriber.
    pub fn publish(&self, event: AccountEvent) {
        tracing::info!(?event, "account event");
        // An error only means nobody is subscribed right now.
        let _ = self.sender.send(event);
    }

    /// A new subscription, receiving events published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<AccountEvent> {
        self.sender.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_get_events_published_after_they_subscribe() {
        let events = Events::default();
        events.publish(AccountEvent::Removed { account: "before".into() });
        let mut rx = events.subscribe();
        events.publish(AccountEvent::Added { account: "a".into() });
        assert_eq!(rx.recv().await.unwrap(), AccountEvent::Added { account: "a".into() });
        let json =
            serde_json::to_value(AccountEvent::NeedsSignIn { account: "a".into(), reason: "invalid_grant".into() })
                .unwrap();
        assert_eq!(json, serde_json::json!({"event": "needs_sign_in", "account": "a", "reason": "invalid_grant"}));
    }
}
