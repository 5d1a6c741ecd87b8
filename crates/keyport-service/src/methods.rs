//! The socket's methods: one function per method, each a call or two into the core.

use std::sync::Arc;
use std::time::Duration;

use keyport_core::signin::SignInRequest;
use keyport_core::{RevokeMode, RevokeOutcome};
use keyport_wire::{
    self as wire, AccessToken, Call, ErrorCode, ErrorObject, Event, Request, Response, SigninStartResult,
};
use serde_json::Value;

use crate::access::{Decision, PromptAnswer};
use crate::convert;
use crate::server::Peer;
use crate::service::Service;

type Answer = Result<Value, ErrorObject>;

/// Answers one request.
pub(crate) async fn answer(service: &Arc<Service>, peer: &Peer, request: Request) -> Response {
    let id = request.id.clone();
    let call = match Call::from_request(&request) {
        Ok(call) => call,
        Err(error) => return Response::error(Some(id), error),
    };
    let outcome = dispatch(service, peer, call).await;
    match outcome {
        Ok(value) => Response { id: Some(id), outcome: Ok(value) },
        Err(error) => Response::error(Some(id), error),
    }
}

/// A success line, serialized straight from `result` (no `serde_json::Value` in between).
#[derive(serde::Serialize)]
struct Success<'a, T> {
    jsonrpc: wire::Version,
    id: &'a wire::Id,
    result: &'a T,
}

/// Answers a `token.get` at once, as an encoded line, when its token is in memory and a rule
/// allows the program: no task, no `serde_json::Value`. `None` for everything else, which
/// [`answer`] then handles on a task of its own. With `service::RECHECK` this took the daemon
/// from 17 to 8.5 µs of CPU per cached request, and one client from 34,000 to 60,000 requests a
/// second (`cargo bench --bench socket`, 2 cores).
pub(crate) fn answer_now(service: &Service, peer: &Peer, request: &Request) -> Option<Vec<u8>> {
    if request.method != wire::Method::TokenGet.name() {
        return None;
    }
    let Ok(Call::TokenGet(params)) = Call::from_request(request) else { return None };
    let Ok(program) = peer.program_now(service) else { return None };
    // The rules file is compared on every request (a `stat()`, 5% of the daemon's CPU under
    // load), unlike the accounts': `keyport deny` takes effect at once.
    if !matches!(service.rules().decision(program, &params.account), Ok(Some(Decision::Allow))) {
        return None;
    }
    let min_valid = Duration::from_secs(params.min_valid_secs.unwrap_or(wire::DEFAULT_MIN_VALID_SECS));
    let result =
        service.cached_token(&params.account, min_valid, |account, token| token_result(service, account, token))?;
    keyport_wire::frame::encode_message(&Success { jsonrpc: wire::Version, id: &request.id, result: &result }).ok()
}

/// The result of `token.get`.
fn token_result(
    service: &Service,
    account: &keyport_core::account::Account,
    token: &keyport_core::secret::Secret,
) -> wire::TokenGetResult {
    let now = service.keyport().now();
    wire::TokenGetResult {
        access_token: AccessToken::new(token.expose()),
        token_type: account.token_type.clone(),
        expires_at: account.expires_at.map(convert::rfc3339),
        expires_in_secs: account.expires_at.map(|at| (at - now).whole_seconds().max(0)),
        scopes: account.scopes.clone(),
    }
}

fn to_value(value: &impl serde::Serialize) -> Answer {
    serde_json::to_value(value).map_err(|err| ErrorObject::new(ErrorCode::InternalError, err.to_string()))
}

fn core(err: keyport_core::Error) -> ErrorObject {
    convert::error(&err)
}

