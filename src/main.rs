//! `keyport`: the command-line interface to Keyport.
//!
//! Parses arguments, builds the core with the real outside world (keyring, HTTP, clock,
//! browser), calls one core method per command and prints the result. Human output goes to
//! stdout, progress and errors to stderr; `--json` output is the documented format of
//! `docs/json.md`.

mod activity_log;
mod cli_docs;
mod client;
mod helpers;
mod log_file;
mod print;
mod ssh;
#[cfg(test)]
mod thin_client_tests;

use std::io::{IsTerminal, Read, Write as _};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use keyport_core::browser::{BrowserOpener, SystemBrowser};
use keyport_core::clock::SystemClock;
use keyport_core::http::ReqwestClient;
use keyport_core::paths::Paths;
use keyport_core::provider::{EndpointKind, MicrosoftTenant, Preset, RedirectHost, split_scopes};
use keyport_core::refresher::RefreshPolicy;
use keyport_core::secret::Secret;
use keyport_core::secrets::{KeyringStore, OpenOnUse, SecretStore};
use keyport_core::signin;
use keyport_core::{Error, Keyport, endpoint};
use keyport_service::access::Program;
use keyport_service::prompts::{AccessPrompts, DEFAULT_PROMPT_TIMEOUT};
use keyport_service::{Service, ServiceConfig};
use keyport_wire::{self as wire, Call, Event};

use crate::client::{Client, ClientError};

