//! Accounts: what Keyport records about a connected account (never a secret), and the
//! stable JSON view that `keyport list --json` and `keyport status --json` print.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::Error;

/// A person's account (signed in through a browser or device code) or a service account
/// (client credentials).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// Signed in by a person.
    User,
    /// Client credentials; no person behind it.
    Service,
}

/// Who the account is, as the provider told. Each field may be unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Subject identifier, unique at the provider.
    pub sub: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
}

/// Whether the grant still works, as far as Keyport knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Health {
    /// Nothing wrong is known.
    Ok,
    /// The provider refused the grant (`invalid_grant` and the like): only a new sign-in helps.
    NeedsSignIn {
        /// The provider's words, for the user.
        reason: String,
        /// When Keyport learned it.
        #[serde(with = "time::serde::rfc3339")]
        since: OffsetDateTime,
    },
}

/// One account's metadata, as stored in `accounts.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The user's name for the account; unique.
    pub name: String,
    /// The provider's name in `providers.toml`.
    pub provider: String,
    /// User or service account.
    pub kind: AccountKind,
    /// Who it is.
    pub identity: Identity,
    /// Scopes granted (the token response's `scope`, else the requested ones).
    pub scopes: Vec<String>,
    /// Scopes asked for at the last sign-in.
    pub requested_scopes: Vec<String>,
    /// When the access token expires; `None` when the provider did not say.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// When the current access token was obtained.
    #[serde(with = "time::serde::rfc3339")]
    pub token_issued_at: OffsetDateTime,
    /// `Bearer`, usually.
    pub token_type: String,
    /// Whether the keyring holds a refresh token for it.
    pub has_refresh_token: bool,
    /// Whether the grant still works.
    pub health: Health,
    /// The client id of a service account, when it differs from its provider's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// When the access token was last renewed (refresh or new client-credentials token).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_refreshed_at: Option<OffsetDateTime>,
    /// When the account was added.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When this record last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// When the refresh token expires, as the provider said (`refresh_expires_in`,
    /// `refresh_token_expires_in`); `None` when it did not.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub refresh_expires_at: Option<OffsetDateTime>,
    /// When the refresh token expires unless used before: its last use plus the provider's
    /// inactivity limit ([`crate::provider::Quirks::refresh_unused_limit`]).
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub refresh_unused_expires_at: Option<OffsetDateTime>,
}

/// What limits a refresh token's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshExpiry {
    /// The provider said when it expires.
    Provider,
    /// The provider drops refresh tokens unused for a while (a preset's knowledge); each
    /// renewal uses it, so Keyport renews ahead of it.
    Unused,
}

/// What `list` and `status` report about an account's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The access token is good for a while.
    Valid,
    /// The access token expires soon (see [`Account::status`]).
    Expiring,
    /// The access token has expired (a refresh may still work).
    Expired,
    /// The grant is dead; the user must sign in again.
    NeedsSignIn,
}

impl Status {
    /// As printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Expiring => "expiring",
            Self::Expired => "expired",
            Self::NeedsSignIn => "needs_sign_in",
        }
    }
}

/// The longest "expiring" window: tokens with less than this left are reported as expiring.
/// Short-lived tokens use a quarter of their lifetime instead, so a 60-second token is not
/// "expiring" from the moment it is issued.
pub const EXPIRING_WINDOW: time::Duration = time::Duration::minutes(5);

impl Account {
    /// The account's status at `now`.
    pub fn status(&self, now: OffsetDateTime) -> Status {
        if let Health::NeedsSignIn { .. } = self.health {
            return Status::NeedsSignIn;
        }
        let Some(expires_at) = self.expires_at else { return Status::Valid };
        let left = expires_at - now;
        let window = EXPIRING_WINDOW.min((expires_at - self.token_issued_at) / 4);
        if left <= time::Duration::ZERO {
            Status::Expired
        } else if left <= window {
            Status::Expiring
        } else {
            Status::Valid
        }
    }

