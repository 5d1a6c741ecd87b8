//! The socket's methods: one function per method, each a call or two into the core, every one
//! that touches an account behind the access rules.
//!
//! Who may do what (docs/socket.md, "Who may do what"):
//! - reading a token and every action on an account (renew, sign in again, revoke, remove,
//!   connect under a name) need the asker to be allowed to use the account: a rule, the user's
//!   answer to the host's question, or the user at their terminal ([`Asker::Person`]);
//! - metadata (`accounts.list`, `accounts.status`, events) is shown to every identified program
//!   except for accounts it is denied: a denied program gets nothing about that account. The
//!   same metadata is in `accounts.json`, which every program of the user can read; the rules
//!   guard tokens and actions;
//! - the rules themselves change only through the user: at a terminal (`keyport allow`), or in
//!   the desktop app's window (in-process, `app.rs`).

use std::sync::Arc;
use std::time::Duration;

use keyport_core::signin::SignInRequest;
use keyport_core::{RevokeMode, RevokeOutcome, Verification};
use keyport_wire::{
    self as wire, AccessToken, Call, ErrorCode, ErrorObject, Event, Request, Response, SigninStartResult,
};
use serde_json::Value;

use crate::access::{Action, Decision, EVERY_ACCOUNT, Program, PromptAnswer};
use crate::activity::Why;
use crate::convert;
use crate::forward::{Forward, Origin};
use crate::peer::interpreter::Family;
use crate::peer::{Asker, Delivery};
use crate::server::Connection;
use crate::service::Service;

type Answer = Result<Value, ErrorObject>;

/// Answers one request, written by the processes `writers`.
pub(crate) async fn answer(service: &Arc<Service>, conn: &Connection, request: Request, writers: &[u32]) -> Response {
    let id = request.id.clone();
    let call = match Call::from_request(&request) {
        Ok(call) => call,
        Err(error) => return Response::error(Some(id), error),
    };
    let asker = match &conn.origin {
        Origin::Local => conn.asker(service, writers),
        Origin::Forward(forward) => match forwarded_asker(service, forward, &call) {
            Ok(asker) => Ok(asker),
            Err(error) => return Response::error(Some(id), error),
        },
    };
    let outcome = match asker {
        Ok(asker) => dispatch(service, conn, &asker, call, writers.first().copied()).await,
        Err(reason) => {
            service.record_unidentified(&call, &reason);
            Err(ErrorObject::new(ErrorCode::AccessDenied, format!("access denied: {reason}")))
        }
    };
    match outcome {
        Ok(value) => Response { id: Some(id), outcome: Ok(value) },
        Err(error) => Response::error(Some(id), error),
    }
}

/// Who asks through a `keyport ssh` forward: its host and the program the remote side claims.
/// Only the methods [`crate::forward::serves`] names get that far.
fn forwarded_asker(service: &Service, forward: &Forward, call: &Call) -> Result<Asker, ErrorObject> {
    let claimed = match call {
        Call::TokenGet(params) => params.program.as_deref(),
        _ => None,
    };
    let asker =
        Asker::Program { program: forward.program(claimed)?, delivery: Delivery::Forwarded(forward.id.clone()) };
    let method = call.method();
    if !crate::forward::serves(method) {
        service.record_refusal(&asker, crate::activity::account_of(call), method.name(), Why::OnlyYou, || {
            "not served through a `keyport ssh` forward".to_owned()
        });
        return Err(ErrorObject::new(
            ErrorCode::AccessDenied,
            format!(
                "access denied: `{method}` is not served through a `keyport ssh` forward; only `token.get` and \
                 `accounts.list` cross it"
            ),
        ));
    }
    Ok(asker)
}

/// Whether `asker` is a program on another machine, asking through a `keyport ssh` forward.
fn is_remote(asker: &Asker) -> bool {
    matches!(asker, Asker::Program { program: Program::Remote { .. }, .. })
}

/// A success line, serialized straight from `result` (no `serde_json::Value` in between).
#[derive(serde::Serialize)]
struct Success<'a, T> {
    jsonrpc: wire::Version,
    id: &'a wire::Id,
    result: &'a T,
}