#[derive(Debug, Parser)]
#[command(name = "keyport", version, about = "Keyport: OAuth 2.0 accounts on your desktop, tokens in your keyring")]
struct Cli {
    /// More log output on stderr (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage providers (where accounts sign in).
    #[command(subcommand)]
    Provider(ProviderCommand),
    /// Connect an account: browser sign-in, or --device, or --client-credentials.
    Add(AddArgs),
    /// List accounts.
    List {
        /// Print JSON (see docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Show one account.
    Status {
        /// Account name.
        account: String,
        /// Print JSON (see docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Print the account's access token, and nothing else.
    Token {
        /// Account name.
        account: String,
        /// Renew the token first if it expires within this many seconds.
        #[arg(long, value_name = "SECS", default_value_t = 60)]
        min_valid: u64,
    },
    /// Renew the account's access token now.
    Refresh {
        /// Account name.
        account: String,
        /// Print the account as JSON afterwards.
        #[arg(long)]
        json: bool,
    },
    /// Sign in again for an existing account (after "needs sign-in", or to add scopes).
    Reauth(ReauthArgs),
    /// Run Keyport's service in the foreground (the socket for other programs, background renewal).
    ///
    /// Other commands start one in the background when none is running.
    Daemon(DaemonArgs),
    /// Let a program use an account: read its tokens, renew, sign in again, revoke, remove.
    ///
    /// Only you, at a terminal, can change the rules (a program running `keyport allow` is refused).
    Allow(RuleArgs),
    /// Stop a program from using an account; it no longer sees anything of it.
    Deny(RuleArgs),
    /// Forget what you decided about a program and an account: it is asked again.
    Forget(RuleArgs),
    /// List which programs may (or may not) read which accounts.
    Apps {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show who read what: tokens handed out, actions allowed, requests refused (only you, at a terminal).
    Log(activity_log::LogArgs),
    /// Stop Keyport's service (the socket, background renewal, the tray).
    ///
    /// Programs that ask for a token afterwards start it again, as `keyport token` does.
    Quit,
    /// Delete an account and its tokens from the keyring.
    Remove {
        /// Account name.
        account: String,
    },
    /// Have the provider revoke the account's tokens, then remove the account.
    Revoke {
        /// Account name.
        account: String,
        /// Remove the account from Keyport even if the provider cannot revoke (it is still asked first).
        #[arg(long)]
        local: bool,
    },
    /// git credential helper: hands git a fresh token for HTTPS remotes (docs/clients.md).
    GitCredential(helpers::GitCredentialArgs),
    /// Print shell completions for bash, zsh or fish (README: "Shell completions and man page").
    Completions {
        /// The shell.
        #[arg(value_parser = parse_shell)]
        shell: clap_complete::Shell,
    },
    /// Print the man page, keyport(1), in roff (`keyport man | man -l -`).
    Man,
    /// Print the SASL XOAUTH2 string (base64) that IMAP and SMTP clients send.
    Xoauth2(helpers::Xoauth2Args),
    /// ssh to a machine, lending it this desktop's tokens for the session.
    ///
    /// Runs the system `ssh` with a forward of a socket of the service: in the session,
    /// `keyport token ACCOUNT` (Keyport installed there) reaches this service, and you decide here
    /// which program there may read which account (`keyport allow --remote HOST`). Only token
    /// reads cross the forward; it ends with the session (docs/clients.md).
    Ssh(ssh::SshArgs),
    /// Lend this desktop's tokens to ssh sessions to HOST that your ssh_config forwards (RemoteForward), until stopped.
    ///
    /// Prints the ssh_config lines to use. Any `ssh` of yours may use the forward while this
    /// runs; `keyport ssh` needs none of this, and admits only the ssh it starts (docs/clients.md).
    Forward(ssh::ForwardArgs),
}

#[derive(Debug, Subcommand)]
enum ProviderCommand {
    /// Add a provider: a preset, an issuer to discover, or endpoints.
    Add(Box<ProviderAddArgs>),
    /// List providers.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a provider and its client secret.
    Remove {
        /// Provider name.
        name: String,
    },
    /// Change a provider's endpoints, scopes, redirect URI or client secret; its accounts stay.
    Edit(Box<ProviderEditArgs>),
    /// Read a discovered provider's metadata again (endpoints given by hand stay over it).
    Refresh {
        /// Provider name.
        name: String,
    },
}

/// Endpoints typed in: for `provider add` the endpoints of a provider without metadata, or
/// endpoints over the preset's or the discovered ones; for `provider edit` new ones.
#[derive(Debug, Args)]
struct EndpointArgs {
    /// Authorization endpoint.
    #[arg(long, value_parser = parse_endpoint)]
    auth_url: Option<url::Url>,
    /// Token endpoint.
    #[arg(long, value_parser = parse_endpoint)]
    token_url: Option<url::Url>,
    /// RFC 7009 revocation endpoint.
    #[arg(long, value_parser = parse_endpoint)]
    revoke_url: Option<url::Url>,
    /// RFC 8628 device authorization endpoint.
    #[arg(long, value_parser = parse_endpoint)]
    device_url: Option<url::Url>,
    /// OpenID Connect userinfo endpoint.
    #[arg(long, value_parser = parse_endpoint)]
    userinfo_url: Option<url::Url>,
    /// RFC 7662 token introspection endpoint (`keyport revoke` checks there).
    #[arg(long, value_parser = parse_endpoint)]
    introspection_url: Option<url::Url>,
}

impl EndpointArgs {
    /// The endpoint of `kind`, if given.
    fn get(&self, kind: EndpointKind) -> Option<&url::Url> {
        match kind {
            EndpointKind::Authorization => self.auth_url.as_ref(),
            EndpointKind::Token => self.token_url.as_ref(),
            EndpointKind::Revocation => self.revoke_url.as_ref(),
            EndpointKind::DeviceAuthorization => self.device_url.as_ref(),
            EndpointKind::Userinfo => self.userinfo_url.as_ref(),
            EndpointKind::Introspection => self.introspection_url.as_ref(),
        }
    }

    /// The endpoints given, as the service's forms take them.
    fn typed(&self) -> wire::app::EndpointUrls {
        let typed = |kind| self.get(kind).map(url::Url::to_string);
        wire::app::EndpointUrls {
            authorization: typed(EndpointKind::Authorization),
            token: typed(EndpointKind::Token),
            revocation: typed(EndpointKind::Revocation),
            device_authorization: typed(EndpointKind::DeviceAuthorization),
            userinfo: typed(EndpointKind::Userinfo),
            introspection: typed(EndpointKind::Introspection),
        }
    }
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("secret").args(["client_secret_stdin", "no_client_secret"])))]
struct ProviderEditArgs {
    /// Provider name.
    name: String,
    #[command(flatten)]
    endpoints: EndpointArgs,
    /// Forget an endpoint given by hand (back to the preset's or the discovered one), or drop
    /// an optional endpoint of a provider added by its endpoints: authorization, token,
    /// revocation, device_authorization, userinfo, introspection. Repeatable.
    #[arg(long, value_name = "ENDPOINT", value_parser = parse_endpoint_kind)]
    forget_url: Vec<EndpointKind>,
    /// New default scopes (repeatable; space-separated values).
    #[arg(long = "scope", value_name = "SCOPES", conflicts_with = "default_scopes")]
    scopes: Vec<String>,
    /// Back to the preset's or the discovered default scopes.
    #[arg(long)]
    default_scopes: bool,
    /// Redirect host, as registered: 127.0.0.1, [::1] or localhost.
    #[arg(long, value_parser = parse_redirect_host)]
    redirect_host: Option<RedirectHost>,
    /// Redirect path, as registered.
    #[arg(long)]
    redirect_path: Option<String>,
    /// Read a new client secret from standard input (it goes to the keyring).
    #[arg(long)]
    client_secret_stdin: bool,
    /// Delete the client secret (a public client from now on).
    #[arg(long)]
    no_client_secret: bool,
}

#[derive(Debug, Args)]
struct ProviderAddArgs {
    /// Name for this provider (letters, digits, `.`, `_`, `-`).
    name: String,
    /// A built-in provider: google, microsoft, github, gitlab.
    #[arg(long, value_parser = parse_preset)]
    preset: Option<Preset>,
    /// Microsoft tenant: common, organizations, consumers, or a tenant id or domain.
    #[arg(long, requires = "preset", value_parser = parse_tenant)]
    tenant: Option<MicrosoftTenant>,
    /// Self-hosted GitLab base URL (default https://gitlab.com).
    #[arg(long, requires = "preset", value_parser = parse_endpoint)]
    base_url: Option<url::Url>,
    /// An OpenID Connect or RFC 8414 issuer: endpoints are discovered.
    #[arg(long, value_parser = parse_endpoint, conflicts_with = "preset")]
    issuer: Option<url::Url>,
    /// Without --preset or --issuer: the provider's endpoints (--auth-url and --token-url
    /// needed); with them: endpoints over (or beside) the preset's or the discovered ones.
    #[command(flatten)]
    endpoints: EndpointArgs,
    /// The client id you registered with the provider.
    #[arg(long)]
    client_id: String,
    /// Read the client secret from standard input (it goes to the keyring).
    #[arg(long)]
    client_secret_stdin: bool,
    /// Default scopes (repeatable; each value may hold several, space-separated).
    #[arg(long = "scope", value_name = "SCOPES")]
    scopes: Vec<String>,
    /// Redirect host, as registered: 127.0.0.1, [::1] or localhost.
    #[arg(long, value_parser = parse_redirect_host)]
    redirect_host: Option<RedirectHost>,
    /// Redirect path, as registered (default: /callback/NAME, the provider's own).
    #[arg(long)]
    redirect_path: Option<String>,
}

#[derive(Debug, Args)]
struct ReauthArgs {
    /// The account.
    account: String,
    /// Extra scopes to ask for, on top of the account's (repeatable; space-separated values).
    #[arg(long = "scope", value_name = "SCOPES")]
    scopes: Vec<String>,
    #[command(flatten)]
    browser: BrowserArgs,
}

/// How a browser sign-in waits.
#[derive(Debug, Args)]
struct BrowserArgs {
    /// Do not open a browser; print the URL to open elsewhere.
    #[arg(long)]
    no_browser: bool,
    /// Seconds to wait for the sign-in to complete.
    #[arg(long, default_value_t = signin::DEFAULT_TIMEOUT.as_secs(), value_name = "SECS")]
    timeout: u64,
}

#[derive(Debug, Args)]
struct RuleArgs {
    /// The program: a name found in PATH, a path, or flatpak:APP-ID, snap:NAME, container:NAME:/path.
    /// With --remote: the name the remote program gives (`mbsync`), or nothing for every program there.
    #[arg(required_unless_present = "remote")]
    program: Option<String>,
    /// The account.
    #[arg(required_unless_present_any = ["every_account", "remote"], conflicts_with = "every_account")]
    account: Option<String>,
    /// Every account, present and future (and connecting new ones).
    #[arg(long)]
    every_account: bool,
    /// A program on HOST, asking through `keyport ssh` (its name is the remote side's claim).
    #[arg(long, value_name = "HOST")]
    remote: Option<String>,
}

impl RuleArgs {
    /// The program the rule is about, and its account (`None`: every account).
    fn program_and_account(&self) -> Result<(Program, Option<String>)> {
        let Some(host) = &self.remote else {
            let typed = self.program.as_deref().context("which program?")?;
            return Ok((Program::resolve(typed)?, self.account.clone()));
        };
        // `--remote HOST [PROGRAM] ACCOUNT`, or `--remote HOST [PROGRAM] --every-account`.
        let (program, account) = match (&self.program, &self.account) {
            (Some(program), Some(account)) => (Some(program.clone()), Some(account.clone())),
            (Some(one), None) if self.every_account => (Some(one.clone()), None),
            (Some(account), None) => (None, Some(account.clone())),
            (None, _) if self.every_account => (None, None),
            (None, _) => bail!("which account? keyport allow --remote HOST [PROGRAM] ACCOUNT"),
        };
        let text = match program {
            Some(program) => format!("remote:{host}:{program}"),
            None => format!("remote:{host}"),
        };
        Ok((text.parse()?, account))
    }
}

#[derive(Debug, Args)]
struct DaemonArgs {
    /// Renew when this percentage of a token's lifetime is left.
    #[arg(long, value_name = "PERCENT", default_value_t = 20, value_parser = clap::value_parser!(u8).range(1..=90))]
    refresh_margin: u8,
    /// ... but with at least this many seconds left (at most half the lifetime).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    refresh_floor: u64,
    /// Log to this file, rotated at 1 MiB (one old file kept), instead of standard error.
    #[arg(long, value_name = "PATH")]
    log_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
struct AddArgs {
    /// The provider to sign in with (see `keyport provider list`).
    provider: String,
    /// Name for the account (default: its email address).
    #[arg(long)]
    name: Option<String>,
    /// Scopes to request (repeatable; each value may hold several, space-separated).
    #[arg(long = "scope", value_name = "SCOPES")]
    scopes: Vec<String>,
    #[command(flatten)]
    browser: BrowserArgs,
    /// A service account: the Client Credentials grant, client secret read from stdin.
    #[arg(long, requires = "name", conflicts_with_all = ["no_browser", "implicit", "password"])]
    client_credentials: bool,
    /// With --client-credentials: the client id, when it is not the provider's.
    #[arg(long, requires = "client_credentials")]
    client_id: Option<String>,
    /// Sign in on another device with a code (RFC 8628 device flow), for machines without a browser.
    #[arg(long, conflicts_with_all = ["no_browser", "timeout", "client_credentials", "implicit", "password"])]
    device: bool,
    /// Refused: the implicit grant is unsafe (OAuth 2.1, RFC 9700).
    #[arg(long, hide_short_help = true)]
    implicit: bool,
    /// Refused: the password grant is unsafe (OAuth 2.1, RFC 9700).
    #[arg(long, hide_short_help = true)]
    password: bool,
}

fn parse_preset(text: &str) -> Result<Preset, String> {
    text.parse().map_err(|err: Error| err.to_string())
}

fn parse_tenant(text: &str) -> Result<MicrosoftTenant, String> {
    text.parse().map_err(|err: Error| err.to_string())
}

fn parse_endpoint(text: &str) -> Result<url::Url, String> {
    endpoint::parse(text).map_err(|err| err.to_string())
}

fn parse_shell(text: &str) -> Result<clap_complete::Shell, String> {
    match text {
        "bash" => Ok(clap_complete::Shell::Bash),
        "zsh" => Ok(clap_complete::Shell::Zsh),
        "fish" => Ok(clap_complete::Shell::Fish),
        other => Err(format!("`{other}` is not one of bash, zsh, fish")),
    }
}

fn parse_endpoint_kind(text: &str) -> Result<EndpointKind, String> {
    EndpointKind::parse(text).map_err(|err| err.to_string())
}

fn parse_redirect_host(text: &str) -> Result<RedirectHost, String> {
    RedirectHost::parse(text).map_err(|err| err.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(ssh::verbatim(std::env::args_os().collect()));
    let log_file = match &cli.command {
        Command::Daemon(args) => args.log_file.clone(),
        _ => None,
    };
    init_logging(cli.verbose, log_file.as_deref());
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("keyport: {}", print::error_chain(&err));
            ExitCode::from(exit_code(&err))
        }
    }
}

/// Exit codes, as documented in the README: 1 failure, 2 usage (clap), 3 needs sign-in,
/// 4 access denied, 5 provider unreachable (try again), 6 no such account, 7 the provider
/// cannot revoke (nothing was revoked or removed), 130 cancelled.
fn exit_code(err: &anyhow::Error) -> u8 {
    if let Some(ClientError::Rpc(error)) = err.downcast_ref::<ClientError>() {
        // One table for the thin client (which answers `keyport token` itself) and this CLI.
        return keyport_thin::exit_code(error.code);
    }
    match err.downcast_ref::<Error>() {
        Some(Error::SignInCancelled) => 130,
        Some(Error::NeedsSignIn { .. }) => 3,
        Some(Error::AccountNotFound { .. }) => 6,
        Some(Error::CannotRevoke { .. }) => 7,
        _ => 1,
    }
}

fn init_logging(verbose: u8, file: Option<&std::path::Path>) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "warn,keyport=debug,keyport_core=debug",
        _ => "warn,keyport=trace,keyport_core=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(verbose > 0);
    // Colours only for a person at a terminal, never into a file standard error was sent to.
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr());
    match file.map(log_file::LogFile::open) {
        Some(Ok(log)) => builder.with_writer(log).with_ansi(false).init(),
        Some(Err(err)) => {
            builder.with_writer(std::io::stderr).with_ansi(colours).init();
            tracing::error!(%err, "cannot open the log file; logging to standard error");
        }
        None => builder.with_writer(std::io::stderr).with_ansi(colours).init(),
    }
}