async fn dispatch(service: &Arc<Service>, peer: &Peer, call: Call) -> Answer {
    let keyport = service.keyport();
    match call {
        Call::AccountsList => to_value(&wire::AccountsListResult { accounts: service.list_accounts().await? }),
        Call::AccountsStatus(params) => {
            let account = keyport.account(&params.account).map_err(core)?;
            to_value(&convert::account(account.view(keyport.now())))
        }
        Call::TokenGet(params) => {
            check_access(service, peer, &params.account).await?;
            let min_valid = Duration::from_secs(params.min_valid_secs.unwrap_or(wire::DEFAULT_MIN_VALID_SECS));
            let (account, token) = service.token(&params.account, min_valid).await.map_err(core)?;
            to_value(&token_result(service, &account, &token))
        }
        Call::TokenRefresh(params) => {
            // Not behind the access rules: renewing hands out no token (`token.get` does), like
            // the other account actions a user runs from any shell (`revoke`, `remove`).
            to_value(&service.refresh_account(&params.account).await?)
        }
        Call::SigninStart(params) => {
            let request = SignInRequest {
                scopes: keyport_core::provider::split_scopes(&params.scopes.unwrap_or_default()),
                account_name: params.account.clone(),
                open_browser: params.open_browser.unwrap_or(false),
                ..SignInRequest::default()
            };
            let pending = keyport.begin_sign_in(&params.provider, request).map_err(core)?;
            start_signin(service, peer, pending, params.account)
        }
        Call::AccountsReauth(params) => {
            let scopes = keyport_core::provider::split_scopes(&params.scopes.unwrap_or_default());
            let pending = keyport
                .begin_reauth(
                    &params.account,
                    &scopes,
                    keyport_core::signin::DEFAULT_TIMEOUT,
                    params.open_browser.unwrap_or(false),
                )
                .map_err(core)?;
            start_signin(service, peer, pending, Some(params.account))
        }
        Call::SigninCancel(params) => {
            service.cancel_sign_in(&params.signin_id)?;
            to_value(&wire::Empty {})
        }
        Call::AccountsRevoke(params) => {
            to_value(&service.revoke_account(&params.account, params.local.unwrap_or(false)).await?)
        }
        Call::AccountsRemove(params) => {
            to_value(&wire::RemoveResult { account: service.remove_account(&params.account).await? })
        }
        Call::ProvidersList => to_value(&wire::ProvidersListResult { providers: service.list_providers()? }),
        Call::EventsSubscribe => {
            peer.subscribed.store(true, std::sync::atomic::Ordering::Relaxed);
            to_value(&wire::Empty {})
        }
        other => {
            Err(ErrorObject::new(ErrorCode::MethodNotFound, format!("`{}` is not served here", other.method().name())))
        }
    }
}

/// Sign-ins that may wait for a browser (or a device) at once: each holds a task, and a browser
/// sign-in a loopback port.
const MAX_SIGNINS: usize = 16;

fn start_signin(
    service: &Arc<Service>,
    peer: &Peer,
    pending: keyport_core::signin::PendingSignIn,
    account: Option<String>,
) -> Answer {
    let signin_id = crate::random_id();
    // Before the task starts: its outcome event is routed to this connection.
    peer.signins.lock().expect("signins").push(signin_id.clone());
    let result = service.track_sign_in(pending, account, signin_id.clone());
    if result.is_err() {
        peer.signins.lock().expect("signins").retain(|id| *id != signin_id);
    }
    to_value(&result?)
}

