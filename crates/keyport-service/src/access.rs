//! Which program may read which account: the per-app access rules and how a peer on the
//! socket is identified.
//!
//! A peer is identified by the executable of its process (`/proc/PID/exe`). When that is the
//! `keyport` CLI itself, the program that ran it (its parent) is what is asking, so
//! `git → keyport git-credential → socket` is judged as `git`. Rules live in
//! `$XDG_CONFIG_HOME/keyport/access.toml` (no secrets). An unknown program is put to the host's
//! [`AccessPrompter`]: the desktop app asks the user; the headless daemon refuses and names the
//! `keyport allow` command.
//!
//! This is a guard against programs reading accounts they were never meant to, not a wall
//! against a hostile process of the same user: such a process can ptrace an allowed program,
//! read its memory, or replace its binary. See docs/socket.md, "Threat model".

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::ServiceError;

/// The file format written and read.
const FORMAT: u32 = 1;

/// A program, by its executable's absolute path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Program(pub PathBuf);

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.display())
    }
}

impl Program {
    /// Resolves what a user typed (`git`, `/usr/bin/git`, `./tool`) to an absolute executable
    /// path, following `PATH` for bare names and symlinks to the real file, as `/proc/PID/exe`
    /// shows it.
    pub fn resolve(typed: &str) -> Result<Self, ServiceError> {
        let candidate = if typed.contains('/') {
            PathBuf::from(typed)
        } else {
            std::env::var_os("PATH")
                .and_then(|path| std::env::split_paths(&path).map(|dir| dir.join(typed)).find(|p| p.is_file()))
                .ok_or_else(|| ServiceError::BadRequest(format!("no program named `{typed}` in PATH")))?
        };
        let real = std::fs::canonicalize(&candidate)
            .map_err(|err| ServiceError::BadRequest(format!("{}: {err}", candidate.display())))?;
        Ok(Self(real))
    }
}

/// What the user decided for a program and an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
    /// Allow; remembered.
    AllowAlways,
    /// Deny; remembered.
    Deny,
    /// Nobody could be asked (headless): refuse this request, remember nothing.
    NoOneToAsk,
}

/// Asks the user about a program that has no rule yet.
pub trait AccessPrompter: Send + Sync + fmt::Debug {
    /// Asks whether `program` may read `account`. May take as long as the user does.
    fn ask<'a>(
        &'a self,
        program: &'a Program,
        account: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = PromptAnswer> + Send + 'a>>;
}

/// The headless daemon's prompter: there is nobody to ask.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoPrompter;

impl AccessPrompter for NoPrompter {
    fn ask<'a>(
        &'a self,
        _program: &'a Program,
        _account: &'a str,
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

type RuleMap = BTreeMap<(Program, String), Rule>;

/// The access rules file, cached in memory and reloaded when it changes on disk.
#[derive(Debug)]
pub struct AccessRules {
    path: PathBuf,
    cache: std::sync::Mutex<Option<(Option<std::time::SystemTime>, RuleMap)>>,
}

impl AccessRules {
    /// The rules at `path` (it need not exist).
    pub fn new(path: PathBuf) -> Self {
        Self { path, cache: std::sync::Mutex::new(None) }
    }

    /// The decision for `program` reading `account`, if one was made.
    pub fn decision(&self, program: &Program, account: &str) -> Result<Option<Decision>, ServiceError> {
        self.with_rules(|rules| rules.get(&(program.clone(), account.to_owned())).map(|rule| rule.decision))
    }

    /// Every rule, sorted by program then account.
    pub fn list(&self) -> Result<Vec<Rule>, ServiceError> {
        self.with_rules(|rules| rules.values().cloned().collect())
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
        rules.insert((program, account.to_owned()), rule);
        self.write(&rules)
    }

    /// Forgets the decision for `program` reading `account`: it is asked again next time.
    /// Returns whether there was one.
    pub fn forget(&self, program: &Program, account: &str) -> Result<bool, ServiceError> {
        let mut rules = self.with_rules(Clone::clone)?;
        let had = rules.remove(&(program.clone(), account.to_owned())).is_some();
        if had {
            self.write(&rules)?;
        }
        Ok(had)
    }

    /// Forgets every rule about `account` (when the account is removed).
    pub fn forget_account(&self, account: &str) -> Result<(), ServiceError> {
        let mut rules = self.with_rules(Clone::clone)?;
        let before = rules.len();
        rules.retain(|(_, name), _| name != account);
        if rules.len() != before { self.write(&rules) } else { Ok(()) }
    }