/// The core as the service runs it: the keyring, HTTP, the clock, and the real browser
/// (`$BROWSER`, else xdg-open) for socket clients that ask the service to open it
/// (`open_browser: true`); `NoBrowser` would report every URL as opened.
fn keyport(paths: &Paths) -> Result<Keyport> {
    let secrets: Arc<dyn SecretStore> =
        Arc::new(OpenOnUse::new(|| Ok(Box::new(KeyringStore::open()?) as Box<dyn SecretStore>)));
    Ok(Keyport::new(
        paths,
        secrets,
        Arc::new(ReqwestClient::new()?),
        Arc::new(SystemClock),
        Arc::new(SystemBrowser::from_env()),
    ))
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Provider(ProviderCommand::Add(args)) => provider_add(args),
        Command::Provider(ProviderCommand::List { json }) => {
            let result: wire::ProvidersListResult = Client::connect_or_start()?.call(Call::ProvidersList)?;
            print::either(json, result.providers.as_slice(), print::providers)
        }
        Command::Provider(ProviderCommand::Remove { name }) => {
            let _: wire::Empty = Client::connect_or_start()?
                .call(Call::ProvidersRemove(wire::app::ProviderParams { provider: name.clone() }))?;
            eprintln!("Removed provider {name}.");
            Ok(())
        }
        Command::Provider(ProviderCommand::Edit(args)) => provider_edit(*args),
        Command::Provider(ProviderCommand::Refresh { name }) => {
            let refreshed: wire::app::ProviderRefreshed = Client::connect_or_start()?
                .call(Call::ProvidersRefresh(wire::app::ProviderParams { provider: name.clone() }))?;
            if refreshed.changes.is_empty() {
                println!("The metadata of {name} says the same as before.");
            } else {
                println!("The metadata of {name} changed:");
                for change in &refreshed.changes {
                    println!("  {change}");
                }
            }
            print::provider(&refreshed.provider);
            Ok(())
        }
        Command::Add(args) => add(args),
        Command::List { json } => {
            let result: wire::AccountsListResult = Client::connect_or_start()?.call(Call::AccountsList)?;
            print::either(json, result.accounts.as_slice(), print::accounts)
        }
        Command::Status { account, json } => {
            let view: wire::AccountSummary =
                Client::connect_or_start()?.call(Call::AccountsStatus(wire::AccountParams { account }))?;
            print::either(json, &view, print::status)
        }
        Command::Token { account, min_valid } => {
            let mut client = Client::connect_or_start()?;
            let params = client.token_params(account.clone(), Some(min_valid));
            let result: wire::TokenGetResult = client.call(Call::TokenGet(params))?;
            print::token(result.access_token.secret())
        }
        Command::Refresh { account, json } => {
            let view: wire::AccountSummary =
                Client::connect_or_start()?.call(Call::TokenRefresh(wire::AccountParams { account }))?;
            print::either(json, &view, print::refreshed)
        }
        Command::Reauth(args) => reauth(args),
        Command::Daemon(args) => daemon(args),
        Command::Remove { account } => {
            let _: wire::RemoveResult = Client::connect_or_start()?
                .call(Call::AccountsRemove(wire::AccountParams { account: account.clone() }))?;
            eprintln!("Removed account {account} and its tokens.");
            Ok(())
        }
        Command::Revoke { account, local } => {
            let params = wire::RevokeParams { account, local: Some(local) };
            let result: wire::RevokeResult = Client::connect_or_start()?.call(Call::AccountsRevoke(params))?;
            print::revoked(&result);
            Ok(())
        }
        Command::GitCredential(args) => helpers::git_credential(args),
        Command::Xoauth2(args) => helpers::xoauth2(args),
        Command::Forward(args) => ssh::forward(args),
        Command::Ssh(args) => {
            let code = ssh::ssh(args)?;
            std::process::exit(code);
        }
        Command::Completions { shell } => {
            std::io::stdout().write_all(&cli_docs::completions(shell)).context("writing the completions")
        }
        Command::Man => std::io::stdout().write_all(&cli_docs::man_page()).context("writing the man page"),
        Command::Allow(args) => set_rule(&args, Some(wire::AccessDecision::Allow)),
        Command::Deny(args) => set_rule(&args, Some(wire::AccessDecision::Deny)),
        Command::Forget(args) => set_rule(&args, None),
        Command::Log(args) => activity_log::log(args),
        Command::Quit => quit(),
        Command::Apps { json } => {
            let result: wire::AccessListResult = Client::connect_or_start()?.call(Call::AccessList)?;
            print::either(json, result.rules.as_slice(), print::rules)
        }
    }
}

