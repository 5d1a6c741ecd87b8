//! Authorization server metadata: OpenID Connect Discovery 1.0 and RFC 8414, merged.
//!
//! Both locations are read: `{issuer}/.well-known/openid-configuration` and the RFC 8414
//! location `{origin}/.well-known/oauth-authorization-server{path}`. Servers publish different
//! things at each (one seen in testing lists its revocation endpoint only in its RFC 8414
//! metadata), so a field in either counts; where both have one, the OpenID document's wins, and
//! lists are joined. Each document's `issuer` must equal the issuer asked for (RFC 8414 §3.3):
//! documents naming different issuers are refused, not merged. Every endpoint of the result
//! must pass the endpoint rule. One location failing (404, not JSON) is fine if the other
//! answers.

use serde::Deserialize;
use url::Url;

use crate::endpoint;
use crate::error::Error;
use crate::http::{self, HttpClient};
use crate::id_token::same_issuer;
use crate::provider::{ClientAuth, Endpoints, ProviderSource};

#[derive(Debug, Deserialize)]
struct Metadata {
    issuer: String,
    authorization_endpoint: Option<Url>,
    token_endpoint: Option<Url>,
    revocation_endpoint: Option<Url>,
    device_authorization_endpoint: Option<Url>,
    userinfo_endpoint: Option<Url>,
    introspection_endpoint: Option<Url>,
    #[serde(default)]
    scopes_supported: Vec<String>,
    #[serde(default)]
    code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
    #[serde(default)]
    jwks_uri: Option<Url>,
}

/// Fetches the issuer's metadata and returns the provider source to store.
pub(crate) async fn discover(http: &dyn HttpClient, issuer: &Url) -> Result<ProviderSource, Error> {
    endpoint::check(issuer)?;
    let fail = |reason: String| Error::Discovery { issuer: issuer.to_string(), reason };
    if issuer.query().is_some() {
        return Err(fail("an issuer identifier has no query".into()));
    }
    let trimmed = issuer.as_str().trim_end_matches('/');
    let openid_url =
        Url::parse(&format!("{trimmed}/.well-known/openid-configuration")).map_err(|e| fail(e.to_string()))?;
    let mut rfc8414_url = issuer.clone();
    rfc8414_url.set_path(&format!("/.well-known/oauth-authorization-server{}", issuer.path().trim_end_matches('/')));

    let mut reasons = Vec::new();
    let mut merged: Option<(Metadata, bool)> = None;
    for (url, openid) in [(openid_url, true), (rfc8414_url, false)] {
        let request = ::http::Request::get(url.as_str())
            .header(::http::header::ACCEPT, "application/json")
            .body(Vec::new())
            .expect("a GET request is valid");
        let response = match http.send(request).await {
            Ok(response) => response,
            Err(err) => {
                reasons.push(format!("{url}: {err}"));
                continue;
            }
        };
        let metadata = match http::json_body::<Metadata>(&response) {
            Ok(metadata) => metadata,
            Err(reason) => {
                reasons.push(format!("{url}: {reason}"));
                continue;
            }
        };
        if !same_issuer(&metadata.issuer, issuer.as_str()) {
            return Err(fail(format!("{url} names issuer `{}`, not `{issuer}`", metadata.issuer)));
        }
        merged = Some(match merged {
            None => (metadata, openid),
            Some((first, first_openid)) => (first.or(metadata), first_openid || openid),
        });
    }
    match merged {
        Some((metadata, openid)) => source_from(issuer, metadata, openid).map_err(fail),
        None => Err(fail(reasons.join("; "))),
    }
}

impl Metadata {
    /// These fields, each completed from `other` where this one has none; lists joined.
    fn or(self, other: Metadata) -> Metadata {
        fn join(first: Option<Vec<String>>, second: Option<Vec<String>>) -> Option<Vec<String>> {
            match (first, second) {
                (Some(mut first), Some(second)) => {
                    for item in second {
                        if !first.contains(&item) {
                            first.push(item);
                        }
                    }
                    Some(first)
                }
                (first, second) => first.or(second),
            }
        }
        Metadata {
            issuer: self.issuer,
            authorization_endpoint: self.authorization_endpoint.or(other.authorization_endpoint),
            token_endpoint: self.token_endpoint.or(other.token_endpoint),
            revocation_endpoint: self.revocation_endpoint.or(other.revocation_endpoint),
            device_authorization_endpoint: self.device_authorization_endpoint.or(other.device_authorization_endpoint),
            userinfo_endpoint: self.userinfo_endpoint.or(other.userinfo_endpoint),
            introspection_endpoint: self.introspection_endpoint.or(other.introspection_endpoint),
            scopes_supported: join(Some(self.scopes_supported), Some(other.scopes_supported)).unwrap_or_default(),
            code_challenge_methods_supported: join(
                self.code_challenge_methods_supported,
                other.code_challenge_methods_supported,
            ),
            token_endpoint_auth_methods_supported: join(
                self.token_endpoint_auth_methods_supported,
                other.token_endpoint_auth_methods_supported,
            ),
            authorization_response_iss_parameter_supported: self.authorization_response_iss_parameter_supported
                || other.authorization_response_iss_parameter_supported,
            jwks_uri: self.jwks_uri.or(other.jwks_uri),
        }
    }
}

