//! `keyport log`: the activity log (docs/activity.md), read through the service, which shows it
//! only to you at a terminal.

use anyhow::{Context, Result, bail};
use keyport_service::access::Program;
use keyport_wire::{self as wire, Call};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::client::Client;

/// `keyport log`'s options.
#[derive(Debug, clap::Args)]
pub struct LogArgs {
    /// Only records about this account.
    #[arg(long)]
    account: Option<String>,
    /// Only records of this program: a name in PATH, a path, flatpak:ID, snap:NAME...
    #[arg(long)]
    program: Option<String>,
    /// Only records since then: an RFC 3339 time, a date (2026-11-30, from midnight UTC), or a
    /// time ago (30m, 2h, 7d).
    #[arg(long, value_name = "WHEN", value_parser = parse_since)]
    since: Option<OffsetDateTime>,
    /// At most this many records, the newest (at most 1000).
    #[arg(long, value_name = "N", default_value_t = wire::DEFAULT_ACTIVITY_LIMIT)]
    limit: u32,
    /// Print JSON (see docs/json.md).
    #[arg(long)]
    json: bool,
}

/// Runs `keyport log`.
pub fn log(args: LogArgs) -> Result<()> {
    let program = args.program.map(|typed| match Program::resolve(&typed) {
        Ok(program) => program.to_string(),
        // A program that is gone is still in the log under the name it had.
        Err(_) => typed,
    });
    let params = wire::ActivityListParams {
        account: args.account,
        program,
        since: args.since.map(|at| at.format(&Rfc3339)).transpose().context("formatting --since")?,
        limit: Some(args.limit),
    };
    let result: wire::ActivityListResult = Client::connect_or_start()?.call(Call::ActivityList(params))?;
    if result.truncated {
        eprintln!("keyport: older records were left out; see more with --limit (at most {})", wire::MAX_ACTIVITY_LIMIT);
    }
    crate::print::either(args.json, result.records.as_slice(), crate::print::activity)
}

/// `--since`: RFC 3339, a date, or a span ago (`30s`, `30m`, `2h`, `7d`, `2w`).
fn parse_since(text: &str) -> Result<OffsetDateTime, String> {
    since_at(text, OffsetDateTime::now_utc()).map_err(|err| err.to_string())
}

fn since_at(text: &str, now: OffsetDateTime) -> Result<OffsetDateTime> {
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(at);
    }
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(date) = time::Date::parse(text, &date_format) {
        return Ok(date.midnight().assume_utc());
    }
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let Ok(number) = number.parse::<i64>() else {
        bail!("`{text}` is not a time: give 2026-11-30T08:00:00Z, 2026-11-30, or a time ago such as 30m, 2h, 7d");
    };
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => bail!("`{text}`: the unit of a time ago is s, m, h, d or w (30m, 2h, 7d)"),
    };
    let secs = number.checked_mul(unit_secs).filter(|secs| *secs <= 100 * 365 * 86_400);
    let Some(secs) = secs else { bail!("`{text}` is too long ago") };
    Ok(now - time::Duration::seconds(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_reads_times_dates_and_spans_ago() {
        let now = time::macros::datetime!(2026-11-30 12:00:00 UTC);
        assert_eq!(since_at("2026-11-29T08:30:00Z", now).unwrap(), time::macros::datetime!(2026-11-29 08:30:00 UTC));
        assert_eq!(
            since_at("2026-11-29T08:30:00+01:00", now).unwrap(),
            time::macros::datetime!(2026-11-29 07:30:00 UTC)
        );
        assert_eq!(since_at("2026-11-01", now).unwrap(), time::macros::datetime!(2026-11-01 00:00:00 UTC));
        assert_eq!(since_at("30m", now).unwrap(), time::macros::datetime!(2026-11-30 11:30:00 UTC));
        assert_eq!(since_at("2h", now).unwrap(), time::macros::datetime!(2026-11-30 10:00:00 UTC));
        assert_eq!(since_at("7d", now).unwrap(), time::macros::datetime!(2026-11-23 12:00:00 UTC));
        for bad in ["", "yesterday", "5y", "m", "99999999999999d", "2026-13-01"] {
            assert!(since_at(bad, now).is_err(), "{bad}");
        }
    }
}
