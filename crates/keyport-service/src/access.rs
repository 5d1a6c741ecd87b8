//! Which program may use which account: the per-app access rules, the [`Program`] names they
//! use, and the [`AccessPrompter`] that asks the user about a program without a rule.
//!
//! A rule lets a program read an account's tokens and act on it (renew, sign in again, revoke,
//! remove: every [`Action`]), or denies it all of that. Rules live in
//! `$XDG_CONFIG_HOME/keyport/access.toml` (no secrets); the service is their one writer. How a
//! program on the socket is identified is `peer/`'s business.
//!
//! This is a guard against programs reading accounts they were never meant to, not a wall
//! against a hostile process of the same user: such a process can ptrace an allowed program,
//! read its memory, or replace its binary. See docs/socket.md, "Threat model".

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::ServiceError;

/// The file format written and read.
const FORMAT: u32 = 1;

/// The account name of a rule that covers every account, present and future (`keyport allow
/// PROGRAM --every-account`). No account can have it: names start with a letter or digit.
pub const EVERY_ACCOUNT: &str = "*";

/// A program, as the access rules name it. Written in `access.toml` and shown to the user as
/// text: an absolute path (`/usr/bin/git`), `flatpak:APP-ID`, `snap:NAME`, or
/// `container:NAME:/path/inside` for a program in a container (toolbox, podman), whose paths
/// mean nothing on the host.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Program {
    /// An executable of this machine, by its absolute path.
    Path(PathBuf),
    /// A Flatpak app, by its application id.
    Flatpak(String),
    /// A Snap, by its name.
    Snap(String),
    /// A program in a container, by the container's name and the path inside it.
    Container { name: String, path: PathBuf },
    /// A program on another machine, asking through a `keyport ssh` forward: the host as the
    /// user named it, and the program name the remote side claims, unchecked (`None`: every
    /// program there, in a rule; none claimed, in a request). A rule for the host applies to
    /// every claim that has no rule of its own ([`AccessRules::decision`]).
    Remote { host: String, program: Option<String> },
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Path(path) => write!(f, "{}", path.display()),
            Self::Flatpak(app) => write!(f, "flatpak:{app}"),
            Self::Snap(name) => write!(f, "snap:{name}"),
            Self::Container { name, path } => write!(f, "container:{name}:{}", path.display()),
            Self::Remote { host, program: None } => write!(f, "remote:{host}"),
            Self::Remote { host, program: Some(program) } => write!(f, "remote:{host}:{program}"),
        }
    }
}

impl std::str::FromStr for Program {
    type Err = ServiceError;

    /// Parses the text form (see [`Program`]); paths must be absolute.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| ServiceError::BadRequest(format!("`{text}` is not a program: {why}"));
        let id = |id: &str| {
            let ok = !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if ok { Ok(id.to_owned()) } else { Err(bad("letters, digits, `.`, `_` or `-` expected after the prefix")) }
        };
        if let Some(app) = text.strip_prefix("flatpak:") {
            return Ok(Self::Flatpak(id(app)?));
        }
        if let Some(name) = text.strip_prefix("snap:") {
            return Ok(Self::Snap(id(name)?));
        }
        if let Some(rest) = text.strip_prefix("container:") {
            let (name, path) = rest.split_once(':').ok_or_else(|| bad("container:NAME:/path expected"))?;
            if !path.starts_with('/') {
                return Err(bad("the path inside the container must be absolute"));
            }
            return Ok(Self::Container { name: id(name)?, path: PathBuf::from(path) });
        }
        if let Some(rest) = text.strip_prefix("remote:") {
            let (host, program) = match rest.split_once(':') {
                Some((host, program)) => (host, Some(program)),
                None => (rest, None),
            };
            if !keyport_wire::is_host_name(host) {
                return Err(bad("remote:HOST or remote:HOST:PROGRAM expected, HOST a host name"));
            }
            if program.is_some_and(|program| !keyport_wire::is_claimable_program(program)) {
                return Err(bad("the remote program is a name: letters, digits, `.`, `_`, `-` or `+`"));
            }
            // Host names are case-insensitive: one spelling in rules and requests.
            return Ok(Self::Remote { host: host.to_ascii_lowercase(), program: program.map(str::to_owned) });
        }
        if !std::path::Path::new(text).is_absolute() {
            return Err(bad("an absolute path, or flatpak:, snap:, container: or remote: expected"));
        }
        Ok(Self::Path(PathBuf::from(text)))
    }
}

