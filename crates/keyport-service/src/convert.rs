//! Core values to wire values. The wire crate never sees the core; this is the one place
//! that knows both.

use keyport_core::account::{AccountKind, AccountView, RefreshExpiry, Status};
use keyport_core::events::AccountEvent;
use keyport_core::refresh::RenewError;
use keyport_core::{Error, ProviderView};
use keyport_wire::{self as wire, ErrorCode, ErrorObject};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// RFC 3339 in UTC, to the second (`2026-11-25T11:02:03Z`): what docs/json.md shows, and all
/// the precision an expiry needs.
pub(crate) fn rfc3339(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC).replace_nanosecond(0).expect("0 is a valid nanosecond");
    at.format(&Rfc3339).expect("UTC times format as RFC 3339")
}

/// The wire form of an account view (the JSON of docs/json.md).
pub fn account(view: AccountView) -> wire::AccountSummary {
    wire::AccountSummary {
        name: view.name,
        provider: view.provider,
        kind: match view.kind {
            AccountKind::User => wire::AccountKind::User,
            AccountKind::Service => wire::AccountKind::Service,
        },
        identity: wire::Identity { sub: view.identity.sub, email: view.identity.email, name: view.identity.name },
        scopes: view.scopes,
        expires_at: view.expires_at.map(rfc3339),
        expires_in_secs: view.expires_in_secs,
        status: match view.status {
            Status::Valid => wire::AccountStatus::Valid,
            Status::Expiring => wire::AccountStatus::Expiring,
            Status::Expired => wire::AccountStatus::Expired,
            Status::NeedsSignIn => wire::AccountStatus::NeedsSignIn,
        },
        has_refresh_token: view.has_refresh_token,
        token_type: view.token_type,
        needs_sign_in_reason: view.needs_sign_in_reason,
        last_refreshed_at: view.last_refreshed_at.map(rfc3339),
        created_at: rfc3339(view.created_at),
        updated_at: rfc3339(view.updated_at),
        refresh_token_expires_at: view.refresh_token_expires_at.map(rfc3339),
        refresh_token_expires_in_secs: view.refresh_token_expires_in_secs,
        refresh_token_expiry: view.refresh_token_expiry.map(|why| match why {
            RefreshExpiry::Provider => wire::RefreshExpiry::Provider,
            RefreshExpiry::Unused => wire::RefreshExpiry::Unused,
        }),
    }
}

pub(crate) fn provider(view: ProviderView) -> wire::ProviderSummary {
    let e = view.endpoints;
    wire::ProviderSummary {
        name: view.name,
        kind: view.kind,
        client_id: view.client_id,
        has_client_secret: view.has_client_secret,
        endpoints: wire::Endpoints {
            authorization: e.authorization.to_string(),
            token: e.token.to_string(),
            revocation: e.revocation.map(|u| u.to_string()),
            device_authorization: e.device_authorization.map(|u| u.to_string()),
            userinfo: e.userinfo.map(|u| u.to_string()),
            introspection: e.introspection.map(|u| u.to_string()),
        },
        endpoint_sources: view.endpoint_sources,
        scopes: view.scopes,
        redirect_uri: view.redirect_uri,
        shared_redirect_uri: view.shared_redirect_uri,
    }
}

pub(crate) fn event(event: AccountEvent) -> wire::Event {
    match event {
        AccountEvent::Added { account } => wire::Event::Added { account },
        AccountEvent::Refreshed { account, expires_at } => {
            wire::Event::Refreshed { account, expires_at: expires_at.map(rfc3339) }
        }
        AccountEvent::NeedsSignIn { account, reason } => wire::Event::NeedsSignIn { account, reason },
        AccountEvent::Revoked { account } => wire::Event::Revoked { account },
        AccountEvent::RefreshTokenExpiring { account, expires_at } => {
            wire::Event::RefreshTokenExpiring { account, expires_at: rfc3339(expires_at) }
        }
        AccountEvent::Removed { account } => wire::Event::Removed { account },
        AccountEvent::Error { account, message } => wire::Event::Error { account, message },
    }
}