/// Answers a `token.get` at once, as an encoded line, when its token is in memory, the writer
/// was already judged on this connection, and a rule allows it: no task, no `/proc` reads, no
/// `serde_json::Value`. `None` for everything else, which [`answer`] then handles on a task of
/// its own. With `service::RECHECK` this took the daemon from 17 to 8.5 µs of CPU per cached
/// request, and one client from 34,000 to 60,000 requests a second (`cargo bench --bench
/// socket`, 2 cores).
pub(crate) fn answer_now(service: &Service, conn: &Connection, request: &Request, writers: &[u32]) -> Option<Vec<u8>> {
    if request.method != wire::Method::TokenGet.name() || !matches!(conn.origin, Origin::Local) {
        return None;
    }
    let Ok(Call::TokenGet(params)) = Call::from_request(request) else { return None };
    let allowed = conn.with_known_asker(writers, |asker| match asker {
        Asker::Person { .. } => Some((asker.clone(), Why::Person)),
        Asker::Window { .. } => Some((asker.clone(), Why::Window)),
        Asker::Program { program, delivery: Delivery::Connection | Delivery::CliOutput | Delivery::Discarded } => {
            // The rules file is compared on every request (a `stat()`, 5% of the daemon's CPU
            // under load), unlike the accounts': `keyport deny` takes effect at once.
            match service.rules().deciding_rule(program, &params.account) {
                Ok(Some((Decision::Allow, every_account))) => Some((asker.clone(), Why::Rule { every_account })),
                _ => None,
            }
        }
        Asker::Program { .. } => None,
    })?;
    let (asker, why) = allowed?;
    let min_valid = Duration::from_secs(params.min_valid_secs.unwrap_or(wire::DEFAULT_MIN_VALID_SECS));
    let result =
        service.cached_token(&params.account, min_valid, |account, token| token_result(service, account, token))?;
    service.record_hand_out(&asker, &params.account, why);
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

async fn dispatch(service: &Arc<Service>, conn: &Connection, asker: &Asker, call: Call, writer: Option<u32>) -> Answer {
    match call {
        Call::SshForward(params) => {
            only_the_user(service, asker, "open a `keyport ssh` forward", "ssh.forward", None)?;
            let (guard, socket) = crate::forward::open(service, params.host, writer, params.for_ssh_config)?;
            conn.forwards.lock().expect("forwards").push(guard);
            to_value(&wire::SshForwardResult { socket: socket.display().to_string() })
        }
        Call::AccountsList => {
            let mut accounts = service.list_accounts().await?;
            accounts.retain(|account| service.may_see(asker, &account.name));
            if let Asker::Program { program, delivery: Delivery::Forwarded(forward) } = asker {
                // A remote machine cannot read `accounts.json`: it sees only what it may read.
                accounts.retain(|account| {
                    matches!(service.rules().decision(program, &account.name), Ok(Some(Decision::Allow)))
                        || service.forwards.allowed_for_session(forward, program, &account.name)
                });
            }
            to_value(&wire::AccountsListResult { accounts })
        }
        Call::AccountsStatus(params) => {
            let account = service.account_summary(&params.account).await?;
            if !service.may_see(asker, &params.account) {
                service.record_denied(asker, &params.account, "accounts.status");
                return Err(denied(asker, &params.account));
            }
            to_value(&account)
        }
        Call::TokenGet(params) => {
            let why = authorize(service, asker, &params.account, Action::ReadToken).await?;
            if let Asker::Program { program, delivery: Delivery::Elsewhere(reason) } = asker {
                service
                    .record_refusal(asker, Some(&params.account), "token.get", Why::OutputElsewhere, || reason.clone());
                return Err(ErrorObject::new(
                    ErrorCode::AccessDenied,
                    format!(
                        "access denied: {reason}; Keyport hands a token to {program} only through a pipe it reads \
                         (run `keyport token` with its output captured, as `$(keyport token ...)` or a pipe)"
                    ),
                ));
            }
            let min_valid = Duration::from_secs(params.min_valid_secs.unwrap_or(wire::DEFAULT_MIN_VALID_SECS));
            let (account, token) = service.token(&params.account, min_valid).await.map_err(core)?;
            let result = token_result(service, &account, &token);
            service.record_hand_out(asker, &params.account, why);
            to_value(&result)
        }
        Call::TokenRefresh(params) => {
            authorize(service, asker, &params.account, Action::Refresh).await?;
            to_value(&service.refresh_account(&params.account).await?)
        }
        Call::SigninStart(params) => {
            match &params.account {
                Some(name) => {
                    keyport_core::account::check_account_name(name).map_err(core)?;
                    authorize(service, asker, name, Action::Connect).await?;
                }
                None => authorize_unnamed(service, asker, "signin.start", "connect accounts")?,
            }
            let request = SignInRequest {
                scopes: keyport_core::provider::split_scopes(&params.scopes.unwrap_or_default()),
                account_name: params.account.clone(),
                open_browser: params.open_browser.unwrap_or(false),
                ..SignInRequest::default()
            };
            // Binding the listener, the keyring probe and the browser all may block.
            let provider = params.provider.clone();
            let pending = service.blocking(move |keyport| keyport.begin_sign_in(&provider, request)).await?;
            start_signin(service, conn, pending, params.account)
        }
        Call::AccountsReauth(params) => {
            authorize(service, asker, &params.account, Action::SignInAgain).await?;
            let scopes = keyport_core::provider::split_scopes(&params.scopes.unwrap_or_default());
            let (account, open_browser) = (params.account.clone(), params.open_browser.unwrap_or(false));
            let pending = service
                .blocking(move |keyport| {
                    keyport.begin_reauth(&account, &scopes, keyport_core::signin::DEFAULT_TIMEOUT, open_browser)
                })
                .await?;
            start_signin(service, conn, pending, Some(params.account))
        }
        Call::SigninCancel(params) => {
            let own = conn.signins.lock().expect("signins").contains(&params.signin_id);
            if !own && !asker.is_user() {
                // Another connection's sign-in is not this one's to see or stop.
                return Err(ErrorObject::new(
                    ErrorCode::NoSuchSignin,
                    format!("no sign-in `{}` was started on this connection", params.signin_id),
                ));
            }
            service.cancel_sign_in(&params.signin_id)?;
            to_value(&wire::Empty {})
        }
        Call::AccountsRevoke(params) => {
            authorize(service, asker, &params.account, Action::Revoke).await?;
            to_value(&service.revoke_account(&params.account, params.local.unwrap_or(false)).await?)
        }
        Call::AccountsRemove(params) => {
            authorize(service, asker, &params.account, Action::Remove).await?;
            to_value(&wire::RemoveResult { account: service.remove_account(&params.account).await? })
        }
        Call::ProvidersList => to_value(&wire::ProvidersListResult { providers: service.list_providers()? }),
        Call::EventsSubscribe => {
            // Listening starts before the answer: no event after it is missed.
            conn.listen(service);
            *conn.subscriber.lock().expect("subscriber") = Some(asker.clone());
            to_value(&wire::Empty {})
        }
        Call::AccessList => {
            let rules = service.rules().list().map_err(service_error)?;
            let visible = rules.into_iter().filter(|rule| match asker {
                Asker::Person { .. } | Asker::Window { .. } => true,
                Asker::Program { program, .. } => &rule.program == program,
            });
            to_value(&wire::AccessListResult { rules: visible.map(|rule| service.wire_rule(rule)).collect() })
        }
        Call::ActivityList(params) => {
            only_the_user(service, asker, "read the activity log", "activity.list", params.account.as_deref())?;
            let since = match &params.since {
                None => None,
                Some(text) => {
                    Some(time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).map_err(
                        |_| {
                            ErrorObject::new(
                                ErrorCode::InvalidParams,
                                "`since` must be an RFC 3339 time, such as 2026-11-30T08:00:00Z",
                            )
                        },
                    )?)
                }
            };
            let filter = crate::activity::Filter {
                account: params.account,
                program: params.program,
                since,
                limit: params.limit.unwrap_or(wire::DEFAULT_ACTIVITY_LIMIT).min(wire::MAX_ACTIVITY_LIMIT) as usize,
            };
            let activity = service.activity.clone();
            let (records, truncated) = tokio::task::spawn_blocking(move || activity.list(&filter))
                .await
                .map_err(|err| ErrorObject::new(ErrorCode::InternalError, err.to_string()))?;
            to_value(&wire::ActivityListResult { records, truncated })
        }
        Call::AccessSet(params) => {
            only_the_user(service, asker, "change who may use which account", "access.set", Some(&params.account))?;
            let program: Program = params.program.parse().map_err(service_error)?;
            if params.account != EVERY_ACCOUNT {
                keyport_core::account::check_account_name(&params.account).map_err(core)?;
            }
            let decision = match params.decision {
                wire::AccessDecision::Allow => Decision::Allow,
                wire::AccessDecision::Deny => Decision::Deny,
                wire::AccessDecision::Unknown => {
                    return Err(ErrorObject::new(ErrorCode::InvalidParams, "`decision` must be `allow` or `deny`"));
                }
            };
            let rule = service.set_rule(program, params.account, decision).await?;
            to_value(&service.wire_rule(rule))
        }
        Call::AccessForget(params) => {
            only_the_user(service, asker, "change who may use which account", "access.forget", Some(&params.account))?;
            let program: Program = params.program.parse().map_err(service_error)?;
            let forgotten = service.forget_rule(program, params.account).await?;
            to_value(&wire::AccessForgetResult { forgotten })
        }
        Call::AccountsDetails(params) => {
            only_the_user(
                service,
                asker,
                "see an account's programs and activity",
                "accounts.details",
                Some(&params.account),
            )?;
            to_value(&service.app_account_details(&params.account).await?)
        }
        Call::AccountsAddService(form) => {
            // As `signin.start` with a name: connecting an account under it.
            keyport_core::account::check_account_name(form.name.trim()).map_err(core)?;
            authorize(service, asker, form.name.trim(), Action::Connect).await?;
            to_value(&service.app_add_service_account(form).await?)
        }
        Call::SigninDevice(form) => {
            match form.account.as_deref().map(str::trim).filter(|name| !name.is_empty()) {
                Some(name) => {
                    keyport_core::account::check_account_name(name).map_err(core)?;
                    authorize(service, asker, name, Action::Connect).await?;
                }
                None => authorize_unnamed(service, asker, "signin.start", "connect accounts")?,
            }
            // Its outcome event is routed to this connection, as a browser sign-in's.
            conn.listen(service);
            let start = service.app_device_sign_in(form, |signin_id| {
                conn.signins.lock().expect("signins").push(signin_id.to_owned());
            });
            to_value(&start.await?)
        }
        Call::ProvidersPresets => to_value(&wire::PresetsListResult { presets: crate::app::presets() }),
        Call::ProvidersAdd(form) => {
            // A new provider changes no account: as connecting one with no name yet.
            authorize_unnamed(service, asker, "providers.add", "add a provider")?;
            to_value(&service.app_add_provider(form).await?)
        }
        Call::ProvidersEdit(form) => {
            only_the_user(service, asker, "change a provider", "providers.edit", None)?;
            to_value(&service.app_edit_provider(form).await?)
        }
        Call::ProvidersRefresh(params) => {
            only_the_user(service, asker, "read a provider's metadata again", "providers.refresh", None)?;
            to_value(&service.app_refresh_provider(&params.provider).await?)
        }
        Call::ProvidersRemove(params) => {
            only_the_user(service, asker, "remove a provider", "providers.remove", None)?;
            service.app_remove_provider(&params.provider).await?;
            to_value(&wire::Empty {})
        }
        Call::PromptsSubscribe => {
            let questions = only_the_window(service, asker, "prompts.subscribe")?;
            conn.listen(service);
            *conn.subscriber.lock().expect("subscriber") = Some(asker.clone());
            conn.answering.lock().expect("answering").get_or_insert_with(|| questions.answering());
            to_value(&wire::PromptsListResult { prompts: questions.pending() })
        }
        Call::PromptsAnswer(params) => {
            let questions = only_the_window(service, asker, "prompts.answer")?;
            service.app_answer_prompt(questions, &params.prompt_id, params.choice)?;
            to_value(&wire::Empty {})
        }
        Call::ServiceStatus => {
            only_the_user(service, asker, "read the service's status", "service.status", None)?;
            to_value(&service.status())
        }
        Call::ServiceStop => {
            only_the_user(service, asker, "stop Keyport", "service.stop", None)?;
            let why = if matches!(asker, Asker::Window { .. }) { Why::Window } else { Why::Person };
            service.record_allowed(asker, None, "service.stop", why);
            service.request_stop();
            to_value(&wire::Empty {})
        }
        Call::ServiceAutostart => {
            only_the_user(service, asker, "read whether Keyport starts at login", "service.autostart", None)?;
            let autostart = service.config.autostart.clone().ok_or_else(no_autostart)?;
            to_value(&service.blocking_io(move || Ok(autostart.status())).await?)
        }
        Call::ServiceSetAutostart(params) => {
            only_the_user(service, asker, "choose whether Keyport starts at login", "service.set_autostart", None)?;
            let autostart = service.config.autostart.clone().ok_or_else(no_autostart)?;
            let me = std::env::current_exe().and_then(|me| crate::peer::canonical(&me)).map_err(|err| {
                ErrorObject::new(ErrorCode::InternalError, format!("this service's executable: {err}"))
            })?;
            let status = service.blocking_io(move || autostart.set(params.enabled, &me)).await?;
            let why = if matches!(asker, Asker::Window { .. }) { Why::Window } else { Why::Person };
            service.record_allowed(asker, None, "service.set_autostart", why);
            to_value(&status)
        }
        other => {
            Err(ErrorObject::new(ErrorCode::MethodNotFound, format!("`{}` is not served here", other.method().name())))
        }
    }
}