/// `keyport allow`, `deny` (`Some(decision)`) and `forget` (`None`), through the service, which
/// accepts them only from the user at a terminal.
fn set_rule(args: &RuleArgs, decision: Option<wire::AccessDecision>) -> Result<()> {
    let (program, account) = args.program_and_account()?;
    let account = account.unwrap_or_else(|| keyport_service::access::EVERY_ACCOUNT.to_owned());
    let shown = if args.every_account { "every account".to_owned() } else { format!("`{account}`") };
    if decision == Some(wire::AccessDecision::Allow)
        && let Some(warning) = helpers::allow_warning(&program)
    {
        eprintln!("keyport: warning: {warning}");
    }
    let mut client = Client::connect_or_start()?;
    let program_text = program.to_string();
    match decision {
        Some(decision) => {
            let _: wire::AccessRule = client.call(Call::AccessSet(wire::AccessSetParams {
                program: program_text.clone(),
                account,
                decision,
            }))?;
            match decision {
                wire::AccessDecision::Deny => eprintln!("{program_text} may no longer use {shown}."),
                _ => eprintln!("{program_text} may now use {shown}."),
            }
        }
        None => {
            let result: wire::AccessForgetResult =
                client.call(Call::AccessForget(wire::AccessForgetParams { program: program_text.clone(), account }))?;
            if result.forgotten {
                eprintln!("Forgot what you decided about {program_text} and {shown}: it will be asked again.");
            } else {
                eprintln!("There was no rule about {program_text} and {shown}.");
            }
        }
    }
    Ok(())
}