    /// Whether a caller that needs the access token valid for `min_valid` should have it
    /// renewed first at `now`: when it expires within `min_valid`, **capped at half the
    /// token's lifetime** (as the background refresher's floor is). Without the cap a
    /// provider issuing 20-second tokens made every `token.get` with the default 60 s renew:
    /// a fresh token could never satisfy it. A token without a known expiry never needs it.
    pub fn expires_within(&self, now: OffsetDateTime, min_valid: std::time::Duration) -> bool {
        let Some(expires_at) = self.expires_at else { return false };
        let lifetime = (expires_at - self.token_issued_at).max(time::Duration::ZERO);
        let wanted = time::Duration::try_from(min_valid).unwrap_or(time::Duration::MAX).min(lifetime / 2);
        expires_at - now < wanted
    }

    /// When the refresh token stops working, if known, and what limits it: the earlier of
    /// what the provider said and the inactivity limit. `None` without a refresh token.
    pub fn refresh_deadline(&self) -> Option<(OffsetDateTime, RefreshExpiry)> {
        if !self.has_refresh_token || self.kind == AccountKind::Service {
            return None;
        }
        let said = self.refresh_expires_at.map(|at| (at, RefreshExpiry::Provider));
        let unused = self.refresh_unused_expires_at.map(|at| (at, RefreshExpiry::Unused));
        match (said, unused) {
            (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
            (a, b) => a.or(b),
        }
    }

    /// The stable JSON view.
    pub fn view(&self, now: OffsetDateTime) -> AccountView {
        let refresh = self.refresh_deadline();
        AccountView {
            name: self.name.clone(),
            provider: self.provider.clone(),
            kind: self.kind,
            identity: self.identity.clone(),
            scopes: self.scopes.clone(),
            expires_at: self.expires_at,
            expires_in_secs: self.expires_at.map(|at| (at - now).whole_seconds().max(0)),
            status: self.status(now),
            has_refresh_token: self.has_refresh_token,
            token_type: self.token_type.clone(),
            needs_sign_in_reason: match &self.health {
                Health::NeedsSignIn { reason, .. } => Some(reason.clone()),
                Health::Ok => None,
            },
            last_refreshed_at: self.last_refreshed_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            refresh_token_expires_at: refresh.map(|(at, _)| at),
            refresh_token_expires_in_secs: refresh.map(|(at, _)| (at - now).whole_seconds().max(0)),
            refresh_token_expiry: refresh.map(|(_, why)| why),
        }
    }
}

/// The documented JSON object for one account (see `docs/json.md`). Fields are only ever
/// added, never renamed or removed, within one major version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    /// Account name.
    pub name: String,
    /// Provider name.
    pub provider: String,
    /// `"user"` or `"service"`.
    pub kind: AccountKind,
    /// `sub`, `email`, `name`, each possibly null.
    pub identity: Identity,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// RFC 3339 UTC, or null.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Seconds until `expires_at` (0 once past), or null.
    pub expires_in_secs: Option<i64>,
    /// `"valid"`, `"expiring"`, `"expired"` or `"needs_sign_in"`.
    pub status: Status,
    /// Whether a refresh token is stored.
    pub has_refresh_token: bool,
    /// Token type, usually `"Bearer"`.
    pub token_type: String,
    /// Why the account needs a new sign-in, when it does.
    pub needs_sign_in_reason: Option<String>,
    /// When the access token was last renewed, RFC 3339 UTC, or null.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_refreshed_at: Option<OffsetDateTime>,
    /// RFC 3339 UTC.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// RFC 3339 UTC.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// When the refresh token stops working, RFC 3339 UTC; null when no expiry is known or
    /// there is no refresh token.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub refresh_token_expires_at: Option<OffsetDateTime>,
    /// Seconds until `refresh_token_expires_at` (0 once past), or null.
    #[serde(default)]
    pub refresh_token_expires_in_secs: Option<i64>,
    /// What limits it: `"provider"` (the provider said) or `"unused"` (dropped when unused
    /// that long; each renewal uses it), or null.
    #[serde(default)]
    pub refresh_token_expiry: Option<RefreshExpiry>,
}

