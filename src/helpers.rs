//! Helpers for programs that want a token in their own format: git's credential helper
//! protocol (`keyport git-credential`) and the SASL XOAUTH2 initial response for IMAP and SMTP
//! (`keyport xoauth2`). Both ask the service over the socket, like `keyport token`, so the
//! program judged by the access rules is the one that ran `keyport`. See docs/clients.md.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use keyport_core::endpoint;
use keyport_core::paths::Paths;
use keyport_core::secret::Secret;
use keyport_wire::{self as wire, Call};
use serde::Deserialize;

use crate::client::{Client, ClientError};

/// A token handed to git stays valid at least this long (a clone or push can take a while).
const GIT_MIN_VALID_SECS: u64 = 300;

/// `keyport git-credential`.
#[derive(Debug, clap::Args)]
pub struct GitCredentialArgs {
    /// Use this account, instead of looking the host up in `$XDG_CONFIG_HOME/keyport/git.toml`.
    #[arg(long)]
    account: Option<String>,
    /// What git asks for: `get`, `store` or `erase` (git adds it; any other is ignored).
    operation: String,
}

/// `keyport xoauth2`.
#[derive(Debug, clap::Args)]
pub struct Xoauth2Args {
    /// Account name.
    account: String,
    /// The mailbox to log in as (default: the account's email address).
    #[arg(long, value_name = "EMAIL")]
    user: Option<String>,
    /// Print the string unencoded (with its \x01 separators), for programs that encode it themselves.
    #[arg(long)]
    raw: bool,
    /// Renew the token first if it expires within this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    min_valid: u64,
}

// ---------------------------------------------------------------------------------------------
// git's credential helper protocol

/// The part of a credential request from git that Keyport looks at: `key=value` lines, ended
/// by a blank line or the end of input (git-credential(1), "Input/Output Format").
#[derive(Default, PartialEq, Eq)]
pub struct Credential {
    /// `https`, `http`, ...
    pub protocol: Option<String>,
    /// Host name, with `:PORT` when the URL had one.
    pub host: Option<String>,
    /// Path in the repository URL (only with `credential.useHttpPath`).
    pub path: Option<String>,
    /// User name, when the URL or an earlier helper gave one.
    pub username: Option<String>,
    /// The password git sends back with `erase` (so: a token). Never printed.
    password: Option<Secret>,
    /// `wwwauth[]`: the server's `WWW-Authenticate` headers, in order.
    pub wwwauth: Vec<String>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("protocol", &self.protocol)
            .field("host", &self.host)
            .field("path", &self.path)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("wwwauth", &self.wwwauth)
            .finish()
    }
}

/// Reads one credential: up to a blank line or the end of input. Unknown keys (`capability[]`,
/// `password_expiry_utc`, `oauth_refresh_token`, ...) and lines without `=` are skipped; a key
/// given twice keeps its last value; an empty `wwwauth[]=` clears the list, as git does.
pub fn read_credential(mut input: impl BufRead) -> std::io::Result<Credential> {
    let mut credential = Credential::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.strip_suffix('\n').unwrap_or(&text);
        let text = text.strip_suffix('\r').unwrap_or(text);
        if text.is_empty() {
            break;
        }
        let Some((key, value)) = text.split_once('=') else { continue };
        let value = value.to_owned();
        match key {
            "protocol" => credential.protocol = Some(value),
            "host" => credential.host = Some(value),
            "path" => credential.path = Some(value),
            "username" => credential.username = Some(value),
            "password" => credential.password = Some(Secret::new(value)),
            "wwwauth[]" if value.is_empty() => credential.wwwauth.clear(),
            "wwwauth[]" => credential.wwwauth.push(value),
            "url" => credential.set_url(&value),
            _ => {}
        }
    }
    line.fill(0);
    Ok(credential)
}

