//! The desktop app's calls: what its window shows and does, as methods of [`Service`] over the
//! same code the socket's methods use (`methods.rs`). Each Tauri command of the shell is one of
//! these. Errors are [`AppError`]s: a stable code and a sentence for people.
//!
//! The types here are the app's contract with its web UI; with the `ts` feature they derive
//! TypeScript definitions (`ui/src/bindings/`, checked by the shell's tests).

use std::sync::Arc;
use std::time::Duration;

use keyport_core::device::DeviceRequest;
use keyport_core::provider::{
    EndpointKind, Endpoints as CoreEndpoints, MicrosoftTenant, Preset, RedirectHost, SecretNeed,
};
use keyport_core::secret::Secret;
use keyport_core::signin::SignInRequest;
use keyport_core::{NewProvider, ProviderEdit, ProviderSpec, ProviderView, ServiceAccountRequest};
use keyport_wire::{self as wire, ErrorCode, ErrorObject};
use serde::{Deserialize, Serialize};

use crate::access::{Decision, Program};
use crate::activity::{Outcome, Who, Why};
use crate::convert;
use crate::prompts::{AccessPrompts, PromptChoice, PromptGone};
use crate::service::Service;

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
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code: code.name().to_owned(), message: message.into() }
    }

    /// An error of the host (clipboard, window), not of an account.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InternalError, message)
    }

    fn bad_input(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParams, message)
    }
}

impl From<ErrorObject> for AppError {
    fn from(error: ErrorObject) -> Self {
        let code = ErrorCode::from_code(error.code).unwrap_or(ErrorCode::InternalError);
        Self { code: code.name().to_owned(), message: error.message }
    }
}

impl From<keyport_core::Error> for AppError {
    fn from(error: keyport_core::Error) -> Self {
        convert::error(&error).into()
    }
}

impl From<crate::ServiceError> for AppError {
    fn from(error: crate::ServiceError) -> Self {
        match error {
            crate::ServiceError::Core(core) => core.into(),
            crate::ServiceError::BadRequest(message) => Self::bad_input(message),
            other => Self::new(ErrorCode::InternalError, other.to_string()),
        }
    }
}

impl From<PromptGone> for AppError {
    fn from(error: PromptGone) -> Self {
        Self::bad_input(error.to_string())
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
    pub decision: Decision,
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
    pub account: wire::AccountSummary,
    /// Its last error, if not fixed since.
    pub last_error: Option<LastError>,
    /// The programs the user allowed or denied.
    pub programs: Vec<ProgramAccess>,
    /// The account's recent activity, oldest first (at most [`ACCOUNT_ACTIVITY`] records).
    pub activity: Vec<wire::ActivityRecord>,
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
        endpoints: wire::Endpoints,
    },
}

/// The add-provider form.
#[derive(Serialize, Deserialize)]
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
}

impl std::fmt::Debug for NewProviderForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewProviderForm")
            .field("name", &self.name)
            .field("source", &self.source)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "[redacted]"))
            .field("scopes", &self.scopes)
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

impl EndpointUrls {
    /// The ones typed in, by kind.
    fn typed(self) -> [(EndpointKind, Option<String>); 6] {
        [
            (EndpointKind::Authorization, self.authorization),
            (EndpointKind::Token, self.token),
            (EndpointKind::Revocation, self.revocation),
            (EndpointKind::DeviceAuthorization, self.device_authorization),
            (EndpointKind::Userinfo, self.userinfo),
            (EndpointKind::Introspection, self.introspection),
        ]
    }
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
#[derive(Debug, Serialize, Deserialize)]
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
    pub provider: wire::ProviderSummary,
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

/// The service-account form (client credentials).
#[derive(Serialize, Deserialize)]
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

/// What the app's status bar and tray show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AppStatus {
    /// The socket served to other programs, if this app serves it.
    pub socket: Option<String>,
    /// Why not, for people.
    pub socket_note: Option<String>,
    /// Accounts that need a new sign-in.
    pub needs_attention: Vec<String>,
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

/// Splits what a user typed ("a b, c") into scopes.
fn scopes(typed: &[String]) -> Vec<String> {
    keyport_core::provider::split_scopes(typed)
}

fn secret(typed: Option<String>) -> Option<Secret> {
    typed.filter(|s| !s.trim().is_empty()).map(|s| Secret::new(s.trim().to_owned()))
}

fn optional(typed: Option<String>) -> Option<String> {
    typed.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn url(what: &str, typed: &str) -> Result<url::Url, AppError> {
    url::Url::parse(typed.trim())
        .map_err(|err| AppError::bad_input(format!("the {what} `{typed}` is not a URL: {err}")))
}

/// A QR code of `text` as an SVG document.
fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).quiet_zone(true).build(),
        Err(_) => String::new(),
    }
}

