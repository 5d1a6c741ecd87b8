//! OAuth providers: presets for the big ones, OpenID Connect / RFC 8414 issuers found by
//! discovery, and endpoints typed in by hand.
//!
//! A [`ProviderConfig`] is what `providers.toml` holds (never a secret: a client secret lives
//! in the keyring and the file only records that one exists). [`ProviderConfig::resolve`]
//! turns it into a [`Provider`]: endpoints, default scopes and the provider's quirks, which
//! the sign-in flow follows without knowing provider names.

mod preset;
mod registry;

pub use self::preset::{MicrosoftTenant, Preset, PresetGuide, SecretNeed};
pub use self::registry::Providers;

use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::endpoint;
use crate::error::Error;

/// A provider's endpoints. Only authorization and token are required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    /// Authorization endpoint (the browser goes there).
    pub authorization: Url,
    /// Token endpoint.
    pub token: Url,
    /// RFC 7009 revocation endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation: Option<Url>,
    /// RFC 8628 device authorization endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_authorization: Option<Url>,
    /// OpenID Connect userinfo endpoint (or the provider's "who am I" API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo: Option<Url>,
    /// RFC 7662 token introspection endpoint: `keyport revoke` checks there that the tokens
    /// it revoked are inactive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection: Option<Url>,
}

impl Endpoints {
    /// Checks every endpoint against the [`endpoint`] rule.
    pub fn check(&self) -> Result<(), Error> {
        for url in [
            Some(&self.authorization),
            Some(&self.token),
            self.revocation.as_ref(),
            self.device_authorization.as_ref(),
            self.userinfo.as_ref(),
            self.introspection.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            endpoint::check(url)?;
        }
        Ok(())
    }
}

/// One of a provider's endpoints, by name (`provider edit --forget-url KIND`, the sources
/// shown by `provider list`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EndpointKind {
    /// The authorization endpoint.
    Authorization,
    /// The token endpoint.
    Token,
    /// The RFC 7009 revocation endpoint.
    Revocation,
    /// The RFC 8628 device authorization endpoint.
    DeviceAuthorization,
    /// The userinfo endpoint.
    Userinfo,
    /// The RFC 7662 introspection endpoint.
    Introspection,
}

impl EndpointKind {
    /// Every kind, in the order they are shown.
    pub const ALL: [Self; 6] = [
        Self::Authorization,
        Self::Token,
        Self::Revocation,
        Self::DeviceAuthorization,
        Self::Userinfo,
        Self::Introspection,
    ];

    /// Its name, as in [`Endpoints`]' fields and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Authorization => "authorization",
            Self::Token => "token",
            Self::Revocation => "revocation",
            Self::DeviceAuthorization => "device_authorization",
            Self::Userinfo => "userinfo",
            Self::Introspection => "introspection",
        }
    }

    /// Parses a name, or the short one of the matching `--...-url` option (`auth`, `revoke`,
    /// `device`).
    pub fn parse(text: &str) -> Result<Self, Error> {
        let text = text.trim().to_ascii_lowercase().replace('-', "_");
        let short = match text.as_str() {
            "auth" => Some(Self::Authorization),
            "revoke" => Some(Self::Revocation),
            "device" => Some(Self::DeviceAuthorization),
            _ => None,
        };
        short.or_else(|| Self::ALL.into_iter().find(|kind| kind.name() == text)).ok_or_else(|| Error::InvalidProvider {
            reason: format!("`{text}` is not an endpoint; one of: {}", Self::ALL.map(Self::name).join(", ")),
        })
    }

    /// This endpoint of `endpoints`.
    pub fn of(self, endpoints: &Endpoints) -> Option<&Url> {
        match self {
            Self::Authorization => Some(&endpoints.authorization),
            Self::Token => Some(&endpoints.token),
            Self::Revocation => endpoints.revocation.as_ref(),
            Self::DeviceAuthorization => endpoints.device_authorization.as_ref(),
            Self::Userinfo => endpoints.userinfo.as_ref(),
            Self::Introspection => endpoints.introspection.as_ref(),
        }
    }
}