impl Credential {
    /// `url=`: git-credential(1) says it stands for its parts; parts already given win.
    fn set_url(&mut self, text: &str) {
        let Ok(url) = url::Url::parse(text) else { return };
        self.protocol.get_or_insert_with(|| url.scheme().to_owned());
        if let Some(host) = url.host_str() {
            let host = match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_owned(),
            };
            self.host.get_or_insert(host);
        }
        let path = url.path().trim_start_matches('/');
        if !path.is_empty() {
            self.path.get_or_insert_with(|| path.to_owned());
        }
        if !url.username().is_empty() {
            self.username.get_or_insert_with(|| url.username().to_owned());
        }
    }
}

/// The answer to `get`: `username`, `password` and, when the expiry is known,
/// `password_expiry_utc` (git 2.41 and later drop the password once it has expired; older
/// versions ignore the line).
pub fn format_answer(username: &str, token: &str, expiry_utc: Option<i64>) -> Result<Secret> {
    for (what, value) in [("user name", username), ("token", token)] {
        if value.is_empty() || value.contains(['\n', '\r', '\0']) {
            bail!("the {what} cannot be handed to git: it is empty or holds a line break or NUL");
        }
    }
    let mut text = format!("username={username}\npassword={token}\n");
    if let Some(at) = expiry_utc {
        text.push_str(&format!("password_expiry_utc={at}\n"));
    }
    Ok(Secret::new(text))
}

/// `$XDG_CONFIG_HOME/keyport/git.toml`: which account serves which host.
///
/// ```toml
/// [hosts]
/// "github.com" = "gh"                       # host: account
/// "gitlab.example.com/group" = "work"       # host and path prefix (needs credential.useHttpPath)
/// "git.example.org" = { account = "corp", username = "oauth2" }
///
/// [hosts."codeberg.org"]                    # the same as a table
/// account = "cb"
/// username = "oauth2"
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitConfig {
    #[serde(default)]
    hosts: BTreeMap<String, HostEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum HostEntry {
    Account(String),
    Table(HostTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HostTable {
    account: String,
    username: Option<String>,
}

/// The entry of `git.toml` that matched a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping<'a> {
    /// The key as written (`host` or `host/path`).
    pub key: &'a str,
    /// The account.
    pub account: &'a str,
    /// The user name to send, when the entry says.
    pub username: Option<&'a str>,
}

impl GitConfig {
    /// Parses the file's text, checking every entry.
    pub fn parse(text: &str) -> Result<Self> {
        let config: Self = toml::from_str(text).map_err(|err| {
            anyhow!("{}", err.message().trim_end()).context(
                "each entry under [hosts] must be `\"HOST[/PATH]\" = \"ACCOUNT\"` or a table with \
                 `account` and optional `username`",
            )
        })?;
        for (key, entry) in &config.hosts {
            let (host, _) = split_key(key);
            if host.is_empty() || host.contains(['@', '?', '#', '\\', ' ']) {
                bail!("[hosts] `{key}`: expected a host name, optionally with :PORT and /PATH");
            }
            let (account, username) = entry.parts();
            if account.is_empty() {
                bail!("[hosts] `{key}`: the account name is empty");
            }
            if username.is_some_and(|name| name.is_empty() || name.contains(['\n', '\r', '\0'])) {
                bail!("[hosts] `{key}`: the username is empty or holds a line break");
            }
        }
        Ok(config)
    }

    /// Reads `path`; a missing file is an empty configuration.
    pub fn load(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text).with_context(|| format!("reading {}", path.display())),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(err) => Err(err).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// The entry for `host` (with its `:PORT`, if any) and `path`: entries name a host, or a
    /// host and a path prefix matched segment by segment; the longest prefix wins. Host names
    /// compare case-insensitively, paths exactly, except that a request's `repo.git` also
    /// matches `repo`.
    pub fn lookup(&self, host: &str, path: Option<&str>) -> Option<Mapping<'_>> {
        self.hosts
            .iter()
            .filter_map(|(key, entry)| {
                let depth = key_depth(key, host, path)?;
                let (account, username) = entry.parts();
                Some((depth, Mapping { key, account, username }))
            })
            .max_by_key(|(depth, _)| *depth)
            .map(|(_, mapping)| mapping)
    }
}

impl HostEntry {
    fn parts(&self) -> (&str, Option<&str>) {
        match self {
            Self::Account(account) => (account, None),
            Self::Table(table) => (&table.account, table.username.as_deref()),
        }
    }
}

fn split_key(key: &str) -> (&str, &str) {
    key.split_once('/').unwrap_or((key, ""))
}

fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|segment| !segment.is_empty()).collect()
}

