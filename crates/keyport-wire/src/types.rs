//! Typed params and results of every method, and the objects they carry.
//!
//! [`AccountSummary`] and [`ProviderSummary`] mirror the account and provider objects of
//! `docs/json.md` field for field, so `keyport status --json` and `accounts.status` print the
//! same thing. Times are RFC 3339 strings in UTC (this crate has no time library on purpose;
//! the daemon formats them).
//!
//! Compatibility: fields are only ever added. Every type here ignores unknown fields when
//! reading, and optional params are left out when absent, so an older daemon and a newer
//! client (or the reverse) still understand each other. Enumerations read values they do not
//! know as `Unknown`, so a new status does not break an old client.

use serde::{Deserialize, Serialize};

use crate::token::AccessToken;

/// The `min_valid_secs` that `token.get` uses when none is given, as `keyport token` does.
pub const DEFAULT_MIN_VALID_SECS: u64 = 60;

// ---- objects ---------------------------------------------------------------------------

/// A person's account or a service account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// Signed in by a person.
    User,
    /// Client credentials; no person behind it.
    Service,
    /// A kind added after this version (read only).
    #[serde(other, skip_serializing)]
    #[cfg_attr(feature = "ts", ts(skip))]
    Unknown,
}

/// The state of an account's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// The access token is good for a while.
    Valid,
    /// It expires soon (less than 5 minutes, or a quarter of a short lifetime, left).
    Expiring,
    /// It has expired (a refresh may still work).
    Expired,
    /// The grant is dead; the user must sign in again.
    NeedsSignIn,
    /// A status added after this version (read only).
    #[serde(other, skip_serializing)]
    #[cfg_attr(feature = "ts", ts(skip))]
    Unknown,
}

/// What limits a refresh token's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum RefreshExpiry {
    /// The provider said when it ends (`refresh_expires_in`, `refresh_token_expires_in`).
    Provider,
    /// The provider drops refresh tokens unused that long (what Keyport knows of it); each
    /// renewal uses the token, and Keyport renews ahead of the limit.
    Unused,
    /// A reason added after this version (read only).
    #[serde(other, skip_serializing)]
    #[cfg_attr(feature = "ts", ts(skip))]
    Unknown,
}

/// Who the account is, as the provider told. Each field may be unknown (`null`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Identity {
    /// Subject identifier at the provider.
    pub sub: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
}

/// The account object of `docs/json.md`. Never holds a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AccountSummary {
    /// The account's name in Keyport (unique).
    pub name: String,
    /// The provider's name.
    pub provider: String,
    /// `"user"` or `"service"`.
    pub kind: AccountKind,
    /// Who the account is.
    pub identity: Identity,
    /// Scopes granted.
    pub scopes: Vec<String>,
    /// When the access token expires (RFC 3339 UTC), or `null` when the provider gave no lifetime.
    pub expires_at: Option<String>,
    /// Seconds left until `expires_at` when the answer was made (0 once past), or `null`.
    pub expires_in_secs: Option<i64>,
    /// The token's state.
    pub status: AccountStatus,
    /// Whether a refresh token is stored in the keyring.
    pub has_refresh_token: bool,
    /// Usually `"Bearer"`.
    pub token_type: String,
    /// The provider's reason when `status` is `needs_sign_in`.
    pub needs_sign_in_reason: Option<String>,
    /// When the access token was last renewed (RFC 3339 UTC), or `null`.
    pub last_refreshed_at: Option<String>,
    /// When the account was added (RFC 3339 UTC).
    pub created_at: String,
    /// When its record last changed (RFC 3339 UTC).
    pub updated_at: String,
    /// When the refresh token stops working (RFC 3339 UTC); `null` when no end is known, or
    /// there is no refresh token. Absent from daemons older than this field.
    #[serde(default)]
    pub refresh_token_expires_at: Option<String>,
    /// Seconds until `refresh_token_expires_at` (0 once past), or `null`.
    #[serde(default)]
    pub refresh_token_expires_in_secs: Option<i64>,
    /// What limits it, or `null` when no end is known.
    #[serde(default)]
    pub refresh_token_expiry: Option<RefreshExpiry>,
}

