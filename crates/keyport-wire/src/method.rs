//! The methods: [`Method`] is the single list of their names, and [`Call`] is a request with
//! its params typed, for clients to build and for the daemon to dispatch on.
//!
//! Each method's result type is named in its doc line; a client reads it with
//! [`crate::Response::into_typed`]. Adding a method means a variant in both enums, a row in
//! `docs/socket.md` with an example (the doc test checks every method has one), and never
//! renaming an existing one. This module leaves out what methods do: that is the daemon.

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::app::{
    AutostartParams, NewProviderForm, PromptAnswerParams, ProviderEditForm, ProviderParams, ServiceAccountForm,
    SignInForm,
};
use crate::code::ErrorCode;
use crate::jsonrpc::{ErrorObject, Id, Request, Version};
use crate::types::{
    AccessForgetParams, AccessSetParams, AccountParams, ActivityListParams, NoParams, ReauthParams, RevokeParams,
    SigninCancelParams, SigninStartParams, SshForwardParams, TokenGetParams,
};

/// A method a client may call. The names are a public contract and never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// `accounts.list` → [`crate::AccountsListResult`].
    AccountsList,
    /// `accounts.status` → [`crate::AccountSummary`].
    AccountsStatus,
    /// `token.get` → [`crate::TokenGetResult`].
    TokenGet,
    /// `token.refresh` → [`crate::AccountSummary`] after the renewal.
    TokenRefresh,
    /// `signin.start` → [`crate::SigninStartResult`].
    SigninStart,
    /// `signin.cancel` → [`crate::Empty`].
    SigninCancel,
    /// `accounts.reauth` → [`crate::SigninStartResult`].
    AccountsReauth,
    /// `accounts.revoke` → [`crate::RevokeResult`].
    AccountsRevoke,
    /// `accounts.remove` → [`crate::RemoveResult`].
    AccountsRemove,
    /// `providers.list` → [`crate::ProvidersListResult`].
    ProvidersList,
    /// `events.subscribe` → [`crate::Empty`], then `event` notifications.
    EventsSubscribe,
    /// `access.list` → [`crate::AccessListResult`].
    AccessList,
    /// `access.set` → [`crate::AccessRule`].
    AccessSet,
    /// `access.forget` → [`crate::AccessForgetResult`].
    AccessForget,
    /// `activity.list` → [`crate::ActivityListResult`].
    ActivityList,
    /// `ssh.forward` → [`crate::SshForwardResult`]: a socket for one `keyport ssh` session,
    /// open while the connection that asked stays open.
    SshForward,
    /// `accounts.details` → [`crate::AccountDetails`].
    AccountsDetails,
    /// `accounts.add_service` → [`crate::AccountSummary`].
    AccountsAddService,
    /// `signin.device` → [`crate::DeviceStart`].
    SigninDevice,
    /// `providers.presets` → [`crate::PresetsListResult`].
    ProvidersPresets,
    /// `providers.add` → [`crate::ProviderSummary`].
    ProvidersAdd,
    /// `providers.edit` → [`crate::ProviderSummary`].
    ProvidersEdit,
    /// `providers.refresh` → [`crate::ProviderRefreshed`].
    ProvidersRefresh,
    /// `providers.remove` → [`crate::Empty`].
    ProvidersRemove,
    /// `prompts.subscribe` → [`crate::PromptsListResult`], then `prompt_asked` and `prompt_closed` events.
    PromptsSubscribe,
    /// `prompts.answer` → [`crate::Empty`].
    PromptsAnswer,
    /// `service.status` → [`crate::AppStatus`].
    ServiceStatus,
    /// `service.stop` → [`crate::Empty`]; the service then stops.
    ServiceStop,
    /// `service.autostart` → [`crate::AutostartStatus`].
    ServiceAutostart,
    /// `service.set_autostart` → [`crate::AutostartStatus`].
    ServiceSetAutostart,
}

impl Method {
    /// Every method, in the order of `docs/socket.md`.
    pub const ALL: [Method; 30] = [
        Self::AccountsList,
        Self::AccountsStatus,
        Self::TokenGet,
        Self::TokenRefresh,
        Self::SigninStart,
        Self::SigninCancel,
        Self::AccountsReauth,
        Self::AccountsRevoke,
        Self::AccountsRemove,
        Self::ProvidersList,
        Self::EventsSubscribe,
        Self::AccessList,
        Self::AccessSet,
        Self::AccessForget,
        Self::ActivityList,
        Self::SshForward,
        Self::AccountsDetails,
        Self::AccountsAddService,
        Self::SigninDevice,
        Self::ProvidersPresets,
        Self::ProvidersAdd,
        Self::ProvidersEdit,
        Self::ProvidersRefresh,
        Self::ProvidersRemove,
        Self::PromptsSubscribe,
        Self::PromptsAnswer,
        Self::ServiceStatus,
        Self::ServiceStop,
        Self::ServiceAutostart,
        Self::ServiceSetAutostart,
    ];