    fn with_rules<T>(&self, read: impl FnOnce(&RuleMap) -> T) -> Result<T, ServiceError> {
        let modified = std::fs::metadata(&self.path).and_then(|m| m.modified()).ok();
        let mut cache = self.cache.lock().expect("rules lock");
        if cache.as_ref().is_none_or(|(seen, _)| *seen != modified) {
            *cache = Some((modified, self.load()?));
        }
        Ok(read(&cache.as_ref().expect("just loaded").1))
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
        Ok(file.rules.into_iter().map(|rule| ((rule.program.clone(), rule.account.clone()), rule)).collect())
    }

    fn write(&self, rules: &RuleMap) -> Result<(), ServiceError> {
        let file = RulesFile { format: FORMAT, rules: rules.values().cloned().collect() };
        let mut text =
            String::from("# Keyport: which program may read which account. Edit with `keyport allow/deny`.\n");
        text.push_str(&toml::to_string(&file).expect("rules serialize"));
        keyport_core::files::write_atomic(&self.path, text.as_bytes())
            .map_err(|err| ServiceError::Rules { path: self.path.clone(), detail: err.to_string() })?;
        *self.cache.lock().expect("rules lock") = None;
        Ok(())
    }
}

/// Identifies the program behind a peer process: its executable, or, when that is one of
/// `cli_paths` (the `keyport` CLI), its parent's executable.
pub fn identify(pid: u32, cli_paths: &[PathBuf]) -> Result<Program, ServiceError> {
    let exe = exe_of(pid)?;
    if cli_paths.contains(&exe.0)
        && let Some(parent) = parent_of(pid)
    {
        return exe_of(parent);
    }
    Ok(exe)
}

fn exe_of(pid: u32) -> Result<Program, ServiceError> {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .map(|path| Program(strip_deleted(&path)))
        .map_err(|err| ServiceError::PeerUnknown(format!("process {pid}: {err}")))
}

/// `/proc/PID/exe` of a replaced binary reads `/usr/bin/x (deleted)`.
fn strip_deleted(path: &Path) -> PathBuf {
    let text = path.to_string_lossy();
    PathBuf::from(text.strip_suffix(" (deleted)").unwrap_or(&text).to_owned())
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces or parentheses.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_remembered_replaced_listed_and_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let rules = AccessRules::new(dir.path().join("access.toml"));
        let git = Program(PathBuf::from("/usr/bin/git"));
        assert_eq!(rules.decision(&git, "gh").unwrap(), None);
        rules.set(git.clone(), "gh", Decision::Allow).unwrap();
        assert_eq!(rules.decision(&git, "gh").unwrap(), Some(Decision::Allow));
        assert_eq!(rules.decision(&git, "other").unwrap(), None);
        rules.set(git.clone(), "gh", Decision::Deny).unwrap();
        assert_eq!(rules.decision(&git, "gh").unwrap(), Some(Decision::Deny));
        assert_eq!(rules.list().unwrap().len(), 1);
        let text = std::fs::read_to_string(dir.path().join("access.toml")).unwrap();
        assert!(text.contains("program = \"/usr/bin/git\"") && text.contains("decision = \"deny\""), "{text}");
        rules.forget_account("gh").unwrap();
        assert!(rules.list().unwrap().is_empty());
    }

    #[test]
    fn this_process_is_identified_by_its_executable_and_the_cli_by_its_parent() {
        let me = std::process::id();
        let exe = std::fs::canonicalize(std::env::current_exe().unwrap()).unwrap();
        assert_eq!(identify(me, &[]).unwrap(), Program(exe.clone()));
        // Pretend this test binary is the CLI: the answer is whoever ran it.
        let parent = parent_of(me).unwrap();
        assert_eq!(identify(me, &[exe]).unwrap(), exe_of(parent).unwrap());
    }

    #[test]
    fn parent_pid_parsing_survives_odd_command_names() {
        assert!(parent_of(std::process::id()).is_some());
        assert!(exe_of(u32::MAX).is_err());
    }

    #[test]
    fn typed_programs_resolve_through_path() {
        let sh = Program::resolve("sh").unwrap();
        assert!(sh.0.is_absolute() && sh.0.exists());
        assert!(Program::resolve("no-such-program-xyz").is_err());
    }
}