/// How many path segments `key` matched, or `None` when it does not apply.
fn key_depth(key: &str, host: &str, path: Option<&str>) -> Option<usize> {
    let (key_host, key_path) = split_key(key);
    if !key_host.eq_ignore_ascii_case(host) {
        return None;
    }
    let wanted = segments(key_path);
    if wanted.is_empty() {
        return Some(0);
    }
    let have = segments(path?);
    if have.len() < wanted.len() {
        return None;
    }
    let last = wanted.len() - 1;
    let matches = wanted.iter().zip(&have).enumerate().all(|(i, (want, got))| {
        want == got || (i == last && i == have.len() - 1 && got.strip_suffix(".git") == Some(want))
    });
    matches.then_some(wanted.len())
}

/// The user name git should send with the token, when neither the request nor `git.toml` gives
/// one: what the big forges accept with an OAuth token (they ignore it, but want one).
pub fn default_username(host: &str) -> &'static str {
    match host_name(host).to_ascii_lowercase().as_str() {
        "github.com" => "x-access-token",
        "bitbucket.org" => "x-token-auth",
        _ => "oauth2",
    }
}

/// `host` without its `:PORT`.
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(name, _)| &host[..=name.len()]);
    }
    host.rsplit_once(':').filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit())).map_or(host, |(name, _)| name)
}

/// Keyport's one rule for where a token may go: HTTPS, or plain HTTP to a loopback host.
pub fn protocol_allows(protocol: &str, host: &str) -> bool {
    match protocol {
        "https" => true,
        "http" => {
            !host.contains(['/', '@', '?', '#', '\\', ' '])
                && url::Url::parse(&format!("http://{host}/")).is_ok_and(|url| endpoint::is_loopback(&url))
        }
        _ => false,
    }
}

/// What to do with a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    /// Not Keyport's: answer nothing, so git asks its other helpers.
    Nothing,
    /// An account applies, but the protocol is plain http to another machine: refuse.
    Insecure { account: String },
    /// Hand out `account`'s token with this user name.
    Use { account: String, username: String },
}

/// Decides what to answer: the account is `--account`, else the `git.toml` entry for the host;
/// no account, or a request without protocol and host, means nothing to say.
pub fn plan(request: &Credential, account: Option<&str>, config: &GitConfig) -> Plan {
    let (Some(protocol), Some(host)) = (request.protocol.as_deref(), request.host.as_deref()) else {
        return Plan::Nothing;
    };
    let mapping = config.lookup(host, request.path.as_deref());
    let Some(account) = account.or(mapping.map(|m| m.account)) else { return Plan::Nothing };
    match protocol {
        "https" | "http" if protocol_allows(protocol, host) => {}
        "http" => return Plan::Insecure { account: account.to_owned() },
        // Other protocols (`cert`, `smtp`...) are not Keyport's.
        _ => return Plan::Nothing,
    }
    let username = request
        .username
        .clone()
        .or_else(|| mapping.and_then(|m| m.username).map(str::to_owned))
        .unwrap_or_else(|| default_username(host).to_owned());
    Plan::Use { account: account.to_owned(), username }
}

fn git_config_path() -> Result<PathBuf> {
    Ok(Paths::from_env()?.config_dir.join("git.toml"))
}