impl NewProviderForm {
    fn into_core(self) -> Result<(String, NewProvider), AppError> {
        let spec = match self.source {
            ProviderSource::Preset { preset, tenant, base_url } => ProviderSpec::Preset {
                preset: preset.parse::<Preset>()?,
                tenant: optional(tenant)
                    .map(|t| t.parse::<MicrosoftTenant>())
                    .transpose()
                    .map_err(|err| AppError::bad_input(err.to_string()))?,
                base_url: optional(base_url).map(|u| url("base URL", &u)).transpose()?,
            },
            ProviderSource::Issuer { issuer } => ProviderSpec::Issuer(url("issuer", &issuer)?),
            ProviderSource::Endpoints { endpoints: e } => {
                let optional_url = |what, typed: Option<String>| optional(typed).map(|u| url(what, &u)).transpose();
                ProviderSpec::Manual(Box::new(CoreEndpoints {
                    authorization: url("authorization endpoint", &e.authorization)?,
                    token: url("token endpoint", &e.token)?,
                    revocation: optional_url("revocation endpoint", e.revocation)?,
                    device_authorization: optional_url("device authorization endpoint", e.device_authorization)?,
                    userinfo: optional_url("userinfo endpoint", e.userinfo)?,
                    introspection: optional_url("introspection endpoint", e.introspection)?,
                }))
            }
        };
        let redirect_host = match &spec {
            ProviderSpec::Preset { preset, .. } => preset.default_redirect_host(),
            _ => RedirectHost::Ipv4,
        };
        let client_id = self.client_id.trim().to_owned();
        if client_id.is_empty() {
            return Err(AppError::bad_input("enter the client ID you registered with the provider"));
        }
        let new = NewProvider {
            spec,
            client_id,
            client_secret: secret(self.client_secret),
            scopes: scopes(&self.scopes),
            redirect_host,
            redirect_path: None,
            given_endpoints: Default::default(),
        };
        Ok((self.name.trim().to_owned(), new))
    }
}

impl ProviderEditForm {
    fn into_core(self) -> Result<(String, ProviderEdit), AppError> {
        let name = self.name.trim().to_owned();
        let mut endpoints = Vec::new();
        for (kind, typed) in self.endpoints.typed() {
            if let Some(typed) = optional(typed) {
                endpoints.push((kind, Some(url(&format!("{} endpoint", kind.name().replace('_', " ")), &typed)?)));
            }
        }
        for typed in &self.forget_endpoints {
            let kind = EndpointKind::parse(typed).map_err(|err| AppError::bad_input(err.to_string()))?;
            if endpoints.iter().any(|(given, _)| *given == kind) {
                return Err(AppError::bad_input(format!(
                    "the {} endpoint is both given and forgotten: do one or the other",
                    kind.name().replace('_', " ")
                )));
            }
            if !endpoints.contains(&(kind, None)) {
                endpoints.push((kind, None));
            }
        }
        let redirect_host = optional(self.redirect_host)
            .map(|host| RedirectHost::parse(&host))
            .transpose()
            .map_err(|err| AppError::bad_input(err.to_string()))?;
        let client_secret = match self.client_secret {
            ClientSecretChange::Keep => None,
            ClientSecretChange::Replace { secret: typed } => Some(Some(
                secret(Some(typed))
                    .ok_or_else(|| AppError::bad_input("enter the new client secret, or keep the old one"))?,
            )),
            ClientSecretChange::Delete => Some(None),
        };
        let edit = ProviderEdit {
            endpoints,
            scopes: self.scopes.map(|typed| scopes(&typed)),
            redirect_host,
            redirect_path: optional(self.redirect_path),
            client_secret,
        };
        let nothing = edit.endpoints.is_empty()
            && edit.scopes.is_none()
            && edit.redirect_host.is_none()
            && edit.redirect_path.is_none()
            && edit.client_secret.is_none();
        if nothing {
            return Err(AppError::bad_input(format!("nothing to change in the provider {name}")));
        }
        Ok((name, edit))
    }
}