pub(crate) fn service_error(err: crate::ServiceError) -> ErrorObject {
    match err {
        crate::ServiceError::BadRequest(message) => ErrorObject::new(ErrorCode::InvalidParams, message),
        crate::ServiceError::Core(err) => core(err),
        other => ErrorObject::new(ErrorCode::InternalError, other.to_string()),
    }
}

/// The refusal for `asker` about `account`.
fn denied(asker: &Asker, account: &str) -> ErrorObject {
    match asker {
        Asker::Program { program: Program::Remote { host, program: claimed }, .. } => {
            let (who, named) = match claimed {
                Some(name) => (
                    format!("{name} on {host} (remote:{host}:{name}, a name that machine claims)"),
                    format!(" [{name}]"),
                ),
                None => (format!("a program on {host} (remote:{host})"), String::new()),
            };
            ErrorObject::new(
                ErrorCode::AccessDenied,
                format!(
                    "access denied: {who} may not use account `{account}`; to allow it, run on the machine that \
                     runs Keyport: keyport allow --remote {host}{named} {account}"
                ),
            )
        }
        Asker::Program { program, .. } => match crate::access::interpreter_family(program) {
            // Never advise allowing a shell or an interpreter: say what is judged instead.
            Some(Family::Shell) => ErrorObject::new(
                ErrorCode::AccessDenied,
                format!(
                    "access denied: {program} is a shell that is not running a script file, and not you typing at \
                     your terminal in the foreground; Keyport does not advise allowing a shell, since every shell \
                     script could then read `{account}`. A script is judged as itself (keyport allow \
                     /path/to/script {account}), a `sh -c` command line as the program that runs it (keyport allow \
                     PROGRAM {account}), and a command you type at your terminal, in the foreground, needs no rule"
                ),
            ),
            Some(_) => ErrorObject::new(
                ErrorCode::AccessDenied,
                format!(
                    "access denied: {program} is an interpreter running code that is not a script file (`-c`, \
                     `-e`, `-m`, standard input), or a script Keyport could not find; Keyport does not advise \
                     allowing an interpreter, since every script it runs could then read `{account}`. Run the code \
                     as a script file and allow the script: keyport allow /path/to/script {account}"
                ),
            ),
            None => ErrorObject::access_denied(&program.to_string(), account),
        },
        Asker::Person { .. } | Asker::Window { .. } => ErrorObject::new(ErrorCode::AccessDenied, "access denied"),
    }
}