/// Account names: 1 to 128 characters among letters, digits and `. _ - @ +`, starting with a
/// letter or digit, so an email address works as a name.
pub fn check_account_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName {
            what: "account",
            name: name.to_owned(),
            rule: "1 to 128 letters, digits, `.`, `_`, `-`, `@` or `+`, starting with a letter or digit",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn account() -> Account {
        Account {
            name: "alice@example.test".into(),
            provider: "local".into(),
            kind: AccountKind::User,
            identity: Identity { sub: Some("alice".into()), email: Some("alice@example.test".into()), name: None },
            scopes: vec!["openid".into(), "email".into()],
            requested_scopes: vec!["openid".into(), "email".into(), "profile".into()],
            expires_at: Some(datetime!(2026-01-01 13:00 UTC)),
            token_issued_at: datetime!(2026-01-01 12:00 UTC),
            token_type: "Bearer".into(),
            has_refresh_token: true,
            health: Health::Ok,
            client_id: None,
            last_refreshed_at: None,
            created_at: datetime!(2026-01-01 12:00 UTC),
            updated_at: datetime!(2026-01-01 12:00 UTC),
            refresh_expires_at: None,
            refresh_unused_expires_at: None,
        }
    }

    #[test]
    fn status_follows_the_clock_and_health() {
        let a = account();
        assert_eq!(a.status(datetime!(2026-01-01 12:30 UTC)), Status::Valid);
        assert_eq!(a.status(datetime!(2026-01-01 12:56 UTC)), Status::Expiring);
        assert_eq!(a.status(datetime!(2026-01-01 13:00 UTC)), Status::Expired);
        let dead = Account {
            health: Health::NeedsSignIn { reason: "invalid_grant".into(), since: a.created_at },
            ..a.clone()
        };
        assert_eq!(dead.status(datetime!(2026-01-01 12:30 UTC)), Status::NeedsSignIn);
        let forever = Account { expires_at: None, ..a };
        assert_eq!(forever.status(datetime!(2099-01-01 0:00 UTC)), Status::Valid);
    }

    #[test]
    fn min_valid_is_capped_at_half_the_lifetime() {
        let secs = std::time::Duration::from_secs;
        // An hour-long token issued at 12:00.
        let hour = account();
        assert!(!hour.expires_within(datetime!(2026-01-01 12:30 UTC), secs(60)));
        assert!(hour.expires_within(datetime!(2026-01-01 12:59:30 UTC), secs(60)));
        // Asking for two hours of an hour-long token: renewed only in its second half.
        assert!(!hour.expires_within(datetime!(2026-01-01 12:29 UTC), secs(7200)));
        assert!(hour.expires_within(datetime!(2026-01-01 12:31 UTC), secs(7200)));
        // A 20-second token and the default 60 s: renewed in its last 10 s, not on every read.
        let short = Account { expires_at: Some(datetime!(2026-01-01 12:00:20 UTC)), ..account() };
        assert!(!short.expires_within(datetime!(2026-01-01 12:00:01 UTC), secs(60)));
        assert!(short.expires_within(datetime!(2026-01-01 12:00:11 UTC), secs(60)));
        // Expired: always; unknown expiry: never.
        assert!(short.expires_within(datetime!(2026-01-01 13:00 UTC), secs(0)));
        let forever = Account { expires_at: None, ..account() };
        assert!(!forever.expires_within(datetime!(2099-01-01 0:00 UTC), secs(60)));
    }

    #[test]
    fn short_lived_tokens_expire_in_the_last_quarter() {
        let a = Account { expires_at: Some(datetime!(2026-01-01 12:01 UTC)), ..account() };
        assert_eq!(a.status(datetime!(2026-01-01 12:00:40 UTC)), Status::Valid);
        assert_eq!(a.status(datetime!(2026-01-01 12:00:50 UTC)), Status::Expiring);
    }

    #[test]
    fn json_view_has_the_documented_shape() {
        let view = account().view(datetime!(2026-01-01 12:30 UTC));
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["name"], "alice@example.test");
        assert_eq!(json["provider"], "local");
        assert_eq!(json["kind"], "user");
        assert_eq!(json["identity"]["sub"], "alice");
        assert!(json["identity"]["name"].is_null());
        assert_eq!(json["scopes"], serde_json::json!(["openid", "email"]));
        assert_eq!(json["expires_at"], "2026-01-01T13:00:00Z");
        assert_eq!(json["expires_in_secs"], 1800);
        assert_eq!(json["status"], "valid");
        assert_eq!(json["has_refresh_token"], true);
        assert!(json["needs_sign_in_reason"].is_null());
    }

    #[test]
    fn account_names_allow_email_addresses() {
        assert!(check_account_name("alice+work@example.test").is_ok());
        for bad in ["", "@x", "a b", "a/b", "a:b"] {
            assert!(check_account_name(bad).is_err(), "{bad}");
        }
    }
}