/// `keyport provider add`, through the service: the one writer of providers and the keyring.
fn provider_add(args: Box<ProviderAddArgs>) -> Result<()> {
    let args = *args;
    let mut given = args.endpoints.typed();
    let source = match (args.preset, args.issuer) {
        (Some(preset), None) => wire::app::ProviderSource::Preset {
            preset: preset.as_str().to_owned(),
            tenant: args.tenant.map(|tenant| tenant.as_str().to_owned()),
            base_url: args.base_url.map(String::from),
        },
        (None, Some(issuer)) => wire::app::ProviderSource::Issuer { issuer: issuer.into() },
        (None, None) => match (given.authorization.take(), given.token.take()) {
            (Some(authorization), Some(token)) => {
                let given = std::mem::take(&mut given);
                wire::app::ProviderSource::Endpoints {
                    endpoints: wire::Endpoints {
                        authorization,
                        token,
                        revocation: given.revocation,
                        device_authorization: given.device_authorization,
                        userinfo: given.userinfo,
                        introspection: given.introspection,
                    },
                }
            }
            _ => bail!(
                "give --preset NAME, --issuer URL, or the endpoints of a provider without metadata: --auth-url \
                 and --token-url (with --revoke-url, --device-url... as it has them)"
            ),
        },
        (Some(_), Some(_)) => bail!("give either --preset or --issuer, not both"),
    };
    let client_secret = if args.client_secret_stdin { Some(read_client_secret()?) } else { None };
    let form = wire::app::NewProviderForm {
        name: args.name,
        source,
        client_id: args.client_id,
        client_secret: client_secret.map(|secret| secret.expose().to_owned()),
        scopes: split_scopes(&args.scopes),
        endpoints: given,
        redirect_host: args.redirect_host.map(|host| host.to_string()),
        redirect_path: args.redirect_path,
    };
    let provider: wire::ProviderSummary = Client::connect_or_start()?.call(Call::ProvidersAdd(form))?;
    print::provider_added(&provider);
    Ok(())
}