/// Only the user (at a terminal, or in the window) may do this.
fn only_the_user(
    service: &Service,
    asker: &Asker,
    what: &str,
    action: &'static str,
    account: Option<&str>,
) -> Result<(), ErrorObject> {
    match asker {
        Asker::Person { .. } | Asker::Window { .. } => Ok(()),
        Asker::Program { program, .. } => Err({
            service.record_refusal(asker, account, action, Why::OnlyYou, || format!("only you may {what}"));
            ErrorObject::new(
                ErrorCode::AccessDenied,
                format!(
                    "access denied: only you, at a terminal or in the Keyport window, may {what}; \
                 {program} is a program, not you at a terminal"
                ),
            )
        }),
    }
}

fn no_autostart() -> ErrorObject {
    ErrorObject::new(ErrorCode::InternalError, "this service does not know the user's autostart directory")
}

/// Only the desktop window may do this (answer programs' questions); the questions it answers.
fn only_the_window<'s>(
    service: &'s Service,
    asker: &Asker,
    action: &'static str,
) -> Result<&'s crate::prompts::AccessPrompts, ErrorObject> {
    if !matches!(asker, Asker::Window { .. }) {
        service.record_refusal(asker, None, action, Why::OnlyYou, || {
            "only the Keyport window answers programs' questions".to_owned()
        });
        return Err(ErrorObject::new(
            ErrorCode::AccessDenied,
            "access denied: only the Keyport window (keyport-desktop, installed beside this service) answers \
             programs' access questions",
        ));
    }
    service.prompter.questions().ok_or_else(|| {
        ErrorObject::new(ErrorCode::InternalError, "this service asks nobody: programs without a rule are refused")
    })
}

