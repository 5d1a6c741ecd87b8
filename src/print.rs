//! What the CLI prints: tables and sentences for people, JSON for programs.

use std::io::Write;

use anyhow::Result;
use keyport_core::browser::BrowserError;
use keyport_wire::{
    AccountKind, AccountStatus as Status, AccountSummary as AccountView, ProviderSummary as ProviderView,
    RevokeOutcome, RevokeResult,
};

/// Prints `value` as pretty JSON on stdout.
pub fn json<T: serde::Serialize>(value: &T) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Prints `value` as JSON when `json`, else for people with `human`.
pub fn either<T: serde::Serialize + ?Sized>(json: bool, value: &T, human: impl FnOnce(&T)) -> Result<()> {
    if json {
        self::json(&value)
    } else {
        human(value);
        Ok(())
    }
}

/// Prints only the token and a newline: the output is meant for `$(...)` and password commands.
pub fn token(token: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{token}")?;
    out.flush()?;
    Ok(())
}

/// An error and its causes on one line.
pub fn error_chain(err: &anyhow::Error) -> String {
    err.chain().map(ToString::to_string).collect::<Vec<_>>().join(": ")
}

fn identity(view: &AccountView) -> String {
    let id = &view.identity;
    match (&id.name, &id.email) {
        (Some(name), Some(email)) => format!("{name} <{email}>"),
        (None, Some(email)) => email.clone(),
        (Some(name), None) => name.clone(),
        (None, None) => id.sub.clone().map(|sub| format!("sub {sub}")).unwrap_or_else(|| "-".into()),
    }
}

/// "in 59m", "2h 5m ago", "no expiry".
pub fn time_left(view: &AccountView) -> String {
    let Some(expires_at) = view.expires_at.as_deref().and_then(parse_time) else { return "no expiry".into() };
    let secs = (expires_at - time::OffsetDateTime::now_utc()).whole_seconds();
    let span = human_span(secs.unsigned_abs());
    if secs > 0 { format!("in {span}") } else { format!("{span} ago") }
}

/// The refresh token's end in words: "expires in 6d 2h (the provider says)", "expires in
/// 89d 23h unless used (Keyport renews it before)", "no known expiry".
pub fn refresh_token_expiry(view: &AccountView) -> String {
    let Some(at) = view.refresh_token_expires_at.as_deref().and_then(parse_time) else {
        return "no known expiry".into();
    };
    let secs = (at - time::OffsetDateTime::now_utc()).whole_seconds();
    let when = if secs > 0 {
        format!("expires in {}", human_span(secs.unsigned_abs()))
    } else {
        format!("expired {} ago", human_span(secs.unsigned_abs()))
    };
    match view.refresh_token_expiry {
        Some(keyport_wire::RefreshExpiry::Unused) => format!("{when} unless used (Keyport renews it before)"),
        _ => format!("{when} (the provider says)"),
    }
}

/// The REFRESH column: `no`, `yes`, or `yes, 6d 2h` when its end is known.
fn refresh_cell(view: &AccountView) -> String {
    if !view.has_refresh_token {
        return "no".into();
    }
    match view.refresh_token_expires_at.as_deref().and_then(parse_time) {
        Some(at) => {
            let secs = (at - time::OffsetDateTime::now_utc()).whole_seconds();
            if secs > 0 { format!("yes, {} left", human_span(secs.unsigned_abs())) } else { "yes, expired".into() }
        }
        None => "yes".into(),
    }
}

fn parse_time(text: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

fn human_span(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Valid => "valid",
        Status::Expiring => "expiring",
        Status::Expired => "expired",
        Status::NeedsSignIn => "NEEDS SIGN-IN",
        Status::Unknown => "?",
    }
}

/// The account table.
pub fn accounts(views: &[AccountView]) {
    if views.is_empty() {
        println!("No accounts yet. Add a provider (`keyport provider add --help`), then `keyport add PROVIDER`.");
        return;
    }
    let rows: Vec<[String; 6]> = views
        .iter()
        .map(|v| {
            [
                v.name.clone(),
                v.provider.clone(),
                identity(v),
                status_word(v.status).to_owned(),
                time_left(v),
                refresh_cell(v),
            ]
        })
        .collect();
    table(&["NAME", "PROVIDER", "IDENTITY", "STATUS", "EXPIRES", "REFRESH"], &rows);
}