/// A core error as a JSON-RPC error with a stable code. Messages come from the core's
/// `Display`, which never holds a secret.
pub(crate) fn error(err: &Error) -> ErrorObject {
    let code = match err {
        Error::AccountNotFound { .. } => ErrorCode::NoSuchAccount,
        Error::ProviderNotFound { .. } => ErrorCode::NoSuchProvider,
        Error::AccountExists { .. } => ErrorCode::AccountExists,
        Error::NeedsSignIn { .. } | Error::TokenMissing { .. } => ErrorCode::NeedsSignIn,
        Error::Renew(RenewError::NeedsSignIn { .. } | RenewError::NoRefreshToken { .. }) => ErrorCode::NeedsSignIn,
        Error::Renew(RenewError::Transient { .. } | RenewError::BackingOff { .. }) | Error::Http(_) => {
            ErrorCode::ProviderUnreachable
        }
        Error::Secrets(_) | Error::Renew(RenewError::KeyringUnavailable { .. }) => ErrorCode::KeyringUnavailable,
        Error::LockTimeout { .. } | Error::Renew(RenewError::LockTimeout { .. }) => ErrorCode::LockTimeout,
        Error::SignInCancelled => ErrorCode::SigninCancelled,
        Error::SignInTimedOut { .. }
        | Error::AuthorizationDenied { .. }
        | Error::IssuerMismatch { .. }
        | Error::IdTokenInvalid { .. }
        | Error::RedirectListener { .. } => ErrorCode::SigninFailed,
        Error::TokenRefused { .. } | Error::BadTokenResponse { .. } => ErrorCode::ProviderRefused,
        Error::CannotRevoke { .. } => ErrorCode::CannotRevoke,
        Error::InvalidName { .. } | Error::InvalidProvider { .. } | Error::GrantRefused { .. } => {
            ErrorCode::InvalidParams
        }
        _ => ErrorCode::InternalError,
    };
    let mut object = ErrorObject::new(code, err.to_string());
    if let Error::CannotRevoke { page: Some(page), .. } = err {
        object.data = Some(serde_json::json!({ "page": page }));
    }
    object
}

/// The wire form of what a program asks to do.
pub(crate) fn action(action: crate::access::Action) -> wire::AccountAction {
    use crate::access::Action;
    match action {
        Action::ReadToken => wire::AccountAction::ReadToken,
        Action::Refresh => wire::AccountAction::Refresh,
        Action::SignInAgain => wire::AccountAction::SignInAgain,
        Action::Revoke => wire::AccountAction::Revoke,
        Action::Remove => wire::AccountAction::Remove,
        Action::Connect => wire::AccountAction::Connect,
    }
}

/// The wire form of a decision.
pub(crate) fn decision(decision: crate::access::Decision) -> wire::AccessDecision {
    match decision {
        crate::access::Decision::Allow => wire::AccessDecision::Allow,
        crate::access::Decision::Deny => wire::AccessDecision::Deny,
    }
}

/// The wire form of an access rule.
pub(crate) fn rule(rule: crate::access::Rule) -> wire::AccessRule {
    wire::AccessRule {
        program_name: crate::names::ProgramNames::shared().name(&rule.program),
        program: rule.program.to_string(),
        account: rule.account,
        decision: decision(rule.decision),
        decided_at: rfc3339(rule.decided_at),
        last_read: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(err: Error) -> i64 {
        error(&err).code
    }

    #[test]
    fn keyring_and_lock_failures_of_a_renewal_have_their_documented_codes() {
        let account = "a".to_owned();
        let keyring =
            RenewError::KeyringUnavailable { account: account.clone(), reason: "locked".into(), unsaved: true };
        assert_eq!(code(Error::Renew(keyring)), -32007);
        let lock = RenewError::LockTimeout { account: account.clone(), reason: "held".into() };
        assert_eq!(code(Error::Renew(lock)), -32013);
        let waited = std::time::Duration::from_secs(10);
        assert_eq!(code(Error::LockTimeout { path: "/x/accounts.lock".into(), waited }), -32013);
        let backing_off = RenewError::BackingOff { account, reason: "HTTP 429".into(), retry_in: waited };
        assert_eq!(code(Error::Renew(backing_off)), -32005);
    }
}
