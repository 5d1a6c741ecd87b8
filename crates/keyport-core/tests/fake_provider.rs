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

async fn assert_transient_keeps_tokens(reply: Reply, expect_in_reason: &str) -> RenewError {
    let fixture = Fixture::signed_in(TIMEOUT).await;
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
    // And the next attempt works with the very same refresh token.
    fixture.fake.then(Reply::tokens("access-1", None));
    fixture.keyport.refresh("acct").await.unwrap();
    assert!(fixture.refresh_requests().iter().all(|s| s.body.contains("refresh_token=refresh-0")));
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
        Reply::json(429, r#"{"error":"slow_down"}"#).header("Retry-After", "7"),
        "slow_down",
    )
    .await;
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
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
    fixture.fake.then(Reply::tokens("access-1", None));
    // One hour left: a 60-second minimum needs no request.
    let (_, token) = fixture.keyport.fresh_access_token("acct", Duration::from_secs(60)).await.unwrap();
    assert_eq!(token.expose(), "access-0");
    assert!(fixture.refresh_requests().is_empty());
    // Two hours wanted: renew first.
    let (_, token) = fixture.keyport.fresh_access_token("acct", Duration::from_secs(7200)).await.unwrap();
    assert_eq!(token.expose(), "access-1");
    assert_eq!(fixture.refresh_requests().len(), 1);
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