    /// The name sent as `method`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::AccountsList => "accounts.list",
            Self::AccountsStatus => "accounts.status",
            Self::TokenGet => "token.get",
            Self::TokenRefresh => "token.refresh",
            Self::SigninStart => "signin.start",
            Self::SigninCancel => "signin.cancel",
            Self::AccountsReauth => "accounts.reauth",
            Self::AccountsRevoke => "accounts.revoke",
            Self::AccountsRemove => "accounts.remove",
            Self::ProvidersList => "providers.list",
            Self::EventsSubscribe => "events.subscribe",
            Self::AccessList => "access.list",
            Self::AccessSet => "access.set",
            Self::AccessForget => "access.forget",
            Self::ActivityList => "activity.list",
            Self::SshForward => "ssh.forward",
            Self::AccountsDetails => "accounts.details",
            Self::AccountsAddService => "accounts.add_service",
            Self::SigninDevice => "signin.device",
            Self::ProvidersPresets => "providers.presets",
            Self::ProvidersAdd => "providers.add",
            Self::ProvidersEdit => "providers.edit",
            Self::ProvidersRefresh => "providers.refresh",
            Self::ProvidersRemove => "providers.remove",
            Self::PromptsSubscribe => "prompts.subscribe",
            Self::PromptsAnswer => "prompts.answer",
            Self::ServiceStatus => "service.status",
            Self::ServiceStop => "service.stop",
            Self::ServiceAutostart => "service.autostart",
            Self::ServiceSetAutostart => "service.set_autostart",
        }
    }

    /// The method with that name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|method| method.name() == name)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A request with its params typed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Call {
    /// `accounts.list`.
    AccountsList,
    /// `accounts.status`.
    AccountsStatus(AccountParams),
    /// `token.get`.
    TokenGet(TokenGetParams),
    /// `token.refresh`.
    TokenRefresh(AccountParams),
    /// `signin.start`.
    SigninStart(SigninStartParams),
    /// `signin.cancel`.
    SigninCancel(SigninCancelParams),
    /// `accounts.reauth`.
    AccountsReauth(ReauthParams),
    /// `accounts.revoke`.
    AccountsRevoke(RevokeParams),
    /// `accounts.remove`.
    AccountsRemove(AccountParams),
    /// `providers.list`.
    ProvidersList,
    /// `events.subscribe`.
    EventsSubscribe,
    /// `access.list`.
    AccessList,
    /// `access.set`.
    AccessSet(AccessSetParams),
    /// `access.forget`.
    AccessForget(AccessForgetParams),
    /// `activity.list`.
    ActivityList(ActivityListParams),
    /// `ssh.forward`.
    SshForward(SshForwardParams),
    /// `accounts.details`.
    AccountsDetails(AccountParams),
    /// `accounts.add_service`.
    AccountsAddService(ServiceAccountForm),
    /// `signin.device`.
    SigninDevice(SignInForm),
    /// `providers.presets`.
    ProvidersPresets,
    /// `providers.add`.
    ProvidersAdd(NewProviderForm),
    /// `providers.edit`.
    ProvidersEdit(ProviderEditForm),
    /// `providers.refresh`.
    ProvidersRefresh(ProviderParams),
    /// `providers.remove`.
    ProvidersRemove(ProviderParams),
    /// `prompts.subscribe`.
    PromptsSubscribe,
    /// `prompts.answer`.
    PromptsAnswer(PromptAnswerParams),
    /// `service.status`.
    ServiceStatus,
    /// `service.stop`.
    ServiceStop,
    /// `service.autostart`.
    ServiceAutostart,
    /// `service.set_autostart`.
    ServiceSetAutostart(AutostartParams),
}