/// `keyport provider edit`, through the service.
fn provider_edit(args: ProviderEditArgs) -> Result<()> {
    let name = args.name;
    for kind in &args.forget_url {
        if args.endpoints.get(*kind).is_some() {
            bail!("--forget-url {} and a new {} endpoint: give one or the other", kind.name(), kind.name());
        }
    }
    let form = wire::app::ProviderEditForm {
        name: name.clone(),
        endpoints: args.endpoints.typed(),
        forget_endpoints: args.forget_url.iter().map(|kind| kind.name().to_owned()).collect(),
        scopes: if args.default_scopes {
            Some(Vec::new())
        } else {
            Some(split_scopes(&args.scopes)).filter(|s| !s.is_empty())
        },
        redirect_host: args.redirect_host.map(|host| host.to_string()),
        redirect_path: args.redirect_path,
        client_secret: if args.client_secret_stdin {
            wire::app::ClientSecretChange::Replace { secret: read_client_secret()?.expose().to_owned() }
        } else if args.no_client_secret {
            wire::app::ClientSecretChange::Delete
        } else {
            wire::app::ClientSecretChange::Keep
        },
    };
    let nothing = form.endpoints == wire::app::EndpointUrls::default()
        && form.forget_endpoints.is_empty()
        && form.scopes.is_none()
        && form.redirect_host.is_none()
        && form.redirect_path.is_none()
        && form.client_secret == wire::app::ClientSecretChange::Keep;
    if nothing {
        bail!("nothing to change: see `keyport provider edit --help`");
    }
    let provider: wire::ProviderSummary = Client::connect_or_start()?.call(Call::ProvidersEdit(form))?;
    println!("Changed provider {name}; its accounts are unchanged.");
    print::provider(&provider);
    Ok(())
}

fn read_client_secret() -> Result<Secret> {
    let text = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Client secret: ").context("reading the client secret")?
    } else {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).context("reading the client secret from standard input")?;
        text
    };
    let secret = text.trim_end_matches(['\r', '\n']).to_owned();
    if secret.is_empty() {
        bail!("the client secret on standard input is empty");
    }
    Ok(Secret::new(secret))
}

fn add(args: AddArgs) -> Result<()> {
    for (asked, grant) in [(args.implicit, "implicit"), (args.password, "password")] {
        if asked {
            return Err(signin::refuse_grant(grant).expect("refused grants have a reason").into());
        }
    }
    if args.client_credentials {
        // The service adds it, as every account: the one writer of accounts and the keyring.
        let form = wire::ServiceAccountForm {
            provider: args.provider,
            name: args.name.expect("clap requires --name"),
            scopes: split_scopes(&args.scopes),
            client_id: args.client_id,
            client_secret: Some(read_client_secret()?.expose().to_owned()),
        };
        let account: wire::AccountSummary = Client::connect_or_start()?.call(Call::AccountsAddService(form))?;
        print::signed_in(&account);
        return Ok(());
    }
    if args.device {
        return add_device(args);
    }
    let params = wire::SigninStartParams {
        provider: args.provider,
        account: args.name,
        scopes: Some(split_scopes(&args.scopes)).filter(|s| !s.is_empty()),
        open_browser: Some(false),
    };
    sign_in_over_socket(Call::SigninStart(params), &args.browser)
}