/// A provider's endpoints; the optional ones are absent (not `null`) when unknown, as in
/// `docs/json.md`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Endpoints {
    /// Authorization endpoint.
    pub authorization: String,
    /// Token endpoint.
    pub token: String,
    /// RFC 7009 revocation endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation: Option<String>,
    /// RFC 8628 device authorization endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_authorization: Option<String>,
    /// Userinfo endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo: Option<String>,
    /// RFC 7662 token introspection endpoint (`accounts.revoke` checks there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection: Option<String>,
}

/// The provider object of `docs/json.md`. Never holds the client secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProviderSummary {
    /// The provider's name.
    pub name: String,
    /// `google`, `microsoft (TENANT)`, `github`, `gitlab (HOST)`, `issuer URL` or `manual`.
    pub kind: String,
    /// The OAuth client id.
    pub client_id: String,
    /// Whether a client secret is stored in the keyring.
    pub has_client_secret: bool,
    /// Its endpoints.
    pub endpoints: Endpoints,
    /// Where each endpoint in `endpoints` comes from, by its name there: `preset` (built
    /// in), `discovered` (the issuer's metadata) or `given` (typed in by the user). Absent
    /// from daemons older than this field.
    #[serde(default)]
    pub endpoint_sources: std::collections::BTreeMap<String, String>,
    /// Scopes requested when a sign-in names none.
    pub scopes: Vec<String>,
    /// The redirect URI to register with the provider (a free port is added at each sign-in).
    pub redirect_uri: String,
    /// The redirect URI is `/callback`, which every provider shared before each got its own
    /// `/callback/NAME` (the mix-up defence): worth moving once the provider's registration
    /// has the new one.
    #[serde(default)]
    pub shared_redirect_uri: bool,
}

// ---- params ----------------------------------------------------------------------------

/// Params of methods that take nothing (`accounts.list`, `providers.list`, `events.subscribe`):
/// `{}` or no `params` at all. Serializes as `{}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoParams {}

/// Params of methods about one account (`accounts.status`, `token.refresh`, `accounts.remove`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountParams {
    /// The account's name.
    pub account: String,
}

/// Params of `token.get`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenGetParams {
    /// The account's name.
    pub account: String,
    /// Renew the token first if it expires within this many seconds
    /// (default [`DEFAULT_MIN_VALID_SECS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_valid_secs: Option<u64>,
    /// The name of the program asking, as the client claims it (`mbsync`): read only on a
    /// socket forwarded by `keyport ssh`, where the service cannot see the program, and shown
    /// to the user as a claim. At most [`MAX_CLAIMED_PROGRAM`] characters: letters, digits,
    /// `.`, `_`, `-`, `+`. Ignored on the service's own socket, which judges the program itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
}

/// The longest program name a forwarded request may claim (`token.get`'s `program`).
pub const MAX_CLAIMED_PROGRAM: usize = 64;

/// Whether `name` is a program name a forwarded request may claim: 1 to
/// [`MAX_CLAIMED_PROGRAM`] letters, digits, `.`, `_`, `-` or `+`, not starting with `.` or `-`.
pub fn is_claimable_program(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_CLAIMED_PROGRAM
        && !name.starts_with(['.', '-'])
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
}

/// The longest host name `ssh.forward` takes.
pub const MAX_HOST_NAME: usize = 253;

/// Whether `host` names a machine as `ssh.forward` takes it: 1 to [`MAX_HOST_NAME`] letters,
/// digits, `.`, `_` or `-`, not starting with `.` or `-` (a name or an IPv4 address, as typed
/// after `user@`).
pub fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= MAX_HOST_NAME
        && !host.starts_with(['.', '-'])
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Params of `ssh.forward`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshForwardParams {
    /// The machine the session goes to, as the user named it (`build-01`): requests through
    /// the forward are judged as coming from it (see [`is_host_name`]).
    pub host: String,
    /// For an `ssh_config` `RemoteForward` (`keyport forward HOST`): the socket is at a path
    /// known ahead, `ssh-host-HOST.sock` beside the service's, one per host, and any `ssh`
    /// client of the user may use it, not only a child of the process that asked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub for_ssh_config: bool,
}