/// Endpoints given by hand over those of a preset or of discovery: each one given replaces
/// (or adds) that endpoint; the others stay as discovered. Kept apart in `providers.toml`
/// (`[providers.NAME.given_endpoints]`), so `provider refresh` re-reads the metadata without
/// losing them and `provider list` can say where each endpoint comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GivenEndpoints {
    /// Authorization endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Url>,
    /// Token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Url>,
    /// RFC 7009 revocation endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation: Option<Url>,
    /// RFC 8628 device authorization endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_authorization: Option<Url>,
    /// Userinfo endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo: Option<Url>,
    /// RFC 7662 introspection endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection: Option<Url>,
}

impl GivenEndpoints {
    /// None given.
    pub fn is_empty(&self) -> bool {
        EndpointKind::ALL.into_iter().all(|kind| self.get(kind).is_none())
    }

    /// The one given for `kind`.
    pub fn get(&self, kind: EndpointKind) -> Option<&Url> {
        self.slot_ref(kind).as_ref()
    }

    /// Gives (`Some`) or forgets (`None`) the endpoint for `kind`.
    pub fn set(&mut self, kind: EndpointKind, url: Option<Url>) {
        *self.slot(kind) = url;
    }

    fn slot_ref(&self, kind: EndpointKind) -> &Option<Url> {
        match kind {
            EndpointKind::Authorization => &self.authorization,
            EndpointKind::Token => &self.token,
            EndpointKind::Revocation => &self.revocation,
            EndpointKind::DeviceAuthorization => &self.device_authorization,
            EndpointKind::Userinfo => &self.userinfo,
            EndpointKind::Introspection => &self.introspection,
        }
    }

    fn slot(&mut self, kind: EndpointKind) -> &mut Option<Url> {
        match kind {
            EndpointKind::Authorization => &mut self.authorization,
            EndpointKind::Token => &mut self.token,
            EndpointKind::Revocation => &mut self.revocation,
            EndpointKind::DeviceAuthorization => &mut self.device_authorization,
            EndpointKind::Userinfo => &mut self.userinfo,
            EndpointKind::Introspection => &mut self.introspection,
        }
    }

    /// `endpoints` with these given ones over it.
    pub(crate) fn apply(&self, endpoints: &mut Endpoints) {
        if let Some(url) = &self.authorization {
            endpoints.authorization = url.clone();
        }
        if let Some(url) = &self.token {
            endpoints.token = url.clone();
        }
        for (given, slot) in [
            (&self.revocation, &mut endpoints.revocation),
            (&self.device_authorization, &mut endpoints.device_authorization),
            (&self.userinfo, &mut endpoints.userinfo),
            (&self.introspection, &mut endpoints.introspection),
        ] {
            if given.is_some() {
                slot.clone_from(given);
            }
        }
    }
}

/// Where one of a resolved provider's endpoints comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointSource {
    /// Built into the preset.
    Preset,
    /// Read from the issuer's metadata.
    Discovered,
    /// Given by hand (`--auth-url`..., `provider edit`).
    Given,
}

impl EndpointSource {
    /// `preset`, `discovered` or `given`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Preset => "preset",
            Self::Discovered => "discovered",
            Self::Given => "given",
        }
    }
}

/// Where a provider's endpoints come from, as stored in `providers.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum ProviderSource {
    /// A built-in preset; endpoints are computed, so fixes to presets reach existing configs.
    Preset {
        /// Which preset.
        preset: Preset,
        /// Microsoft tenant.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tenant: Option<MicrosoftTenant>,
        /// GitLab instance (gitlab.com when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base_url: Option<Url>,
    },
    /// An issuer whose metadata was discovered when the provider was added.
    Issuer {
        /// The issuer identifier, checked against `iss` in responses and ID tokens.
        issuer: String,
        /// Endpoints from the metadata document.
        endpoints: Endpoints,
        /// Whether the server said it sends `iss` in authorization responses (RFC 9207).
        #[serde(default)]
        iss_parameter_supported: bool,
        /// Whether the issuer speaks OpenID Connect (ID tokens, nonce).
        #[serde(default)]
        openid: bool,
        /// How the token endpoint wants confidential clients to authenticate.
        #[serde(default)]
        token_auth: ClientAuth,
        /// Scopes the server listed as supported (empty when it did not say).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        scopes_supported: Vec<String>,
    },
    /// Endpoints given by hand.
    Manual {
        /// The endpoints.
        endpoints: Endpoints,
    },
}