/// `keyport add --device`: the service asks the provider for a code and polls; this shows the
/// code and waits for the outcome (or Ctrl-C, which cancels it in the service).
fn add_device(args: AddArgs) -> Result<()> {
    let mut client = Client::connect_or_start()?;
    let interrupted = ctrl_c_flag()?;
    let form = wire::SignInForm { provider: args.provider, account: args.name, scopes: split_scopes(&args.scopes) };
    let started: wire::DeviceStart = client.call(Call::SigninDevice(form))?;
    print::device_sign_in_started(&started);
    // The service gives up when the code expires; a little after that, so does this.
    let deadline = std::time::Instant::now() + Duration::from_secs(started.expires_in_secs.saturating_add(30));
    wait_for_sign_in(&mut client, &started.signin_id, &interrupted, deadline, started.expires_in_secs)
}

fn ctrl_c_flag() -> Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, interrupted.clone())
        .context("installing the Ctrl-C handler")?;
    Ok(interrupted)
}

fn reauth(args: ReauthArgs) -> Result<()> {
    let params = wire::ReauthParams {
        account: args.account,
        scopes: Some(split_scopes(&args.scopes)).filter(|s| !s.is_empty()),
        open_browser: Some(false),
    };
    sign_in_over_socket(Call::AccountsReauth(params), &args.browser)
}

/// Starts a sign-in in the service, opens the browser here (with this terminal's
/// `$BROWSER`), and waits for the outcome; Ctrl-C or the timeout cancels it in the service.
fn sign_in_over_socket(call: Call, options: &BrowserArgs) -> Result<()> {
    let (no_browser, timeout_secs) = (options.no_browser, options.timeout);
    let mut client = Client::connect_or_start()?;
    let interrupted = ctrl_c_flag()?;
    let started: wire::SigninStartResult = client.call(call)?;
    let url = url::Url::parse(&started.url).context("the service sent an unreadable URL")?;
    let browser = (!no_browser).then(|| SystemBrowser::from_env().open(&url));
    print::sign_in_started(&url, browser.as_ref(), timeout_secs);
    let deadline = std::time::Instant::now() + Duration::from_secs(timeout_secs);
    wait_for_sign_in(&mut client, &started.signin_id, &interrupted, deadline, timeout_secs)
}

/// Waits for the sign-in `signin_id` started on `client` to finish, and prints the account;
/// Ctrl-C or `deadline` cancels it in the service.
fn wait_for_sign_in(
    client: &mut Client,
    signin_id: &str,
    interrupted: &std::sync::atomic::AtomicBool,
    deadline: std::time::Instant,
    timeout_secs: u64,
) -> Result<()> {
    let cancel = |client: &mut Client, error: Error| -> Result<()> {
        let _ = client
            .call::<wire::Empty>(Call::SigninCancel(wire::SigninCancelParams { signin_id: signin_id.to_owned() }));
        Err(error.into())
    };
    loop {
        if interrupted.load(std::sync::atomic::Ordering::Relaxed) {
            return cancel(client, Error::SignInCancelled);
        }
        if std::time::Instant::now() >= deadline {
            return cancel(client, Error::SignInTimedOut { secs: timeout_secs });
        }
        match client.next_event(Duration::from_millis(100))? {
            Some(Event::SigninFinished { signin_id: id, account }) if id == signin_id => {
                let view: wire::AccountSummary = client.call(Call::AccountsStatus(wire::AccountParams { account }))?;
                print::signed_in(&view);
                return Ok(());
            }
            Some(Event::SigninFailed { signin_id: id, code, message, .. }) if id == signin_id => {
                return Err(ClientError::Rpc(wire::ErrorObject { code, message, data: None }).into());
            }
            _ => {}
        }
    }
}

