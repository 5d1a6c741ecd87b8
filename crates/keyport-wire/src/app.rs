//! The desktop window's part of the contract: the params and results of the methods it
//! calls (`accounts.details`, `signin.device`, `providers.add`, `prompts.answer`...; see
//! `docs/socket.md`), the access questions it answers, and the few types that only go between
//! the window's Rust side and its web view (`AppError`, `CopyResult`, `Navigate`). With the
//! `ts` feature they derive the TypeScript definitions of `ui/src/bindings/`.
//!
//! Forms that carry a secret (a client secret) print `[redacted]` in their `Debug`; they are
//! serialized only to send them to the service.

use serde::{Deserialize, Serialize};

use crate::code::ErrorCode;
use crate::jsonrpc::ErrorObject;
use crate::types::AccessDecision;

/// An error for the app's window: `code` for the program, `message` for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[error("{message}")]
pub struct AppError {
    /// The socket's error name (`no_such_account`, `provider_unreachable`, `invalid_params`,
    /// `keyring_unavailable`, ... see docs/socket.md).
    pub code: String,
    /// What went wrong, in a sentence. Never a secret.
    pub message: String,
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code: code.name().to_owned(), message: message.into() }
    }

    /// An error of the host (clipboard, window), not of an account.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InternalError, message)
    }

    /// Input the user must correct.
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParams, message)
    }
}

impl From<ErrorObject> for AppError {
    fn from(error: ErrorObject) -> Self {
        let code = ErrorCode::from_code(error.code).unwrap_or(ErrorCode::InternalError);
        Self { code: code.name().to_owned(), message: error.message }
    }
}

/// The last thing that went wrong with an account and has not been fixed by a later success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LastError {
    /// What failed, for people.
    pub message: String,
    /// When (RFC 3339 UTC).
    pub at: String,
}

/// A program's remembered decision about an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProgramAccess {
    /// The program, as the rules name it: an absolute path (an executable or a script),
    /// `flatpak:ID`, `snap:NAME` or `container:NAME:/path`.
    pub program: String,
    /// The name people know it by (its desktop entry's, else its file name).
    pub program_name: String,
    /// Allowed or denied.
    pub decision: AccessDecision,
    /// When the user decided (RFC 3339 UTC).
    pub decided_at: String,
    /// When the program last read the account (RFC 3339 UTC), if the activity log knows.
    pub last_read: Option<String>,
}

/// Everything the details screen shows about an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AccountDetails {
    /// The account.
    pub account: crate::AccountSummary,
    /// Its last error, if not fixed since.
    pub last_error: Option<LastError>,
    /// The programs the user allowed or denied.
    pub programs: Vec<ProgramAccess>,
    /// The account's recent activity, oldest first (at most [`ACCOUNT_ACTIVITY`] records).
    pub activity: Vec<crate::ActivityRecord>,
}

/// The records of the account's activity its page shows.
pub const ACCOUNT_ACTIVITY: usize = 20;

/// A browser sign-in under way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BrowserSignIn {
    /// Names it in `signin_cancel` and in its `signin_finished` / `signin_failed` event.
    pub signin_id: String,
    /// The authorization URL, to open by hand when no browser started.
    pub url: String,
    /// Whether a browser was started.
    pub browser_opened: bool,
    /// Keyport stops waiting for the browser then (RFC 3339 UTC).
    pub expires_at: String,
}

/// A device sign-in under way: what the user types or scans on another device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DeviceStart {
    /// Names it in `signin_cancel` and in its `signin_finished` / `signin_failed` event.
    pub signin_id: String,
    /// Where to go.
    pub verification_uri: String,
    /// The same with the code filled in, when the provider gives one.
    pub verification_uri_complete: Option<String>,
    /// The code to type there.
    pub user_code: String,
    /// The code's expiry (RFC 3339 UTC).
    pub expires_at: String,
    /// How long the code lasts, in seconds from its start.
    #[serde(default)]
    pub expires_in_secs: u64,
    /// How often Keyport asks the provider, in seconds.
    pub interval_secs: u32,
    /// An SVG document of a QR code for the complete URI (else the plain one).
    pub qr_svg: String,
}

