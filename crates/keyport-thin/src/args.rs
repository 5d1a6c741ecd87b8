//! The command lines the thin client answers itself. Only the plain forms are recognised;
//! anything else (help, `-v`, a repeated option, a value clap might read differently) goes to
//! the full CLI, whose parser is the reference.

use std::ffi::OsString;

/// What to do with a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quick {
    /// `keyport --version` or `keyport -V`.
    Version,
    /// `keyport token ACCOUNT`, with `--min-valid SECS` or `--min-valid=SECS` before or after
    /// the account (60 when not given, as the full CLI's default).
    Token { account: String, min_valid: u64 },
    /// Anything else: the full CLI's business.
    Full,
}

/// The full CLI's default for `--min-valid`.
pub const DEFAULT_MIN_VALID: u64 = 60;

impl Quick {
    /// Reads the arguments after the program name.
    pub fn parse(args: &[OsString]) -> Self {
        let Some(args) = args.iter().map(|arg| arg.to_str()).collect::<Option<Vec<&str>>>() else {
            return Self::Full; // not UTF-8: clap's error message
        };
        match args.as_slice() {
            ["--version" | "-V"] => Self::Version,
            ["token", rest @ ..] => token(rest).unwrap_or(Self::Full),
            _ => Self::Full,
        }
    }
}

fn token(args: &[&str]) -> Option<Quick> {
    let mut account = None;
    let mut min_valid = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let value = if *arg == "--min-valid" { Some(*rest.next()?) } else { arg.strip_prefix("--min-valid=") };
        match value {
            Some(value) => {
                if min_valid.is_some() {
                    return None;
                }
                min_valid = Some(seconds(value)?);
            }
            None => {
                if account.is_some() || arg.is_empty() || arg.starts_with('-') {
                    return None;
                }
                account = Some((*arg).to_owned());
            }
        }
    }
    Some(Quick::Token { account: account?, min_valid: min_valid.unwrap_or(DEFAULT_MIN_VALID) })
}

/// A number of seconds in plain decimal digits (what clap accepts beyond that, it judges).
fn seconds(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Quick {
        let args: Vec<OsString> = line.split(' ').filter(|a| !a.is_empty()).map(OsString::from).collect();
        Quick::parse(&args)
    }

    fn token(account: &str, min_valid: u64) -> Quick {
        Quick::Token { account: account.to_owned(), min_valid }
    }

    #[test]
    fn plain_token_lines_are_answered_here() {
        assert_eq!(parse("token work"), token("work", 60));
        assert_eq!(parse("token work --min-valid 300"), token("work", 300));
        assert_eq!(parse("token --min-valid 0 work"), token("work", 0));
        assert_eq!(parse("token work --min-valid=5"), token("work", 5));
        assert_eq!(parse("token a@b.example"), token("a@b.example", 60));
        assert_eq!(parse("--version"), Quick::Version);
        assert_eq!(parse("-V"), Quick::Version);
    }

    #[test]
    fn everything_else_goes_to_the_full_cli() {
        for line in [
            "",
            "token",
            "token --min-valid 5",
            "token a b",
            "token -v a",
            "-v token a",
            "token a --help",
            "token -- a",
            "token -a",
            "token a --min-valid",
            "token a --min-valid x",
            "token a --min-valid +5",
            "token a --min-valid -5",
            "token a --min-valid 99999999999999999999999",
            "token a --min-valid 1 --min-valid 2",
            "token a --min-valid=",
            "token a --min",
            "list",
            "--version x",
            "--help",
            "version",
            "daemon",
        ] {
            assert_eq!(parse(line), Quick::Full, "{line:?}");
        }
        assert_eq!(Quick::parse(&[OsString::from("token"), OsString::from("")]), Quick::Full);
    }

    #[cfg(unix)]
    #[test]
    fn arguments_that_are_not_utf8_go_to_the_full_cli() {
        use std::os::unix::ffi::OsStringExt;
        let args = [OsString::from("token"), OsString::from_vec(vec![0x66, 0xff])];
        assert_eq!(Quick::parse(&args), Quick::Full);
    }
}