/// The presets with their guidance.
pub fn presets() -> Vec<PresetInfo> {
    Preset::ALL
        .into_iter()
        .map(|preset| {
            let template = preset.template();
            let guide = preset.guide();
            PresetInfo {
                id: preset.as_str().to_owned(),
                label: preset.label().to_owned(),
                needs: match preset {
                    Preset::Microsoft => PresetNeeds::Tenant,
                    Preset::Gitlab => PresetNeeds::BaseUrl,
                    _ => PresetNeeds::None,
                },
                default_scopes: template.default_scopes.clone(),
                register_url: guide.registration_page.to_owned(),
                guidance: guide.steps.to_owned(),
                device_flow: template.endpoints.device_authorization.is_some(),
                redirect_uri: ProviderView::from(&template).redirect_uri,
                client_secret: match guide.client_secret {
                    SecretNeed::Required => "required",
                    SecretNeed::Optional => "optional",
                    SecretNeed::NotNeeded => "not_needed",
                }
                .to_owned(),
            }
        })
        .collect()
}

impl Service {
    /// Every account.
    pub async fn app_accounts(&self) -> Result<Vec<wire::AccountSummary>, AppError> {
        Ok(self.list_accounts().await?)
    }

    /// One account, its last error and the programs that may read it.
    pub async fn app_account_details(&self, name: &str) -> Result<AccountDetails, AppError> {
        let account = self.keyport.account(name)?.view(self.keyport.now());
        let programs = self
            .rules
            .list()?
            .into_iter()
            .filter(|rule| rule.account == name)
            .map(|rule| ProgramAccess {
                program_name: crate::names::ProgramNames::shared().name(&rule.program),
                program: rule.program.to_string(),
                decision: rule.decision,
                decided_at: convert::rfc3339(rule.decided_at),
                last_read: self.activity.last_read(&rule.program.to_string(), &rule.account).map(convert::rfc3339),
            })
            .collect();
        let activity = self.activity.clone();
        let filter = crate::activity::Filter {
            account: Some(name.to_owned()),
            limit: ACCOUNT_ACTIVITY,
            ..crate::activity::Filter::default()
        };
        let (activity, _) = tokio::task::spawn_blocking(move || activity.list(&filter))
            .await
            .map_err(|err| AppError::internal(err.to_string()))?;
        Ok(AccountDetails { account: convert::account(account), last_error: self.last_error(name), programs, activity })
    }

    /// Renews the account's access token now.
    pub async fn app_refresh(&self, name: &str) -> Result<wire::AccountSummary, AppError> {
        self.record_window(name, "token.refresh", Outcome::Allowed, "you renewed the token in the window");
        Ok(self.refresh_account(name).await?)
    }

    /// Has the provider revoke the account's tokens, then removes it.
    pub async fn app_revoke(&self, name: &str) -> Result<wire::RevokeResult, AppError> {
        self.record_window(name, "accounts.revoke", Outcome::Allowed, "you revoked the account in the window");
        Ok(self.revoke_account(name, false).await?)
    }

    /// Removes the account from Keyport only.
    pub async fn app_remove(&self, name: &str) -> Result<wire::AccountSummary, AppError> {
        self.record_window(name, "accounts.remove", Outcome::Allowed, "you removed the account in the window");
        Ok(self.remove_account(name).await?)
    }

    /// The account's access token, renewed first when it expires within a minute: for the
    /// user's explicit "copy access token".
    pub async fn app_access_token(&self, name: &str) -> Result<Arc<Secret>, AppError> {
        let (_, token) = self
            .token(name, Duration::from_secs(wire::DEFAULT_MIN_VALID_SECS))
            .await
            .map_err(|err| self.note_error(name, err))?;
        self.record_window(name, "token.copy", Outcome::HandedOut, "you copied the access token in the window");
        Ok(token)
    }

    /// Records what the person in the window did with `account`.
    fn record_window(&self, account: &str, action: &'static str, outcome: Outcome, detail: &str) {
        self.activity.record(Who::Window, Some(account), action, outcome, Why::Window, || detail.to_owned());
    }