/// What a preset's form needs besides the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum PresetNeeds {
    /// Nothing.
    None,
    /// A Microsoft tenant (optional; `common` when empty).
    Tenant,
    /// A GitLab base URL (optional; gitlab.com when empty).
    BaseUrl,
}

/// A built-in provider, with how to register a client there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PresetInfo {
    /// `google`, `microsoft`, `github` or `gitlab`.
    pub id: String,
    /// Its name for people.
    pub label: String,
    /// Extra fields of its form.
    pub needs: PresetNeeds,
    /// Scopes requested when none are given.
    pub default_scopes: Vec<String>,
    /// Where clients are registered.
    pub register_url: String,
    /// How, in plain words: paragraphs separated by blank lines.
    pub guidance: String,
    /// The redirect URI to register (any port is used).
    pub redirect_uri: String,
    /// Whether it can sign in with a code on another device.
    pub device_flow: bool,
    /// `required`, `optional` or `not_needed`.
    pub client_secret: String,
}

/// Where a new provider's endpoints come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProviderSource {
    /// A built-in provider.
    Preset {
        /// Its id.
        preset: String,
        /// Microsoft tenant.
        tenant: Option<String>,
        /// Self-hosted GitLab.
        base_url: Option<String>,
    },
    /// An issuer whose metadata is discovered.
    Issuer {
        /// The issuer URL.
        issuer: String,
    },
    /// Endpoints typed in.
    Endpoints {
        /// The endpoints.
        endpoints: crate::Endpoints,
    },
}

/// The add-provider form: the params of `providers.add`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NewProviderForm {
    /// The provider's name in Keyport.
    pub name: String,
    /// Where its endpoints come from.
    pub source: ProviderSource,
    /// The registered client id.
    pub client_id: String,
    /// The client secret, when the provider wants one; stored in the keyring.
    pub client_secret: Option<String>,
    /// Default scopes (the provider's when empty).
    pub scopes: Vec<String>,
    /// With a preset or an issuer: endpoints given over (or beside) its own, each `null` or
    /// blank when not given. With typed-in endpoints (`source.kind = "endpoints"`) they are all
    /// in `source` and these stay empty. Absent means none.
    #[serde(default)]
    pub endpoints: EndpointUrls,
    /// Redirect host, as registered: `127.0.0.1`, `[::1]` or `localhost`; `null` for the
    /// preset's (Microsoft: `localhost`) or `127.0.0.1`.
    #[serde(default)]
    pub redirect_host: Option<String>,
    /// Redirect path, as registered; `null` for the provider's own, `/callback/NAME`.
    #[serde(default)]
    pub redirect_path: Option<String>,
}

impl std::fmt::Debug for NewProviderForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewProviderForm")
            .field("name", &self.name)
            .field("source", &self.source)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "[redacted]"))
            .field("scopes", &self.scopes)
            .field("endpoints", &self.endpoints)
            .field("redirect_host", &self.redirect_host)
            .field("redirect_path", &self.redirect_path)
            .finish()
    }
}

/// Endpoints typed into the edit-provider form, each `null` (or blank) when it stays as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EndpointUrls {
    /// Authorization endpoint.
    pub authorization: Option<String>,
    /// Token endpoint.
    pub token: Option<String>,
    /// RFC 7009 revocation endpoint.
    pub revocation: Option<String>,
    /// RFC 8628 device authorization endpoint.
    pub device_authorization: Option<String>,
    /// Userinfo endpoint.
    pub userinfo: Option<String>,
    /// RFC 7662 introspection endpoint.
    pub introspection: Option<String>,
}

/// What happens to a provider's client secret in the edit-provider form.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ClientSecretChange {
    /// It stays as it is (in the keyring, or none).
    Keep,
    /// A new one, stored in the keyring in place of the old one.
    Replace {
        /// The new client secret.
        secret: String,
    },
    /// Deleted from the keyring: a public client from now on.
    Delete,
}