fn table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) {
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// One account in detail.
pub fn status(v: &AccountView) {
    let or_dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".into());
    println!("Account:        {}", v.name);
    println!("Provider:       {}", v.provider);
    println!("Kind:           {}", if v.kind == AccountKind::Service { "service" } else { "user" });
    println!("Name:           {}", or_dash(&v.identity.name));
    println!("Email:          {}", or_dash(&v.identity.email));
    println!("Subject:        {}", or_dash(&v.identity.sub));
    println!("Scopes:         {}", if v.scopes.is_empty() { "-".into() } else { v.scopes.join(" ") });
    println!("Status:         {}", status_word(v.status));
    if let Some(reason) = &v.needs_sign_in_reason {
        println!("Why:            {reason} (run `keyport reauth {}` to sign in again)", v.name);
    }
    match &v.expires_at {
        Some(at) => println!("Expires:        {at} ({})", time_left(v)),
        None => println!("Expires:        never said by the provider"),
    }
    if let Some(at) = &v.last_refreshed_at {
        println!("Last renewed:   {at}");
    }
    match (v.has_refresh_token, v.kind) {
        (true, _) => println!("Refresh token:  stored in the keyring; {}", refresh_token_expiry(v)),
        (false, AccountKind::Service) => {
            println!("Refresh token:  none (a service account gets new tokens with its credentials)")
        }
        (false, _) => println!("Refresh token:  none"),
    }
    println!("Token type:     {}", v.token_type);
    println!("Added:          {}", v.created_at);
    println!("Updated:        {}", v.updated_at);
}

/// `provider list`: each provider with its endpoints and where each comes from.
pub fn providers(views: &[ProviderView]) {
    if views.is_empty() {
        println!("No providers yet. See `keyport provider add --help` and the README's provider guide.");
        return;
    }
    for (n, v) in views.iter().enumerate() {
        if n > 0 {
            println!();
        }
        provider(v);
    }
}

/// One provider: its endpoints (each with its source), scopes, client and redirect URI.
pub fn provider(v: &ProviderView) {
    println!("{} ({})", v.name, v.kind);
    let e = &v.endpoints;
    let endpoints = [
        ("authorization", Some(&e.authorization)),
        ("token", Some(&e.token)),
        ("revocation", e.revocation.as_ref()),
        ("device_authorization", e.device_authorization.as_ref()),
        ("userinfo", e.userinfo.as_ref()),
        ("introspection", e.introspection.as_ref()),
    ];
    for (name, url) in endpoints {
        let label = format!("{}:", name.replace('_', " "));
        match url {
            Some(url) => {
                let source = v.endpoint_sources.get(name).map(String::as_str).unwrap_or("?");
                println!("  {label:<22}{url}  ({source})");
            }
            None => println!("  {label:<22}none"),
        }
    }
    let scopes = if v.scopes.is_empty() { "(none by default)".to_owned() } else { v.scopes.join(" ") };
    println!("  {:<22}{scopes}", "scopes:");
    println!("  {:<22}{}", "client id:", v.client_id);
    println!(
        "  {:<22}{}",
        "client secret:",
        if v.has_client_secret { "stored in the keyring" } else { "none (public client)" }
    );
    println!("  {:<22}{}", "redirect URI:", v.redirect_uri);
    if v.shared_redirect_uri {
        println!(
            "  note: shared redirect path. Every provider used /callback before each got its own; register \
             http://HOST/callback/{name} with the provider, then run `keyport provider edit {name} --redirect-path \
             /callback/{name}` (README, \"the mix-up defence\").",
            name = v.name
        );
    }
}

/// After `provider add`.
pub fn provider_added(v: &ProviderView) {
    println!("Added provider {}.", v.name);
    provider(v);
    println!("Register this redirect URI with the provider: {} (Keyport adds a free port at sign-in).", v.redirect_uri);
    println!("Next: keyport add {}", v.name);
}

/// Before waiting for the browser.
pub fn sign_in_started(url: &url::Url, browser: Option<&Result<(), BrowserError>>, timeout_secs: u64) {
    match browser {
        Some(Ok(())) => eprintln!("Opened your browser to sign in. If it did not open, visit:"),
        Some(Err(err)) => eprintln!("{err}. Visit:"),
        None => eprintln!("Open this URL in a browser to sign in:"),
    }
    eprintln!("\n  {url}\n");
    let redirect =
        url.query_pairs().find(|(k, _)| k == "redirect_uri").map(|(_, v)| v.into_owned()).unwrap_or_default();
    eprintln!(
        "Waiting for the provider to redirect to {redirect} (Ctrl-C to cancel; gives up in {}).",
        human_span(timeout_secs)
    );
}

/// After `keyport refresh`.
pub fn refreshed(v: &AccountView) {
    println!("Renewed {} ({}): the access token now expires {}.", v.name, v.provider, time_left(v));
}

/// One event, as the daemon logs it.
pub fn event(event: &keyport_wire::Event) {
    use keyport_wire::Event as E;
    let line = match event {
        E::Added { account } => format!("{account}: connected"),
        E::Refreshed { account, expires_at } => match expires_at {
            Some(at) => format!("{account}: token renewed, expires {at}"),
            None => format!("{account}: token renewed"),
        },
        E::NeedsSignIn { account, reason } => {
            format!("{account}: NEEDS SIGN-IN ({reason}); run `keyport reauth {account}`")
        }
        E::Revoked { account } => format!("{account}: revoked"),
        E::Removed { account } => format!("{account}: removed"),
        E::Error { account, message } => format!("{account}: {message}"),
        E::SigninFinished { account, .. } => format!("{account}: signed in"),
        E::SigninFailed { message, .. } => format!("a sign-in failed: {message}"),
        E::Missed { count } => format!("{count} events were not logged"),
        _ => return,
    };
    eprintln!("keyport daemon: {line}");
}

/// Before waiting for a device sign-in (on stderr): where to go, the code, a QR code of the
/// link, and how long the code lasts.
pub fn device_sign_in_started(started: &keyport_wire::DeviceStart) {
    let styled = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    let bold = |text: &str| if styled { format!("\x1b[1m{text}\x1b[0m") } else { text.to_owned() };
    eprintln!("To sign in, open this page in a browser on any device (a phone will do):\n");
    eprintln!("    {}\n", started.verification_uri);
    eprintln!("and enter the code\n");
    eprintln!("    {}\n", bold(&started.user_code));
    let qr_target = match &started.verification_uri_complete {
        Some(complete) => {
            eprintln!("Or open this link, which carries the code:\n");
            eprintln!("    {complete}\n");
            eprintln!("or scan it:\n");
            complete
        }
        None => {
            eprintln!("Or scan this to open the page:\n");
            &started.verification_uri
        }
    };
    if let Some(lines) = qr_code(qr_target, styled) {
        for line in lines {
            eprintln!("    {line}");
        }
        eprintln!();
    }
    eprintln!(
        "The code is valid for {}. Waiting for the sign-in to be approved (Ctrl-C to cancel)...",
        human_span(started.expires_in_secs)
    );
}

/// A QR code of `text` in Unicode half blocks, two modules per character cell. Drawn for light
/// text on a dark background (modules are spaces, the light parts blocks); `styled` forces
/// those colours so it scans on light terminals too.
fn qr_code(text: &str, styled: bool) -> Option<Vec<String>> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let art =
        code.render::<Dense1x2>().dark_color(Dense1x2::Light).light_color(Dense1x2::Dark).quiet_zone(true).build();
    Some(art.lines().map(|line| if styled { format!("\x1b[97;40m{line}\x1b[0m") } else { line.to_owned() }).collect())
}

