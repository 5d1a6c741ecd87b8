//! The core's error type. Messages are written for the person at the keyboard, and never
//! contain a secret: variants carry names, URLs without queries, and provider error codes.

use std::path::PathBuf;

use crate::endpoint::EndpointError;
use crate::http::HttpError;
use crate::paths::NoHomeError;
use crate::secrets::SecretStoreError;

/// Everything that can go wrong in the core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No provider by that name in `providers.toml`.
    #[error("no provider named `{name}`; see `keyport provider list`")]
    ProviderNotFound { name: String },
    /// A provider by that name exists.
    #[error("a provider named `{name}` already exists; remove it first or pick another name")]
    ProviderExists { name: String },
    /// The provider's settings do not make sense.
    #[error("invalid provider: {reason}")]
    InvalidProvider { reason: String },
    /// A name breaks the naming rule.
    #[error("`{name}` is not a valid {what} name: use {rule}")]
    InvalidName { what: &'static str, name: String, rule: &'static str },
    /// An endpoint URL breaks the endpoint rule.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// Discovery found no usable metadata.
    #[error("discovery at {issuer} failed: {reason}")]
    Discovery { issuer: String, reason: String },
    /// The provider needs a client secret and none is configured.
    #[error(
        "provider `{provider}` needs a client secret: add it again with `--client-secret-stdin` \
         (the secret goes to the keyring)"
    )]
    ClientSecretRequired { provider: String },

    /// No account by that name.
    #[error("no account named `{name}`; see `keyport list`")]
    AccountNotFound { name: String },
    /// The name is taken (by a different identity, for a sign-in).
    #[error("an account named `{name}` already exists{}", signed_in_as.as_ref().map(|who| format!(" for another identity (this sign-in was {who}); sign in as its owner, or choose another name with --name")).unwrap_or_default())]
    AccountExists { name: String, signed_in_as: Option<String> },
    /// The account's grant is dead.
    #[error("account `{name}` needs a new sign-in ({reason})")]
    NeedsSignIn { name: String, reason: String },
    /// The keyring holds no access token for an account the metadata lists.
    #[error("the keyring holds no access token for `{name}`; sign in again")]
    TokenMissing { name: String },

    /// A grant that Keyport refuses to use.
    #[error("Keyport does not use the {grant} grant: {why}")]
    GrantRefused { grant: &'static str, why: &'static str },
    /// The loopback listener could not start.
    #[error("could not listen for the redirect on {address}: {detail}")]
    RedirectListener { address: String, detail: String },
    /// Nobody completed the sign-in in time.
    #[error("the sign-in was not completed within {secs} seconds")]
    SignInTimedOut { secs: u64 },
    /// The user cancelled (Ctrl-C).
    #[error("the sign-in was cancelled")]
    SignInCancelled,
    /// The authorization server answered the redirect with an error (the user said no...).
    #[error("the provider refused the sign-in: {}", describe(error, description.as_deref()))]
    AuthorizationDenied { error: String, description: Option<String> },
    /// `--device` with a provider that has no RFC 8628 device authorization endpoint.
    #[error(
        "provider `{provider}` has no device authorization endpoint, so it cannot sign in with a code \
         (`--device`); sign in through the browser instead, or add the provider again with `--device-url URL`"
    )]
    DeviceFlowUnsupported { provider: String },
    /// The device authorization endpoint refused to hand out a code.
    #[error("the provider refused to start a device sign-in: {}{}", describe(error, description.as_deref()), device_hint(error))]
    DeviceAuthorizationRefused { error: String, description: Option<String> },
    /// The device authorization endpoint answered something that is not a device authorization.
    #[error("the device authorization endpoint sent an unusable response: {reason}")]
    BadDeviceResponse { reason: String },
    /// RFC 8628 `expired_token`, or the code's lifetime ran out while waiting.
    #[error(
        "the device code expired: the sign-in was not approved within {secs} seconds; run the command again \
         for a new code"
    )]
    DeviceCodeExpired { secs: u64 },
    /// RFC 9207: the response came from another issuer (a mix-up attack), or lacked `iss`.
    #[error("{}; the sign-in was stopped", describe_iss(expected, got.as_deref()))]
    IssuerMismatch { expected: String, got: Option<String> },
    /// The ID token failed a check.
    #[error("the ID token was rejected: {reason}")]
    IdTokenInvalid { reason: String },
    /// The token endpoint answered with an OAuth error.
    #[error("the token endpoint refused: {}", describe(error, description.as_deref()))]
    TokenRefused { error: String, description: Option<String> },
    /// The token endpoint answered something that is not a token response.
    #[error("the token endpoint sent an unusable response: {reason}")]
    BadTokenResponse { reason: String },
    /// An HTTP request failed.
    /// No browser could be started.
    #[error(transparent)]
    Browser(#[from] crate::browser::BrowserError),
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The provider did not revoke the account's tokens; the account and its tokens are kept.
    #[error(
        "could not revoke `{account}` at provider `{provider}`: {reason}. The account and its tokens are \
         kept; try again later, or run `keyport revoke {account} --local` to remove it from Keyport anyway"
    )]
    RevokeFailed { account: String, provider: String, reason: String },
    /// The provider has no revocation API Keyport knows (no RFC 7009 endpoint): nothing was
    /// revoked, and the account was kept.
    #[error(
        "provider `{provider}` has no revocation endpoint that Keyport knows, so nothing was revoked and \
         {account} was kept. {}Then run `keyport remove {account}`; or `keyport revoke {account} --local` to \
         remove it now; or, if the provider has a revocation endpoint, give it with \
         `keyport provider edit {provider} --revoke-url URL` and revoke again",
        match page { Some(page) => format!("Revoke Keyport's access at {page}. "), None => "Revoke Keyport's access on the provider's website. ".to_owned() }
    )]
    CannotRevoke { account: String, provider: String, page: Option<String> },

    /// Renewing a token failed.
    #[error(transparent)]
    Renew(#[from] crate::refresh::RenewError),
    /// The keyring failed.
    #[error(transparent)]
    Secrets(#[from] SecretStoreError),
    /// No home directory.
    #[error(transparent)]
    NoHome(#[from] NoHomeError),
    /// A Keyport file cannot be understood; it is left untouched.
    #[error("{} is damaged ({detail}); Keyport will not overwrite it. Move it away to start afresh", path.display())]
    CorruptFile { path: PathBuf, detail: String },
    /// A Keyport file was written by a newer version; it is left untouched.
    #[error(
        "{} was written by a newer Keyport (format {found}; this one reads {supported}); \
         upgrade Keyport. The file is left untouched", path.display()
    )]
    NewerFile { path: PathBuf, found: u32, supported: u32 },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// Another process held a Keyport lock past the deadline; nothing was changed.
    #[error(
        "another process has held {} for {} s; nothing was changed. Try again later (a Keyport \
         process that stays stuck can be found with `fuser {}`)",
        path.display(), waited.as_secs(), path.display()
    )]
    LockTimeout { path: PathBuf, waited: std::time::Duration },
}

fn describe(error: &str, description: Option<&str>) -> String {
    match description {
        Some(text) if !text.is_empty() => format!("{error} ({text})"),
        _ => error.to_owned(),
    }
}

/// Errors that usually mean the device flow is not enabled for the client.
fn device_hint(error: &str) -> &'static str {
    match error {
        "unauthorized_client" | "invalid_client" | "device_flow_disabled" | "unsupported_grant_type" => {
            "; check that the device flow is enabled for this client in the provider's app registration"
        }
        _ => "",
    }
}

fn describe_iss(expected: &str, got: Option<&str>) -> String {
    match got {
        Some(got) => {
            format!(
                "the authorization response names issuer `{got}`, which is not this provider's (expected {expected}): \
                 another server answered in its place (a mix-up attack?), and the code was not used"
            )
        }
        None => format!("the authorization response lacks the `iss` parameter that {expected} promised (RFC 9207)"),
    }
}
