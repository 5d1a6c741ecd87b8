//! What the CLI prints: tables and sentences for people, JSON for programs.

use std::io::Write;

use anyhow::Result;
use keyport_core::ProviderView;
use keyport_core::account::{AccountView, Status};
use keyport_core::secret::Secret;
use keyport_core::signin::PendingSignIn;

/// Prints `value` as pretty JSON on stdout.
pub fn json<T: serde::Serialize>(value: &T) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Prints only the token and a newline: the output is meant for `$(...)` and password commands.
pub fn token(token: &Secret) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", token.expose())?;
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
    let Some(expires_at) = view.expires_at else { return "no expiry".into() };
    let secs = (expires_at - time::OffsetDateTime::now_utc()).whole_seconds();
    let span = human_span(secs.unsigned_abs());
    if secs > 0 { format!("in {span}") } else { format!("{span} ago") }
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
                if v.has_refresh_token { "yes".into() } else { "no".into() },
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
    println!("Kind:           {}", if v.kind == keyport_core::account::AccountKind::User { "user" } else { "service" });
    println!("Name:           {}", or_dash(&v.identity.name));
    println!("Email:          {}", or_dash(&v.identity.email));
    println!("Subject:        {}", or_dash(&v.identity.sub));
    println!("Scopes:         {}", if v.scopes.is_empty() { "-".into() } else { v.scopes.join(" ") });
    println!("Status:         {}", status_word(v.status));
    if let Some(reason) = &v.needs_sign_in_reason {
        println!("Why:            {reason} (run `keyport add {} --name {}` to sign in again)", v.provider, v.name);
    }
    match v.expires_at {
        Some(at) => println!("Expires:        {} ({})", rfc3339(at), time_left(v)),
        None => println!("Expires:        never said by the provider"),
    }
    println!("Refresh token:  {}", if v.has_refresh_token { "stored in the keyring" } else { "none" });
    println!("Token type:     {}", v.token_type);
    println!("Added:          {}", rfc3339(v.created_at));
    println!("Updated:        {}", rfc3339(v.updated_at));
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| at.to_string())
}

/// The provider table.
pub fn providers(views: &[ProviderView]) {
    if views.is_empty() {
        println!("No providers yet. See `keyport provider add --help` and the README's provider guide.");
        return;
    }
    let rows: Vec<[String; 5]> = views
        .iter()
        .map(|v| {
            [
                v.name.clone(),
                v.kind.clone(),
                v.client_id.clone(),
                if v.has_client_secret { "keyring".into() } else { "none (public)".into() },
                v.redirect_uri.clone(),
            ]
        })
        .collect();
    table(&["NAME", "TYPE", "CLIENT ID", "SECRET", "REDIRECT URI"], &rows);
}

/// After `provider add`.
pub fn provider_added(v: &ProviderView) {
    println!("Added provider {} ({}).", v.name, v.kind);
    println!("  authorization: {}", v.endpoints.authorization);
    println!("  token:         {}", v.endpoints.token);
    if let Some(url) = &v.endpoints.revocation {
        println!("  revocation:    {url}");
    }
    if let Some(url) = &v.endpoints.device_authorization {
        println!("  device:        {url}");
    }
    if let Some(url) = &v.endpoints.userinfo {
        println!("  userinfo:      {url}");
    }
    println!("  scopes:        {}", if v.scopes.is_empty() { "(none by default)".into() } else { v.scopes.join(" ") });
    println!("  client secret: {}", if v.has_client_secret { "stored in the keyring" } else { "none (public client)" });
    println!("Register this redirect URI with the provider: {} (Keyport adds a free port at sign-in).", v.redirect_uri);
    println!("Next: keyport add {}", v.name);
}

/// Before waiting for the browser.
pub fn sign_in_started(pending: &PendingSignIn, timeout_secs: u64) {
    match pending.browser_outcome() {
        Some(Ok(())) => eprintln!("Opened your browser to sign in. If it did not open, visit:"),
        Some(Err(err)) => eprintln!("{err}. Visit:"),
        None => eprintln!("Open this URL in a browser to sign in:"),
    }
    eprintln!("\n  {}\n", pending.url());
    eprintln!(
        "Waiting for the provider to redirect to {} (Ctrl-C to cancel; gives up in {}).",
        pending.redirect_uri(),
        human_span(timeout_secs)
    );
}

/// After a successful sign-in.
pub fn signed_in(v: &AccountView) {
    println!("Connected {} ({}) as {}.", v.name, v.provider, identity(v));
    println!("  scopes granted: {}", if v.scopes.is_empty() { "-".into() } else { v.scopes.join(" ") });
    println!("  access token:   expires {}", time_left(v));
    println!("  refresh token:  {}", if v.has_refresh_token { "stored in the keyring" } else { "none was issued" });
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
}