impl std::fmt::Debug for ClientSecretChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Keep => f.write_str("Keep"),
            Self::Replace { .. } => f.write_str("Replace([redacted])"),
            Self::Delete => f.write_str("Delete"),
        }
    }
}

/// The edit-provider form: what is `null` (or empty) stays as it is; the provider's accounts
/// stay in any case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProviderEditForm {
    /// The provider.
    pub name: String,
    /// Endpoints to give, over the preset's or the discovered ones.
    pub endpoints: EndpointUrls,
    /// Endpoints to forget, by name (`revocation`, `userinfo`, ...): back to the preset's or
    /// the discovered one; for a provider added by its endpoints, an optional one goes.
    pub forget_endpoints: Vec<String>,
    /// New default scopes; an empty list goes back to the preset's or the discovered ones.
    pub scopes: Option<Vec<String>>,
    /// New redirect host: `127.0.0.1`, `[::1]` or `localhost`.
    pub redirect_host: Option<String>,
    /// New redirect path, such as `/callback/NAME`.
    pub redirect_path: Option<String>,
    /// The client secret: kept, replaced or deleted.
    pub client_secret: ClientSecretChange,
}

/// After reading a discovered provider's metadata again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProviderRefreshed {
    /// The provider as it is now.
    pub provider: crate::ProviderSummary,
    /// What changed, one line for people each (`revocation: added https://...`); empty when
    /// the metadata says the same as before.
    pub changes: Vec<String>,
}

/// The sign-in form (browser or device).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SignInForm {
    /// The provider.
    pub provider: String,
    /// The account's name; derived from the identity when `null`.
    pub account: Option<String>,
    /// Scopes (the provider's defaults when empty).
    pub scopes: Vec<String>,
}

/// The service-account form (client credentials): the params of `accounts.add_service`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ServiceAccountForm {
    /// The provider.
    pub provider: String,
    /// The account's name.
    pub name: String,
    /// Scopes (the provider's defaults when empty).
    pub scopes: Vec<String>,
    /// The client id, when it is not the provider's.
    pub client_id: Option<String>,
    /// The client secret; stored in the keyring.
    pub client_secret: Option<String>,
}

impl std::fmt::Debug for ServiceAccountForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountForm")
            .field("provider", &self.provider)
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// Result of `service.status`: what the window's status bar shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AppStatus {
    /// The socket the service serves.
    pub socket: Option<String>,
    /// Why the window cannot reach the service, for people (set by the window; the service
    /// sends `null`).
    #[serde(default)]
    pub socket_note: Option<String>,
    /// Accounts that need a new sign-in.
    pub needs_attention: Vec<String>,
    /// The service's version.
    #[serde(default)]
    pub version: String,
    /// The service's process id.
    #[serde(default)]
    pub pid: u32,
}

/// After copying an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CopyResult {
    /// The clipboard is cleared after this many seconds (if it still holds the token).
    pub clears_in_secs: u32,
}

/// Where the tray menu or a notification sends the window.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "screen", rename_all = "snake_case")]
pub enum Navigate {
    /// The accounts list.
    Accounts,
    /// One account's details.
    Account {
        /// Its name.
        account: String,
    },
    /// An access question.
    Prompt {
        /// The question.
        prompt_id: String,
    },
}

/// What a program asks to do with an account: the question put to the user names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "Action"))]
#[serde(rename_all = "snake_case")]
pub enum AccountAction {
    /// Read its access token (`token.get`).
    ReadToken,
    /// Renew its token now (`token.refresh`).
    Refresh,
    /// Sign in to it again, perhaps with more scopes (`accounts.reauth`).
    SignInAgain,
    /// Have the provider revoke it, then remove it (`accounts.revoke`).
    Revoke,
    /// Remove it from Keyport (`accounts.remove`).
    Remove,
    /// Connect a new account under this name (`signin.start`).
    Connect,
    /// An action added after this version (read only).
    #[serde(other, skip_serializing)]
    #[cfg_attr(feature = "ts", ts(skip))]
    Unknown,
}

