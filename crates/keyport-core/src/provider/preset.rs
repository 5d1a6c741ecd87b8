//! Built-in providers: Google, Microsoft, GitHub, GitLab.
//!
//! Each preset knows its endpoints, default scopes and documented quirks. Sources: Google's
//! "OAuth 2.0 for Mobile & Desktop Apps", Microsoft identity platform's auth code flow page,
//! GitHub's "Authorizing OAuth apps", GitLab's OAuth 2.0 provider API docs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use url::Url;

use super::{
    ClientAuth, Endpoints, IdentitySource, IssuerRule, Provider, Quirks, RedirectHost, RevocationMethod,
    ScopeSeparator, SecretPolicy,
};
use crate::error::Error;

/// A built-in provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Google accounts.
    Google,
    /// Microsoft identity platform (Entra ID and personal accounts).
    Microsoft,
    /// GitHub OAuth apps.
    Github,
    /// GitLab.com or a self-hosted GitLab.
    Gitlab,
}

impl Preset {
    /// All presets, for help texts.
    pub const ALL: [Preset; 4] = [Preset::Google, Preset::Microsoft, Preset::Github, Preset::Gitlab];

    /// The preset's name as typed on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Google => "google",
            Self::Microsoft => "microsoft",
            Self::Github => "github",
            Self::Gitlab => "gitlab",
        }
    }

    /// The name people know it by.
    pub fn label(self) -> &'static str {
        match self {
            Self::Google => "Google",
            Self::Microsoft => "Microsoft",
            Self::Github => "GitHub",
            Self::Gitlab => "GitLab",
        }
    }

    /// The redirect host its client registration expects: Entra's desktop platform takes
    /// `http://localhost`; the others take RFC 8252's `127.0.0.1`.
    pub fn default_redirect_host(self) -> RedirectHost {
        match self {
            Self::Microsoft => RedirectHost::Localhost,
            _ => RedirectHost::Ipv4,
        }
    }

    /// The preset with no tenant or base URL, as a template for showing its defaults; its
    /// redirect path is that of a provider named like the preset (`/callback/google`).
    pub fn template(self) -> Provider {
        let mut provider = self.resolve(None, None).expect("presets resolve without options");
        provider.redirect_host = self.default_redirect_host();
        provider.redirect_path = super::default_redirect_path(self.as_str());
        provider
    }

    /// How to register a client with this provider, in plain words (README, "Provider guide").
    pub fn guide(self) -> PresetGuide {
        match self {
            Self::Google => PresetGuide {
                registration_page: "https://console.cloud.google.com/apis/credentials",
                steps: "In Google Cloud Console, open APIs & Services, then Credentials, and create \
                        an OAuth client ID of type Desktop app. Configure the consent screen first if \
                        asked, and add yourself as a test user while the app is in testing.\n\n\
                        Google gives a client ID and a client secret: enter both. Desktop clients \
                        accept http://127.0.0.1 with any port, so there is nothing else to register.\n\n\
                        For device sign-in Google wants a separate client of type TVs and Limited \
                        Input devices; add it as a second provider.",
                client_secret: SecretNeed::Required,
            },
            Self::Microsoft => PresetGuide {
                registration_page: "https://entra.microsoft.com/#view/Microsoft_AAD_RegisteredApps/ApplicationsListBlade",
                steps: "In the Entra admin center, open App registrations and create a new \
                        registration. Under Authentication add the platform Mobile and desktop \
                        applications with the redirect URI below, and set Allow public client flows \
                        to Yes.\n\n\
                        No client secret is needed. Choose the tenant: common (work, school and \
                        personal accounts), organizations, consumers, or your tenant ID.",
                client_secret: SecretNeed::NotNeeded,
            },
            Self::Github => PresetGuide {
                registration_page: "https://github.com/settings/applications/new",
                steps: "In GitHub, open Settings, Developer settings, OAuth Apps, and create a new \
                        OAuth App with the authorization callback URL below (GitHub accepts any port \
                        on a loopback callback).\n\n\
                        Generate a client secret: GitHub requires it. Tick Enable Device Flow if you \
                        want device sign-in. GitHub tokens do not expire.",
                client_secret: SecretNeed::Required,
            },
            Self::Gitlab => PresetGuide {
                registration_page: "https://gitlab.com/-/user_settings/applications",
                steps: "In GitLab, open Preferences, then Applications, and add a new application \
                        with the redirect URI below. Untick Confidential for a public client and tick \
                        the scopes openid, profile and email (and for example read_api).\n\n\
                        For a self-hosted GitLab, enter its address as the base URL.",
                client_secret: SecretNeed::Optional,
            },
        }
    }

    pub(super) fn resolve(self, tenant: Option<&MicrosoftTenant>, base_url: Option<&Url>) -> Result<Provider, Error> {
        if tenant.is_some() && self != Self::Microsoft {
            return Err(Error::InvalidProvider { reason: "a tenant applies only to the microsoft preset".into() });
        }
        if base_url.is_some() && self != Self::Gitlab {
            return Err(Error::InvalidProvider { reason: "a base URL applies only to the gitlab preset".into() });
        }
        let url = |text: &str| Url::parse(text).expect("preset URLs are valid");
        let scopes = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let provider = |kind: String, endpoints, issuer, default_scopes, quirks| Provider {
            name: String::new(),
            kind,
            client_id: String::new(),
            has_client_secret: false,
            endpoints,
            issuer,
            default_scopes,
            redirect_host: RedirectHost::default(),
            redirect_path: String::new(),
            quirks,
            endpoint_sources: Vec::new(),
        };
        Ok(match self {
            Self::Google => provider(
                "google".into(),
                Endpoints {
                    authorization: url("https://accounts.google.com/o/oauth2/v2/auth"),
                    token: url("https://oauth2.googleapis.com/token"),
                    revocation: Some(url("https://oauth2.googleapis.com/revoke")),
                    device_authorization: Some(url("https://oauth2.googleapis.com/device/code")),
                    userinfo: Some(url("https://openidconnect.googleapis.com/v1/userinfo")),
                    introspection: None,
                },
                Some(IssuerRule::Exact("https://accounts.google.com".into())),
                scopes(&["openid", "email", "profile"]),
                Quirks {
                    // Google issues a refresh token only with access_type=offline, and only on
                    // the first consent unless prompt=consent asks again.
                    authorize_params: vec![
                        ("access_type".into(), "offline".into()),
                        ("prompt".into(), "consent".into()),
                    ],
                    // Desktop clients get a secret that the token endpoint requires, PKCE or not.
                    secret: SecretPolicy::Required,
                    token_auth: ClientAuth::Post,
                    identity: IdentitySource::OpenId,
                    refresh_unused_limit: Some(super::GOOGLE_REFRESH_UNUSED_LIMIT),
                    ..Quirks::default()
                },
            ),
            Self::Microsoft => {
                let tenant = tenant.cloned().unwrap_or(MicrosoftTenant::Common);
                let base = format!("https://login.microsoftonline.com/{}", tenant.as_str());
                provider(
                    format!("microsoft ({})", tenant.as_str()),
                    Endpoints {
                        authorization: url(&format!("{base}/oauth2/v2.0/authorize")),
                        token: url(&format!("{base}/oauth2/v2.0/token")),
                        // Microsoft has no RFC 7009 endpoint; users revoke in their account page.
                        revocation: None,
                        device_authorization: Some(url(&format!("{base}/oauth2/v2.0/devicecode"))),
                        userinfo: Some(url("https://graph.microsoft.com/oidc/userinfo")),
                        introspection: None,
                    },
                    Some(match &tenant {
                        MicrosoftTenant::Id(id) => {
                            IssuerRule::Exact(format!("https://login.microsoftonline.com/{id}/v2.0"))
                        }
                        _ => IssuerRule::MicrosoftTenant,
                    }),
                    scopes(&["openid", "profile", "email", "offline_access"]),
                    Quirks {
                        // offline_access yields a refresh token but is never echoed in `scope`.
                        unechoed_refresh_scopes: vec!["offline_access".into()],
                        identity: IdentitySource::OpenId,
                        // No revocation API: people revoke app access on their account page
                        // (personal accounts on account.live.com, work and school on myaccount).
                        revocation: RevocationMethod::UserRevokes {
                            page: Some(url(match tenant {
                                MicrosoftTenant::Consumers => "https://account.live.com/consent/Manage",
                                _ => "https://myaccount.microsoft.com/",
                            })),
                        },
                        refresh_unused_limit: Some(super::MICROSOFT_REFRESH_UNUSED_LIMIT),
                        ..Quirks::default()
                    },
                )
            }
            Self::Github => provider(
                "github".into(),
                Endpoints {
                    authorization: url("https://github.com/login/oauth/authorize"),
                    token: url("https://github.com/login/oauth/access_token"),
                    // GitHub revokes through its REST API (DELETE /applications/{client_id}/grant).
                    revocation: None,
                    device_authorization: Some(url("https://github.com/login/device/code")),
                    userinfo: Some(url("https://api.github.com/user")),
                    introspection: None,
                },
                None,
                scopes(&["read:user", "user:email"]),
                Quirks {
                    // OAuth apps always need the client secret at the token endpoint.
                    secret: SecretPolicy::Required,
                    token_auth: ClientAuth::Post,
                    // GitHub lists granted scopes comma-separated.
                    scope_separator: ScopeSeparator::Comma,
                    identity: IdentitySource::GitHubUser,
                    // No RFC 7009: the REST API deletes the grant.
                    revocation: RevocationMethod::GithubGrant { api: url("https://api.github.com") },
                    ..Quirks::default()
                },
            ),
            Self::Gitlab => {
                let base = base_url.cloned().unwrap_or_else(|| url("https://gitlab.com"));
                let at = |path: &str| -> Result<Url, Error> {
                    let mut joined = base.clone();
                    let prefix = joined.path().trim_end_matches('/').to_owned();
                    joined.set_path(&format!("{prefix}{path}"));
                    Ok(joined)
                };
                let issuer = at("")?;
                provider(
                    format!("gitlab ({})", base.host_str().unwrap_or("?")),
                    Endpoints {
                        authorization: at("/oauth/authorize")?,
                        token: at("/oauth/token")?,
                        revocation: Some(at("/oauth/revoke")?),
                        device_authorization: Some(at("/oauth/authorize_device")?),
                        userinfo: Some(at("/oauth/userinfo")?),
                        introspection: None,
                    },
                    Some(IssuerRule::Exact(issuer.as_str().trim_end_matches('/').to_owned())),
                    scopes(&["openid", "profile", "email"]),
                    Quirks { identity: IdentitySource::OpenId, ..Quirks::default() },
                )
            }
        })
    }
}