/// Result of `ssh.forward`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshForwardResult {
    /// The forward's socket on this machine, for `ssh -R REMOTE:SOCKET`. It is removed, and
    /// every connection through it ended, when the connection that asked for it closes.
    pub socket: String,
}

/// Params of `signin.start`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigninStartParams {
    /// The provider to sign in with.
    pub provider: String,
    /// The new account's name; by default the identity's email (or subject).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Scopes to ask for; by default the provider's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Whether the daemon opens the user's browser itself (default `false`: the caller shows
    /// or opens `url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_browser: Option<bool>,
}

/// Params of `accounts.reauth`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReauthParams {
    /// The account to sign in again.
    pub account: String,
    /// Scopes to ask for in addition to the account's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// As in [`SigninStartParams::open_browser`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_browser: Option<bool>,
}

/// Params of `signin.cancel`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigninCancelParams {
    /// The id `signin.start` or `accounts.reauth` returned.
    pub signin_id: String,
}

/// Params of `accounts.revoke`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeParams {
    /// The account to revoke.
    pub account: String,
    /// Remove the account from Keyport even if the provider cannot revoke (default `false`:
    /// the account is kept and the error returned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<bool>,
}

/// Params of `access.set`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessSetParams {
    /// The program, as [`AccessRule::program`] names it (an absolute path, `flatpak:ID`,
    /// `snap:NAME`, `container:NAME:/path`).
    pub program: String,
    /// The account, or `"*"` for every account, present and future.
    pub account: String,
    /// Allowed or denied.
    pub decision: AccessDecision,
}

/// Params of `access.forget`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessForgetParams {
    /// The program.
    pub program: String,
    /// The account, or `"*"`.
    pub account: String,
}

// ---- results ---------------------------------------------------------------------------

/// A result with nothing to say (`events.subscribe`, `signin.cancel`): `{}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// Result of `accounts.list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountsListResult {
    /// Every account, sorted by name.
    pub accounts: Vec<AccountSummary>,
}

/// Result of `providers.list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvidersListResult {
    /// Every provider, sorted by name.
    pub providers: Vec<ProviderSummary>,
}

/// Result of `token.get`. The one result that carries a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenGetResult {
    /// The access token (its `Debug` prints `[redacted]`).
    pub access_token: AccessToken,
    /// Usually `"Bearer"`.
    pub token_type: String,
    /// When it expires (RFC 3339 UTC), or `null` when the provider gave no lifetime.
    pub expires_at: Option<String>,
    /// Seconds left until `expires_at` (0 once past), or `null`.
    pub expires_in_secs: Option<i64>,
    /// The scopes it carries.
    pub scopes: Vec<String>,
}

/// Result of `signin.start` and `accounts.reauth`. The outcome comes later as a
/// `signin_finished` or `signin_failed` event with the same `signin_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SigninStartResult {
    /// Names this sign-in in events and in `signin.cancel`. Opaque; not a secret.
    pub signin_id: String,
    /// The authorization URL to open in the user's browser.
    pub url: String,
    /// Whether the daemon opened the browser (only when asked to, and it worked).
    pub browser_opened: bool,
    /// When the service stops waiting for the browser (RFC 3339 UTC). Absent from services
    /// older than this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// What `accounts.revoke` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum RevokeOutcome {
    /// The provider revoked the tokens (or said they were already gone).
    Revoked,
    /// The provider has no revocation API: Keyport forgot the tokens; the user revokes the
    /// grant at `page`.
    RevokeAtPage,
    /// The provider could not revoke and `local` was set: removed from Keyport only.
    RemovedLocally,
    /// An outcome added after this version (read only).
    #[serde(other, skip_serializing)]
    #[cfg_attr(feature = "ts", ts(skip))]
    Unknown,
}

