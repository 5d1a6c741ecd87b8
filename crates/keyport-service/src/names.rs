//! Programs by the names people know them by: "Thunderbird" for `/usr/bin/thunderbird`, from
//! the desktop entries (`.desktop` files) that launch them.
//!
//! A desktop entry's `Name=` names the program its `TryExec=` or `Exec=` starts (resolved
//! through `PATH` and symlinks, as the rules name programs), the Flatpak app of its
//! `X-Flatpak=` key or file name, or the Snap of its `X-SnapInstanceName=`. Entries are read
//! from `$XDG_DATA_HOME/applications`, each `$XDG_DATA_DIRS/applications`, and the Flatpak and
//! Snap export directories, a bounded number of bounded files each, and kept for
//! [`CACHE_FOR`]. A program no entry names is called by its file name (a script by its own).
//! The name is only shown; the rules always name programs by path or id.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::access::Program;

/// How long the entries read are used before they are read again.
pub const CACHE_FOR: Duration = Duration::from_secs(30);
/// Desktop entries read per directory, at most.
const MAX_ENTRIES_PER_DIR: usize = 4096;
/// A desktop entry larger than this is skipped.
const MAX_ENTRY_BYTES: u64 = 64 * 1024;
/// A name longer than this (in characters) is cut.
pub const MAX_NAME_CHARS: usize = 64;

/// Friendly names from desktop entries.
#[derive(Debug)]
pub struct ProgramNames {
    dirs: Vec<PathBuf>,
    search_path: Option<std::ffi::OsString>,
    read: Mutex<Option<(Instant, Arc<Names>)>>,
}

/// What the entries name, by program.
#[derive(Debug, Default)]
struct Names {
    by_path: HashMap<PathBuf, String>,
    by_flatpak: HashMap<String, String>,
    by_snap: HashMap<String, String>,
}

impl ProgramNames {
    /// Names from the entries in `dirs` (each an `applications` directory), resolving bare
    /// commands through `search_path` (a `PATH` value).
    pub fn new(dirs: Vec<PathBuf>, search_path: Option<std::ffi::OsString>) -> Self {
        Self { dirs, search_path, read: Mutex::new(None) }
    }