/// `keyport git-credential [--account A] OPERATION`.
pub fn git_credential(args: GitCredentialArgs) -> Result<()> {
    // Read the whole request whatever the operation, so git never writes into a closed pipe.
    let request = read_credential(std::io::stdin().lock()).context("reading git's request")?;
    match args.operation.as_str() {
        "get" => git_get(&request, args.account.as_deref()),
        "erase" => {
            git_erase(&request, args.account.as_deref());
            Ok(())
        }
        // `store`: Keyport owns the tokens, there is nothing to keep. Unknown operations are
        // ignored, as git asks of helpers.
        _ => Ok(()),
    }
}

fn git_get(request: &Credential, account: Option<&str>) -> Result<()> {
    let config = GitConfig::load(&git_config_path()?)?;
    match plan(request, account, &config) {
        Plan::Nothing => Ok(()),
        Plan::Insecure { account } => {
            eprintln!(
                "keyport: not giving the token of `{account}` to http://{}: plain http would send it in \
                 clear; use an https:// remote (http is accepted only for loopback hosts)",
                request.host.as_deref().unwrap_or_default()
            );
            Ok(())
        }
        Plan::Use { account, username } => {
            let mut client = Client::connect_or_start()?;
            let params = client.token_params(account.clone(), Some(GIT_MIN_VALID_SECS));
            let result: wire::TokenGetResult = client.call(Call::TokenGet(params))?;
            let expiry = result.expires_at.as_deref().and_then(unix_time);
            let answer = format_answer(&username, result.access_token.secret(), expiry)?;
            let mut out = std::io::stdout().lock();
            out.write_all(answer.expose().as_bytes())?;
            out.flush()?;
            Ok(())
        }
    }
}

/// git says the server refused the credential: renew the token, so the next `get` hands out
/// a fresh one. Only when the refused password is the current token (or git did not send one):
/// git tells every helper, and another helper's refused password is not Keyport's business.
/// Never fails: a warning is all git can use.
fn git_erase(request: &Credential, account: Option<&str>) {
    let config = match git_config_path().and_then(|path| GitConfig::load(&path)) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("keyport: warning: {}", crate::print::error_chain(&err));
            return;
        }
    };
    let Plan::Use { account, .. } = plan(request, account, &config) else { return };
    let renew = || -> Result<bool, ClientError> {
        let mut client = Client::connect_or_start()?;
        if let Some(refused) = &request.password {
            let params = client.token_params(account.clone(), Some(0));
            let current: wire::TokenGetResult = client.call(Call::TokenGet(params))?;
            if current.access_token.secret() != refused.expose() {
                return Ok(false);
            }
        }
        let _: wire::AccountSummary =
            client.call(Call::TokenRefresh(wire::AccountParams { account: account.clone() }))?;
        Ok(true)
    };
    if let Err(err) = renew() {
        eprintln!("keyport: warning: git reported the token of `{account}` as refused, and renewing it failed: {err}");
    }
}

/// An RFC 3339 time as Unix seconds.
fn unix_time(text: &str) -> Option<i64> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok().map(|at| at.unix_timestamp())
}

// ---------------------------------------------------------------------------------------------
// SASL XOAUTH2

/// The XOAUTH2 initial client response, unencoded: `user=EMAIL^Aauth=Bearer TOKEN^A^A`.
pub fn xoauth2_raw(user: &str, token: &str) -> Secret {
    Secret::new(format!("user={user}\x01auth=Bearer {token}\x01\x01"))
}

/// The same, base64-encoded, as IMAP `AUTHENTICATE XOAUTH2` and SMTP `AUTH XOAUTH2` send it.
pub fn xoauth2_encoded(user: &str, token: &str) -> Secret {
    Secret::new(base64::engine::general_purpose::STANDARD.encode(xoauth2_raw(user, token).expose()))
}