/// The check in front of every token and every action on an account: the person at the
/// terminal, a rule, or the host's question to the user. Records refusals, and allowed
/// actions other than reading a token (a hand-out is recorded once the token is handed out);
/// returns why it was allowed.
async fn authorize(service: &Arc<Service>, asker: &Asker, account: &str, action: Action) -> Result<Why, ErrorObject> {
    let name = crate::activity::action_name(action);
    if action != Action::Connect
        && let Err(missing) = service.account_exists(account).await
    {
        // A missing account is reported as such, not as a policy question; except to a remote
        // machine, which learns nothing of the accounts it may not read (not even their names).
        if is_remote(asker) {
            service.record_refusal(asker, Some(account), name, Why::NoRule, || "there is no such account".into());
            return Err(denied(asker, account));
        }
        return Err(missing);
    }
    let why = decide(service, asker, account, action).await?;
    match why {
        Ok(why) => {
            if action != Action::ReadToken {
                service.record_allowed(asker, Some(account), name, why);
            }
            Ok(why)
        }
        Err(why) => {
            service.record_refusal(asker, Some(account), name, why, || crate::activity::refusal_detail(account, why));
            Err(denied(asker, account))
        }
    }
}

/// [`authorize`]'s decision: `Ok(Ok(why))` allowed, `Ok(Err(why))` refused.
async fn decide(
    service: &Arc<Service>,
    asker: &Asker,
    account: &str,
    action: Action,
) -> Result<Result<Why, Why>, ErrorObject> {
    let program = match asker {
        Asker::Person { terminal } => {
            tracing::info!(account, terminal = %terminal, ?action, "allowed: the user at their terminal");
            return Ok(Ok(Why::Person));
        }
        Asker::Window { .. } => return Ok(Ok(Why::Window)),
        Asker::Program { program, .. } => program,
    };
    let forward = match asker {
        Asker::Program { delivery: Delivery::Forwarded(id), .. } => Some(id.as_str()),
        _ => None,
    };
    match service.rules().deciding_rule(program, account).map_err(service_error)? {
        Some((Decision::Allow, every_account)) => return Ok(Ok(Why::Rule { every_account })),
        Some((Decision::Deny, every_account)) => return Ok(Err(Why::DeniedByRule { every_account })),
        None => {}
    }
    // A rule decides first (a `keyport deny` applies at once), then this session's answer.
    if let Some(id) = forward
        && service.forwards.allowed_for_session(id, program, account)
    {
        return Ok(Ok(Why::Session));
    }
    // A remembered answer is already in the rules: the host saved it before answering.
    Ok(match service.prompter.ask(program, account, action).await {
        PromptAnswer::AllowOnce => Ok(Why::Answer { always: false }),
        PromptAnswer::AllowSession => {
            if let Some(id) = forward {
                service.forwards.allow_for_session(id, program, account);
            }
            Ok(Why::Session)
        }
        PromptAnswer::AllowAlways => Ok(Why::Answer { always: true }),
        PromptAnswer::Deny => Err(Why::DeniedInWindow),
        PromptAnswer::NoOneToAsk => Err(Why::NoOneToAsk),
    })
}