/// Result of `accounts.revoke`. In every outcome the account is gone from Keyport.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RevokeResult {
    /// What happened.
    pub outcome: RevokeOutcome,
    /// The account as it was.
    pub account: AccountSummary,
    /// For `revoke_at_page`: where the user revokes access, when known.
    pub page: Option<String>,
    /// For `removed_locally`: why the provider did not revoke.
    pub reason: Option<String>,
    /// For `revoked`: the provider's token introspection endpoint (RFC 7662) said afterwards
    /// that every revoked token is inactive. `false` when it was not checked (see
    /// `unverified_reason`). Absent from daemons older than this field: read as `false`.
    #[serde(default)]
    pub verified: bool,
    /// For `revoked` with `verified: false`: why it was not checked (no introspection
    /// endpoint is known, or it would not answer Keyport's client).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unverified_reason: Option<String>,
}

/// What the user decided about a program and an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "Decision"))]
#[serde(rename_all = "snake_case")]
pub enum AccessDecision {
    /// The program may read the account's tokens and act on it.
    Allow,
    /// It may not, and sees nothing of the account.
    Deny,
    /// A decision added after this version (read only).
    #[serde(other, skip_serializing)]
    #[cfg_attr(feature = "ts", ts(skip))]
    Unknown,
}

/// One access rule (a line of `keyport apps`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRule {
    /// The program: an absolute path, `flatpak:ID`, `snap:NAME` or `container:NAME:/path`.
    pub program: String,
    /// The name people know it by, to show above `program`: its desktop entry's `Name`
    /// ("Thunderbird"), else its file name (a script's own: "sync-mail.py") or app id's end.
    pub program_name: String,
    /// The account, or `"*"` for every account.
    pub account: String,
    /// Allowed or denied.
    pub decision: AccessDecision,
    /// When it was decided (RFC 3339 UTC).
    pub decided_at: String,
    /// When the program was last handed a token of the account (of any account, for a `*`
    /// rule), as far as the activity log remembers (RFC 3339 UTC); `null` if never. Absent from
    /// services older than this field.
    #[serde(default)]
    pub last_read: Option<String>,
}

/// Result of `access.list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessListResult {
    /// The rules the caller may see, sorted by program then account.
    pub rules: Vec<AccessRule>,
}

/// Result of `access.forget`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessForgetResult {
    /// Whether there was such a rule.
    pub forgotten: bool,
}

// ---- activity ----------------------------------------------------------------------------

/// The number of records `activity.list` returns when no `limit` is given.
pub const DEFAULT_ACTIVITY_LIMIT: u32 = 100;

/// The most records one `activity.list` returns (a larger `limit` is lowered to this).
pub const MAX_ACTIVITY_LIMIT: u32 = 1000;

/// Params of `activity.list`. Every filter is optional; records match all that are given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityListParams {
    /// Only records about this account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Only records of this program, as the rules name it (an absolute path, `flatpak:ID`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
    /// Only records at or after this time (RFC 3339); a counted record matches when its `last`
    /// is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// At most this many records, the newest ([`DEFAULT_ACTIVITY_LIMIT`] when absent, at most
    /// [`MAX_ACTIVITY_LIMIT`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// Who asked, in an activity record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ActivityAsker {
    /// A program, named in `program` as the rules name it.
    Program,
    /// You, typing `keyport` at the terminal named in `terminal`.
    Person,
    /// You, in the desktop app's window.
    Window,
    /// A process that could not be identified (`detail` says why).
    Unidentified,
    /// A kind added after this version (read only).
    #[serde(other, skip_serializing)]
    #[cfg_attr(feature = "ts", ts(skip))]
    Unknown,
}

/// What came of a request, in an activity record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ActivityOutcome {
    /// An access token was handed out.
    HandedOut,
    /// Another action on the account was allowed (renew, sign in again, revoke, remove...).
    Allowed,
    /// The request was refused.
    Refused,
    /// An outcome added after this version (read only).
    #[serde(other, skip_serializing)]
    #[cfg_attr(feature = "ts", ts(skip))]
    Unknown,
}