/// Client authentication at the token endpoint (for clients with a secret).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// HTTP Basic (`client_secret_basic`), the RFC 6749 default.
    #[default]
    Basic,
    /// Form fields (`client_secret_post`).
    Post,
}

/// The loopback host in the redirect URI, to match what was registered with the provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RedirectHost {
    /// `127.0.0.1` (RFC 8252's recommendation).
    #[default]
    #[serde(rename = "127.0.0.1")]
    Ipv4,
    /// `[::1]`.
    #[serde(rename = "[::1]")]
    Ipv6,
    /// `localhost` (the listener binds 127.0.0.1 and ::1, on the same port).
    #[serde(rename = "localhost")]
    Localhost,
}

impl RedirectHost {
    /// Parses `127.0.0.1`, `[::1]` (or `::1`) and `localhost`.
    pub fn parse(text: &str) -> Result<Self, Error> {
        match text {
            "127.0.0.1" => Ok(Self::Ipv4),
            "[::1]" | "::1" => Ok(Self::Ipv6),
            "localhost" => Ok(Self::Localhost),
            other => Err(Error::InvalidProvider {
                reason: format!("redirect host `{other}` is not one of 127.0.0.1, [::1], localhost"),
            }),
        }
    }

    /// As written in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ipv4 => "127.0.0.1",
            Self::Ipv6 => "[::1]",
            Self::Localhost => "localhost",
        }
    }
}

impl fmt::Display for RedirectHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The redirect path every provider shared before each got its own: what an entry of
/// `providers.toml` without `redirect_path` means, so registrations made then keep working.
pub const SHARED_REDIRECT_PATH: &str = "/callback";

fn shared_redirect_path() -> String {
    SHARED_REDIRECT_PATH.to_owned()
}

/// The redirect path a new provider gets: `/callback/NAME`, its own. With a path per
/// provider, a server that checks registered paths (as RFC 8252 §7.3 has it: any port, the
/// exact path) will not send a code meant for one provider to another's listener, which is
/// half of the mix-up defence (RFC 9700 §4.4.2); the `iss` check is the other half.
pub fn default_redirect_path(provider: &str) -> String {
    format!("{SHARED_REDIRECT_PATH}/{provider}")
}

/// One provider as stored in `providers.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderConfig {
    /// Where the endpoints come from.
    #[serde(flatten)]
    pub source: ProviderSource,
    /// The OAuth client id the user registered.
    pub client_id: String,
    /// Whether a client secret for this provider is in the keyring. The secret itself never
    /// appears in this file.
    #[serde(default)]
    pub client_secret_in_keyring: bool,
    /// Scopes to request when `keyport add` is given none (the preset's when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Loopback host of the redirect URI.
    #[serde(default)]
    pub redirect_host: RedirectHost,
    /// Path of the redirect URI.
    #[serde(default = "shared_redirect_path")]
    pub redirect_path: String,
    /// Endpoints given by hand over the preset's or the discovered ones.
    #[serde(default, skip_serializing_if = "GivenEndpoints::is_empty")]
    pub given_endpoints: GivenEndpoints,
}

/// Whether a provider needs a client secret at its token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretPolicy {
    /// Public clients work (PKCE alone); a secret is sent when configured.
    Optional,
    /// The token endpoint refuses requests without a secret, PKCE or not.
    Required,
}

/// How the provider lists scopes in token responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeSeparator {
    /// RFC 6749: space-delimited.
    Space,
    /// GitHub: comma-delimited.
    Comma,
}

/// How to check the issuer of ID tokens and authorization responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerRule {
    /// One issuer identifier, compared exactly.
    Exact(String),
    /// Microsoft's multi-tenant endpoints: `https://login.microsoftonline.com/{tid}/v2.0`,
    /// where `{tid}` is the ID token's `tid` claim.
    MicrosoftTenant,
}

/// How the account's identity is learned after sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentitySource {
    /// OpenID Connect: ID token claims, then the userinfo endpoint.
    OpenId,
    /// A userinfo-like JSON API that is not OpenID Connect (GitHub's `/user`).
    GitHubUser,
    /// Plain OAuth 2.0 with no way to ask who the user is (unless a userinfo URL is given).
    None,
}

