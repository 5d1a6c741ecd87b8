//! Renewal against a fake provider that misbehaves on purpose. The real provider
//! (`oidc-provider`) is used by the root package's end-to-end tests; these cover the faults it
//! will not produce.

mod support;

use std::time::Duration;

use keyport_core::Error;
use keyport_core::account::Status;
use keyport_core::events::AccountEvent;
use keyport_core::refresh::RenewError;
use keyport_core::refresher::RefreshPolicy;
use support::{Fixture, Reply};

const TIMEOUT: Duration = Duration::from_secs(2);

/// A backoff short enough for tests: 300 ms after a first failure.
fn quick_backoff() -> RefreshPolicy {
    RefreshPolicy {
        backoff_base: Duration::from_millis(300),
        backoff_cap: Duration::from_millis(800),
        ..RefreshPolicy::default()
    }
}

async fn assert_transient_keeps_tokens(reply: Reply, expect_in_reason: &str) -> RenewError {
    let mut fixture = Fixture::signed_in(TIMEOUT).await;
    fixture.keyport = fixture.keyport.with_refresh_policy(quick_backoff());
    fixture.fake.then(reply);
    let err = match fixture.keyport.refresh("acct").await {
        Err(Error::Renew(err)) => err,
        other => panic!("expected a renewal error, got {other:?}"),
    };
    assert!(matches!(err, RenewError::Transient { .. }), "{err}");
    assert!(err.to_string().contains(expect_in_reason), "{err}");
    assert!(err.to_string().contains("current tokens are kept"), "{err}");
    assert_eq!(fixture.tokens(), ("access-0".to_owned(), Some("refresh-0".to_owned())));
    let account = fixture.keyport.account("acct").unwrap();
    assert_ne!(account.status(fixture.keyport.now()), Status::NeedsSignIn);
    // Right away, the account backs off: no second request, and it says for how long.
    let backing_off = fixture.keyport.refresh("acct").await.unwrap_err();
    assert!(matches!(&backing_off, Error::Renew(RenewError::BackingOff { .. })), "{backing_off}");
    assert_eq!(fixture.refresh_requests().len(), 1);
    // After the backoff (or the provider's Retry-After), the next attempt works with the
    // very same refresh token.
    let wait = err.retry_after().unwrap_or_default().max(Duration::from_millis(300));
    tokio::time::sleep(wait + Duration::from_millis(50)).await;
    fixture.fake.then(Reply::tokens("access-1", None));
    fixture.keyport.refresh("acct").await.unwrap();
    assert!(fixture.refresh_requests().iter().all(|s| s.body.contains("refresh_token=refresh-0")));
    assert_eq!(fixture.refresh_requests().len(), 2);
    err
}