impl Call {
    /// The method called.
    pub fn method(&self) -> Method {
        match self {
            Self::AccountsList => Method::AccountsList,
            Self::AccountsStatus(_) => Method::AccountsStatus,
            Self::TokenGet(_) => Method::TokenGet,
            Self::TokenRefresh(_) => Method::TokenRefresh,
            Self::SigninStart(_) => Method::SigninStart,
            Self::SigninCancel(_) => Method::SigninCancel,
            Self::AccountsReauth(_) => Method::AccountsReauth,
            Self::AccountsRevoke(_) => Method::AccountsRevoke,
            Self::AccountsRemove(_) => Method::AccountsRemove,
            Self::ProvidersList => Method::ProvidersList,
            Self::EventsSubscribe => Method::EventsSubscribe,
            Self::AccessList => Method::AccessList,
            Self::AccessSet(_) => Method::AccessSet,
            Self::AccessForget(_) => Method::AccessForget,
            Self::ActivityList(_) => Method::ActivityList,
            Self::SshForward(_) => Method::SshForward,
            Self::AccountsDetails(_) => Method::AccountsDetails,
            Self::AccountsAddService(_) => Method::AccountsAddService,
            Self::SigninDevice(_) => Method::SigninDevice,
            Self::ProvidersPresets => Method::ProvidersPresets,
            Self::ProvidersAdd(_) => Method::ProvidersAdd,
            Self::ProvidersEdit(_) => Method::ProvidersEdit,
            Self::ProvidersRefresh(_) => Method::ProvidersRefresh,
            Self::ProvidersRemove(_) => Method::ProvidersRemove,
            Self::PromptsSubscribe => Method::PromptsSubscribe,
            Self::PromptsAnswer(_) => Method::PromptsAnswer,
            Self::ServiceStatus => Method::ServiceStatus,
            Self::ServiceStop => Method::ServiceStop,
            Self::ServiceAutostart => Method::ServiceAutostart,
            Self::ServiceSetAutostart(_) => Method::ServiceSetAutostart,
        }
    }

    /// Types a request's params. `Err` is the error to answer with: -32601 for an unknown
    /// method, -32602 for params of the wrong shape. Unknown params are ignored.
    pub fn from_request(request: &Request) -> Result<Self, ErrorObject> {
        let Some(method) = Method::from_name(&request.method) else {
            return Err(ErrorObject::new(
                ErrorCode::MethodNotFound,
                format!("method not found: `{}`", excerpt(&request.method)),
            ));
        };
        let params = request.params.as_ref();
        Ok(match method {
            Method::AccountsList => {
                typed::<NoParams>(method, params)?;
                Self::AccountsList
            }
            Method::AccountsStatus => Self::AccountsStatus(typed(method, params)?),
            Method::TokenGet => Self::TokenGet(typed(method, params)?),
            Method::TokenRefresh => Self::TokenRefresh(typed(method, params)?),
            Method::SigninStart => Self::SigninStart(typed(method, params)?),
            Method::SigninCancel => Self::SigninCancel(typed(method, params)?),
            Method::AccountsReauth => Self::AccountsReauth(typed(method, params)?),
            Method::AccountsRevoke => Self::AccountsRevoke(typed(method, params)?),
            Method::AccountsRemove => Self::AccountsRemove(typed(method, params)?),
            Method::ProvidersList => {
                typed::<NoParams>(method, params)?;
                Self::ProvidersList
            }
            Method::EventsSubscribe => {
                typed::<NoParams>(method, params)?;
                Self::EventsSubscribe
            }
            Method::AccessList => {
                typed::<NoParams>(method, params)?;
                Self::AccessList
            }
            Method::AccessSet => Self::AccessSet(typed(method, params)?),
            Method::AccessForget => Self::AccessForget(typed(method, params)?),
            Method::ActivityList => Self::ActivityList(typed(method, params)?),
            Method::SshForward => Self::SshForward(typed(method, params)?),
            Method::AccountsDetails => Self::AccountsDetails(typed(method, params)?),
            Method::AccountsAddService => Self::AccountsAddService(typed(method, params)?),
            Method::SigninDevice => Self::SigninDevice(typed(method, params)?),
            Method::ProvidersPresets => {
                typed::<NoParams>(method, params)?;
                Self::ProvidersPresets
            }
            Method::ProvidersAdd => Self::ProvidersAdd(typed(method, params)?),
            Method::ProvidersEdit => Self::ProvidersEdit(typed(method, params)?),
            Method::ProvidersRefresh => Self::ProvidersRefresh(typed(method, params)?),
            Method::ProvidersRemove => Self::ProvidersRemove(typed(method, params)?),
            Method::PromptsSubscribe => {
                typed::<NoParams>(method, params)?;
                Self::PromptsSubscribe
            }
            Method::PromptsAnswer => Self::PromptsAnswer(typed(method, params)?),
            Method::ServiceStatus => {
                typed::<NoParams>(method, params)?;
                Self::ServiceStatus
            }
            Method::ServiceStop => {
                typed::<NoParams>(method, params)?;
                Self::ServiceStop
            }
            Method::ServiceAutostart => {
                typed::<NoParams>(method, params)?;
                Self::ServiceAutostart
            }
            Method::ServiceSetAutostart => Self::ServiceSetAutostart(typed(method, params)?),
        })
    }