/// A sign-in without a name, or a new provider: the user at a terminal or in the window, or
/// a program the user allowed every account (`*`), which may connect any account already.
fn authorize_unnamed(service: &Service, asker: &Asker, action: &'static str, what: &str) -> Result<(), ErrorObject> {
    let program = match asker {
        Asker::Person { .. } => {
            service.record_allowed(asker, None, action, Why::Person);
            return Ok(());
        }
        Asker::Window { .. } => {
            service.record_allowed(asker, None, action, Why::Window);
            return Ok(());
        }
        Asker::Program { program, .. } => program,
    };
    if service.rules().decision(program, EVERY_ACCOUNT).map_err(service_error)? == Some(Decision::Allow) {
        service.record_allowed(asker, None, action, Why::Rule { every_account: true });
        return Ok(());
    }
    service.record_refusal(asker, None, action, Why::NoRule, || format!("no rule allows it to {what}"));
    let interpreter = crate::access::interpreter_family(program).is_some();
    if action != "signin.start" {
        // Never advise allowing a shell or an interpreter.
        let allowed = if interpreter {
            "a script you allowed every account (keyport allow /path/to/script --every-account)".to_owned()
        } else {
            format!("a program you allowed every account (keyport allow {program} --every-account)")
        };
        return Err(ErrorObject::new(
            ErrorCode::AccessDenied,
            format!(
                "access denied: {program} may not {what}; only you (at a terminal or in the Keyport window) or {allowed} may"
            ),
        ));
    }
    if interpreter {
        return Err(denied(asker, "NAME"));
    }
    Err(ErrorObject::new(
        ErrorCode::AccessDenied,
        format!(
            "access denied: {program} may not connect accounts; name the new account (`account`), and allow it \
             first: keyport allow {program} NAME"
        ),
    ))
}