/// Behaviour that differs between providers. The sign-in flow reads these fields and never
/// tests a provider's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quirks {
    /// Extra authorization request parameters (Google's `access_type=offline`).
    pub authorize_params: Vec<(String, String)>,
    /// Add `prompt=consent` when `offline_access` is requested, as OpenID Connect Core §11
    /// asks (and as Google needs for a refresh token on every sign-in).
    pub consent_for_offline: bool,
    /// Client secret needed at the token endpoint?
    pub secret: SecretPolicy,
    /// Client authentication method.
    pub token_auth: ClientAuth,
    /// Scope list format in token responses.
    pub scope_separator: ScopeSeparator,
    /// Scopes the provider grants but does not echo in `scope` (Microsoft's `offline_access`):
    /// recorded as granted when they were requested and a refresh token came back.
    pub unechoed_refresh_scopes: Vec<String>,
    /// The server sends RFC 9207 `iss` in authorization responses, so its absence is an error.
    pub iss_parameter_required: bool,
    /// Where identity comes from.
    pub identity: IdentitySource,
    /// How `keyport revoke` asks the provider to revoke an account's tokens.
    pub revocation: RevocationMethod,
    /// How long the provider keeps a refresh token that is not used (each renewal uses it,
    /// and starts this again): what the preset knows, such as Microsoft's 90 days. Keyport
    /// renews ahead of it, so an account nobody reads never dies of it.
    pub refresh_unused_limit: Option<std::time::Duration>,
}

impl Default for Quirks {
    fn default() -> Self {
        Self {
            authorize_params: Vec::new(),
            consent_for_offline: false,
            secret: SecretPolicy::Optional,
            token_auth: ClientAuth::Basic,
            scope_separator: ScopeSeparator::Space,
            unechoed_refresh_scopes: Vec::new(),
            iss_parameter_required: false,
            identity: IdentitySource::None,
            revocation: RevocationMethod::Rfc7009,
            refresh_unused_limit: None,
        }
    }
}

/// A day, for the lifetimes below.
const DAY: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// Microsoft: "The default lifetime for the refresh tokens is 24 hours for single page apps
/// and 90 days for all other scenarios. Refresh tokens replace themselves with a fresh token
/// upon every use" (learn.microsoft.com/entra/identity-platform/refresh-tokens); expired ones
/// fail with AADSTS700082, "expired due to inactivity".
pub const MICROSOFT_REFRESH_UNUSED_LIMIT: std::time::Duration = DAY.saturating_mul(90);

/// Google: a refresh token stops working when it "has not been used for six months"
/// (developers.google.com/identity/protocols/oauth2, "Refresh token expiration"); counted as
/// 180 days, a little under six months.
pub const GOOGLE_REFRESH_UNUSED_LIMIT: std::time::Duration = DAY.saturating_mul(180);

/// How a provider revokes an account's tokens (`keyport revoke`). Read by `revoke.rs`, which
/// never tests a provider's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationMethod {
    /// RFC 7009 at `endpoints.revocation`: the refresh token, then the access token. The
    /// default; a provider without a revocation URL resolves to [`Self::UserRevokes`].
    Rfc7009,
    /// GitHub OAuth apps: `DELETE {api}/applications/{client_id}/grant` with HTTP Basic client
    /// authentication and the access token in a JSON body; deletes the whole grant.
    GithubGrant {
        /// The REST API base, `https://api.github.com`.
        api: Url,
    },
    /// No revocation API (Microsoft): the user revokes Keyport's access on a web page, when one
    /// is known; Keyport only forgets the tokens.
    UserRevokes {
        /// Where the user revokes access.
        page: Option<Url>,
    },
}

/// A provider ready to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    /// The user's name for it (the key in `providers.toml`).
    pub name: String,
    /// A short description of where it comes from (`google`, `microsoft (common)`, an issuer URL...).
    pub kind: String,
    /// OAuth client id.
    pub client_id: String,
    /// Whether the keyring holds a client secret for it.
    pub has_client_secret: bool,
    /// Endpoints.
    pub endpoints: Endpoints,
    /// Issuer check, when the issuer is known.
    pub issuer: Option<IssuerRule>,
    /// Scopes requested when the user names none.
    pub default_scopes: Vec<String>,
    /// Loopback host of the redirect URI.
    pub redirect_host: RedirectHost,
    /// Path of the redirect URI.
    pub redirect_path: String,
    /// Provider-specific behaviour.
    pub quirks: Quirks,
    /// Where each endpoint it has comes from, in [`EndpointKind::ALL`] order.
    pub endpoint_sources: Vec<(EndpointKind, EndpointSource)>,
}