/// After a successful sign-in.
pub fn signed_in(v: &AccountView) {
    println!("Connected {} ({}) as {}.", v.name, v.provider, identity(v));
    println!("  scopes granted: {}", if v.scopes.is_empty() { "-".into() } else { v.scopes.join(" ") });
    println!("  access token:   expires {}", time_left(v));
    if v.has_refresh_token {
        println!("  refresh token:  stored in the keyring; {}", refresh_token_expiry(v));
    } else {
        println!("  refresh token:  none was issued");
    }
}

/// After `revoke`: what the provider did, and that the account is gone.
pub fn revoked(result: &RevokeResult) {
    let (name, provider) = (&result.account.name, &result.account.provider);
    match (&result.outcome, &result.page) {
        (RevokeOutcome::RevokeAtPage, Some(page)) => {
            println!("Provider {provider} has no revocation API: revoke Keyport's access at {page}");
            println!("Removed {name} and its tokens from Keyport only (nothing was revoked).");
        }
        (RevokeOutcome::RevokeAtPage, None) => {
            println!(
                "Provider {provider} has no revocation endpoint: revoke Keyport's access in your account \
                 settings there."
            );
            println!("Removed {name} and its tokens from Keyport only (nothing was revoked).");
        }
        (RevokeOutcome::RemovedLocally, _) => {
            let reason = result.reason.as_deref().unwrap_or("no reason given");
            eprintln!(
                "keyport: warning: {provider} did not revoke the tokens of {name} ({reason}); they may stay \
                 valid until they expire."
            );
            println!("Removed {name} and its tokens from Keyport only (not revoked at {provider}).");
        }
        _ if result.verified => {
            println!("Revoked {name} at {provider} and removed it.");
            println!("  checked: {provider}'s introspection endpoint says its tokens are no longer active");
        }
        _ => {
            println!("Revoked {name} at {provider} and removed it.");
            if let Some(why) = &result.unverified_reason {
                println!("  not checked: {why}");
            }
        }
    }
}