    /// The directories of this user's session (XDG base directories, Flatpak and Snap exports).
    pub fn from_env() -> Self {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let data_home = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| home.as_ref().map(|h| h.join(".local/share")));
        let data_dirs = std::env::var("XDG_DATA_DIRS")
            .ok()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "/usr/local/share:/usr/share".to_owned());
        let mut dirs: Vec<PathBuf> = Vec::new();
        dirs.extend(data_home.iter().map(|d| d.join("applications")));
        dirs.extend(data_home.iter().map(|d| d.join("flatpak/exports/share/applications")));
        dirs.extend(
            data_dirs.split(':').map(PathBuf::from).filter(|p| p.is_absolute()).map(|d| d.join("applications")),
        );
        dirs.push("/var/lib/flatpak/exports/share/applications".into());
        dirs.push("/var/lib/snapd/desktop/applications".into());
        dirs.dedup();
        Self::new(dirs, std::env::var_os("PATH"))
    }

    /// The names of this process's session, read when first needed.
    pub fn shared() -> &'static Self {
        static SHARED: OnceLock<ProgramNames> = OnceLock::new();
        SHARED.get_or_init(Self::from_env)
    }

    /// The name to show for `program`.
    pub fn name(&self, program: &Program) -> String {
        let names = self.names();
        let found = match program {
            Program::Path(path) => names.by_path.get(path),
            Program::Flatpak(app) => names.by_flatpak.get(app),
            Program::Snap(name) => names.by_snap.get(name),
            // A remote program's name is its claim, never looked up here.
            Program::Container { .. } | Program::Remote { .. } => None,
        };
        found.cloned().unwrap_or_else(|| program.short_name())
    }

    fn names(&self) -> Arc<Names> {
        let mut read = self.read.lock().expect("program names");
        if let Some((at, names)) = read.as_ref()
            && at.elapsed() < CACHE_FOR
        {
            return names.clone();
        }
        let names = Arc::new(self.read_entries());
        *read = Some((Instant::now(), names.clone()));
        names
    }

    /// Reads every directory; an earlier directory wins (as in the XDG menu specification).
    fn read_entries(&self) -> Names {
        let mut names = Names::default();
        for dir in &self.dirs {
            let Ok(listing) = std::fs::read_dir(dir) else { continue };
            let mut files: Vec<PathBuf> = listing
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "desktop"))
                .take(MAX_ENTRIES_PER_DIR)
                .collect();
            files.sort();
            for file in files {
                let Some(entry) = read_entry(&file) else { continue };
                let id = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
                if let Some(app) = entry.flatpak.clone().or_else(|| is_flatpak_export(dir).then(|| id.to_owned())) {
                    names.by_flatpak.entry(app).or_insert_with(|| entry.name.clone());
                    continue;
                }
                if let Some(snap) = &entry.snap {
                    names.by_snap.entry(snap.clone()).or_insert_with(|| entry.name.clone());
                    continue;
                }
                if let Some(path) = entry.command.as_deref().and_then(|c| self.resolve(c)) {
                    names.by_path.entry(path).or_insert(entry.name);
                }
            }
        }
        names
    }

    /// A command of an entry as the rules would name it: absolute, symlinks resolved.
    fn resolve(&self, command: &str) -> Option<PathBuf> {
        let path = if command.contains('/') {
            PathBuf::from(command)
        } else {
            std::env::split_paths(self.search_path.as_ref()?).map(|d| d.join(command)).find(|p| p.is_file())?
        };
        std::fs::canonicalize(path).ok().filter(|p| p.is_file())
    }
}

fn is_flatpak_export(dir: &Path) -> bool {
    dir.ends_with("flatpak/exports/share/applications")
}

/// What one desktop entry says that matters here.
#[derive(Debug, PartialEq, Eq)]
pub struct Entry {
    /// `Name=`: at most [`MAX_NAME_CHARS`] characters, no control characters.
    pub name: String,
    /// The program it starts (`TryExec=`, else the command of `Exec=`), never empty.
    pub command: Option<String>,
    pub flatpak: Option<String>,
    pub snap: Option<String>,
}

fn read_entry(file: &Path) -> Option<Entry> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(file).ok()?.take(MAX_ENTRY_BYTES).read_to_string(&mut text).ok()?;
    parse_entry(&text)
}

/// Parses the `[Desktop Entry]` group of a desktop entry. Hidden entries and entries that are
/// not applications name nothing.
pub fn parse_entry(text: &str) -> Option<Entry> {
    let mut in_entry = false;
    let (mut name, mut exec, mut try_exec, mut flatpak, mut snap) = (None, None, None, None, None);
    let mut application = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_entry = line == "[Desktop Entry]";
            continue;
        }
        if !in_entry {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else { continue };
        let value = value.trim();
        match key.trim() {
            "Name" => name = Some(value),
            "Exec" => exec = Some(value),
            "TryExec" => try_exec = Some(value),
            "X-Flatpak" => flatpak = Some(value),
            "X-SnapInstanceName" => snap = Some(value),
            "Type" => application = value == "Application",
            "Hidden" if value == "true" => return None,
            _ => {}
        }
    }
    let name: String = name?.chars().filter(|c| !c.is_control()).take(MAX_NAME_CHARS).collect();
    if name.trim().is_empty() {
        return None;
    }
    if !application {
        return None;
    }
    let command = try_exec.filter(|t| !t.is_empty()).map(str::to_owned).or_else(|| exec.and_then(exec_command));
    Some(Entry { name, command, flatpak: flatpak.map(str::to_owned), snap: snap.map(str::to_owned) })
}