/// The account actions, shared by the socket's methods and the desktop app (`app.rs`).
impl Service {
    /// Runs a core call that touches the keyring on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        call: impl FnOnce(&keyport_core::Keyport) -> Result<T, keyport_core::Error> + Send + 'static,
    ) -> Result<T, ErrorObject> {
        let keyport = self.keyport().clone();
        tokio::task::spawn_blocking(move || call(&keyport))
            .await
            .map_err(|err| ErrorObject::new(ErrorCode::InternalError, err.to_string()))?
            .map_err(core)
    }

    /// Every account.
    pub(crate) async fn list_accounts(&self) -> Result<Vec<wire::AccountSummary>, ErrorObject> {
        Ok(self.blocking(|k| k.account_views()).await?.into_iter().map(convert::account).collect())
    }

    /// The configured providers.
    pub(crate) fn list_providers(&self) -> Result<Vec<wire::ProviderSummary>, ErrorObject> {
        let providers = self.keyport().providers().map_err(core)?;
        Ok(providers.iter().map(|p| convert::provider(keyport_core::ProviderView::from(p))).collect())
    }

    /// Renews the account's access token now.
    pub(crate) async fn refresh_account(&self, name: &str) -> Result<wire::AccountSummary, ErrorObject> {
        let keyport = self.keyport();
        let account = keyport.refresh(name).await;
        // Before answering: the core's event reaches the caches a moment later.
        self.invalidate(name);
        let account = account.map_err(|err| core(self.note_error(name, err)))?;
        Ok(convert::account(account.view(keyport.now())))
    }

    /// Has the provider revoke the account's tokens, then removes it and its access rules.
    pub(crate) async fn revoke_account(&self, name: &str, local: bool) -> Result<wire::RevokeResult, ErrorObject> {
        let keyport = self.keyport();
        let before = keyport.account(name).map_err(core)?.view(keyport.now());
        let mode = if local { RevokeMode::RemoveLocallyAnyway } else { RevokeMode::AtProvider };
        let outcome = keyport.revoke(name, mode).await;
        self.invalidate(name);
        let outcome = outcome.map_err(|err| core(self.note_error(name, err)))?;
        let _ = self.rules().forget_account(name);
        let (outcome, page, reason) = match outcome {
            RevokeOutcome::Revoked { .. } => (wire::RevokeOutcome::Revoked, None, None),
            RevokeOutcome::RevokeAtPage { page, .. } => {
                (wire::RevokeOutcome::RevokeAtPage, page.map(|p| p.to_string()), None)
            }
            RevokeOutcome::RemovedLocally { reason, .. } => (wire::RevokeOutcome::RemovedLocally, None, Some(reason)),
        };
        Ok(wire::RevokeResult { outcome, account: convert::account(before), page, reason })
    }

    /// Removes the account from Keyport (not at the provider), with its access rules.
    pub(crate) async fn remove_account(&self, name: &str) -> Result<wire::AccountSummary, ErrorObject> {
        let owned = name.to_owned();
        let removed = self.blocking(move |k| k.remove_account(&owned)).await;
        self.invalidate(name);
        let removed = removed?;
        let _ = self.rules().forget_account(name);
        Ok(convert::account(removed.view(self.keyport().now())))
    }

    /// Waits for a browser sign-in in the background as `signin_id`.
    pub(crate) fn track_sign_in(
        self: &Arc<Self>,
        pending: keyport_core::signin::PendingSignIn,
        account: Option<String>,
        signin_id: String,
    ) -> Result<SigninStartResult, ErrorObject> {
        let result = SigninStartResult {
            signin_id: signin_id.clone(),
            url: pending.url().to_string(),
            browser_opened: matches!(pending.browser_outcome(), Some(Ok(()))),
        };
        let keyport = self.keyport().clone();
        self.track(signin_id, account, async move { keyport.finish_sign_in(pending).await })?;
        Ok(result)
    }

    /// Runs a sign-in's `finish` in the background; its outcome is published as
    /// `signin_finished` or `signin_failed`, and `signin.cancel` aborts it.
    pub(crate) fn track(
        self: &Arc<Self>,
        signin_id: String,
        account: Option<String>,
        finish: impl std::future::Future<Output = Result<keyport_core::account::Account, keyport_core::Error>>
        + Send
        + 'static,
    ) -> Result<(), ErrorObject> {
        let mut signins = self.signins.lock().expect("signins");
        if signins.len() >= MAX_SIGNINS {
            return Err(ErrorObject::new(
                ErrorCode::Busy,
                "too many sign-ins are waiting for a browser; finish or cancel one",
            ));
        }
        let service = self.clone();
        let id = signin_id.clone();
        let task = tokio::spawn(async move {
            let event = match finish.await {
                Ok(account) => {
                    service.invalidate(&account.name);
                    Event::SigninFinished { signin_id: id.clone(), account: account.name }
                }
                Err(err) => {
                    let error = convert::error(&err);
                    Event::SigninFailed { signin_id: id.clone(), account, code: error.code, message: error.message }
                }
            };
            service.signins.lock().expect("signins").remove(&id);
            service.publish(event);
        });
        signins.insert(signin_id, task.abort_handle());
        Ok(())
    }

    /// Stops a sign-in under way and publishes its `signin_failed` (cancelled).
    pub(crate) fn cancel_sign_in(&self, signin_id: &str) -> Result<(), ErrorObject> {
        let handle = self.signins.lock().expect("signins").remove(signin_id);
        let Some(handle) = handle else {
            return Err(ErrorObject::new(ErrorCode::NoSuchSignin, format!("no sign-in `{signin_id}` is under way")));
        };
        handle.abort();
        self.publish(Event::SigninFailed {
            signin_id: signin_id.to_owned(),
            account: None,
            code: ErrorCode::SigninCancelled.code(),
            message: "the sign-in was cancelled".into(),
        });
        Ok(())
    }
}

/// The per-app check in front of every token: a rule, or the host's prompter.
async fn check_access(service: &Arc<Service>, peer: &Peer, account: &str) -> Result<(), ErrorObject> {
    let program = peer
        .program(service)
        .await
        .map_err(|reason| ErrorObject::new(ErrorCode::AccessDenied, format!("access denied: {reason}")))?;
    // A missing account is reported as such, not as a policy question.
    // (The snapshot may be up to `RECHECK` old: a miss looks at the file again.)
    if !service.accounts().map_err(core)?.contains_key(account)
        && !service.accounts_now().map_err(core)?.contains_key(account)
    {
        return Err(core(keyport_core::Error::AccountNotFound { name: account.to_owned() }));
    }
    match service
        .rules()
        .decision(&program, account)
        .map_err(|err| ErrorObject::new(ErrorCode::InternalError, err.to_string()))?
    {
        Some(Decision::Allow) => return Ok(()),
        Some(Decision::Deny) => return Err(ErrorObject::access_denied(&program.to_string(), account)),
        None => {}
    }
    // A remembered answer is already in the rules: the host saved it before answering.
    match service.prompter.ask(&program, account).await {
        PromptAnswer::AllowOnce | PromptAnswer::AllowAlways => Ok(()),
        PromptAnswer::Deny | PromptAnswer::NoOneToAsk => Err(ErrorObject::access_denied(&program.to_string(), account)),
    }
}