    /// The request to send. Methods without params are sent without `params`.
    pub fn into_request(self, id: Id) -> Request {
        fn object(params: &impl Serialize) -> Option<Map<String, Value>> {
            // Params types are plain structs: they always serialize to an object.
            match serde_json::to_value(params) {
                Ok(Value::Object(map)) => Some(map),
                _ => None,
            }
        }
        let method = self.method().name().to_owned();
        let params = match &self {
            Self::AccountsList
            | Self::ProvidersList
            | Self::EventsSubscribe
            | Self::AccessList
            | Self::ProvidersPresets
            | Self::PromptsSubscribe
            | Self::ServiceStatus
            | Self::ServiceStop
            | Self::ServiceAutostart => None,
            Self::AccountsStatus(p) | Self::TokenRefresh(p) | Self::AccountsRemove(p) | Self::AccountsDetails(p) => {
                object(p)
            }
            Self::ProvidersRefresh(p) | Self::ProvidersRemove(p) => object(p),
            Self::AccountsAddService(p) => object(p),
            Self::SigninDevice(p) => object(p),
            Self::ProvidersAdd(p) => object(p),
            Self::ProvidersEdit(p) => object(p),
            Self::PromptsAnswer(p) => object(p),
            Self::ServiceSetAutostart(p) => object(p),
            Self::TokenGet(p) => object(p),
            Self::SigninStart(p) => object(p),
            Self::SigninCancel(p) => object(p),
            Self::AccountsReauth(p) => object(p),
            Self::AccountsRevoke(p) => object(p),
            Self::AccessSet(p) => object(p),
            Self::AccessForget(p) => object(p),
            Self::ActivityList(p) => object(p),
            Self::SshForward(p) => object(p),
        };
        Request { jsonrpc: Version, id, method, params }
    }
}

fn typed<T: DeserializeOwned>(method: Method, params: Option<&Map<String, Value>>) -> Result<T, ErrorObject> {
    let value = Value::Object(params.cloned().unwrap_or_default());
    serde_json::from_value(value)
        .map_err(|err| ErrorObject::new(ErrorCode::InvalidParams, format!("invalid params for `{method}`: {err}")))
}

/// At most 64 characters of a name the client sent, so an error never grows past the limit.
fn excerpt(text: &str) -> String {
    match text.char_indices().nth(64) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(line: &str) -> Result<Call, i64> {
        Call::from_request(&Request::parse(line.as_bytes()).unwrap()).map_err(|e| e.code)
    }

    #[test]
    fn names_are_unique_and_round_trip() {
        for method in Method::ALL {
            assert_eq!(Method::from_name(method.name()), Some(method));
        }
        let names: std::collections::HashSet<_> = Method::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(names.len(), Method::ALL.len());
    }

    #[test]
    fn unknown_methods_and_bad_params_have_their_codes() {
        assert_eq!(call(r#"{"jsonrpc":"2.0","id":1,"method":"token.steal"}"#), Err(-32601));
        assert_eq!(call(r#"{"jsonrpc":"2.0","id":1,"method":"token.get"}"#), Err(-32602));
        assert_eq!(call(r#"{"jsonrpc":"2.0","id":1,"method":"token.get","params":{"account":5}}"#), Err(-32602));
        assert_eq!(
            call(r#"{"jsonrpc":"2.0","id":1,"method":"token.get","params":{"account":"a","min_valid_secs":-1}}"#),
            Err(-32602)
        );
        assert_eq!(call(r#"{"jsonrpc":"2.0","id":1,"method":"accounts.list","params":{}}"#), Ok(Call::AccountsList));
    }

    #[test]
    fn a_long_unknown_method_is_not_echoed_whole() {
        let name = "x".repeat(10_000);
        let line = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{name}"}}"#);
        let error = Call::from_request(&Request::parse(line.as_bytes()).unwrap()).unwrap_err();
        assert!(error.message.len() < 100, "{}", error.message);
    }
}