/// The access rules table (`keyport apps`).
pub fn rules(rules: &[keyport_wire::AccessRule]) {
    if rules.is_empty() {
        println!("No program has been allowed or denied yet. `keyport allow PROGRAM ACCOUNT` allows one.");
        return;
    }
    // One block per program (the rules come sorted by program): its name, the path or id the
    // rules use beneath, then a line per account.
    let width = rules.iter().map(|r| account_cell(&r.account).chars().count()).max().unwrap_or(0);
    let mut previous: Option<&str> = None;
    for rule in rules {
        if previous != Some(rule.program.as_str()) {
            if previous.is_some() {
                println!();
            }
            println!("{}", rule.program_name);
            println!("  {}", rule.program);
            previous = Some(&rule.program);
        }
        let decision = match rule.decision {
            keyport_wire::AccessDecision::Allow => "allow",
            keyport_wire::AccessDecision::Deny => "deny ",
            keyport_wire::AccessDecision::Unknown => "?    ",
        };
        let since = rule.decided_at.split('T').next().unwrap_or(&rule.decided_at);
        let last_read = rule
            .last_read
            .as_deref()
            .map_or_else(|| "never read".to_owned(), |at| format!("last read {}", short_time(at)));
        println!("    {decision}  {:<width$}  since {since}  {last_read}", account_cell(&rule.account));
    }
}

fn account_cell(account: &str) -> String {
    if account == "*" { "(every account)".to_owned() } else { account.to_owned() }
}

/// `2026-11-30T10:00:00Z` as `2026-11-30 10:00:00Z`.
fn short_time(at: &str) -> String {
    at.replacen('T', " ", 1)
}