/// How to register a client with a preset provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresetGuide {
    /// Where clients are registered.
    pub registration_page: &'static str,
    /// The steps, as paragraphs separated by blank lines.
    pub steps: &'static str,
    /// Whether the token endpoint wants a client secret.
    pub client_secret: SecretNeed,
}

/// Whether a provider's client needs a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretNeed {
    /// The token endpoint refuses without it.
    Required,
    /// Public clients work; confidential ones send it.
    Optional,
    /// Public client with PKCE; no secret.
    NotNeeded,
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Preset {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        Self::ALL.into_iter().find(|preset| preset.as_str() == text).ok_or_else(|| Error::InvalidProvider {
            reason: format!("unknown preset `{text}`; choose google, microsoft, github or gitlab"),
        })
    }
}

/// A Microsoft tenant: who may sign in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum MicrosoftTenant {
    /// Work, school and personal accounts.
    Common,
    /// Work and school accounts only.
    Organizations,
    /// Personal Microsoft accounts only.
    Consumers,
    /// One tenant, by GUID or verified domain.
    Id(String),
}

impl MicrosoftTenant {
    /// As it appears in the endpoint path.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Common => "common",
            Self::Organizations => "organizations",
            Self::Consumers => "consumers",
            Self::Id(id) => id,
        }
    }
}

