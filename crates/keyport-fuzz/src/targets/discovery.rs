//! One discovery response (OpenID Connect or RFC 8414 metadata), read as discovery reads each
//! document it fetches: [`keyport_core::fuzzing::discovery_document`].
//!
//! Input: one section (an optional status line and headers, then the body); `@issuer URL`
//! replaces the issuer asked for (`https://id.example/tenant`) and `@rfc8414` reads it as the
//! RFC 8414 document. Promises checked: an accepted document names the issuer asked for and
//! every endpoint it gives passes the endpoint rule (HTTPS, or HTTP to loopback).

use keyport_core::fuzzing;
use keyport_core::provider::ProviderSource;
use url::Url;

use crate::input::{Input, label, response};

/// Metadata members and values.
pub const DICTIONARY: &[&[u8]] = &[
    b"\"issuer\":\"https://id.example/tenant\"",
    b"\"authorization_endpoint\":\"https://id.example/a\"",
    b"\"token_endpoint\":\"https://id.example/t\"",
    b"\"revocation_endpoint\":",
    b"\"device_authorization_endpoint\":",
    b"\"userinfo_endpoint\":",
    b"\"jwks_uri\":",
    b"\"scopes_supported\":[\"openid\",\"offline_access\"]",
    b"\"code_challenge_methods_supported\":[\"S256\"]",
    b"\"token_endpoint_auth_methods_supported\":[\"client_secret_post\"]",
    b"\"authorization_response_iss_parameter_supported\":true",
    b"\"plain\"",
    b"\"client_secret_basic\"",
    b"https://",
    b"http://",
    b"http://127.0.0.1:8080/t",
    b"http://[::1]/t",
    b"http://localhost/t",
    b"https://id.example/tenant/",
    b"javascript:alert(1)",
    b"file:///etc/passwd",
    b"@issuer https://id.example/\n",
    b"@rfc8414\n",
    b"404\n",
];

/// Runs one input.
pub fn document(data: &[u8]) -> String {
    let input = Input::parse(data);
    let issuer = input
        .option_str("issuer")
        .and_then(|text| Url::parse(text.trim()).ok())
        .unwrap_or_else(|| Url::parse("https://id.example/tenant").expect("a valid URL"));
    let openid = input.option("rfc8414").is_none();
    let body = input.sections.join(crate::input::SECTION);
    match fuzzing::discovery_document(&issuer, &response(&body), openid) {
        Ok(ProviderSource::Issuer { issuer: named, endpoints, .. }) => {
            assert_eq!(
                named.trim_end_matches('/'),
                issuer.as_str().trim_end_matches('/'),
                "a document for another issuer was accepted"
            );
            assert!(endpoints.check().is_ok(), "an endpoint that breaks the endpoint rule was accepted");
            "ok".into()
        }
        Ok(other) => panic!("discovery gave a source that is not an issuer: {other:?}"),
        Err(reason) => label(&reason),
    }
}