/// Why a request was allowed or refused, in an activity record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ActivityWhy {
    /// Allowed by a rule (`rule` names the account it covers, or `*`).
    Rule,
    /// Allowed by your answer in the window (`answer`: `once` or `always`).
    Answer,
    /// You, at your terminal.
    Person,
    /// You, in the window (copy access token, refresh, revoke, remove).
    Window,
    /// Refused: no rule allows it and it cannot be asked (an unnamed sign-in).
    NoRule,
    /// Refused by a rule that denies it (`rule` names the account it covers, or `*`).
    DeniedByRule,
    /// Refused by your answer "Deny" in the window.
    DeniedInWindow,
    /// Refused: there was nobody to ask (the headless service), the question went unanswered,
    /// or too many questions were open.
    NoOneToAsk,
    /// Refused: the process could not be identified.
    Unidentified,
    /// Refused: `keyport token`'s output went elsewhere than to the program that ran it.
    OutputElsewhere,
    /// Refused: only you may do this (change the rules, read the activity log).
    OnlyYou,
    /// Requests of kinds beyond the bounds of flood control, counted in `count`, not listed.
    Flood,
    /// Records lost because the log's writer was behind, counted in `count`.
    Dropped,
    /// A reason added after this version (read only).
    #[serde(other, skip_serializing)]
    #[cfg_attr(feature = "ts", ts(skip))]
    Unknown,
}

/// Your answer in the window, in an activity record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ActivityAnswer {
    /// Allow once.
    Once,
    /// Always allow.
    Always,
    /// Allow for this `keyport ssh` session.
    Session,
    /// An answer added after this version (read only).
    #[serde(other, skip_serializing)]
    #[cfg_attr(feature = "ts", ts(skip))]
    Unknown,
}

/// One record of the activity log (docs/activity.md): a token handed out, another action
/// allowed, or a request refused. Never holds a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ActivityRecord {
    /// When (RFC 3339 UTC); for a counted record, the first of the repeats.
    pub time: String,
    /// Who asked.
    pub asker: ActivityAsker,
    /// The program, as the rules name it (for `asker: program`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
    /// The terminal (for `asker: person`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal: Option<String>,
    /// The account, when the request named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// What was asked: a socket method (`token.get`, `accounts.revoke`...), `token.copy` in the
    /// window, or `*` for a record that counts several.
    pub action: String,
    /// What came of it.
    pub outcome: ActivityOutcome,
    /// Why.
    pub why: ActivityWhy,
    /// For `rule` and `denied_by_rule`: the account the deciding rule names, or `*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// For `answer`: which.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<ActivityAnswer>,
    /// A sentence for people.
    pub detail: String,
    /// For a counted record: how many requests it stands for (repeats of the same kind after
    /// the first, which has a record of its own; or the requests `flood` and `dropped` count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// For a counted record: when the last of them was (RFC 3339 UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
}

/// Result of `activity.list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityListResult {
    /// The matching records, oldest first: the newest `limit` of them.
    pub records: Vec<ActivityRecord>,
    /// Whether older matching records were left out because of `limit`.
    pub truncated: bool,
}

/// Result of `accounts.remove`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveResult {
    /// The account as it was.
    pub account: AccountSummary,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_added_later_read_as_unknown() {
        assert_eq!(serde_json::from_str::<AccountStatus>(r#""frozen""#).unwrap(), AccountStatus::Unknown);
        assert_eq!(serde_json::from_str::<AccountKind>(r#""robot""#).unwrap(), AccountKind::Unknown);
        assert_eq!(serde_json::from_str::<RevokeOutcome>(r#""later""#).unwrap(), RevokeOutcome::Unknown);
        assert_eq!(serde_json::to_string(&AccountStatus::NeedsSignIn).unwrap(), r#""needs_sign_in""#);
    }

    #[test]
    fn optional_params_are_left_out_and_unknown_ones_ignored() {
        let params: TokenGetParams = serde_json::from_str(r#"{"account":"a","from_the_future":1}"#).unwrap();
        assert_eq!(params, TokenGetParams { account: "a".into(), min_valid_secs: None, program: None });
        assert_eq!(serde_json::to_string(&params).unwrap(), r#"{"account":"a"}"#);
        assert_eq!(serde_json::to_string(&NoParams {}).unwrap(), "{}");
    }

    #[test]
    fn a_token_result_debug_hides_the_token() {
        let result = TokenGetResult {
            access_token: AccessToken::new("gho_hunter2"),
            token_type: "Bearer".into(),
            expires_at: None,
            expires_in_secs: None,
            scopes: vec![],
        };
        let shown = format!("{result:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("access_token: [redacted]"), "{shown}");
    }
}