fn daemon(args: DaemonArgs) -> Result<()> {
    let paths = Paths::from_env()?;
    let keyport = keyport(&paths)?;
    let socket = keyport_wire::default_socket_path().ok_or(ClientError::NoRuntimeDir)?;
    let mut config = ServiceConfig::new(socket, paths.config_dir.join("access.toml"), paths.accounts_file())
        .with_activity_log()
        .with_autostart();
    config.refresh = RefreshPolicy {
        margin_share: f64::from(args.refresh_margin) / 100.0,
        margin_floor: Duration::from_secs(args.refresh_floor),
        ..RefreshPolicy::default()
    };
    // Programs without a rule are asked in the window: the one connected, else one started at
    // the question (the desktop app installed beside this binary, a display named), else
    // nobody, and they are refused at once.
    let questions = AccessPrompts::new(DEFAULT_PROMPT_TIMEOUT);
    let launcher = keyport_service::desktop::WindowLauncher::find().map(Arc::new);
    questions.set_window_opener(keyport_service::desktop::window_opener(launcher.clone()));
    let service = Service::new(keyport, config, questions);
    // One async worker: the service's work is short and I/O bound (keyring calls go to the
    // blocking pool), and a second worker competing with the clients for the two cores of the
    // benchmark machine doubled p99 with 64 clients (1.03 ms vs 0.62-0.73 ms, `cargo bench
    // --bench socket`) and costs memory.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result: Result<()> = runtime.block_on(async {
        let mut events = service.subscribe();
        tokio::spawn(async move {
            while let Ok(event) = events.recv().await {
                print::event(&event);
            }
        });
        let signals = shutdown_signal();
        let listening = keyport_service::bind(&service)?;
        // The tray and notifications, where the desktop has them; "Quit Keyport" stops.
        let (quit, mut quitting) = tokio::sync::watch::channel(false);
        let (stopped, desktop_stop) = tokio::sync::oneshot::channel::<()>();
        let desktop =
            tokio::spawn(keyport_service::desktop::run_desktop(service.clone(), launcher, None, quit, async {
                let _ = desktop_stop.await;
            }));
        let shutdown = async move {
            tokio::select! {
                () = signals => {}
                _ = quitting.wait_for(|quit| *quit) => {}
            }
        };
        eprintln!("keyport daemon: serving {} (Ctrl-C to stop)", listening.socket().display());
        tracing::info!(socket = %listening.socket().display(), pid = std::process::id(), "serving");
        // On the worker, not on this thread (`block_on`): the accept loop then hands each new
        // connection to a task on its own thread, without waking another (a `keyport token`
        // waited for that wake-up).
        let served = tokio::spawn(keyport_service::run(service, listening, shutdown)).await;
        // The tray icon goes with the service.
        let _ = stopped.send(());
        let _ = tokio::time::timeout(Duration::from_secs(1), desktop).await;
        served.context("the service task")??;
        Ok(())
    });
    // Whatever is still in progress (a renewal waiting on the network, a keyring call) is
    // dropped: a stop ends the process within a second.
    runtime.shutdown_timeout(Duration::from_millis(300));
    eprintln!("keyport daemon: stopped");
    tracing::info!("stopped");
    result?;
    Ok(())
}

/// Completes on Ctrl-C. The handler is installed when this is called, not when it is first
/// polled, so no Ctrl-C pressed after the call is lost. Call it inside the runtime.
fn interrupt_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
            .expect("installing the SIGINT handler");
        async move {
            interrupt.recv().await;
        }
    }
    #[cfg(windows)]
    {
        let mut ctrl_c = tokio::signal::windows::ctrl_c().expect("installing the Ctrl-C handler");
        async move {
            ctrl_c.recv().await;
        }
    }
}

/// Completes on Ctrl-C or SIGTERM; installed when called, like [`interrupt_signal`].
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    let interrupted = interrupt_signal();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        async move {
            tokio::select! {
                _ = interrupted => {}
                _ = term.recv() => {}
            }
        }
    }
    #[cfg(windows)]
    interrupted
}

/// `keyport quit`: asks the service to stop and waits until its socket is gone.
fn quit() -> anyhow::Result<()> {
    let Some(mut client) = Client::connect_running()? else {
        println!("Keyport is not running.");
        return Ok(());
    };
    let socket = client.socket().to_owned();
    let _: wire::Empty = client.call(Call::ServiceStop)?;
    drop(client);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while keyport_wire::local::served(&socket) {
        if std::time::Instant::now() >= deadline {
            anyhow::bail!("the service was asked to stop, but {} is still there after 5 s", socket.display());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    println!("Keyport stopped.");
    Ok(())
}

/// `keyport ssh`'s command line as clap reads it, after [`ssh::verbatim`].
#[cfg(test)]
mod ssh_command_line {
    use super::*;

    #[test]
    fn keyport_ssh_passes_ssh_its_own_flags() {
        let parse = |text: &str| {
            let args: Vec<std::ffi::OsString> = text.split(' ').map(Into::into).collect();
            Cli::try_parse_from(crate::ssh::verbatim(args)).expect(text)
        };
        let cli = parse("keyport ssh -v -p 22 build-01 uptime");
        let Command::Ssh(args) = cli.command else { panic!("ssh") };
        assert_eq!((cli.verbose, args.args.join(" ")), (0, "-v -p 22 build-01 uptime".to_owned()), "ssh's -v");
        let cli = parse("keyport -v ssh -v build-01");
        let Command::Ssh(args) = cli.command else { panic!("ssh") };
        assert_eq!((cli.verbose, args.args.join(" ")), (1, "-v build-01".to_owned()), "Keyport's -v before ssh");
    }
}