/// The activity log as a table: TIME, PROGRAM, ACCOUNT, OUTCOME, WHY (docs/activity.md).
pub fn activity(records: &[keyport_wire::ActivityRecord]) {
    use keyport_wire::{ActivityAnswer, ActivityAsker, ActivityOutcome, ActivityWhy};
    if records.is_empty() {
        println!("Nothing recorded (that matches).");
        return;
    }
    let rows: Vec<[String; 5]> = records
        .iter()
        .map(|r| {
            let who = match r.asker {
                ActivityAsker::Program => r.program.clone().unwrap_or_else(|| "?".into()),
                ActivityAsker::Person => format!("you at {}", r.terminal.as_deref().unwrap_or("a terminal")),
                ActivityAsker::Window => "you in the window".into(),
                ActivityAsker::Unidentified if r.why == ActivityWhy::Flood || r.why == ActivityWhy::Dropped => {
                    "(various)".into()
                }
                ActivityAsker::Unidentified => "(unidentified)".into(),
                ActivityAsker::Unknown => "?".into(),
            };
            let mut outcome = match (r.outcome, r.action.as_str()) {
                (ActivityOutcome::HandedOut, "token.copy") => "copied token".to_owned(),
                (ActivityOutcome::HandedOut, _) => "handed out".to_owned(),
                (ActivityOutcome::Allowed, action) => format!("allowed {action}"),
                (ActivityOutcome::Refused, "*") => "refused".to_owned(),
                (ActivityOutcome::Refused, action) => format!("refused {action}"),
                (ActivityOutcome::Unknown, action) => format!("? {action}"),
            };
            if let Some(count) = r.count {
                outcome.push_str(&format!(" ×{count}"));
            }
            let rule = |r: &keyport_wire::ActivityRecord| match r.rule.as_deref() {
                Some("*") => " (every account)".to_owned(),
                Some(account) => format!(" ({account})"),
                None => String::new(),
            };
            let mut why = match r.why {
                ActivityWhy::Rule => format!("rule{}", rule(r)),
                ActivityWhy::Answer => match r.answer {
                    Some(ActivityAnswer::Always) => "you: always allow".into(),
                    Some(ActivityAnswer::Session) => "you: allow for this ssh session".into(),
                    _ => "you: allow once".into(),
                },
                ActivityWhy::Person => "you, at the terminal".into(),
                ActivityWhy::Window => "you, in the window".into(),
                ActivityWhy::NoRule => "no rule".into(),
                ActivityWhy::DeniedByRule => format!("denied by rule{}", rule(r)),
                ActivityWhy::DeniedInWindow => "you: deny".into(),
                ActivityWhy::NoOneToAsk => "no rule, no one to ask".into(),
                ActivityWhy::Unidentified => format!("unidentified: {}", r.detail),
                ActivityWhy::OutputElsewhere => "output elsewhere".into(),
                ActivityWhy::OnlyYou => "only you may".into(),
                ActivityWhy::Flood => "flood: kinds past the bounds".into(),
                ActivityWhy::Dropped => "lost: writer behind".into(),
                ActivityWhy::Unknown => r.detail.clone(),
            };
            if let Some(last) = &r.last {
                why.push_str(&format!(", last {}", last.split('T').nth(1).unwrap_or(last)));
            }
            let account = r.account.clone().unwrap_or_else(|| "-".into());
            [short_time(&r.time), who, account, outcome, why]
        })
        .collect();
    table(&["TIME", "PROGRAM", "ACCOUNT", "OUTCOME", "WHY"], &rows);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_naturally() {
        assert_eq!(human_span(42), "42s");
        assert_eq!(human_span(3599), "59m 59s");
        assert_eq!(human_span(7260), "2h 1m");
        assert_eq!(human_span(90_000), "1d 1h");
    }

    #[test]
    fn qr_codes_are_half_block_squares_with_a_quiet_zone() {
        let lines = qr_code("http://127.0.0.1:41234/device?user_code=WDJB-MJHT", false).unwrap();
        let width = lines[0].chars().count();
        // 50 bytes at error correction M: version 4 (33 modules), plus a 4-module quiet zone on
        // each side; two module rows per line.
        assert_eq!(width, 33 + 8);
        assert_eq!(lines.len(), width.div_ceil(2));
        assert!(lines.iter().all(|line| line.chars().count() == width));
        assert!(lines.iter().flat_map(|line| line.chars()).all(|c| " ▀▄█".contains(c)));
        assert!(lines[0].chars().all(|c| c == '█'), "the quiet zone is light");
        let styled = qr_code("x", true).unwrap();
        assert!(styled.iter().all(|line| line.starts_with("\x1b[97;40m") && line.ends_with("\x1b[0m")));
    }
}