impl Serialize for Program {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Program {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Program {
    /// Resolves what a user typed (`git`, `/usr/bin/git`, `./tool`, `flatpak:org.x.App`) to a
    /// program: bare names through `PATH`, paths to the real file (symlinks followed), as the
    /// kernel names a running program's executable.
    pub fn resolve(typed: &str) -> Result<Self, ServiceError> {
        if ["flatpak:", "snap:", "container:", "remote:"].iter().any(|prefix| typed.starts_with(prefix)) {
            return typed.parse();
        }
        let candidate = if typed.contains(std::path::is_separator) {
            PathBuf::from(typed)
        } else {
            // On Windows a program is found with its `.exe` too.
            let names = [typed.to_owned(), format!("{typed}{}", std::env::consts::EXE_SUFFIX)];
            std::env::var_os("PATH")
                .and_then(|path| {
                    std::env::split_paths(&path)
                        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
                        .find(|p| p.is_file())
                })
                .ok_or_else(|| ServiceError::BadRequest(format!("no program named `{typed}` in PATH")))?
        };
        let real = crate::peer::canonical(&candidate)
            .map_err(|err| ServiceError::BadRequest(format!("{}: {err}", candidate.display())))?;
        Ok(Self::Path(real))
    }

    /// A short name for headlines: the file name of a path, the app id or snap name.
    pub fn short_name(&self) -> String {
        match self {
            Self::Path(path) | Self::Container { path, .. } => {
                path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
            }
            Self::Flatpak(app) => app.rsplit('.').next().unwrap_or(app).to_owned(),
            Self::Snap(name) => name.clone(),
            Self::Remote { host, program: Some(program) } => format!("{program} on {host}"),
            Self::Remote { host, program: None } => format!("every program on {host}"),
        }
    }

    /// The machine a remote program asks from.
    pub fn remote_host(&self) -> Option<&str> {
        match self {
            Self::Remote { host, .. } => Some(host),
            _ => None,
        }
    }

    /// The rule key that stands for every program of a remote program's host; `None` for a
    /// local program, or one that names the host already.
    fn whole_host(&self) -> Option<Self> {
        match self {
            Self::Remote { host, program: Some(_) } => Some(Self::Remote { host: host.clone(), program: None }),
            _ => None,
        }
    }
}

/// The interpreter family of `program`, when it is a shell or an interpreter (by its file
/// name): allowing one allows every script it runs. A script it runs is named as the script
/// (`peer::interpreter`), so a program named so runs code that is not a script file.
pub fn interpreter_family(program: &Program) -> Option<crate::peer::interpreter::Family> {
    let Program::Path(path) = program else { return None };
    crate::peer::interpreter::Family::of(path.file_name()?.to_str()?)
}

/// What the user decided for a program and an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The program may read the account's tokens.
    Allow,
    /// It may not.
    Deny,
}

/// An answer from an [`AccessPrompter`]. A remembered answer (`AllowAlways`, `Deny`) is saved in
/// the [`AccessRules`] by the prompter's host before it answers, so whatever shows the rules sees
/// it as soon as the user has decided; the request itself only goes on or is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptAnswer {
    /// Allow this one request.
    AllowOnce,
    /// Allow this request, and the same program's for the same account through the same
    /// `keyport ssh` forward while it lasts (remote questions only).
    AllowSession,
    /// Allow; remembered.
    AllowAlways,
    /// Deny; remembered.
    Deny,
    /// Nobody could be asked (headless): refuse this request, remember nothing.
    NoOneToAsk,
}

/// What a program asks to do with an account. Each needs the program to be allowed to use
/// the account; the question put to the user names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Read its access token (`token.get`).
    ReadToken,
    /// Renew its token now (`token.refresh`).
    Refresh,
    /// Sign in to it again, perhaps with more scopes (`accounts.reauth`).
    SignInAgain,
    /// Have the provider revoke it, then remove it (`accounts.revoke`).
    Revoke,
    /// Remove it from Keyport (`accounts.remove`).
    Remove,
    /// Connect a new account under this name (`signin.start`).
    Connect,
}

impl Action {
    /// What the program wants, as the end of "PROGRAM wants to ...".
    pub fn phrase(self, account: &str) -> String {
        crate::convert::action(self).phrase(account)
    }
}