    /// Forgets what the user decided about `program` reading `account`.
    pub fn app_forget_program(&self, program: &str, account: &str) -> Result<(), AppError> {
        self.rules.forget(&program.parse::<Program>()?, account)?;
        Ok(())
    }

    /// Answers a program's question. A remembered answer is saved before the waiting request
    /// goes on, so the account's page lists it as soon as this returns.
    pub fn app_answer_prompt(
        &self,
        prompts: &AccessPrompts,
        prompt_id: &str,
        choice: PromptChoice,
    ) -> Result<(), AppError> {
        let prompt = prompts.get(prompt_id)?;
        let remember = match choice {
            PromptChoice::AllowOnce => None,
            PromptChoice::AllowAlways => Some(Decision::Allow),
            PromptChoice::Deny => Some(Decision::Deny),
        };
        if let Some(decision) = remember {
            self.rules.set(prompt.program.parse::<Program>()?, &prompt.account, decision)?;
        }
        Ok(prompts.answer(prompt_id, choice)?)
    }

    /// Starts a browser sign-in (the browser is opened, honouring `$BROWSER`); the outcome
    /// is a `signin_finished` or `signin_failed` event.
    pub async fn app_sign_in(self: &Arc<Self>, form: SignInForm) -> Result<BrowserSignIn, AppError> {
        let request = SignInRequest {
            scopes: scopes(&form.scopes),
            account_name: optional(form.account.clone()),
            open_browser: true,
            ..SignInRequest::default()
        };
        let provider = form.provider.clone();
        let pending = self.blocking(move |keyport| keyport.begin_sign_in(&provider, request)).await?;
        self.browser_sign_in(pending, optional(form.account))
    }

    /// Signs in to an existing account again, with extra scopes.
    pub async fn app_reauth(
        self: &Arc<Self>,
        account: &str,
        extra_scopes: &[String],
    ) -> Result<BrowserSignIn, AppError> {
        let (name, extra) = (account.to_owned(), scopes(extra_scopes));
        let pending = self
            .blocking(move |keyport| keyport.begin_reauth(&name, &extra, keyport_core::signin::DEFAULT_TIMEOUT, true))
            .await?;
        self.browser_sign_in(pending, Some(account.to_owned()))
    }

    fn browser_sign_in(
        self: &Arc<Self>,
        pending: keyport_core::signin::PendingSignIn,
        account: Option<String>,
    ) -> Result<BrowserSignIn, AppError> {
        let expires_at = convert::rfc3339(self.keyport.now() + pending.timeout());
        let started = self.track_sign_in(pending, account, crate::random_id())?;
        Ok(BrowserSignIn {
            signin_id: started.signin_id,
            url: started.url,
            browser_opened: started.browser_opened,
            expires_at,
        })
    }

    /// Cancels a browser or device sign-in.
    pub fn app_cancel_sign_in(&self, signin_id: &str) -> Result<(), AppError> {
        Ok(self.cancel_sign_in(signin_id)?)
    }

    /// Starts a device sign-in; the outcome is a `signin_finished` or `signin_failed` event.
    pub async fn app_device_sign_in(self: &Arc<Self>, form: SignInForm) -> Result<DeviceStart, AppError> {
        let request = DeviceRequest { scopes: scopes(&form.scopes), account_name: optional(form.account.clone()) };
        let pending = self.keyport.begin_device_sign_in(&form.provider, request).await?;
        let complete = pending.verification_uri_complete().map(|u| u.to_string());
        let start = DeviceStart {
            signin_id: crate::random_id(),
            verification_uri: pending.verification_uri().to_string(),
            qr_svg: qr_svg(complete.as_deref().unwrap_or(pending.verification_uri().as_str())),
            verification_uri_complete: complete,
            user_code: pending.user_code().to_owned(),
            expires_at: convert::rfc3339(pending.expires_at()),
            interval_secs: u32::try_from(pending.interval().as_secs()).unwrap_or(u32::MAX),
        };
        let keyport = self.keyport.clone();
        self.track(start.signin_id.clone(), optional(form.account), async move {
            keyport.finish_device_sign_in(pending).await
        })?;
        Ok(start)
    }