impl AccountAction {
    /// What the program wants, as the end of "PROGRAM wants to ...".
    pub fn phrase(self, account: &str) -> String {
        match self {
            Self::ReadToken => format!("read `{account}`"),
            Self::Refresh => format!("renew the token of `{account}`"),
            Self::SignInAgain => format!("sign in to `{account}` again"),
            Self::Revoke => format!("revoke and remove `{account}`"),
            Self::Remove => format!("remove `{account}`"),
            Self::Connect => format!("connect a new account as `{account}`"),
            Self::Unknown => format!("use `{account}`"),
        }
    }
}

/// A question to the user: may `program` do `action` with `account`?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AccessPrompt {
    /// Names this question in `prompts.answer`.
    pub prompt_id: String,
    /// The program as the rules name it: an absolute path, or `flatpak:ID`, `snap:NAME`,
    /// `container:NAME:/path`, `remote:HOST[:PROGRAM]`.
    pub program: String,
    /// The name people know it by (its desktop entry's, else its file name), for the headline.
    /// On a remote machine, the name the remote side claims (unchecked), or "a program".
    pub program_name: String,
    /// The machine the request came from through a `keyport ssh` forward, if it did: the
    /// question then offers [`PromptChoice::AllowSession`], and [`PromptChoice::AllowAlways`]
    /// allows every program on this host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub host: Option<String>,
    /// The account it wants.
    pub account: String,
    /// What it wants to do with the account.
    pub action: AccountAction,
    /// When it asked (RFC 3339 UTC).
    pub asked_at: String,
    /// Unanswered by then, the request is refused this once (RFC 3339 UTC).
    pub expires_at: String,
}

/// The user's answer to an [`AccessPrompt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum PromptChoice {
    /// This request only.
    AllowOnce,
    /// Every request of this program for this account through the same `keyport ssh`
    /// session, until it ends (remote questions only).
    AllowSession,
    /// Remember: allowed (for a remote question, every program on that host).
    AllowAlways,
    /// Remember: denied.
    Deny,
}

// ---- params and results of the window's methods ---------------------------------------------

/// Params of `providers.refresh` and `providers.remove`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderParams {
    /// The provider's name.
    pub provider: String,
}

/// Result of `providers.presets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresetsListResult {
    /// The built-in providers, with how to register a client at each.
    pub presets: Vec<PresetInfo>,
}

/// Result of `prompts.subscribe`: the questions waiting now; later ones arrive as
/// `prompt_asked` events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptsListResult {
    /// Unanswered questions, oldest first.
    pub prompts: Vec<AccessPrompt>,
}

/// Params of `prompts.answer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptAnswerParams {
    /// The question.
    pub prompt_id: String,
    /// The answer.
    pub choice: PromptChoice,
}

/// Result of `service.autostart` and `service.set_autostart`: whether the service starts at
/// login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AutostartStatus {
    /// It starts at login.
    pub enabled: bool,
    /// The XDG autostart entry that decides it (the user's, or the system's), if any.
    pub entry: Option<String>,
}

/// Params of `service.set_autostart`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutostartParams {
    /// Start at login, or not.
    pub enabled: bool,
}

/// What the window's first screen shows, read from the service by the window's process while
/// its web view starts, and handed to the page with its first script
/// (`window.__KEYPORT_FIRST_SCREEN__`): the page paints it at once instead of asking after it
/// has loaded, then subscribes to events and loads everything again as usual. Not a socket
/// message. Each part is `null` when its call failed (the page then loads it itself).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FirstScreen {
    /// `accounts.list`.
    pub accounts: Option<Vec<crate::AccountSummary>>,
    /// `providers.list`.
    pub providers: Option<Vec<crate::ProviderSummary>>,
    /// `service.status`.
    pub status: Option<AppStatus>,
    /// `service.autostart`.
    pub autostart: Option<AutostartStatus>,
    /// The questions waiting (`prompts.subscribe`).
    pub prompts: Option<Vec<AccessPrompt>>,
}