/// Whether `asker` may see `event`: events about an account it is denied are not for it.
pub(crate) fn may_see_event(service: &Service, asker: &Asker, event: &Event) -> bool {
    let account = match event {
        Event::Added { account }
        | Event::Refreshed { account, .. }
        | Event::NeedsSignIn { account, .. }
        | Event::Revoked { account }
        | Event::Removed { account }
        | Event::Error { account, .. }
        | Event::SigninFinished { account, .. } => Some(account.as_str()),
        Event::SigninFailed { account, .. } => account.as_deref(),
        _ => None,
    };
    if matches!(event, Event::PromptAsked { .. } | Event::PromptClosed { .. } | Event::Show { .. }) {
        return matches!(asker, Asker::Window { .. });
    }
    account.is_none_or(|account| service.may_see(asker, account))
}

/// Sign-ins that may wait for a browser (or a device) at once: each holds a task, and a browser
/// sign-in a loopback port.
const MAX_SIGNINS: usize = 16;

fn start_signin(
    service: &Arc<Service>,
    conn: &Connection,
    pending: keyport_core::signin::PendingSignIn,
    account: Option<String>,
) -> Answer {
    let signin_id = crate::random_id();
    // Before the task starts: its outcome event is routed to this connection.
    conn.listen(service);
    conn.signins.lock().expect("signins").push(signin_id.clone());
    let result = service.track_sign_in(pending, account, signin_id.clone());
    if result.is_err() {
        conn.signins.lock().expect("signins").retain(|id| *id != signin_id);
    }
    to_value(&result?)
}

/// A sign-in's place among those under way. Dropped however its task ends (finished, failed,
/// aborted, or panicked), it frees the place; if the sign-in had not reported an outcome and
/// was not cancelled, it reports a failure, so no client waits for ever.
struct SigninSlot {
    service: Arc<Service>,
    signin_id: String,
    account: Option<String>,
    reported: bool,
}

impl Drop for SigninSlot {
    fn drop(&mut self) {
        let was_open = self.service.signins.lock().expect("signins").remove(&self.signin_id).is_some();
        if was_open && !self.reported {
            self.service.publish(Event::SigninFailed {
                signin_id: self.signin_id.clone(),
                account: self.account.clone(),
                code: ErrorCode::SigninFailed.code(),
                message: "the sign-in stopped unexpectedly; start it again".into(),
            });
        }
    }
}