    /// Adds a service account (client credentials); its secret goes to the keyring.
    pub async fn app_add_service_account(&self, form: ServiceAccountForm) -> Result<wire::AccountSummary, AppError> {
        let client_secret = secret(form.client_secret)
            .ok_or_else(|| AppError::bad_input("enter the client secret of the service account's client"))?;
        let request = ServiceAccountRequest {
            name: form.name.trim().to_owned(),
            scopes: scopes(&form.scopes),
            client_id: optional(form.client_id),
            client_secret,
        };
        let account = self.keyport.add_service_account(&form.provider, request).await?;
        self.invalidate(&account.name);
        Ok(convert::account(account.view(self.keyport.now())))
    }

    /// The configured providers.
    pub fn app_providers(&self) -> Result<Vec<wire::ProviderSummary>, AppError> {
        Ok(self.list_providers()?)
    }

    /// Adds a provider (discovering an issuer's endpoints); its secret goes to the keyring.
    pub async fn app_add_provider(&self, form: NewProviderForm) -> Result<wire::ProviderSummary, AppError> {
        let (name, new) = form.into_core()?;
        let provider = self.keyport.add_provider(&name, new).await?;
        Ok(convert::provider(ProviderView::from(&provider)))
    }

    /// Changes a provider's endpoints, scopes, redirect URI or client secret; its accounts
    /// stay. A new secret goes to the keyring.
    pub async fn app_edit_provider(&self, form: ProviderEditForm) -> Result<wire::ProviderSummary, AppError> {
        let (name, edit) = form.into_core()?;
        let provider = self.keyport.edit_provider(&name, edit).await?;
        Ok(convert::provider(ProviderView::from(&provider)))
    }

    /// Reads a discovered provider's metadata again; endpoints given by hand stay.
    pub async fn app_refresh_provider(&self, name: &str) -> Result<ProviderRefreshed, AppError> {
        let refreshed = self.keyport.refresh_provider(name).await?;
        Ok(ProviderRefreshed {
            provider: convert::provider(ProviderView::from(&refreshed.provider)),
            changes: refreshed.changes,
        })
    }

    /// Removes a provider and its client secret.
    pub async fn app_remove_provider(&self, name: &str) -> Result<(), AppError> {
        let name = name.to_owned();
        Ok(self.blocking(move |keyport| keyport.remove_provider(&name)).await?)
    }

    /// Opens a provider's page (https, or http to loopback) in the user's browser.
    pub fn app_open_url(&self, typed: &str) -> Result<(), AppError> {
        Ok(self.keyport.open_url(&url("address", typed)?)?)
    }

    /// Accounts that need a new sign-in, by name.
    pub fn needs_attention(&self) -> Vec<String> {
        let Ok(accounts) = self.accounts() else { return Vec::new() };
        needing_sign_in(&accounts)
    }

    /// [`Self::needs_attention`] as `accounts.json` says now, read on the blocking pool. For
    /// callers that follow the events: right after an event about an account, the in-memory
    /// snapshot leaves that account out until the file is read again.
    pub async fn needs_attention_now(&self) -> Vec<String> {
        let Ok(accounts) = self.accounts_fresh().await else { return Vec::new() };
        needing_sign_in(&accounts)
    }
}