/// Why a metadata response gave no provider.
#[derive(Debug)]
pub(crate) enum Unusable {
    /// Not a metadata document (a status other than 2xx, or not the JSON expected): the next
    /// location may have one.
    Unreadable(String),
    /// A metadata document that Keyport refuses (another issuer, no S256, an insecure
    /// endpoint): discovery stops.
    Refused(String),
}

/// Reads one metadata response (`openid`: it came from the OpenID Connect location).
pub(crate) fn read_document(issuer: &Url, response: &http::Response, openid: bool) -> Result<ProviderSource, Unusable> {
    let metadata = http::json_body::<Metadata>(response).map_err(Unusable::Unreadable)?;
    source_from(issuer, metadata, openid).map_err(Unusable::Refused)
}

fn source_from(issuer: &Url, metadata: Metadata, openid_document: bool) -> Result<ProviderSource, String> {
    if !same_issuer(&metadata.issuer, issuer.as_str()) {
        return Err(format!("the metadata names issuer `{}`, not `{issuer}`", metadata.issuer));
    }
    if let Some(methods) = &metadata.code_challenge_methods_supported
        && !methods.iter().any(|m| m == "S256")
    {
        return Err("the server does not support PKCE with S256, which Keyport requires".into());
    }
    let endpoints = Endpoints {
        authorization: metadata.authorization_endpoint.ok_or("no authorization_endpoint")?,
        token: metadata.token_endpoint.ok_or("no token_endpoint")?,
        revocation: metadata.revocation_endpoint,
        device_authorization: metadata.device_authorization_endpoint,
        userinfo: metadata.userinfo_endpoint,
        introspection: metadata.introspection_endpoint,
    };
    endpoints.check().map_err(|err| err.to_string())?;
    let token_auth = match metadata.token_endpoint_auth_methods_supported.as_deref() {
        Some(methods)
            if !methods.iter().any(|m| m == "client_secret_basic")
                && methods.iter().any(|m| m == "client_secret_post") =>
        {
            ClientAuth::Post
        }
        _ => ClientAuth::Basic,
    };
    let openid =
        openid_document || metadata.jwks_uri.is_some() && metadata.scopes_supported.iter().any(|s| s == "openid");
    Ok(ProviderSource::Issuer {
        issuer: metadata.issuer,
        endpoints,
        iss_parameter_supported: metadata.authorization_response_iss_parameter_supported,
        openid,
        token_auth,
        scopes_supported: metadata.scopes_supported,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn metadata(value: serde_json::Value) -> Metadata {
        serde_json::from_value(value).unwrap()
    }

    fn issuer() -> Url {
        Url::parse("https://id.example/tenant").unwrap()
    }

    #[test]
    fn issuer_must_match() {
        let m = metadata(
            json!({"issuer": "https://evil.example/tenant", "authorization_endpoint": "https://id.example/a", "token_endpoint": "https://id.example/t"}),
        );
        assert!(source_from(&issuer(), m, true).unwrap_err().contains("evil.example"));
    }

    #[test]
    fn insecure_endpoints_and_missing_s256_are_refused() {
        let m = metadata(
            json!({"issuer": "https://id.example/tenant", "authorization_endpoint": "http://id.example/a", "token_endpoint": "https://id.example/t"}),
        );
        assert!(source_from(&issuer(), m, true).unwrap_err().contains("plain http"));
        let m = metadata(
            json!({"issuer": "https://id.example/tenant", "authorization_endpoint": "https://id.example/a", "token_endpoint": "https://id.example/t", "code_challenge_methods_supported": ["plain"]}),
        );
        assert!(source_from(&issuer(), m, true).unwrap_err().contains("S256"));
    }

    /// What real servers publish: `plain` beside `S256` (Keyport still sends S256), endpoint
    /// paths and the issuer ending in `/`.
    #[test]
    fn plain_beside_s256_and_trailing_slashes_are_accepted() {
        let m = metadata(json!({
            "issuer": "https://id.example/tenant/", "authorization_endpoint": "https://id.example/a/",
            "token_endpoint": "https://id.example/t/", "code_challenge_methods_supported": ["plain", "S256"]
        }));
        let ProviderSource::Issuer { endpoints, .. } = source_from(&issuer(), m, true).unwrap() else {
            panic!("not an issuer source");
        };
        assert_eq!(endpoints.token.as_str(), "https://id.example/t/");
    }

    #[test]
    fn a_good_document_gives_endpoints_and_capabilities() {
        let m = metadata(json!({
            "issuer": "https://id.example/tenant/",
            "authorization_endpoint": "https://id.example/a", "token_endpoint": "https://id.example/t",
            "revocation_endpoint": "https://id.example/r", "device_authorization_endpoint": "https://id.example/d",
            "userinfo_endpoint": "https://id.example/u", "scopes_supported": ["openid", "offline_access"],
            "code_challenge_methods_supported": ["S256"], "token_endpoint_auth_methods_supported": ["client_secret_post"],
            "authorization_response_iss_parameter_supported": true
        }));
        let ProviderSource::Issuer { endpoints, iss_parameter_supported, openid, token_auth, .. } =
            source_from(&issuer(), m, true).unwrap()
        else {
            panic!("not an issuer source");
        };
        assert_eq!(endpoints.revocation.unwrap().as_str(), "https://id.example/r");
        assert!(iss_parameter_supported && openid);
        assert_eq!(token_auth, ClientAuth::Post);
    }
}

#[cfg(test)]
mod fallback_tests {
    use super::*;
    use crate::testing::ScriptedHttp;

    #[tokio::test]
    async fn falls_back_to_rfc_8414_metadata_at_the_path_inserted_location() {
        let http = ScriptedHttp::new().reply(404, "{}").reply(
            200,
            r#"{"issuer": "https://as.example/tenant1", "authorization_endpoint": "https://as.example/a",
                "token_endpoint": "https://as.example/t"}"#,
        );
        let issuer = Url::parse("https://as.example/tenant1").unwrap();
        let source = discover(&http, &issuer).await.unwrap();
        let asked: Vec<String> = http.requests().into_iter().map(|(_, url, _)| url).collect();
        assert_eq!(
            asked,
            [
                "https://as.example/tenant1/.well-known/openid-configuration",
                "https://as.example/.well-known/oauth-authorization-server/tenant1"
            ]
        );
        let ProviderSource::Issuer { openid, endpoints, .. } = source else { panic!("not an issuer") };
        assert!(!openid, "plain OAuth metadata without jwks/openid is not OpenID");
        assert_eq!(endpoints.token.as_str(), "https://as.example/t");
    }

    const OPENID_WITHOUT_REVOCATION: &str = r#"{"issuer": "https://as.example/tenant1",
        "authorization_endpoint": "https://as.example/a", "token_endpoint": "https://as.example/t",
        "jwks_uri": "https://as.example/jwks", "scopes_supported": ["openid", "email"],
        "code_challenge_methods_supported": ["S256"]}"#;

    #[tokio::test]
    async fn fields_only_in_the_rfc_8414_metadata_count_too() {
        // As a server seen in testing does: no revocation or device endpoint in its OpenID
        // document, both in its RFC 8414 metadata (which also has another token endpoint: the
        // OpenID document's wins).
        let http = ScriptedHttp::new().reply(200, OPENID_WITHOUT_REVOCATION).reply(
            200,
            r#"{"issuer": "https://as.example/tenant1", "authorization_endpoint": "https://as.example/a",
                "token_endpoint": "https://as.example/other-token", "revocation_endpoint": "https://as.example/revoke",
                "device_authorization_endpoint": "https://as.example/device", "scopes_supported": ["offline_access", "email"],
                "authorization_response_iss_parameter_supported": true}"#,
        );
        let issuer = Url::parse("https://as.example/tenant1").unwrap();
        let ProviderSource::Issuer { endpoints, openid, scopes_supported, iss_parameter_supported, .. } =
            discover(&http, &issuer).await.unwrap()
        else {
            panic!("not an issuer")
        };
        assert_eq!(endpoints.token.as_str(), "https://as.example/t");
        assert_eq!(endpoints.revocation.unwrap().as_str(), "https://as.example/revoke");
        assert_eq!(endpoints.device_authorization.unwrap().as_str(), "https://as.example/device");
        assert!(openid && iss_parameter_supported);
        assert_eq!(scopes_supported, ["openid", "email", "offline_access"]);
    }

    #[tokio::test]
    async fn metadata_naming_another_issuer_is_refused_not_merged() {
        let http = ScriptedHttp::new().reply(200, OPENID_WITHOUT_REVOCATION).reply(
            200,
            r#"{"issuer": "https://evil.example/tenant1", "authorization_endpoint": "https://as.example/a",
                "token_endpoint": "https://as.example/t", "revocation_endpoint": "https://evil.example/revoke"}"#,
        );
        let err = discover(&http, &Url::parse("https://as.example/tenant1").unwrap()).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains("oauth-authorization-server") && text.contains("evil.example"), "{text}");
    }

    #[tokio::test]
    async fn the_openid_document_alone_is_enough() {
        let http = ScriptedHttp::new().reply(200, OPENID_WITHOUT_REVOCATION).reply(404, "{}");
        let source = discover(&http, &Url::parse("https://as.example/tenant1").unwrap()).await.unwrap();
        let ProviderSource::Issuer { endpoints, openid, .. } = source else { panic!("not an issuer") };
        assert!(openid && endpoints.revocation.is_none());
    }

    #[tokio::test]
    async fn reports_both_failures() {
        let http = ScriptedHttp::new().reply(500, "oops").reply(404, "nope");
        let err = discover(&http, &Url::parse("https://as.example").unwrap()).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains("openid-configuration") && text.contains("oauth-authorization-server"), "{text}");
    }
}