#[tokio::test]
async fn server_error_is_transient_and_keeps_the_tokens() {
    assert_transient_keeps_tokens(Reply::json(500, r#"{"error":"server_error"}"#), "server_error").await;
}

#[tokio::test]
async fn html_error_page_is_transient() {
    assert_transient_keeps_tokens(Reply::json(502, "<html>Bad gateway</html>"), "HTTP 502").await;
}

#[tokio::test]
async fn too_many_requests_reports_retry_after() {
    let err = assert_transient_keeps_tokens(
        Reply::json(429, r#"{"error":"slow_down"}"#).header("Retry-After", "1"),
        "slow_down",
    )
    .await;
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
}

#[tokio::test]
async fn a_slow_provider_times_out_and_keeps_the_tokens() {
    assert_transient_keeps_tokens(Reply::tokens("late", Some("late-refresh")).after(Duration::from_secs(4)), "in time")
        .await;
}

#[tokio::test]
async fn garbage_json_is_transient() {
    assert_transient_keeps_tokens(Reply::json(200, "{not json"), "unusable response").await;
}

#[tokio::test]
async fn missing_expires_in_means_unknown_expiry() {
    let fixture = Fixture::signed_in(TIMEOUT).await;
    fixture.fake.then(Reply::json(200, r#"{"access_token":"access-1","token_type":"Bearer"}"#));
    let account = fixture.keyport.refresh("acct").await.unwrap();
    assert_eq!(account.expires_at, None);
    assert_eq!(account.status(fixture.keyport.now()), Status::Valid);
    assert_eq!(
        fixture.tokens(),
        ("access-1".to_owned(), Some("refresh-0".to_owned())),
        "no new refresh token: keep the old"
    );
}

#[tokio::test]
async fn invalid_grant_marks_the_account_needs_sign_in_and_says_so() {
    let fixture = Fixture::signed_in(TIMEOUT).await;
    let mut events = fixture.keyport.subscribe();
    fixture.fake.then(Reply::json(400, r#"{"error":"invalid_grant","error_description":"token revoked"}"#));
    let err = fixture.keyport.refresh("acct").await.unwrap_err();
    assert!(matches!(&err, Error::Renew(RenewError::NeedsSignIn { .. })), "{err}");
    assert!(err.to_string().contains("keyport reauth acct"), "{err}");
    let account = fixture.keyport.account("acct").unwrap();
    assert_eq!(account.status(fixture.keyport.now()), Status::NeedsSignIn);
    assert_eq!(
        account.view(fixture.keyport.now()).needs_sign_in_reason.as_deref(),
        Some("invalid_grant (token revoked)")
    );
    assert_eq!(
        events.recv().await.unwrap(),
        AccountEvent::NeedsSignIn { account: "acct".into(), reason: "invalid_grant (token revoked)".into() }
    );
    // The metadata and tokens stay; asking for a token says why there is none.
    assert!(matches!(fixture.keyport.access_token("acct"), Err(Error::NeedsSignIn { .. })));
    // No further requests while it needs a sign-in.
    assert!(fixture.keyport.refresh("acct").await.is_err());
    assert_eq!(fixture.refresh_requests().len(), 1);
}

#[tokio::test]
async fn invalid_client_is_permanent_too() {
    let fixture = Fixture::signed_in(TIMEOUT).await;
    fixture.fake.then(Reply::json(401, r#"{"error":"invalid_client"}"#));
    assert!(matches!(fixture.keyport.refresh("acct").await, Err(Error::Renew(RenewError::NeedsSignIn { .. }))));
}

#[tokio::test]
async fn rotated_refresh_token_replaces_the_old_one() {
    let fixture = Fixture::signed_in(TIMEOUT).await;
    fixture.fake.then(Reply::tokens("access-1", Some("refresh-1")));
    fixture.fake.then(Reply::tokens("access-2", Some("refresh-2")));
    fixture.keyport.refresh("acct").await.unwrap();
    assert_eq!(fixture.tokens(), ("access-1".to_owned(), Some("refresh-1".to_owned())));
    fixture.keyport.refresh("acct").await.unwrap();
    let bodies: Vec<String> = fixture.refresh_requests().into_iter().map(|s| s.body).collect();
    assert!(
        bodies[0].contains("refresh_token=refresh-0") && bodies[1].contains("refresh_token=refresh-1"),
        "{bodies:?}"
    );
    assert_eq!(fixture.tokens(), ("access-2".to_owned(), Some("refresh-2".to_owned())));
}

#[tokio::test]
async fn a_hundred_concurrent_refreshes_make_one_request() {
    let fixture = Fixture::signed_in(TIMEOUT).await;
    // Slow enough that every caller arrives while the first request is in flight.
    fixture.fake.then(Reply::tokens("access-1", Some("refresh-1")).after(Duration::from_millis(300)));
    let keyport = fixture.keyport.clone();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let keyport = keyport.clone();
            tokio::spawn(async move { keyport.refresh("acct").await.map(|a| a.expires_at) })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap().unwrap());
    }
    assert_eq!(fixture.refresh_requests().len(), 1, "exactly one token request");
    assert!(results.iter().all(|r| *r == results[0]), "every caller got the same result");
    assert_eq!(fixture.tokens().0, "access-1");
}

#[tokio::test]
async fn concurrent_callers_share_a_failure_too() {
    let fixture = Fixture::signed_in(TIMEOUT).await;
    fixture.fake.then(Reply::json(503, r#"{"error":"temporarily_unavailable"}"#).after(Duration::from_millis(300)));
    let (a, b) = tokio::join!(fixture.keyport.refresh("acct"), fixture.keyport.refresh("acct"));
    assert!(a.is_err() && b.is_err());
    assert_eq!(fixture.refresh_requests().len(), 1);
}

#[tokio::test]
async fn min_valid_renews_only_when_needed() {
    let fixture = Fixture::signed_in(TIMEOUT).await;
    // One hour left: a 60-second minimum needs no request...
    let (_, token) = fixture.keyport.fresh_access_token("acct", Duration::from_secs(60)).await.unwrap();
    assert_eq!(token.expose(), "access-0");
    // ... nor does two hours of an hour-long token: the minimum is capped at half its life.
    let (_, token) = fixture.keyport.fresh_access_token("acct", Duration::from_secs(7200)).await.unwrap();
    assert_eq!(token.expose(), "access-0");
    assert!(fixture.refresh_requests().is_empty());
    // A 2-second token: renewed once less than half of it is left.
    fixture.fake.then(Reply::json(200, r#"{"access_token":"access-1","token_type":"Bearer","expires_in":2}"#));
    fixture.keyport.refresh("acct").await.unwrap();
    let (_, token) = fixture.keyport.fresh_access_token("acct", Duration::from_secs(60)).await.unwrap();
    assert_eq!(token.expose(), "access-1", "fresh: more than half of its life left");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    fixture.fake.then(Reply::tokens("access-2", None));
    let (_, token) = fixture.keyport.fresh_access_token("acct", Duration::from_secs(60)).await.unwrap();
    assert_eq!(token.expose(), "access-2");
    assert_eq!(fixture.refresh_requests().len(), 2);
}

#[tokio::test]
async fn background_refresher_backs_off_exponentially_and_honours_retry_after() {
    let fixture = Fixture::signed_in(TIMEOUT).await;
    // Every renewal fails; the first failure asks for 1 s.
    fixture.fake.then(Reply::json(429, r#"{"error":"slow_down"}"#).header("Retry-After", "1"));
    fixture.fake.otherwise(Reply::json(500, r#"{"error":"server_error"}"#));
    let policy = RefreshPolicy {
        // Renew at once: the whole lifetime is margin.
        margin_share: 1.0,
        margin_floor: Duration::from_secs(3600),
        max_jitter: Duration::ZERO,
        backoff_base: Duration::from_millis(100),
        backoff_cap: Duration::from_millis(800),
        max_sleep: Duration::from_millis(50),
    };
    let keyport = fixture.keyport.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        keyport
            .run_refresher(policy, async {
                let _ = stopped.await;
            })
            .await
    });
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let _ = stop.send(());
    task.await.unwrap();
    let times: Vec<_> = fixture.refresh_requests().into_iter().map(|s| s.at).collect();
    assert!(times.len() >= 5, "{} attempts", times.len());
    let gaps: Vec<f64> = times.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect();
    // Retry-After: 1 s beats the 100 ms first backoff; then 200, 400, 800, 800 ms (capped).
    // Lower bounds are exact (a delay is never shorter); upper bounds leave room for a busy CI
    // machine while still telling "backed off" from "waited the cap" and "kept doubling".
    assert!(gaps[0] >= 0.95, "{gaps:?}");
    assert!(gaps[1] >= 0.18 && gaps[1] < 0.9, "{gaps:?}");
    assert!(gaps[2] >= 0.38, "{gaps:?}");
    assert!(gaps[3] >= 0.75, "{gaps:?}");
    assert!(gaps[1..].iter().all(|g| *g < 2.0), "capped at 800 ms: {gaps:?}");
    // The tokens survived every failure.
    assert_eq!(fixture.tokens(), ("access-0".to_owned(), Some("refresh-0".to_owned())));
}

#[tokio::test]
async fn background_refresher_renews_before_expiry() {
    let fixture = Fixture::signed_in(TIMEOUT).await;
    fixture.fake.otherwise(Reply::json(200, r#"{"access_token":"access-n","token_type":"Bearer","expires_in":3600}"#));
    let policy =
        RefreshPolicy { margin_share: 1.0, margin_floor: Duration::from_secs(3600), ..RefreshPolicy::default() };
    let mut events = fixture.keyport.subscribe();
    let keyport = fixture.keyport.clone();
    let task = tokio::spawn(async move { keyport.run_refresher(policy, std::future::pending()).await });
    let event = tokio::time::timeout(Duration::from_secs(5), events.recv()).await.unwrap().unwrap();
    assert!(matches!(event, AccountEvent::Refreshed { ref account, .. } if account == "acct"), "{event:?}");
    task.abort();
    assert_eq!(fixture.tokens().0, "access-n");
}

// ---- Keyport issue 10: renewal never loses a grant and never stalls ---------------------------

/// A token response with `access`, a rotated `refresh` and a lifetime of `secs`.
fn rotated(access: &str, refresh: &str, secs: u64) -> Reply {
    Reply::json(
        200,
        &format!(
            r#"{{"access_token":"{access}","token_type":"Bearer","expires_in":{secs},"refresh_token":"{refresh}"}}"#
        ),
    )
}

/// The refresh token each refresh request carried, in order.
fn refresh_tokens_sent(fixture: &Fixture) -> Vec<String> {
    fixture
        .refresh_requests()
        .iter()
        .map(|seen| {
            let pairs: Vec<(String, String)> = url::form_urlencoded::parse(seen.body.as_bytes()).into_owned().collect();
            pairs.into_iter().find(|(k, _)| k == "refresh_token").map(|(_, v)| v).unwrap_or_default()
        })
        .collect()
}

#[tokio::test]
async fn a_rotated_refresh_token_the_keyring_refuses_is_kept_and_used_for_the_next_renewal() {
    // Issue 10, finding 1: the keyring locked while the provider's new refresh token was being
    // stored; the token was dropped, and the next renewal sent the retired one.
    let fixture = Fixture::signed_in(TIMEOUT).await;
    fixture.fake.then(rotated("access-1", "refresh-1", 3600));
    fixture.secrets.fail_next_writes(1);
    let err = fixture.keyport.refresh("acct").await.unwrap_err();
    assert!(err.to_string().contains("keyring is locked"), "{err}");
    assert_eq!(fixture.tokens(), ("access-0".to_owned(), Some("refresh-0".to_owned())), "nothing stored yet");
    // The keyring works again; the next renewals never send the retired `refresh-0`.
    fixture.fake.then(rotated("access-2", "refresh-2", 3600));
    fixture.fake.then(rotated("access-3", "refresh-3", 3600));
    fixture.keyport.refresh("acct").await.unwrap();
    fixture.keyport.refresh("acct").await.unwrap();
    // The first of them saved `refresh-1` (no request: it was the renewal); the second used it.
    let sent = refresh_tokens_sent(&fixture);
    assert_eq!(sent[0], "refresh-0");
    assert!(sent[1..].iter().all(|token| token != "refresh-0"), "the retired token was sent again: {sent:?}");
    assert_eq!(sent, ["refresh-0", "refresh-1"]);
    assert_eq!(fixture.tokens(), ("access-2".to_owned(), Some("refresh-2".to_owned())));
}

#[tokio::test]
async fn a_keyring_failing_between_the_refresh_and_the_access_token_loses_nothing() {
    let fixture = Fixture::signed_in(TIMEOUT).await;
    fixture.fake.then(rotated("access-1", "refresh-1", 3600));
    // The refresh token goes in; the access token is refused (the keyring locked in between).
    fixture.store.fail_writes("/access_token", 1);
    let err = fixture.keyport.refresh("acct").await.unwrap_err();
    assert!(matches!(&err, Error::Renew(RenewError::KeyringUnavailable { unsaved: true, .. })), "{err}");
    assert!(fixture.keyport.has_unsaved_tokens("acct"));
    assert_eq!(fixture.tokens(), ("access-0".to_owned(), Some("refresh-1".to_owned())));
    // The next renewal saves what was waiting instead of asking again.
    let account = fixture.keyport.refresh("acct").await.unwrap();
    assert_eq!(fixture.tokens(), ("access-1".to_owned(), Some("refresh-1".to_owned())));
    assert_eq!(fixture.refresh_requests().len(), 1, "no second request");
    assert!(!fixture.keyport.has_unsaved_tokens("acct"));
    assert!(account.expires_at.is_some());
}

#[tokio::test]
async fn unsaved_tokens_are_saved_by_the_refresher_when_the_keyring_accepts_them_again() {
    let fixture = Fixture::signed_in(TIMEOUT).await;
    fixture.fake.then(rotated("access-1", "refresh-1", 3600));
    fixture.store.fail_writes("/refresh_token", 3);
    assert!(fixture.keyport.refresh("acct").await.is_err());
    let mut events = fixture.keyport.subscribe();
    let keyport = fixture.keyport.clone();
    // A policy under which nothing is due for renewal: only the saving is left to do.
    let refresher =
        tokio::spawn(async move { keyport.run_refresher(RefreshPolicy::default(), std::future::pending()).await });
    let saved = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(AccountEvent::Refreshed { account, .. }) = events.recv().await {
                break account;
            }
        }
    })
    .await
    .expect("the refresher saved the tokens once the keyring took them");
    refresher.abort();
    assert_eq!(saved, "acct");
    assert_eq!(fixture.tokens(), ("access-1".to_owned(), Some("refresh-1".to_owned())));
    assert_eq!(fixture.refresh_requests().len(), 1, "saving sends nothing");
}

#[tokio::test]
async fn retry_after_holds_back_every_renewal_of_the_account() {
    // Issue 10, finding 5: ten `token.get`s sent ten requests although the provider had
    // answered 429 with `Retry-After: 120`.
    let fixture = Fixture::signed_in(TIMEOUT).await;
    fixture.fake.then(Reply::json(429, r#"{"error":"slow_down"}"#).header("Retry-After", "120"));
    fixture.fake.otherwise(Reply::tokens("access-n", Some("refresh-n")));
    let mut errors = Vec::new();
    for _ in 0..10 {
        errors.push(fixture.keyport.refresh("acct").await.unwrap_err());
    }
    assert_eq!(fixture.refresh_requests().len(), 1, "one request, then the provider's wait is honoured");
    for err in &errors[1..] {
        let Error::Renew(err) = err else { panic!("{err}") };
        let left = err.retry_after().unwrap_or_default();
        assert!(left > Duration::from_secs(100) && left <= Duration::from_secs(120), "{err}: {left:?}");
    }
    assert_eq!(fixture.tokens(), ("access-0".to_owned(), Some("refresh-0".to_owned())));
}

#[tokio::test]
async fn the_background_refresher_honours_a_retry_after_met_on_demand() {
    // One backoff state per account: an on-demand renewal's 429 holds back the refresher too.
    let fixture = Fixture::signed_in(TIMEOUT).await;
    // (Longer than the default backoff of 5 s, so the wait is the provider's.)
    fixture.fake.then(Reply::json(429, r#"{"error":"slow_down"}"#).header("Retry-After", "6"));
    fixture.fake.otherwise(Reply::tokens("access-n", None));
    assert!(fixture.keyport.refresh("acct").await.is_err());
    // Everything is due at once under this policy; only the backoff holds the refresher back.
    let policy =
        RefreshPolicy { margin_share: 1.0, margin_floor: Duration::from_secs(3600), ..RefreshPolicy::default() };
    let keyport = fixture.keyport.clone();
    let refresher = tokio::spawn(async move { keyport.run_refresher(policy, std::future::pending()).await });
    tokio::time::sleep(Duration::from_millis(4500)).await;
    assert_eq!(fixture.refresh_requests().len(), 1, "still within the provider's Retry-After");
    tokio::time::sleep(Duration::from_millis(3000)).await;
    refresher.abort();
    assert!(fixture.refresh_requests().len() >= 2, "renewed once the wait was over");
    let gap = fixture.refresh_requests()[1].at - fixture.refresh_requests()[0].at;
    assert!(gap >= Duration::from_millis(5950), "{gap:?}");
}

#[tokio::test]
async fn short_lived_tokens_are_not_renewed_on_every_read() {
    // Issue 10, finding 4: 20-second tokens and the default `min_valid` of 60 s renewed on
    // every read.
    let fixture = Fixture::signed_in(TIMEOUT).await;
    fixture.fake.otherwise(rotated("access-n", "refresh-n", 20));
    fixture.keyport.refresh("acct").await.unwrap();
    let mut tokens = std::collections::HashSet::new();
    for _ in 0..50 {
        let (_, token) = fixture.keyport.fresh_access_token("acct", Duration::from_secs(60)).await.unwrap();
        tokens.insert(token.expose().to_owned());
    }
    assert_eq!(fixture.refresh_requests().len(), 1, "the reads renewed nothing");
    assert_eq!(tokens.len(), 1);
}

#[tokio::test]
async fn a_renewal_lock_held_by_another_process_ends_in_a_clear_error() {
    // Issue 10, finding 3: with the account's renewal lock held elsewhere, a renewal hung.
    let fixture = Fixture::signed_in(TIMEOUT).await;
    fixture.fake.otherwise(Reply::tokens("access-n", None));
    let held = fixture.hold_renewal_lock("acct");
    let outcome = tokio::time::timeout(Duration::from_secs(30), fixture.keyport.refresh("acct")).await;
    let err = outcome.expect("the wait for the lock has a deadline").unwrap_err();
    let shown = err.to_string();
    assert!(shown.contains("locks/acct.lock") && shown.contains("another process"), "{shown}");
    assert!(fixture.refresh_requests().is_empty());
    held.unlock().unwrap();
    fixture.keyport.refresh("acct").await.unwrap();
}

#[tokio::test]
async fn the_background_refresher_renews_other_accounts_while_one_waits_for_its_lock() {
    // Issue 10, finding 3: one account's lock held elsewhere stopped every other renewal.
    let fixture = Fixture::signed_in(TIMEOUT).await;
    fixture.fake.then(Reply::tokens("other-0", Some("other-refresh-0")));
    fixture.sign_in("other").await.unwrap();
    fixture.fake.otherwise(Reply::json(200, r#"{"access_token":"access-n","token_type":"Bearer","expires_in":2}"#));
    let held = fixture.hold_renewal_lock("acct");
    let mut events = fixture.keyport.subscribe();
    let policy =
        RefreshPolicy { margin_share: 1.0, margin_floor: Duration::from_secs(3600), ..RefreshPolicy::default() };
    let keyport = fixture.keyport.clone();
    let refresher = tokio::spawn(async move { keyport.run_refresher(policy, std::future::pending()).await });
    // `other`'s 2-second tokens are due again and again; `acct` waits for its lock meanwhile.
    let renewed = tokio::time::timeout(Duration::from_secs(8), async {
        let mut renewed = 0;
        while renewed < 3 {
            if let Ok(AccountEvent::Refreshed { account, .. }) = events.recv().await
                && account == "other"
            {
                renewed += 1;
            }
        }
        renewed
    })
    .await;
    refresher.abort();
    drop(held);
    assert_eq!(renewed, Ok(3), "`other` kept renewing while `acct` waited");
}

#[tokio::test]
async fn reauth_works_for_an_account_without_a_subject() {
    // Issue 10, finding 7: an account whose provider never said who it is (no userinfo, no ID
    // token) could never sign in again: every reauth ended in `account_exists`.
    let fixture = Fixture::signed_in(TIMEOUT).await;
    assert_eq!(fixture.keyport.account("acct").unwrap().identity.sub, None);
    fixture.fake.then(Reply::tokens("access-again", Some("refresh-again")));
    let pending = fixture.keyport.begin_reauth("acct", &[], Duration::from_secs(30), false).unwrap();
    support::deliver_redirect(&pending);
    let account = fixture.keyport.finish_sign_in(pending).await.unwrap();
    assert_eq!(account.name, "acct");
    assert_eq!(fixture.tokens(), ("access-again".to_owned(), Some("refresh-again".to_owned())));
    // A plain sign-in under that name still may not take it over.
    fixture.fake.then(Reply::tokens("intruder", Some("intruder-refresh")));
    let err = fixture.sign_in("acct").await.unwrap_err();
    assert!(matches!(err, Error::AccountExists { .. }), "{err}");
    assert_eq!(fixture.tokens().0, "access-again");
}

/// Runs `work` on a thread of its own with a runtime of its own, as another process would:
/// a keyring call blocking there (before the fix, on the async worker) stops nothing else.
fn elsewhere<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> std::thread::JoinHandle<T> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(work)
    })
}

/// Waits up to 2 s for `thread` to finish (it may be waiting for a lock, as it should).
async fn give_a_chance<T>(thread: &std::thread::JoinHandle<T>) {
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while !thread.is_finished() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Joins `thread` without blocking the test's runtime.
async fn join<T: Send + 'static>(thread: std::thread::JoinHandle<T>) -> T {
    tokio::task::spawn_blocking(move || thread.join().unwrap()).await.unwrap()
}

type Outcome = Result<keyport_core::account::Account, Error>;

async fn service_account_x(keyport: keyport_core::Keyport) -> Outcome {
    let request = keyport_core::ServiceAccountRequest {
        name: "x".into(),
        scopes: vec![],
        client_id: None,
        client_secret: keyport_core::secret::Secret::new("service-secret"),
    };
    keyport.add_service_account("fake", request).await
}

fn sign_in_x(keyport: keyport_core::Keyport) -> impl std::future::Future<Output = Outcome> {
    let request = keyport_core::signin::SignInRequest {
        account_name: Some("x".into()),
        open_browser: false,
        ..Default::default()
    };
    let pending = keyport.begin_sign_in("fake", request).unwrap();
    support::deliver_redirect(&pending);
    async move { keyport.finish_sign_in(pending).await }
}

/// Whoever got the name `x`, its record and its tokens belong together, and the other one
/// was told the name is taken.
fn assert_one_owner(fixture: &Fixture, service: Outcome, user: Outcome) {
    assert!(
        service.is_ok() != user.is_ok(),
        "exactly one gets the name (service account {service:?}, sign-in {user:?})"
    );
    let loser = if service.is_ok() { &user } else { &service };
    assert!(matches!(loser, Err(Error::AccountExists { .. })), "{loser:?}");
    let account = fixture.keyport.account("x").unwrap();
    let (access, refresh) = fixture.tokens_of("x");
    match account.kind {
        keyport_core::account::AccountKind::Service => {
            assert!(service.is_ok());
            assert_eq!(access, "service-token", "the service account's record, another's token");
        }
        keyport_core::account::AccountKind::User => {
            assert!(user.is_ok());
            assert_eq!((access.as_str(), refresh.as_deref()), ("user-token", Some("user-refresh")));
        }
    }
}

#[tokio::test]
async fn a_name_is_checked_under_the_lock_when_a_service_account_is_added() {
    // Issue 10, finding 8: names were checked before the keyring writes, outside any lock.
    // Here a sign-in for `x` finishes while another process writes a service account `x`.
    let fixture = Fixture::signed_in(TIMEOUT).await;
    fixture.fake.then(Reply::tokens("service-token", None));
    fixture.fake.then(Reply::tokens("user-token", Some("user-refresh")));
    fixture.store.block("/account/x/client_secret");
    let service = elsewhere(service_account_x(fixture.other_process()));
    let store = fixture.store.clone();
    tokio::task::spawn_blocking(move || store.wait_until_blocked()).await.unwrap();
    let user = elsewhere(sign_in_x(fixture.other_process()));
    give_a_chance(&user).await;
    fixture.store.release();
    let (service, user) = (join(service).await, join(user).await);
    assert_one_owner(&fixture, service, user);
}

#[tokio::test]
async fn a_name_is_checked_under_the_lock_when_a_sign_in_finishes() {
    // The other order: another process adds a service account `x` while a sign-in for `x`
    // is writing its tokens.
    let fixture = Fixture::signed_in(TIMEOUT).await;
    fixture.fake.then(Reply::tokens("user-token", Some("user-refresh")));
    fixture.fake.then(Reply::tokens("service-token", None));
    fixture.store.block("/account/x/refresh_token");
    let user = elsewhere(sign_in_x(fixture.other_process()));
    let store = fixture.store.clone();
    tokio::task::spawn_blocking(move || store.wait_until_blocked()).await.unwrap();
    let service = elsewhere(service_account_x(fixture.other_process()));
    give_a_chance(&service).await;
    fixture.store.release();
    let (service, user) = (join(service).await, join(user).await);
    assert_one_owner(&fixture, service, user);
}

// ---- Keyport issue 11: refresh-token health ---------------------------------------------------

/// A refresh token with a fixed end (the provider says `refresh_expires_in` and renewing does
/// not move it): the refresher renews once ahead of the end, sees that the end did not move,
/// does not renew again for its sake (no loop of renewals), and warns that the refresh token
/// expires within a day. The account with no known end is left alone.
#[tokio::test]
async fn a_fixed_refresh_token_end_is_renewed_for_once_then_the_user_is_warned() {
    let fixture = Fixture::signed_in(TIMEOUT).await;
    fixture.fake.then(Reply::json(
        200,
        r#"{"access_token":"fixed-0","token_type":"Bearer","expires_in":3600,"refresh_token":"fixed-r","refresh_expires_in":4}"#,
    ));
    let account = fixture.sign_in("fixed").await.unwrap();
    let (end, why) = account.refresh_deadline().expect("the provider said when the refresh token ends");
    assert_eq!(why, keyport_core::account::RefreshExpiry::Provider);
    let view = account.view(fixture.keyport.now());
    assert_eq!(view.refresh_token_expires_at, Some(end));
    assert!(view.refresh_token_expires_in_secs.is_some_and(|secs| secs <= 4), "{view:?}");
    fixture.fake.otherwise(Reply::json(
        200,
        r#"{"access_token":"fixed-1","token_type":"Bearer","expires_in":3600,"refresh_expires_in":2}"#,
    ));

    let mut events = fixture.keyport.subscribe();
    let keyport = fixture.keyport.clone();
    let task =
        tokio::spawn(async move { keyport.run_refresher(RefreshPolicy::default(), std::future::pending()).await });
    let mut seen = Vec::new();
    let warned = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let event = events.recv().await.unwrap();
            seen.push(event.clone());
            if let AccountEvent::RefreshTokenExpiring { account, expires_at } = event {
                break (account, expires_at);
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no warning; events: {seen:?}"));
    assert_eq!(warned.0, "fixed");
    assert!((warned.1 - end).abs() <= time::Duration::seconds(2), "{warned:?} vs {end}");
    assert!(
        seen.iter().any(|e| matches!(e, AccountEvent::Refreshed { account, .. } if account == "fixed")),
        "renewed once ahead of the end first: {seen:?}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    task.abort();
    assert_eq!(fixture.refresh_requests().len(), 1, "one renewal for the refresh token's sake, not a loop");
    assert_eq!(fixture.tokens_of("fixed"), ("fixed-1".to_owned(), Some("fixed-r".to_owned())));
}
