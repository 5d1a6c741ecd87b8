//! The desktop window's actions, as methods of [`Service`] over the same code the other
//! socket methods use (`methods.rs`): each is what one socket method of the window
//! (`accounts.details`, `signin.device`, `providers.add`, `prompts.answer`...) does once
//! `methods.rs` has checked who asks. Their params and results are the window's part of the
//! contract, `keyport_wire::app`; a failure is the socket's [`ErrorObject`].

use std::sync::Arc;

use keyport_core::device::DeviceRequest;
use keyport_core::provider::{
    EndpointKind, Endpoints as CoreEndpoints, GivenEndpoints, MicrosoftTenant, Preset, RedirectHost, SecretNeed,
};
use keyport_core::secret::Secret;
use keyport_core::{NewProvider, ProviderEdit, ProviderSpec, ProviderView, ServiceAccountRequest};
pub use keyport_wire::app::{
    ACCOUNT_ACTIVITY, AccountDetails, AppError, AppStatus, BrowserSignIn, ClientSecretChange, CopyResult, DeviceStart,
    EndpointUrls, LastError, Navigate, NewProviderForm, PresetInfo, PresetNeeds, ProgramAccess, ProviderEditForm,
    ProviderRefreshed, ProviderSource, ServiceAccountForm, SignInForm,
};
use keyport_wire::{self as wire, ErrorCode, ErrorObject};

use crate::access::{Decision, Program};
use crate::convert;
use crate::prompts::{AccessPrompts, PromptChoice, PromptGone};
use crate::service::Service;

/// A window action that failed: the error its socket method answers with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", .0.message)]
pub struct Failure(pub ErrorObject);

impl Failure {
    fn bad_input(message: impl Into<String>) -> Self {
        Self(ErrorObject::new(ErrorCode::InvalidParams, message))
    }

    fn internal(message: impl Into<String>) -> Self {
        Self(ErrorObject::new(ErrorCode::InternalError, message))
    }
}

impl From<Failure> for ErrorObject {
    fn from(failure: Failure) -> Self {
        failure.0
    }
}

impl From<Failure> for wire::AppError {
    fn from(failure: Failure) -> Self {
        failure.0.into()
    }
}

impl From<ErrorObject> for Failure {
    fn from(error: ErrorObject) -> Self {
        Self(error)
    }
}

impl From<keyport_core::Error> for Failure {
    fn from(error: keyport_core::Error) -> Self {
        Self(convert::error(&error))
    }
}

impl From<crate::ServiceError> for Failure {
    fn from(error: crate::ServiceError) -> Self {
        Self(crate::methods::service_error(error))
    }
}

impl From<PromptGone> for Failure {
    fn from(error: PromptGone) -> Self {
        Self::bad_input(error.to_string())
    }
}

fn typed(endpoints: EndpointUrls) -> [(EndpointKind, Option<String>); 6] {
    [
        (EndpointKind::Authorization, endpoints.authorization),
        (EndpointKind::Token, endpoints.token),
        (EndpointKind::Revocation, endpoints.revocation),
        (EndpointKind::DeviceAuthorization, endpoints.device_authorization),
        (EndpointKind::Userinfo, endpoints.userinfo),
        (EndpointKind::Introspection, endpoints.introspection),
    ]
}

/// `device authorization endpoint`, as people read it.
fn endpoint_name(kind: EndpointKind) -> String {
    format!("{} endpoint", kind.name().replace('_', " "))
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

fn url(what: &str, typed: &str) -> Result<url::Url, Failure> {
    url::Url::parse(typed.trim()).map_err(|err| Failure::bad_input(format!("the {what} `{typed}` is not a URL: {err}")))
}

/// A QR code of `text` as an SVG document.
fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).quiet_zone(true).build(),
        Err(_) => String::new(),
    }
}