/// Asks the user about a program that has no rule yet.
pub trait AccessPrompter: Send + Sync + fmt::Debug {
    /// Asks whether `program` may do `action` with `account`. May take as long as the user
    /// does.
    fn ask<'a>(
        &'a self,
        program: &'a Program,
        account: &'a str,
        action: Action,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = PromptAnswer> + Send + 'a>>;

    /// The questions a window answers over the socket (`prompts.subscribe`), when this
    /// prompter puts them to a window.
    fn questions(&self) -> Option<&crate::prompts::AccessPrompts> {
        None
    }
}

/// The headless daemon's prompter: there is nobody to ask.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoPrompter;

impl AccessPrompter for NoPrompter {
    fn ask<'a>(
        &'a self,
        _program: &'a Program,
        _account: &'a str,
        _action: Action,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = PromptAnswer> + Send + 'a>> {
        Box::pin(async { PromptAnswer::NoOneToAsk })
    }
}

/// One remembered decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// The program.
    pub program: Program,
    /// The account name.
    pub account: String,
    /// Allowed or denied.
    pub decision: Decision,
    /// When it was decided.
    #[serde(with = "time::serde::rfc3339")]
    pub decided_at: OffsetDateTime,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct RulesFile {
    format: u32,
    #[serde(default, rename = "rule")]
    rules: Vec<Rule>,
}

/// Rules by program, then account: looked up by reference, with no allocation per request.
type RuleMap = BTreeMap<Program, BTreeMap<String, Rule>>;

/// The rules as last read, the file's modification time then, and when that was last compared.
#[derive(Debug)]
struct CachedRules {
    modified: Option<std::time::SystemTime>,
    checked: std::time::Instant,
    rules: RuleMap,
}

/// How long the rules in memory are used before the file's modification time is looked at
/// again: an edit by hand applies within this; every change made through Keyport applies at
/// once (a write empties the cache). Looking at the file on every request cost a path lookup
/// per `token.get`.
pub const RULES_RECHECK: std::time::Duration = crate::service::RECHECK;

/// The access rules file, cached in memory and reloaded when it changes on disk.
#[derive(Debug)]
pub struct AccessRules {
    path: PathBuf,
    cache: std::sync::Mutex<Option<CachedRules>>,
}

impl AccessRules {
    /// The rules at `path` (it need not exist).
    pub fn new(path: PathBuf) -> Self {
        Self { path, cache: std::sync::Mutex::new(None) }
    }

    /// The decision for `program` using `account`, if one was made: the rule for that account,
    /// else the program's rule for every account ([`EVERY_ACCOUNT`]); for a remote program
    /// with neither, the same for its whole host (`remote:HOST`).
    pub fn decision(&self, program: &Program, account: &str) -> Result<Option<Decision>, ServiceError> {
        Ok(self.deciding_rule(program, account)?.map(|(decision, _)| decision))
    }

    /// [`Self::decision`], with whether the deciding rule is one for every account
    /// ([`EVERY_ACCOUNT`]).
    pub fn deciding_rule(&self, program: &Program, account: &str) -> Result<Option<(Decision, bool)>, ServiceError> {
        let of = |rules: &RuleMap, program: &Program| {
            let of_program = rules.get(program)?;
            match of_program.get(account) {
                Some(rule) => Some((rule.decision, false)),
                None => of_program.get(EVERY_ACCOUNT).map(|rule| (rule.decision, true)),
            }
        };
        self.with_rules(|rules| of(rules, program).or_else(|| program.whole_host().and_then(|host| of(rules, &host))))
    }

    /// Every rule, sorted by program then account.
    pub fn list(&self) -> Result<Vec<Rule>, ServiceError> {
        self.with_rules(|rules| rules.values().flat_map(BTreeMap::values).cloned().collect())
    }

    /// Records a decision (replacing an earlier one for the same pair).
    pub fn set(&self, program: Program, account: &str, decision: Decision) -> Result<(), ServiceError> {
        let mut rules = self.with_rules(Clone::clone)?;
        let rule = Rule {
            program: program.clone(),
            account: account.to_owned(),
            decision,
            decided_at: OffsetDateTime::now_utc(),
        };
        rules.entry(program).or_default().insert(account.to_owned(), rule);
        self.write(&rules)
    }

    /// Forgets the decision for `program` reading `account`: it is asked again next time.
    /// Returns whether there was one.
    pub fn forget(&self, program: &Program, account: &str) -> Result<bool, ServiceError> {
        let mut rules = self.with_rules(Clone::clone)?;
        let had = rules.get_mut(program).and_then(|of_program| of_program.remove(account)).is_some();
        rules.retain(|_, of_program| !of_program.is_empty());
        if had {
            self.write(&rules)?;
        }
        Ok(had)
    }