impl ProviderConfig {
    /// Validates the stored entry and computes endpoints, scopes and quirks.
    pub fn resolve(&self, name: &str) -> Result<Provider, Error> {
        check_provider_name(name)?;
        if self.client_id.trim().is_empty() {
            return Err(Error::InvalidProvider { reason: format!("provider `{name}` has an empty client id") });
        }
        if !self.redirect_path.starts_with('/') || self.redirect_path.contains(['?', '#']) {
            return Err(Error::InvalidProvider {
                reason: format!("redirect path `{}` must start with `/` and hold no `?` or `#`", self.redirect_path),
            });
        }
        let mut provider = match &self.source {
            ProviderSource::Preset { preset, tenant, base_url } => {
                preset.resolve(tenant.as_ref(), base_url.as_ref())?
            }
            ProviderSource::Issuer {
                issuer,
                endpoints,
                iss_parameter_supported,
                openid,
                token_auth,
                scopes_supported,
            } => {
                let default_scopes = issuer_default_scopes(*openid, scopes_supported);
                Provider {
                    name: String::new(),
                    kind: format!("issuer {issuer}"),
                    client_id: String::new(),
                    has_client_secret: false,
                    endpoints: endpoints.clone(),
                    issuer: Some(IssuerRule::Exact(issuer.clone())),
                    default_scopes,
                    redirect_host: RedirectHost::default(),
                    redirect_path: String::new(),
                    quirks: Quirks {
                        consent_for_offline: true,
                        token_auth: *token_auth,
                        iss_parameter_required: *iss_parameter_supported,
                        identity: if *openid { IdentitySource::OpenId } else { IdentitySource::None },
                        ..Quirks::default()
                    },
                    endpoint_sources: Vec::new(),
                }
            }
            ProviderSource::Manual { endpoints } => Provider {
                name: String::new(),
                kind: "manual".to_owned(),
                client_id: String::new(),
                has_client_secret: false,
                endpoints: endpoints.clone(),
                issuer: None,
                default_scopes: Vec::new(),
                redirect_host: RedirectHost::default(),
                redirect_path: String::new(),
                quirks: Quirks {
                    identity: if endpoints.userinfo.is_some() { IdentitySource::OpenId } else { IdentitySource::None },
                    ..Quirks::default()
                },
                endpoint_sources: Vec::new(),
            },
        };
        let base = match &self.source {
            ProviderSource::Preset { .. } => EndpointSource::Preset,
            ProviderSource::Issuer { .. } => EndpointSource::Discovered,
            ProviderSource::Manual { .. } => EndpointSource::Given,
        };
        self.given_endpoints.apply(&mut provider.endpoints);
        if self.given_endpoints.revocation.is_some() {
            // A revocation endpoint given by hand is RFC 7009's, whatever the preset does.
            provider.quirks.revocation = RevocationMethod::Rfc7009;
        }
        provider.endpoint_sources = EndpointKind::ALL
            .into_iter()
            .filter(|kind| kind.of(&provider.endpoints).is_some())
            .map(|kind| (kind, if self.given_endpoints.get(kind).is_some() { EndpointSource::Given } else { base }))
            .collect();
        provider.endpoints.check()?;
        if provider.quirks.revocation == RevocationMethod::Rfc7009 && provider.endpoints.revocation.is_none() {
            provider.quirks.revocation = RevocationMethod::UserRevokes { page: None };
        }
        provider.name = name.to_owned();
        provider.client_id = self.client_id.clone();
        provider.has_client_secret = self.client_secret_in_keyring;
        provider.redirect_host = self.redirect_host;
        provider.redirect_path = self.redirect_path.clone();
        if let Some(scopes) = &self.scopes {
            provider.default_scopes = scopes.clone();
        }
        Ok(provider)
    }
}