/// `keyport xoauth2 ACCOUNT [--user EMAIL] [--raw]`.
pub fn xoauth2(args: Xoauth2Args) -> Result<()> {
    let mut client = Client::connect_or_start()?;
    let user = match args.user {
        Some(user) => user,
        None => {
            let view: wire::AccountSummary =
                client.call(Call::AccountsStatus(wire::AccountParams { account: args.account.clone() }))?;
            view.identity.email.ok_or_else(|| {
                anyhow!(
                    "Keyport does not know the email address of `{}` (the provider did not say); pass \
                     --user EMAIL",
                    args.account
                )
            })?
        }
    };
    if user.is_empty() || user.contains(['\x01', '\n', '\r', '\0']) {
        bail!("--user must be an email address, without control characters");
    }
    let params = client.token_params(args.account.clone(), Some(args.min_valid));
    let result: wire::TokenGetResult = client.call(Call::TokenGet(params))?;
    let token = result.access_token.secret();
    let text = if args.raw { xoauth2_raw(&user, token) } else { xoauth2_encoded(&user, token) };
    crate::print::token(text.expose())
}

// ---------------------------------------------------------------------------------------------
// Allowing a program that runs other programs' code

/// A warning for `keyport allow` when `program` is a shell or an interpreter: allowing one
/// allows every script it runs.
pub fn allow_warning(program: &keyport_service::access::Program) -> Option<String> {
    use keyport_service::peer::interpreter::Family;
    Some(match keyport_service::access::interpreter_family(program)? {
        Family::Shell => format!(
            "{program} is a shell: every shell script, and every program running `sh -c`, could then use this \
             account. You need no rule for what you type at your terminal; a script is judged as the script \
             (allow the script), and a `sh -c` command line as the program that runs it (allow that program; \
             see docs/clients.md)"
        ),
        _ => format!(
            "{program} is an interpreter: every script it runs, and code given with -c or -e, could then use this \
             account. A script is judged as the script: allow the script instead"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text: &str) -> Credential {
        read_credential(text.as_bytes()).unwrap()
    }

    fn config(text: &str) -> GitConfig {
        GitConfig::parse(text).unwrap()
    }

    fn used(account: &str, username: &str) -> Plan {
        Plan::Use { account: account.into(), username: username.into() }
    }

    #[test]
    fn requests_are_read_up_to_the_blank_line() {
        let credential = request(
            "protocol=https\nhost=example.com:8443\r\npath=group/repo.git\nusername=bob\npassword=tok=en\n\
             capability[]=authtype\nwwwauth[]=Bearer realm=\"x\"\nwwwauth[]=Basic\nnonsense\n\nhost=later.example\n",
        );
        assert_eq!(credential.protocol.as_deref(), Some("https"));
        assert_eq!(credential.host.as_deref(), Some("example.com:8443"));
        assert_eq!(credential.path.as_deref(), Some("group/repo.git"));
        assert_eq!(credential.username.as_deref(), Some("bob"));
        assert_eq!(credential.password.as_ref().map(Secret::expose), Some("tok=en"));
        assert_eq!(credential.wwwauth, ["Bearer realm=\"x\"", "Basic"]);
        let shown = format!("{credential:?}");
        assert!(!shown.contains("tok=en") && shown.contains("[redacted]"), "{shown}");
    }

    #[test]
    fn requests_end_at_eof_and_empty_wwwauth_resets_the_list() {
        let credential = request("protocol=https\nwwwauth[]=a\nwwwauth[]=\nwwwauth[]=b\nhost=h");
        assert_eq!(credential.host.as_deref(), Some("h"));
        assert_eq!(credential.wwwauth, ["b"]);
        assert_eq!(request(""), Credential::default());
    }

    #[test]
    fn a_url_line_stands_for_its_parts() {
        let credential = request("url=https://bob@git.example.com:8443/group/repo.git\n");
        assert_eq!(credential.protocol.as_deref(), Some("https"));
        assert_eq!(credential.host.as_deref(), Some("git.example.com:8443"));
        assert_eq!(credential.path.as_deref(), Some("group/repo.git"));
        assert_eq!(credential.username.as_deref(), Some("bob"));
        let given_first = request("host=other.example\nurl=https://git.example.com/\n");
        assert_eq!(given_first.host.as_deref(), Some("other.example"));
    }

    #[test]
    fn answers_are_key_value_lines_with_the_expiry_when_known() {
        let answer = format_answer("x-access-token", "gho_abc", Some(1_767_225_600)).unwrap();
        assert_eq!(answer.expose(), "username=x-access-token\npassword=gho_abc\npassword_expiry_utc=1767225600\n");
        let answer = format_answer("oauth2", "t", None).unwrap();
        assert_eq!(answer.expose(), "username=oauth2\npassword=t\n");
        assert!(format_answer("oauth2", "t\nhost=evil", None).is_err());
        assert!(format_answer("a\nb", "t", None).is_err());
        assert!(format_answer("oauth2", "", None).is_err());
    }

    #[test]
    fn hosts_map_to_accounts_and_the_longest_path_prefix_wins() {
        let config = config(
            r#"
            [hosts]
            "gitlab.example.com" = "gl"
            "gitlab.example.com/group" = "work"
            "gitlab.example.com/group/sub/project" = "project"
            "git.example.org:8443" = { account = "corp", username = "me" }

            [hosts."GitHub.com"]
            account = "gh"
            "#,
        );
        let lookup = |host, path| config.lookup(host, path).map(|m| m.account);
        assert_eq!(lookup("github.com", None), Some("gh"));
        assert_eq!(lookup("gitlab.example.com", None), Some("gl"));
        assert_eq!(lookup("gitlab.example.com", Some("other/repo.git")), Some("gl"));
        assert_eq!(lookup("gitlab.example.com", Some("group/repo.git")), Some("work"));
        assert_eq!(lookup("gitlab.example.com", Some("groupie/repo.git")), Some("gl"), "whole segments only");
        assert_eq!(lookup("gitlab.example.com", Some("group/sub/project.git")), Some("project"));
        assert_eq!(lookup("gitlab.example.com", Some("group/sub/project/x")), Some("project"));
        assert_eq!(lookup("gitlab.example.com", Some("group/sub/projectx.git")), Some("work"));
        assert_eq!(lookup("git.example.org:8443", None), Some("corp"));
        assert_eq!(lookup("git.example.org", None), None, "the port is part of the host");
        assert_eq!(lookup("example.com", None), None);
        assert_eq!(config.lookup("git.example.org:8443", None).unwrap().username, Some("me"));
    }

    #[test]
    fn bad_git_toml_is_refused_with_a_reason() {
        assert!(GitConfig::parse("").unwrap().hosts.is_empty());
        for bad in [
            "[hosts]\n\"github.com\" = 3\n",
            "[hosts]\n\"github.com\" = { account = \"gh\", user = \"x\" }\n",
            "[hosts]\n\"\" = \"gh\"\n",
            "[hosts]\n\"a@github.com\" = \"gh\"\n",
            "[hosts]\n\"github.com\" = \"\"\n",
            "[host]\n\"github.com\" = \"gh\"\n",
        ] {
            assert!(GitConfig::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn plans_follow_the_flag_the_mapping_and_the_url_rule() {
        let config = config(
            "[hosts]\n\"github.com\" = \"gh\"\n\"git.example.org\" = { account = \"corp\", username = \"deploy\" }\n\
             \"localhost:3000\" = \"dev\"\n",
        );
        let plan_for = |text: &str, account| plan(&request(text), account, &config);
        assert_eq!(plan_for("protocol=https\nhost=github.com\n", None), used("gh", "x-access-token"));
        assert_eq!(plan_for("protocol=https\nhost=github.com\nusername=me\n", None), used("gh", "me"));
        assert_eq!(plan_for("protocol=https\nhost=git.example.org\n", None), used("corp", "deploy"));
        assert_eq!(plan_for("protocol=https\nhost=git.example.org\n", Some("other")), used("other", "deploy"));
        assert_eq!(plan_for("protocol=https\nhost=example.test\n", Some("a")), used("a", "oauth2"));
        assert_eq!(plan_for("protocol=https\nhost=bitbucket.org\n", Some("b")), used("b", "x-token-auth"));
        // Unknown host: nothing, so git asks its other helpers.
        assert_eq!(plan_for("protocol=https\nhost=example.com\n", None), Plan::Nothing);
        assert_eq!(plan_for("host=github.com\n", Some("a")), Plan::Nothing);
        assert_eq!(plan_for("protocol=https\n", Some("a")), Plan::Nothing);
        // Plain http: only to loopback hosts.
        assert_eq!(plan_for("protocol=http\nhost=github.com\n", None), Plan::Insecure { account: "gh".into() });
        assert_eq!(plan_for("protocol=http\nhost=10.0.0.1\n", Some("a")), Plan::Insecure { account: "a".into() });
        assert_eq!(plan_for("protocol=http\nhost=localhost:3000\n", None), used("dev", "oauth2"));
        assert_eq!(plan_for("protocol=http\nhost=127.0.0.1:8080\n", Some("a")), used("a", "oauth2"));
        assert_eq!(plan_for("protocol=http\nhost=[::1]:8080\n", Some("a")), used("a", "oauth2"));
        assert_eq!(plan_for("protocol=http\nhost=example.com\n", None), Plan::Nothing, "no account, no warning");
        // Other protocols are not Keyport's.
        assert_eq!(plan_for("protocol=cert\nhost=github.com\n", None), Plan::Nothing);
        assert_eq!(plan_for("protocol=smtp\nhost=github.com\n", Some("a")), Plan::Nothing);
    }

    #[test]
    fn the_url_rule_is_keyports() {
        assert!(protocol_allows("https", "anything.example"));
        assert!(protocol_allows("http", "127.0.0.1"));
        assert!(protocol_allows("http", "app.localhost:8080"));
        assert!(!protocol_allows("http", "127.0.0.1@evil.example"));
        assert!(!protocol_allows("http", "localhost#@evil.example"));
        assert!(!protocol_allows("http", "localhost.evil.example"));
        assert!(!protocol_allows("ftp", "127.0.0.1"));
    }

    #[test]
    fn default_user_names_follow_the_forge() {
        assert_eq!(default_username("github.com"), "x-access-token");
        assert_eq!(default_username("GitHub.com:443"), "x-access-token");
        assert_eq!(default_username("gitlab.com"), "oauth2");
        assert_eq!(default_username("[::1]:8080"), "oauth2");
        assert_eq!(host_name("[::1]:8080"), "[::1]");
        assert_eq!(host_name("example.com:22"), "example.com");
    }

    #[test]
    fn xoauth2_matches_googles_example() {
        let token = "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg";
        assert_eq!(
            xoauth2_encoded("someuser@example.com", token).expose(),
            "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
        );
        assert_eq!(
            xoauth2_raw("someuser@example.com", token).expose(),
            format!("user=someuser@example.com\x01auth=Bearer {token}\x01\x01")
        );
    }

    #[test]
    fn allowing_a_shell_or_an_interpreter_is_warned_about() {
        use keyport_service::access::Program;
        let warn = |path: &str| allow_warning(&Program::Path(path.into()));
        assert!(warn("/usr/bin/bash").is_some_and(|w| w.contains("is a shell")));
        assert!(warn("/usr/bin/python3.11").is_some_and(|w| w.contains("is an interpreter")));
        assert!(warn("/usr/bin/msmtp").is_none());
        assert!(warn("/home/u/bin/sync-mail.py").is_none());
    }

    #[test]
    fn rfc3339_times_become_unix_seconds() {
        assert_eq!(unix_time("2026-01-01T00:00:00Z"), Some(1_767_225_600));
        assert_eq!(unix_time("soon"), None);
    }
}