    /// Forgets every rule about `account` (when the account is removed).
    pub fn forget_account(&self, account: &str) -> Result<(), ServiceError> {
        let mut rules = self.with_rules(Clone::clone)?;
        let mut changed = false;
        for of_program in rules.values_mut() {
            changed |= of_program.remove(account).is_some();
        }
        rules.retain(|_, of_program| !of_program.is_empty());
        if changed { self.write(&rules) } else { Ok(()) }
    }

    fn with_rules<T>(&self, read: impl FnOnce(&RuleMap) -> T) -> Result<T, ServiceError> {
        let mut cache = self.cache.lock().expect("rules lock");
        if let Some(cached) = cache.as_mut()
            && cached.checked.elapsed() < RULES_RECHECK
        {
            return Ok(read(&cached.rules));
        }
        let modified = std::fs::metadata(&self.path).and_then(|m| m.modified()).ok();
        let checked = std::time::Instant::now();
        match cache.as_mut() {
            Some(cached) if cached.modified == modified => cached.checked = checked,
            _ => *cache = Some(CachedRules { modified, checked, rules: self.load()? }),
        }
        Ok(read(&cache.as_ref().expect("just loaded").rules))
    }

    fn load(&self) -> Result<RuleMap, ServiceError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(err) => return Err(ServiceError::Rules { path: self.path.clone(), detail: err.to_string() }),
        };
        let file: RulesFile = toml::from_str(&text)
            .map_err(|err| ServiceError::Rules { path: self.path.clone(), detail: err.message().to_owned() })?;
        if file.format != FORMAT {
            return Err(ServiceError::Rules {
                path: self.path.clone(),
                detail: format!("unknown format {}", file.format),
            });
        }
        let mut rules = RuleMap::new();
        for rule in file.rules {
            rules.entry(rule.program.clone()).or_default().insert(rule.account.clone(), rule);
        }
        Ok(rules)
    }

    fn write(&self, rules: &RuleMap) -> Result<(), ServiceError> {
        let file = RulesFile { format: FORMAT, rules: rules.values().flat_map(BTreeMap::values).cloned().collect() };
        let mut text =
            String::from("# Keyport: which program may read which account. Edit with `keyport allow/deny`.\n");
        text.push_str(&toml::to_string(&file).expect("rules serialize"));
        keyport_core::files::write_atomic(&self.path, text.as_bytes())
            .map_err(|err| ServiceError::Rules { path: self.path.clone(), detail: err.to_string() })?;
        *self.cache.lock().expect("rules lock") = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An installed program's absolute path on this system.
    fn bin(name: &str) -> PathBuf {
        if cfg!(windows) {
            PathBuf::from(format!(r"C:\Tools\{name}.exe"))
        } else {
            PathBuf::from(format!("/usr/bin/{name}"))
        }
    }

    #[test]
    fn rules_are_remembered_replaced_listed_and_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let rules = AccessRules::new(dir.path().join("access.toml"));
        let git = Program::Path(bin("git"));
        assert_eq!(rules.decision(&git, "gh").unwrap(), None);
        rules.set(git.clone(), "gh", Decision::Allow).unwrap();
        assert_eq!(rules.decision(&git, "gh").unwrap(), Some(Decision::Allow));
        assert_eq!(rules.decision(&git, "other").unwrap(), None);
        rules.set(git.clone(), "gh", Decision::Deny).unwrap();
        assert_eq!(rules.decision(&git, "gh").unwrap(), Some(Decision::Deny));
        assert_eq!(rules.list().unwrap().len(), 1);
        let text = std::fs::read_to_string(dir.path().join("access.toml")).unwrap();
        if cfg!(unix) {
            assert!(text.contains("program = \"/usr/bin/git\""), "{text}");
        }
        assert!(text.contains("decision = \"deny\""), "{text}");
        rules.forget_account("gh").unwrap();
        assert!(rules.list().unwrap().is_empty());
    }

    #[test]
    fn a_rule_for_every_account_applies_unless_one_names_the_account() {
        let dir = tempfile::tempdir().unwrap();
        let rules = AccessRules::new(dir.path().join("access.toml"));
        let tool = Program::Path(bin("tool"));
        rules.set(tool.clone(), EVERY_ACCOUNT, Decision::Allow).unwrap();
        assert_eq!(rules.decision(&tool, "any").unwrap(), Some(Decision::Allow));
        rules.set(tool.clone(), "work", Decision::Deny).unwrap();
        assert_eq!(rules.decision(&tool, "work").unwrap(), Some(Decision::Deny));
        assert_eq!(rules.decision(&tool, "other").unwrap(), Some(Decision::Allow));
        let other = Program::Path(bin("other"));
        assert_eq!(rules.decision(&other, "work").unwrap(), None);
    }

    #[test]
    fn programs_read_and_write_as_text() {
        let git = bin("git").display().to_string();
        for text in
            [git.as_str(), "flatpak:org.mozilla.Thunderbird", "snap:thunderbird", "container:fedora-40:/usr/bin/mbsync"]
        {
            let program: Program = text.parse().unwrap();
            assert_eq!(program.to_string(), text);
        }
        assert_eq!("snap:thunderbird".parse::<Program>().unwrap(), Program::Snap("thunderbird".into()));
        for bad in ["git", "flatpak:", "flatpak:a/b", "snap:x y", "container:x", "container:x:rel/path", ""] {
            assert!(bad.parse::<Program>().is_err(), "{bad}");
        }
        assert_eq!(Program::Flatpak("org.mozilla.Thunderbird".into()).short_name(), "Thunderbird");
        assert_eq!(Program::Path(PathBuf::from("/usr/bin/msmtp")).short_name(), "msmtp");
        if cfg!(windows) {
            assert!("/usr/bin/git".parse::<Program>().is_err(), "a Unix path names nothing on Windows");
        }
    }

    #[test]
    fn remote_programs_read_as_text_and_a_host_rule_covers_its_claims() {
        let mbsync: Program = "remote:build-01:mbsync".parse().unwrap();
        assert_eq!(mbsync, Program::Remote { host: "build-01".into(), program: Some("mbsync".into()) });
        assert_eq!(mbsync.to_string(), "remote:build-01:mbsync");
        assert_eq!(mbsync.short_name(), "mbsync on build-01");
        assert_eq!(mbsync.remote_host(), Some("build-01"));
        let host: Program = "remote:build-01".parse().unwrap();
        assert_eq!("remote:Build-01".parse::<Program>().unwrap(), host, "one spelling of a host");
        assert_eq!(host, Program::Remote { host: "build-01".into(), program: None });
        assert_eq!(Program::resolve("remote:10.0.0.7:git").unwrap().to_string(), "remote:10.0.0.7:git");
        for bad in ["remote:", "remote:-x", "remote:a b", "remote:h:", "remote:h:a/b", "remote:h:p:q", "remote:[::1]"] {
            assert!(bad.parse::<Program>().is_err(), "{bad}");
        }

        let dir = tempfile::tempdir().unwrap();
        let rules = AccessRules::new(dir.path().join("access.toml"));
        assert_eq!(rules.decision(&mbsync, "work").unwrap(), None);
        rules.set(host.clone(), "work", Decision::Allow).unwrap();
        assert_eq!(rules.decision(&mbsync, "work").unwrap(), Some(Decision::Allow), "the host's rule");
        assert_eq!(rules.decision(&mbsync, "home").unwrap(), None);
        rules.set(mbsync.clone(), "work", Decision::Deny).unwrap();
        assert_eq!(rules.decision(&mbsync, "work").unwrap(), Some(Decision::Deny), "the claim's own rule first");
        let git: Program = "remote:build-01:git".parse().unwrap();
        assert_eq!(rules.decision(&git, "work").unwrap(), Some(Decision::Allow));
        let elsewhere: Program = "remote:build-02:git".parse().unwrap();
        assert_eq!(rules.decision(&elsewhere, "work").unwrap(), None, "another host");
        // A local program is never judged by a remote rule.
        assert_eq!(rules.decision(&Program::Path(bin("mbsync")), "work").unwrap(), None);
    }

    #[test]
    fn typed_programs_resolve_through_path() {
        let shell = if cfg!(windows) { "cmd" } else { "sh" };
        let Program::Path(sh) = Program::resolve(shell).unwrap() else { panic!("a path") };
        assert!(sh.is_absolute() && sh.exists());
        assert_eq!(Program::resolve("flatpak:org.x.App").unwrap(), Program::Flatpak("org.x.App".into()));
        assert!(Program::resolve("no-such-program-xyz").is_err());
    }
}