impl FromStr for MicrosoftTenant {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        Ok(match text {
            "common" => Self::Common,
            "organizations" => Self::Organizations,
            "consumers" => Self::Consumers,
            id if !id.is_empty()
                && id.len() <= 253
                && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') =>
            {
                Self::Id(id.to_ascii_lowercase())
            }
            other => {
                return Err(Error::InvalidProvider {
                    reason: format!(
                        "`{other}` is not a tenant: use common, organizations, consumers, a tenant GUID or domain"
                    ),
                });
            }
        })
    }
}

impl TryFrom<String> for MicrosoftTenant {
    type Error = Error;

    fn try_from(text: String) -> Result<Self, Error> {
        text.parse()
    }
}

impl From<MicrosoftTenant> for String {
    fn from(tenant: MicrosoftTenant) -> String {
        tenant.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn google_asks_for_offline_access_and_requires_its_secret() {
        let p = Preset::Google.resolve(None, None).unwrap();
        assert!(p.quirks.authorize_params.contains(&("access_type".into(), "offline".into())));
        assert!(p.quirks.authorize_params.contains(&("prompt".into(), "consent".into())));
        assert_eq!(p.quirks.secret, SecretPolicy::Required);
        assert_eq!(p.endpoints.token.as_str(), "https://oauth2.googleapis.com/token");
        assert!(p.default_scopes.contains(&"openid".to_owned()));
    }

    #[test]
    fn microsoft_tenants_shape_the_endpoints_and_issuer_rule() {
        let common = Preset::Microsoft.resolve(None, None).unwrap();
        assert_eq!(
            common.endpoints.authorization.as_str(),
            "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
        );
        assert_eq!(common.issuer, Some(IssuerRule::MicrosoftTenant));
        assert!(common.endpoints.revocation.is_none());
        assert_eq!(common.quirks.unechoed_refresh_scopes, vec!["offline_access"]);
        assert!(common.default_scopes.contains(&"offline_access".to_owned()));

        let id: MicrosoftTenant = "72F988BF-86F1-41AF-91AB-2D7CD011DB47".parse().unwrap();
        let single = Preset::Microsoft.resolve(Some(&id), None).unwrap();
        assert_eq!(
            single.endpoints.token.as_str(),
            "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token"
        );
        assert!(matches!(single.issuer, Some(IssuerRule::Exact(ref u)) if u.ends_with("/v2.0")));
        assert!("contoso.onmicrosoft.com".parse::<MicrosoftTenant>().is_ok());
        assert!("bad/tenant".parse::<MicrosoftTenant>().is_err());
    }

    #[test]
    fn github_requires_secret_and_reads_comma_separated_scopes() {
        let p = Preset::Github.resolve(None, None).unwrap();
        assert_eq!(p.quirks.secret, SecretPolicy::Required);
        assert_eq!(p.quirks.scope_separator, ScopeSeparator::Comma);
        assert_eq!(p.quirks.identity, IdentitySource::GitHubUser);
    }

    #[test]
    fn gitlab_follows_a_self_hosted_base_url() {
        let base = Url::parse("https://git.example.org/gitlab/").unwrap();
        let p = Preset::Gitlab.resolve(None, Some(&base)).unwrap();
        assert_eq!(p.endpoints.authorization.as_str(), "https://git.example.org/gitlab/oauth/authorize");
        assert_eq!(p.endpoints.revocation.as_ref().unwrap().as_str(), "https://git.example.org/gitlab/oauth/revoke");
        let default = Preset::Gitlab.resolve(None, None).unwrap();
        assert_eq!(default.endpoints.token.as_str(), "https://gitlab.com/oauth/token");
    }

    #[test]
    fn options_for_the_wrong_preset_are_refused() {
        assert!(Preset::Google.resolve(Some(&MicrosoftTenant::Common), None).is_err());
        assert!(Preset::Github.resolve(None, Some(&Url::parse("https://x.example").unwrap())).is_err());
        assert!("facebook".parse::<Preset>().is_err());
    }
}