/// The account actions, shared by the socket's methods and the desktop app (`app.rs`).
impl Service {
    /// Runs a core call that touches the keyring or waits on a file lock on the blocking pool.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        call: impl FnOnce(&keyport_core::Keyport) -> Result<T, keyport_core::Error> + Send + 'static,
    ) -> Result<T, ErrorObject> {
        let keyport = self.keyport().clone();
        tokio::task::spawn_blocking(move || call(&keyport))
            .await
            .map_err(|err| ErrorObject::new(ErrorCode::InternalError, err.to_string()))?
            .map_err(core)
    }

    /// A rule as the wire shows it, with when its program last read its account (any account,
    /// for a `*` rule).
    pub(crate) fn wire_rule(&self, rule: crate::access::Rule) -> wire::AccessRule {
        let last_read = self.activity.last_read(&rule.program.to_string(), &rule.account).map(convert::rfc3339);
        wire::AccessRule { last_read, ..convert::rule(rule) }
    }

    /// Whether `asker` may see anything of `account`: not when its program is denied it.
    pub(crate) fn may_see(&self, asker: &Asker, account: &str) -> bool {
        match asker.program() {
            None => true,
            Some(program) => !matches!(self.rules().decision(program, account), Ok(Some(Decision::Deny))),
        }
    }

    /// `Ok` when `account` exists (looking at the file again when the snapshot misses it).
    async fn account_exists(&self, account: &str) -> Result<(), ErrorObject> {
        if self.accounts().map_err(core)?.contains_key(account)
            || self.accounts_now().map_err(core)?.contains_key(account)
        {
            return Ok(());
        }
        Err(core(keyport_core::Error::AccountNotFound { name: account.to_owned() }))
    }

    /// One account's summary.
    async fn account_summary(&self, name: &str) -> Result<wire::AccountSummary, ErrorObject> {
        let owned = name.to_owned();
        let account = self.blocking(move |k| k.account(&owned)).await?;
        Ok(convert::account(account.view(self.keyport().now())))
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

    /// Records a rule (the file is written on the blocking pool).
    async fn set_rule(
        self: &Arc<Self>,
        program: Program,
        account: String,
        decision: Decision,
    ) -> Result<crate::access::Rule, ErrorObject> {
        let service = self.clone();
        tokio::task::spawn_blocking(move || {
            service.rules().set(program.clone(), &account, decision)?;
            let rules = service.rules().list()?;
            rules
                .into_iter()
                .find(|rule| rule.program == program && rule.account == account)
                .ok_or_else(|| crate::ServiceError::BadRequest("the rule was not kept".into()))
        })
        .await
        .map_err(|err| ErrorObject::new(ErrorCode::InternalError, err.to_string()))?
        .map_err(service_error)
    }

    /// Forgets a rule (the file is written on the blocking pool).
    async fn forget_rule(self: &Arc<Self>, program: Program, account: String) -> Result<bool, ErrorObject> {
        let service = self.clone();
        tokio::task::spawn_blocking(move || service.rules().forget(&program, &account))
            .await
            .map_err(|err| ErrorObject::new(ErrorCode::InternalError, err.to_string()))?
            .map_err(service_error)
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
        let mut result = wire::RevokeResult {
            outcome: wire::RevokeOutcome::Revoked,
            account: convert::account(before),
            page: None,
            reason: None,
            verified: false,
            unverified_reason: None,
        };
        match outcome {
            RevokeOutcome::Revoked { verification: Verification::Inactive, .. } => result.verified = true,
            RevokeOutcome::Revoked { verification: Verification::Unchecked(why), .. } => {
                result.unverified_reason = Some(why);
            }
            RevokeOutcome::RevokeAtPage { page, .. } => {
                result.outcome = wire::RevokeOutcome::RevokeAtPage;
                result.page = page.map(String::from);
            }
            RevokeOutcome::RemovedLocally { reason, .. } => {
                result.outcome = wire::RevokeOutcome::RemovedLocally;
                result.reason = Some(reason);
            }
        }
        Ok(result)
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
            expires_at: Some(convert::rfc3339(self.keyport().now() + pending.timeout())),
        };
        let keyport = self.keyport().clone();
        self.track(signin_id, account, async move { keyport.finish_sign_in(pending).await })?;
        Ok(result)
    }

    /// Runs a sign-in's `finish` in the background; its outcome is published as
    /// `signin_finished` or `signin_failed`, and `signin.cancel` aborts it. However the task
    /// ends, its place is freed ([`SigninSlot`]).
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
        let mut slot = SigninSlot { service: self.clone(), signin_id: signin_id.clone(), account, reported: false };
        let task = tokio::spawn(async move {
            let event = match finish.await {
                Ok(account) => {
                    slot.service.invalidate(&account.name);
                    Event::SigninFinished { signin_id: slot.signin_id.clone(), account: account.name }
                }
                Err(err) => {
                    let error = convert::error(&err);
                    Event::SigninFailed {
                        signin_id: slot.signin_id.clone(),
                        account: slot.account.clone(),
                        code: error.code,
                        message: error.message,
                    }
                }
            };
            slot.service.signins.lock().expect("signins").remove(&slot.signin_id);
            slot.reported = true;
            slot.service.publish(event);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> (tempfile::TempDir, Arc<Service>) {
        let dir = tempfile::tempdir().unwrap();
        let service = crate::service::test_service(dir.path());
        (dir, service)
    }

    #[tokio::test]
    async fn a_sign_in_task_that_panics_frees_its_place_and_reports_a_failure() {
        let (_dir, service) = service();
        let mut events = service.subscribe();
        for i in 0..(MAX_SIGNINS * 2) {
            service
                .track(format!("s{i}"), Some("a".into()), async {
                    panic!("a provider's number overflowed");
                })
                .unwrap_or_else(|err| panic!("sign-in {i} was refused: {}", err.message));
            match events.recv().await.unwrap() {
                Event::SigninFailed { signin_id, code, .. } => {
                    assert_eq!(signin_id, format!("s{i}"));
                    assert_eq!(code, ErrorCode::SigninFailed.code());
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(service.signins.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_cancelled_sign_in_reports_one_cancellation() {
        let (_dir, service) = service();
        let mut events = service.subscribe();
        service.track("s".into(), None, std::future::pending()).unwrap();
        service.cancel_sign_in("s").unwrap();
        let Event::SigninFailed { code, .. } = events.recv().await.unwrap() else { panic!("a failure") };
        assert_eq!(code, ErrorCode::SigninCancelled.code());
        tokio::task::yield_now().await;
        assert!(events.try_recv().is_err(), "no second outcome");
    }
}