/// The program an `Exec=` line starts: its first word (quotes removed), past `env` and its
/// `VAR=value` assignments.
fn exec_command(exec: &str) -> Option<String> {
    let mut words = split_words(exec).into_iter();
    let mut first = words.next()?;
    if Path::new(&first).file_name().is_some_and(|n| n == "env") {
        first = words.find(|w| !w.contains('=') && !w.starts_with('-'))?;
    }
    Some(first).filter(|command| !command.is_empty())
}

/// Splits an `Exec=` value into words: spaces separate, double quotes group, `\` escapes
/// inside quotes.
fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let (mut quoted, mut in_word) = (false, false);
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            '\\' if quoted => word.extend(chars.next()),
            ' ' | '\t' if !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            _ => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_name_the_program_they_start() {
        let entry = parse_entry(
            "# comment\n[Desktop Entry]\nType=Application\nName=Thunderbird\nName[de]=Donnervogel\n\
             Exec=env MOZ_X=1 thunderbird %u\n[Desktop Action new]\nName=New message\nExec=other\n",
        )
        .unwrap();
        assert_eq!(entry.name, "Thunderbird");
        assert_eq!(entry.command.as_deref(), Some("thunderbird"));
        let quoted = parse_entry("[Desktop Entry]\nType=Application\nName=Sync\nExec=\"/opt/my apps/sync\" --x\n");
        assert_eq!(quoted.unwrap().command.as_deref(), Some("/opt/my apps/sync"));
        let try_exec =
            parse_entry("[Desktop Entry]\nType=Application\nName=A\nTryExec=/usr/bin/a\nExec=sh -c a\n").unwrap();
        assert_eq!(try_exec.command.as_deref(), Some("/usr/bin/a"));
        assert!(parse_entry("[Desktop Entry]\nType=Application\nName=H\nHidden=true\nExec=h\n").is_none());
        assert!(parse_entry("[Desktop Entry]\nType=Link\nName=L\nURL=x\n").is_none());
        assert!(parse_entry("[Desktop Entry]\nType=Application\nExec=x\n").is_none(), "no name");
        // Found by the fuzzer: a name of control characters only is no name.
        assert!(parse_entry("[Desktop Entry]\nType=Application\nName=\x07\x1b\nExec=x\n").is_none());
        let flatpak = parse_entry("[Desktop Entry]\nType=Application\nName=Geary\nX-Flatpak=org.gnome.Geary\n");
        assert_eq!(flatpak.unwrap().flatpak.as_deref(), Some("org.gnome.Geary"));
        let long = format!("[Desktop Entry]\nType=Application\nName={}\x07\nExec=x\n", "n".repeat(500));
        assert_eq!(parse_entry(&long).unwrap().name.chars().count(), MAX_NAME_CHARS);
    }

    #[test]
    fn programs_get_their_entry_name_or_their_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let apps = dir.path().join("applications");
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&apps).unwrap();
        std::fs::create_dir_all(&bin).unwrap();
        let tool = bin.join("mailtool");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        std::fs::write(
            apps.join("mail.desktop"),
            "[Desktop Entry]\nType=Application\nName=Mail Tool\nExec=mailtool %u\n",
        )
        .unwrap();
        std::fs::write(
            apps.join("geary.desktop"),
            "[Desktop Entry]\nType=Application\nName=Geary\nX-Flatpak=org.gnome.Geary\n",
        )
        .unwrap();
        let names = ProgramNames::new(vec![dir.path().join("missing"), apps], Some(bin.clone().into_os_string()));
        let real = std::fs::canonicalize(&tool).unwrap();
        assert_eq!(names.name(&Program::Path(real)), "Mail Tool");
        assert_eq!(names.name(&Program::Flatpak("org.gnome.Geary".into())), "Geary");
        assert_eq!(names.name(&Program::Path("/home/u/bin/sync-mail.py".into())), "sync-mail.py");
        assert_eq!(names.name(&Program::Flatpak("org.example.Other".into())), "Other");
    }
}