/// The add-provider form, checked, as the core takes it.
fn new_provider(form: NewProviderForm) -> Result<(String, NewProvider), Failure> {
    let mut given_endpoints = GivenEndpoints::default();
    for (kind, typed) in typed(form.endpoints) {
        if let Some(typed) = optional(typed) {
            given_endpoints.set(kind, Some(url(&endpoint_name(kind), &typed)?));
        }
    }
    let spec = match form.source {
        ProviderSource::Preset { preset, tenant, base_url } => ProviderSpec::Preset {
            preset: preset.parse::<Preset>()?,
            tenant: optional(tenant)
                .map(|t| t.parse::<MicrosoftTenant>())
                .transpose()
                .map_err(|err| Failure::bad_input(err.to_string()))?,
            base_url: optional(base_url).map(|u| url("base URL", &u)).transpose()?,
        },
        ProviderSource::Issuer { issuer } => ProviderSpec::Issuer(url("issuer", &issuer)?),
        ProviderSource::Endpoints { endpoints: e } => {
            if !given_endpoints.is_empty() {
                return Err(Failure::bad_input(
                    "the endpoints of a provider added by its endpoints are all in its source; give none beside them",
                ));
            }
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
    let redirect_host = match optional(form.redirect_host) {
        Some(host) => RedirectHost::parse(&host).map_err(|err| Failure::bad_input(err.to_string()))?,
        None => match &spec {
            ProviderSpec::Preset { preset, .. } => preset.default_redirect_host(),
            _ => RedirectHost::Ipv4,
        },
    };
    let client_id = form.client_id.trim().to_owned();
    if client_id.is_empty() {
        return Err(Failure::bad_input("enter the client ID you registered with the provider"));
    }
    let new = NewProvider {
        spec,
        client_id,
        client_secret: secret(form.client_secret),
        scopes: scopes(&form.scopes),
        redirect_host,
        redirect_path: optional(form.redirect_path),
        given_endpoints,
    };
    Ok((form.name.trim().to_owned(), new))
}

/// The edit-provider form, checked, as the core takes it.
fn provider_edit(form: ProviderEditForm) -> Result<(String, ProviderEdit), Failure> {
    let name = form.name.trim().to_owned();
    let mut endpoints = Vec::new();
    for (kind, typed) in typed(form.endpoints) {
        if let Some(typed) = optional(typed) {
            endpoints.push((kind, Some(url(&endpoint_name(kind), &typed)?)));
        }
    }
    for typed in &form.forget_endpoints {
        let kind = EndpointKind::parse(typed).map_err(|err| Failure::bad_input(err.to_string()))?;
        if endpoints.iter().any(|(given, _)| *given == kind) {
            return Err(Failure::bad_input(format!(
                "the {} endpoint is both given and forgotten: do one or the other",
                kind.name().replace('_', " ")
            )));
        }
        if !endpoints.contains(&(kind, None)) {
            endpoints.push((kind, None));
        }
    }
    let redirect_host = optional(form.redirect_host)
        .map(|host| RedirectHost::parse(&host))
        .transpose()
        .map_err(|err| Failure::bad_input(err.to_string()))?;
    let client_secret = match form.client_secret {
        ClientSecretChange::Keep => None,
        ClientSecretChange::Replace { secret: typed } => Some(Some(
            secret(Some(typed))
                .ok_or_else(|| Failure::bad_input("enter the new client secret, or keep the old one"))?,
        )),
        ClientSecretChange::Delete => Some(None),
    };
    let edit = ProviderEdit {
        endpoints,
        scopes: form.scopes.map(|typed| scopes(&typed)),
        redirect_host,
        redirect_path: optional(form.redirect_path),
        client_secret,
    };
    let nothing = edit.endpoints.is_empty()
        && edit.scopes.is_none()
        && edit.redirect_host.is_none()
        && edit.redirect_path.is_none()
        && edit.client_secret.is_none();
    if nothing {
        return Err(Failure::bad_input(format!("nothing to change in the provider {name}")));
    }
    Ok((name, edit))
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
    /// One account, its last error and the programs that may read it.
    pub async fn app_account_details(&self, name: &str) -> Result<AccountDetails, Failure> {
        let account = self.keyport.account(name)?.view(self.keyport.now());
        let programs = self
            .rules
            .list()?
            .into_iter()
            .filter(|rule| rule.account == name)
            .map(|rule| ProgramAccess {
                program_name: crate::names::ProgramNames::shared().name(&rule.program),
                program: rule.program.to_string(),
                decision: convert::decision(rule.decision),
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
            .map_err(|err| Failure::internal(err.to_string()))?;
        Ok(AccountDetails { account: convert::account(account), last_error: self.last_error(name), programs, activity })
    }

    /// Answers a program's question. A remembered answer is saved before the waiting request
    /// goes on, so the account's page lists it as soon as this returns.
    pub fn app_answer_prompt(
        &self,
        prompts: &AccessPrompts,
        prompt_id: &str,
        choice: PromptChoice,
    ) -> Result<(), Failure> {
        let prompt = prompts.get(prompt_id)?;
        let program = prompt.program.parse::<Program>()?;
        let remember = match choice {
            PromptChoice::AllowOnce => None,
            // Remembered by the forward that asked (`Service::forwards`), not in the rules.
            PromptChoice::AllowSession if prompt.host.is_some() => None,
            PromptChoice::AllowSession => {
                return Err(Failure::from(crate::ServiceError::BadRequest(
                    "\"for this session\" answers a question from a `keyport ssh` session only".into(),
                )));
            }
            // A remote program's name is only claimed: "always" is for its whole host.
            PromptChoice::AllowAlways => match program.remote_host() {
                Some(host) => Some((Program::Remote { host: host.to_owned(), program: None }, Decision::Allow)),
                None => Some((program, Decision::Allow)),
            },
            PromptChoice::Deny => Some((program, Decision::Deny)),
        };
        if let Some((program, decision)) = remember {
            self.rules.set(program, &prompt.account, decision)?;
        }
        Ok(prompts.answer(prompt_id, choice)?)
    }

    /// Starts a device sign-in; the outcome is a `signin_finished` or `signin_failed` event.
    /// `started` hears the sign-in's id before it can end (to route its outcome).
    pub async fn app_device_sign_in(
        self: &Arc<Self>,
        form: SignInForm,
        started: impl FnOnce(&str),
    ) -> Result<DeviceStart, Failure> {
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
            expires_in_secs: pending.expires_in().as_secs(),
            interval_secs: u32::try_from(pending.interval().as_secs()).unwrap_or(u32::MAX),
        };
        let keyport = self.keyport.clone();
        started(&start.signin_id);
        self.track(start.signin_id.clone(), optional(form.account), async move {
            keyport.finish_device_sign_in(pending).await
        })?;
        Ok(start)
    }

    /// Adds a service account (client credentials); its secret goes to the keyring.
    pub async fn app_add_service_account(&self, form: ServiceAccountForm) -> Result<wire::AccountSummary, Failure> {
        let client_secret = secret(form.client_secret)
            .ok_or_else(|| Failure::bad_input("enter the client secret of the service account's client"))?;
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

    /// Adds a provider (discovering an issuer's endpoints); its secret goes to the keyring.
    pub async fn app_add_provider(&self, form: NewProviderForm) -> Result<wire::ProviderSummary, Failure> {
        let (name, new) = new_provider(form)?;
        let provider = self.keyport.add_provider(&name, new).await?;
        Ok(convert::provider(ProviderView::from(&provider)))
    }

    /// Changes a provider's endpoints, scopes, redirect URI or client secret; its accounts
    /// stay. A new secret goes to the keyring.
    pub async fn app_edit_provider(&self, form: ProviderEditForm) -> Result<wire::ProviderSummary, Failure> {
        let (name, edit) = provider_edit(form)?;
        let provider = self.keyport.edit_provider(&name, edit).await?;
        Ok(convert::provider(ProviderView::from(&provider)))
    }

    /// Reads a discovered provider's metadata again; endpoints given by hand stay.
    pub async fn app_refresh_provider(&self, name: &str) -> Result<ProviderRefreshed, Failure> {
        let refreshed = self.keyport.refresh_provider(name).await?;
        Ok(ProviderRefreshed {
            provider: convert::provider(ProviderView::from(&refreshed.provider)),
            changes: refreshed.changes,
        })
    }

    /// Removes a provider and its client secret.
    pub async fn app_remove_provider(&self, name: &str) -> Result<(), Failure> {
        let name = name.to_owned();
        Ok(self.blocking(move |keyport| keyport.remove_provider(&name)).await?)
    }

    /// What `service.status` answers.
    pub fn status(&self) -> wire::AppStatus {
        wire::AppStatus {
            socket: Some(self.config.socket.display().to_string()),
            socket_note: None,
            needs_attention: self.needs_attention(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            pid: std::process::id(),
        }
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
            endpoints: EndpointUrls::default(),
            redirect_host: None,
            redirect_path: None,
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
            endpoints: EndpointUrls::default(),
            redirect_host: None,
            redirect_path: None,
        };
        let err = new_provider(form(ProviderSource::Issuer { issuer: "not a url".into() })).unwrap_err();
        assert_eq!(err.0.code, ErrorCode::InvalidParams.code());
        let err = new_provider(form(ProviderSource::Preset { preset: "myspace".into(), tenant: None, base_url: None }))
            .unwrap_err();
        assert!(err.0.message.contains("unknown preset"), "{err:?}");
        let (_, new) = new_provider(form(ProviderSource::Preset {
            preset: "microsoft".into(),
            tenant: Some(" ".into()),
            base_url: None,
        }))
        .unwrap();
        assert_eq!(new.redirect_host, RedirectHost::Localhost);
        assert_eq!(new.scopes, ["a", "b"]);
        let mut empty_id = form(ProviderSource::Issuer { issuer: "https://example.com".into() });
        empty_id.client_id = "  ".into();
        assert!(new_provider(empty_id).unwrap_err().0.message.contains("client ID"));

        // Endpoints beside an issuer's, and the redirect URI as registered.
        let mut given = form(ProviderSource::Issuer { issuer: "https://example.com".into() });
        given.endpoints.revocation = Some(" https://example.com/revoke ".into());
        given.endpoints.userinfo = Some(String::new());
        given.redirect_host = Some("[::1]".into());
        given.redirect_path = Some("/cb".into());
        let (_, new) = new_provider(given.clone()).unwrap();
        assert_eq!(
            new.given_endpoints.get(EndpointKind::Revocation).map(url::Url::as_str),
            Some("https://example.com/revoke")
        );
        assert_eq!(new.given_endpoints.get(EndpointKind::Userinfo), None, "blank is not given");
        assert_eq!(new.redirect_host, RedirectHost::Ipv6);
        assert_eq!(new.redirect_path.as_deref(), Some("/cb"));
        given.endpoints.revocation = Some("revoke here".into());
        assert!(new_provider(given.clone()).unwrap_err().0.message.contains("revocation endpoint"));
        given.endpoints.revocation = None;
        given.redirect_host = Some("example.com".into());
        assert_eq!(new_provider(given).unwrap_err().0.code, ErrorCode::InvalidParams.code());
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
        let (name, edit) = provider_edit(form).unwrap();
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
        assert!(provider_edit(form).unwrap_err().0.message.contains("nothing to change"));

        form = edit_form("p");
        form.endpoints.revocation = Some("not a url".into());
        let err = provider_edit(form).unwrap_err();
        assert_eq!(err.0.code, ErrorCode::InvalidParams.code());
        assert!(err.0.message.contains("revocation endpoint"), "{err:?}");

        form = edit_form("p");
        form.forget_endpoints = vec!["teapot".into()];
        assert!(provider_edit(form).unwrap_err().0.message.contains("not an endpoint"));

        form = edit_form("p");
        form.endpoints.userinfo = Some("https://id.example/me".into());
        form.forget_endpoints = vec!["userinfo".into()];
        assert!(provider_edit(form).unwrap_err().0.message.contains("one or the other"));

        form = edit_form("p");
        form.redirect_host = Some("example.com".into());
        assert_eq!(provider_edit(form).unwrap_err().0.code, ErrorCode::InvalidParams.code());

        form = edit_form("p");
        form.client_secret = ClientSecretChange::Replace { secret: "  ".into() };
        assert!(provider_edit(form).unwrap_err().0.message.contains("new client secret"));

        // Blank fields change nothing; an empty scope list goes back to the defaults; Delete
        // forgets the secret.
        form = edit_form(" p ");
        form.endpoints.token = Some(" ".into());
        form.redirect_path = Some("".into());
        form.scopes = Some(vec![]);
        form.client_secret = ClientSecretChange::Delete;
        let (name, edit) = provider_edit(form).unwrap();
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
        let service = crate::service::test_service(dir.path());
        (dir, service)
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