/// The names of `accounts` that need a new sign-in, sorted.
fn needing_sign_in(accounts: &std::collections::HashMap<String, keyport_core::account::Account>) -> Vec<String> {
    let mut names: Vec<String> = accounts
        .values()
        .filter(|a| matches!(a.health, keyport_core::account::Health::NeedsSignIn { .. }))
        .map(|a| a.name.clone())
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_carry_guidance_and_the_redirect_uri_to_register() {
        let presets = presets();
        assert_eq!(
            presets.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
            ["google", "microsoft", "github", "gitlab"]
        );
        let microsoft = &presets[1];
        assert_eq!(microsoft.redirect_uri, "http://localhost/callback/microsoft");
        assert_eq!(microsoft.needs, PresetNeeds::Tenant);
        assert_eq!(microsoft.client_secret, "not_needed");
        assert_eq!(presets[2].redirect_uri, "http://127.0.0.1/callback/github");
        assert_eq!(presets[2].client_secret, "required");
        assert!(
            presets.iter().all(|p| p.device_flow && p.register_url.starts_with("https://") && !p.guidance.is_empty())
        );
    }

    #[test]
    fn forms_never_show_their_secrets_in_debug() {
        let form = ServiceAccountForm {
            provider: "p".into(),
            name: "n".into(),
            scopes: vec![],
            client_id: None,
            client_secret: Some("hunter2".into()),
        };
        assert!(!format!("{form:?}").contains("hunter2"));
        let form = NewProviderForm {
            name: "p".into(),
            source: ProviderSource::Issuer { issuer: "https://example.com".into() },
            client_id: "id".into(),
            client_secret: Some("hunter2".into()),
            scopes: vec![],
        };
        assert!(!format!("{form:?}").contains("hunter2"));
    }

    #[test]
    fn a_provider_form_is_checked_before_anything_is_stored() {
        let form = |source| NewProviderForm {
            name: "p".into(),
            source,
            client_id: "id".into(),
            client_secret: None,
            scopes: vec!["a b".into()],
        };
        let err = form(ProviderSource::Issuer { issuer: "not a url".into() }).into_core().unwrap_err();
        assert_eq!(err.code, "invalid_params");
        let err = form(ProviderSource::Preset { preset: "myspace".into(), tenant: None, base_url: None })
            .into_core()
            .unwrap_err();
        assert!(err.message.contains("unknown preset"), "{err:?}");
        let (_, new) =
            form(ProviderSource::Preset { preset: "microsoft".into(), tenant: Some(" ".into()), base_url: None })
                .into_core()
                .unwrap();
        assert_eq!(new.redirect_host, RedirectHost::Localhost);
        assert_eq!(new.scopes, ["a", "b"]);
        let mut empty_id = form(ProviderSource::Issuer { issuer: "https://example.com".into() });
        empty_id.client_id = "  ".into();
        assert!(empty_id.into_core().unwrap_err().message.contains("client ID"));
    }

    fn edit_form(name: &str) -> ProviderEditForm {
        ProviderEditForm {
            name: name.into(),
            endpoints: EndpointUrls::default(),
            forget_endpoints: vec![],
            scopes: None,
            redirect_host: None,
            redirect_path: None,
            client_secret: ClientSecretChange::Keep,
        }
    }

    #[test]
    fn the_edit_form_never_shows_its_secret_in_debug() {
        let mut form = edit_form("p");
        form.client_secret = ClientSecretChange::Replace { secret: "hunter2".into() };
        let shown = format!("{form:?}");
        assert!(!shown.contains("hunter2") && shown.contains("Replace([redacted])"), "{shown}");
    }

    #[test]
    fn the_edit_form_reads_as_json_with_a_tagged_secret_change() {
        let form: ProviderEditForm = serde_json::from_value(serde_json::json!({
            "name": "work",
            "endpoints": { "authorization": null, "token": null, "revocation": "https://id.example/revoke",
                           "device_authorization": null, "userinfo": null, "introspection": null },
            "forget_endpoints": ["userinfo"],
            "scopes": ["openid email"],
            "redirect_host": "localhost",
            "redirect_path": "/callback/work",
            "client_secret": { "action": "replace", "secret": "s3cret" },
        }))
        .unwrap();
        let (name, edit) = form.into_core().unwrap();
        assert_eq!(name, "work");
        assert_eq!(
            edit.endpoints,
            [
                (EndpointKind::Revocation, Some(url::Url::parse("https://id.example/revoke").unwrap())),
                (EndpointKind::Userinfo, None)
            ]
        );
        assert_eq!(edit.scopes.as_deref(), Some(&["openid".to_owned(), "email".to_owned()][..]));
        assert_eq!(edit.redirect_host, Some(RedirectHost::Localhost));
        assert_eq!(edit.redirect_path.as_deref(), Some("/callback/work"));
        assert!(matches!(edit.client_secret, Some(Some(_))));
        let delete: ClientSecretChange = serde_json::from_str(r#"{"action":"delete"}"#).unwrap();
        assert_eq!(delete, ClientSecretChange::Delete);
    }

    #[test]
    fn an_edit_form_is_checked_before_anything_changes() {
        let mut form = edit_form("p");
        assert!(form.into_core().unwrap_err().message.contains("nothing to change"));

        form = edit_form("p");
        form.endpoints.revocation = Some("not a url".into());
        let err = form.into_core().unwrap_err();
        assert_eq!(err.code, "invalid_params");
        assert!(err.message.contains("revocation endpoint"), "{err:?}");

        form = edit_form("p");
        form.forget_endpoints = vec!["teapot".into()];
        assert!(form.into_core().unwrap_err().message.contains("not an endpoint"));

        form = edit_form("p");
        form.endpoints.userinfo = Some("https://id.example/me".into());
        form.forget_endpoints = vec!["userinfo".into()];
        assert!(form.into_core().unwrap_err().message.contains("one or the other"));

        form = edit_form("p");
        form.redirect_host = Some("example.com".into());
        assert_eq!(form.into_core().unwrap_err().code, "invalid_params");

        form = edit_form("p");
        form.client_secret = ClientSecretChange::Replace { secret: "  ".into() };
        assert!(form.into_core().unwrap_err().message.contains("new client secret"));

        // Blank fields change nothing; an empty scope list goes back to the defaults; Delete
        // forgets the secret.
        form = edit_form(" p ");
        form.endpoints.token = Some(" ".into());
        form.redirect_path = Some("".into());
        form.scopes = Some(vec![]);
        form.client_secret = ClientSecretChange::Delete;
        let (name, edit) = form.into_core().unwrap();
        assert_eq!(name, "p");
        assert!(edit.endpoints.is_empty() && edit.redirect_path.is_none());
        assert_eq!(edit.scopes, Some(vec![]));
        assert!(matches!(edit.client_secret, Some(None)));
    }

    #[test]
    fn qr_codes_are_svg_documents() {
        let svg = qr_svg("https://example.com/device?user_code=ABCD-EFGH");
        assert!(svg.contains("<svg") && svg.ends_with("</svg>"), "{svg}");
    }

    /// A service over `accounts`, written to its `accounts.json` as the core writes it.
    fn service_with(accounts: serde_json::Value) -> (tempfile::TempDir, Arc<Service>) {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let file = serde_json::json!({ "format": 1, "keyring_namespace": "0011223344556677", "accounts": accounts });
        std::fs::write(data.join("accounts.json"), file.to_string()).unwrap();
        let keyport = keyport_core::Keyport::new(
            &keyport_core::paths::Paths {
                config_dir: dir.path().join("config"),
                data_dir: data.clone(),
                runtime_dir: None,
            },
            Arc::new(keyport_core::secrets::MemoryStore::new()),
            Arc::new(keyport_core::http::ReqwestClient::new().unwrap()),
            Arc::new(keyport_core::clock::SystemClock),
            Arc::new(keyport_core::browser::NoBrowser),
        );
        let config = crate::ServiceConfig::new(
            dir.path().join("run/keyport.sock"),
            dir.path().join("config/access.toml"),
            data.join("accounts.json"),
        );
        (dir, Service::new(keyport, config, Arc::new(crate::access::NoPrompter)))
    }

    fn stored_account(name: &str, health: serde_json::Value) -> serde_json::Value {
        serde_json::json!({
            "name": name, "provider": "local", "kind": "user", "identity": {},
            "scopes": ["openid"], "requested_scopes": ["openid"],
            "expires_at": "2026-01-01T13:00:00Z", "token_issued_at": "2026-01-01T12:00:00Z",
            "token_type": "Bearer", "has_refresh_token": true, "health": health,
            "created_at": "2026-01-01T12:00:00Z", "updated_at": "2026-01-01T12:00:00Z",
        })
    }

    /// The tray reads the accounts right after an event about one of them: the in-memory
    /// snapshot leaves that account out until the file is read again, `needs_attention_now`
    /// reads the file.
    #[tokio::test]
    async fn accounts_that_need_sign_in_are_read_from_the_file_right_after_their_event() {
        let needs =
            serde_json::json!({ "state": "needs_sign_in", "reason": "invalid_grant", "since": "2026-01-01T12:30:00Z" });
        let (_dir, service) = service_with(serde_json::json!([
            stored_account("work", needs.clone()),
            stored_account("personal", serde_json::json!({ "state": "ok" })),
            stored_account("old", needs),
        ]));
        assert_eq!(service.needs_attention(), ["old", "work"]);
        // As for an event about `work` (`forward_core_events`).
        service.invalidate("work");
        assert_eq!(service.needs_attention_now().await, ["old", "work"]);
    }
}