/// Default scopes for a discovered issuer: OpenID identity scopes, plus `offline_access`
/// when the server supports it, so the account gets a refresh token.
fn issuer_default_scopes(openid: bool, supported: &[String]) -> Vec<String> {
    if !openid {
        return Vec::new();
    }
    let wanted = ["openid", "profile", "email", "offline_access"];
    wanted
        .iter()
        .filter(|scope| {
            **scope == "openid"
                || supported.is_empty() && **scope != "offline_access"
                || supported.iter().any(|s| s == *scope)
        })
        .map(|scope| (*scope).to_owned())
        .collect()
}

/// Provider names: 1 to 64 of `A-Z a-z 0-9 . _ -`, starting with a letter or digit. They
/// become keyring keys and TOML keys, so they are kept plain.
pub fn check_provider_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName {
            what: "provider",
            name: name.to_owned(),
            rule: "1 to 64 letters, digits, `.`, `_` or `-`, starting with a letter or digit",
        })
    }
}

/// Splits scope arguments: each value may hold several space-separated scopes. Keeps the
/// first occurrence of each, in order.
pub fn split_scopes<S: AsRef<str>>(values: &[S]) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in values.iter().flat_map(|value| value.as_ref().split_whitespace()) {
        if !scopes.iter().any(|known| known == scope) {
            scopes.push(scope.to_owned());
        }
    }
    scopes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manual(auth: &str, token: &str) -> ProviderConfig {
        ProviderConfig {
            source: ProviderSource::Manual {
                endpoints: Endpoints {
                    authorization: Url::parse(auth).unwrap(),
                    token: Url::parse(token).unwrap(),
                    revocation: None,
                    device_authorization: None,
                    userinfo: None,
                    introspection: None,
                },
            },
            client_id: "cid".into(),
            client_secret_in_keyring: false,
            scopes: Some(vec!["read".into()]),
            redirect_host: RedirectHost::Ipv6,
            redirect_path: "/cb".into(),
            given_endpoints: Default::default(),
        }
    }

    #[test]
    fn scopes_split_on_spaces_and_deduplicate() {
        assert_eq!(split_scopes(&["openid email", "  profile ", "email"]), vec!["openid", "email", "profile"]);
        assert!(split_scopes::<&str>(&[]).is_empty());
    }

    #[test]
    fn provider_names_are_plain() {
        assert!(check_provider_name("work-gitlab_2.x").is_ok());
        for bad in ["", "-x", "a/b", "a b", "ü", &"x".repeat(65)] {
            assert!(check_provider_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn manual_provider_resolves_with_its_settings() {
        let p = manual("https://as.example/auth", "https://as.example/token").resolve("mine").unwrap();
        assert_eq!(p.name, "mine");
        assert_eq!(p.default_scopes, vec!["read"]);
        assert_eq!(p.redirect_host, RedirectHost::Ipv6);
        assert_eq!(p.redirect_path, "/cb");
        assert_eq!(p.quirks.identity, IdentitySource::None);
    }

    #[test]
    fn insecure_endpoints_are_refused_on_resolve() {
        let err = manual("http://as.example/auth", "https://as.example/token").resolve("x").unwrap_err();
        assert!(err.to_string().contains("plain http"), "{err}");
        assert!(manual("http://127.0.0.1:9/auth", "http://[::1]:9/token").resolve("x").is_ok());
    }

    #[test]
    fn redirect_path_must_be_a_path() {
        let mut config = manual("https://a.example/a", "https://a.example/t");
        config.redirect_path = "callback".into();
        assert!(config.resolve("x").is_err());
    }

    #[test]
    fn toml_round_trip_holds_no_secret_field() {
        let config = manual("https://as.example/auth", "https://as.example/token");
        let text = toml::to_string(&config).unwrap();
        assert!(text.contains("source = \"manual\""), "{text}");
        assert!(text.contains("redirect_host = \"[::1]\""), "{text}");
        assert!(!text.contains("client_secret ="), "{text}");
        let back: ProviderConfig = toml::from_str(&text).unwrap();
        assert_eq!(back, config);
    }

    #[test]
    fn discovered_issuer_defaults_to_openid_scopes_and_offline_access_when_supported() {
        let supported: Vec<String> = ["openid", "email", "offline_access"].map(String::from).to_vec();
        assert_eq!(issuer_default_scopes(true, &supported), vec!["openid", "email", "offline_access"]);
        assert_eq!(issuer_default_scopes(true, &[]), vec!["openid", "profile", "email"]);
        assert!(issuer_default_scopes(false, &supported).is_empty());
    }
}
