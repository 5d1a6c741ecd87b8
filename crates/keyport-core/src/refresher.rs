//! The background refresher: renews every account's access token before it expires, each
//! account on its own (one that waits on a lock or a slow provider delays no other), and saves
//! tokens the keyring refused (see `refresh.rs`) on a schedule.
//!
//! Each wake-up reads the clock once and compares it with every account's absolute
//! `expires_at`, so a laptop that slept through a renewal time renews right after resume (the
//! longest sleep is [`RefreshPolicy::max_sleep`], because monotonic timers stop during
//! suspend). Renewal time is `expires_at - margin - jitter`: the margin is a share of the
//! token's lifetime with a floor, the jitter (stable per token) spreads accounts that were
//! signed in together. Transient failures back off exponentially up to a cap, never sooner
//! than the provider's `Retry-After` (capped at `refresh::MAX_RETRY_AFTER`), in the backoff
//! state the account shares with on-demand renewals; permanent ones mark the account
//! `needs_sign_in` and it is left alone until the user signs in again. Service accounts are not renewed in the
//! background: their tokens are minted on demand.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use time::OffsetDateTime;

use crate::Keyport;
use crate::account::{Account, AccountKind, Health};
use crate::events::AccountEvent;
use crate::keyport::blocking;
use crate::refresh::RenewError;

/// The shortest time between two background renewals of one account.
const MIN_RENEWAL_GAP: time::Duration = time::Duration::SECOND;

/// How far a refresh token's end must move for a renewal to have extended it (at most; less
/// for ends only seconds away, half the margin the renewal was made with).
const UNMOVED_SLACK: time::Duration = time::Duration::seconds(2);

/// How long before a refresh token's known end the user is told, when renewing could not
/// move that end ([`AccountEvent::RefreshTokenExpiring`]).
pub const REFRESH_TOKEN_WARNING: time::Duration = time::Duration::DAY;

/// When to renew and how to back off.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshPolicy {
    /// Renew when this share of the token's lifetime is left (0.2: a one-hour token at 48 min).
    pub margin_share: f64,
    /// ... but never with less than this left (capped at half the lifetime for short tokens).
    pub margin_floor: Duration,
    /// Largest random head start added to the margin.
    pub max_jitter: Duration,
    /// First delay after a transient failure; doubles each time.
    pub backoff_base: Duration,
    /// Longest delay between attempts.
    pub backoff_cap: Duration,
    /// Longest sleep between wake-ups, so renewals are at most this late after a suspend.
    pub max_sleep: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            margin_share: 0.2,
            margin_floor: Duration::from_secs(60),
            max_jitter: Duration::from_secs(30),
            backoff_base: Duration::from_secs(5),
            backoff_cap: Duration::from_secs(300),
            max_sleep: Duration::from_secs(60),
        }
    }
}

impl RefreshPolicy {
    /// When `account` should be renewed, or `None` when the background refresher leaves it
    /// alone: before its access token expires, or before its refresh token's known end
    /// ([`Self::refresh_renew_at`]), whichever comes first.
    pub fn renew_at(&self, account: &Account) -> Option<OffsetDateTime> {
        match (self.access_renew_at(account), self.refresh_renew_at(account)) {
            (Some(access), Some(refresh)) => Some(access.min(refresh)),
            (access, refresh) => access.or(refresh),
        }
    }

    /// When to renew ahead of the refresh token's known end (what the provider said, or its
    /// inactivity limit), so that the renewal uses it, and gets a new one or a later end, in
    /// time: a tenth of its life since the last renewal before that end, at least a minute
    /// (at most half). `None` when no end is known, or when the last renewal already came
    /// inside that window: renewing did not move the end (a fixed expiry), and renewing
    /// again would not either; [`Keyport::run_refresher`] warns the user instead.
    pub fn refresh_renew_at(&self, account: &Account) -> Option<OffsetDateTime> {
        if account.kind == AccountKind::Service || account.health != Health::Ok {
            return None;
        }
        let (deadline, _) = account.refresh_deadline()?;
        let life = (deadline - account.token_issued_at).max(time::Duration::ZERO);
        let margin: time::Duration = (life / 10_i32).max(time::Duration::MINUTE).min(life / 2_i32);
        let due = deadline - margin;
        Some(due.max(account.token_issued_at + MIN_RENEWAL_GAP))
            .filter(|at| due > account.token_issued_at && *at < deadline)
    }

    fn access_renew_at(&self, account: &Account) -> Option<OffsetDateTime> {
        if account.kind == AccountKind::Service || !account.has_refresh_token || account.health != Health::Ok {
            return None;
        }
        let expires_at = account.expires_at?;
        let lifetime = (expires_at - account.token_issued_at).max(time::Duration::ZERO);
        let share = lifetime * self.margin_share;
        let floor = time::Duration::try_from(self.margin_floor).unwrap_or(time::Duration::MAX).min(lifetime / 2);
        let margin = share.max(floor);
        let jitter_cap = time::Duration::try_from(self.max_jitter).unwrap_or(time::Duration::ZERO).min(lifetime / 20);
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (&account.name, account.token_issued_at.unix_timestamp_nanos()).hash(&mut hasher);
        let fraction = (hasher.finish() % 1000) as f64 / 1000.0;
        // A provider that issues tokens living a second or nothing must not get a request in a
        // tight loop.
        Some((expires_at - margin - jitter_cap * fraction).max(account.token_issued_at + MIN_RENEWAL_GAP))
    }

    /// The delay after `failures` consecutive transient failures.
    pub fn backoff(&self, failures: u32, retry_after: Option<Duration>) -> Duration {
        let exponential = self.backoff_base.saturating_mul(2u32.saturating_pow(failures.saturating_sub(1)));
        exponential.min(self.backoff_cap).max(retry_after.unwrap_or(Duration::ZERO))
    }
}

impl Keyport {
    /// Runs the background refresher until `shutdown` completes.
    ///
    /// Accounts renew independently: each due renewal is a task of its own, and the loop
    /// goes on scheduling the others while one waits (on a lock another process holds, a slow
    /// provider, a keyring call). Backoff is the account's shared state (`refresh.rs`), so a
    /// person asking for a token in between sends no request before its time either. Tokens
    /// the keyring refused are saved again on their own schedule. On shutdown, renewals under
    /// way finish, and unsaved tokens get one last attempt.
    pub async fn run_refresher(&self, policy: RefreshPolicy, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        *self.renewals.policy.lock().expect("policy lock") = policy.clone();
        let mut events = self.subscribe();
        let mut running: tokio::task::JoinSet<(String, Result<(), RenewError>)> = tokio::task::JoinSet::new();
        let mut busy: HashSet<String> = HashSet::new();
        // Refresh-token ends a renewal was started for and did not move (a fixed expiry):
        // not renewed for again; and the ends the user was warned about.
        let mut unmoved: HashMap<String, (OffsetDateTime, time::Duration)> = HashMap::new();
        let mut warned: HashSet<(String, OffsetDateTime)> = HashSet::new();
        loop {
            let now = self.clock.now();
            let keyport = self.clone();
            let accounts = match blocking(move || keyport.accounts()).await {
                Ok(accounts) => accounts,
                Err(err) => {
                    tracing::error!(%err, "the refresher cannot read the accounts");
                    Vec::new()
                }
            };
            self.renewals.retain_backoff(|name| accounts.iter().any(|a| a.name == name));
            let mut next = now + policy.max_sleep;
            for account in &accounts {
                if busy.contains(&account.name) {
                    continue;
                }
                let deadline = account.refresh_deadline().map(|(at, _)| at);
                // Servers restate a fixed end as seconds from their answer, so an end within
                // a couple of seconds of the old one has not moved.
                let stuck = match (unmoved.get(&account.name), deadline) {
                    (Some((before, slack)), Some(now_end)) => now_end <= *before + *slack,
                    _ => false,
                };
                if !stuck {
                    unmoved.remove(&account.name);
                }
                let by_refresh = if stuck { None } else { policy.refresh_renew_at(account) };
                if let Some(deadline) = deadline
                    && by_refresh.is_none()
                    && account.health == Health::Ok
                    && deadline > now
                    && deadline - now <= REFRESH_TOKEN_WARNING
                    && warned.insert((account.name.clone(), deadline))
                {
                    tracing::warn!(account = %account.name, %deadline, "the refresh token expires within a day; sign in again");
                    self.events.publish(AccountEvent::RefreshTokenExpiring {
                        account: account.name.clone(),
                        expires_at: deadline,
                    });
                }
                let (at, work) = match self.renewals.unsaved_due(&account.name) {
                    Some(at) => (at, Work::Save),
                    None => {
                        let access = policy.access_renew_at(account);
                        let Some(mut at) = (match (access, by_refresh) {
                            (Some(a), Some(r)) => Some(a.min(r)),
                            (a, r) => a.or(r),
                        }) else {
                            continue;
                        };
                        if let (Some(refresh_at), Some(deadline)) = (by_refresh, deadline)
                            && access.is_none_or(|access| refresh_at < access)
                            && refresh_at <= now
                        {
                            // Renewing for the refresh token's sake: if this does not move
                            // its end, it is not tried again.
                            let slack = UNMOVED_SLACK.min((deadline - refresh_at) / 2_i32);
                            unmoved.insert(account.name.clone(), (deadline, slack));
                        }
                        if let Some(backoff) = self.renewals.backoff.lock().expect("backoff lock").get(&account.name) {
                            at = at.max(backoff.not_before);
                        }
                        (at, Work::Renew)
                    }
                };
                if at > now {
                    next = next.min(at);
                    continue;
                }
                busy.insert(account.name.clone());
                let keyport = self.clone();
                let name = account.name.clone();
                running.spawn(async move {
                    let result = match work {
                        Work::Renew => keyport.renew(&name).await.map(|account| {
                            tracing::info!(account = %name, expires_at = ?account.expires_at, "renewed in the background");
                        }),
                        Work::Save => keyport.save_unsaved(&name).await.map(|_| ()),
                    };
                    (name, result)
                });
            }
            let sleep = Duration::try_from(next - now).unwrap_or(Duration::ZERO);
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(sleep) => {}
                // A new or changed account may need an earlier wake-up.
                _ = events.recv() => {}
                Some(joined) = running.join_next(), if !running.is_empty() => {
                    let Ok((name, result)) = joined else { continue };
                    busy.remove(&name);
                    if let Err(err) = result {
                        let retry_at = self.renewals.unsaved_due(&name).or_else(|| {
                            self.renewals.backoff.lock().expect("backoff lock").get(&name).map(|b| b.not_before)
                        });
                        tracing::warn!(account = %name, %err, ?retry_at, "background renewal failed");
                    }
                }
            }
        }
        while running.join_next().await.is_some() {}
        self.save_all_unsaved().await;
    }
}

/// What the refresher does for a due account.
#[derive(Debug, Clone, Copy)]
enum Work {
    /// Renew its token.
    Renew,
    /// Save tokens the keyring refused earlier.
    Save,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::Identity;
    use time::macros::datetime;

    fn account(issued: OffsetDateTime, lifetime_secs: i64) -> Account {
        Account {
            name: "a".into(),
            provider: "p".into(),
            kind: AccountKind::User,
            identity: Identity::default(),
            scopes: vec![],
            requested_scopes: vec![],
            expires_at: Some(issued + time::Duration::seconds(lifetime_secs)),
            token_issued_at: issued,
            token_type: "Bearer".into(),
            has_refresh_token: true,
            health: Health::Ok,
            client_id: None,
            last_refreshed_at: None,
            created_at: issued,
            updated_at: issued,
            refresh_expires_at: None,
            refresh_unused_expires_at: None,
        }
    }

    #[test]
    fn renewal_time_is_a_share_of_the_lifetime_with_a_floor_and_bounded_jitter() {
        let policy = RefreshPolicy::default();
        let issued = datetime!(2026-01-01 12:00 UTC);
        let hour = account(issued, 3600);
        let at = policy.renew_at(&hour).unwrap();
        // 20% of an hour = 12 min margin, plus up to 30 s of jitter.
        assert!(at <= datetime!(2026-01-01 12:48 UTC) && at >= datetime!(2026-01-01 12:47:30 UTC), "{at}");
        // A 2-minute token: the 60 s floor wins over 24 s.
        let short = policy.renew_at(&account(issued, 120)).unwrap();
        assert!(short <= datetime!(2026-01-01 12:01 UTC) && short >= datetime!(2026-01-01 12:00:54 UTC), "{short}");
        // A 10-second token: the floor is capped at half the lifetime.
        let tiny = policy.renew_at(&account(issued, 10)).unwrap();
        assert!(tiny <= datetime!(2026-01-01 12:00:05 UTC) && tiny >= datetime!(2026-01-01 12:00:04 UTC), "{tiny}");
    }

    #[test]
    fn jitter_differs_between_accounts_but_is_stable_per_token() {
        let policy = RefreshPolicy::default();
        let issued = datetime!(2026-01-01 12:00 UTC);
        let times: std::collections::HashSet<_> = (0..20)
            .map(|i| policy.renew_at(&Account { name: format!("acct{i}"), ..account(issued, 3600) }).unwrap())
            .collect();
        assert!(times.len() > 10, "accounts signed in together are spread out");
        assert_eq!(policy.renew_at(&account(issued, 3600)), policy.renew_at(&account(issued, 3600)));
    }

    #[test]
    fn accounts_that_cannot_be_renewed_are_left_alone() {
        let policy = RefreshPolicy::default();
        let issued = datetime!(2026-01-01 12:00 UTC);
        assert!(policy.renew_at(&Account { has_refresh_token: false, ..account(issued, 60) }).is_none());
        assert!(policy.renew_at(&Account { kind: AccountKind::Service, ..account(issued, 60) }).is_none());
        assert!(policy.renew_at(&Account { expires_at: None, ..account(issued, 60) }).is_none());
        let dead = Health::NeedsSignIn { reason: "invalid_grant".into(), since: issued };
        assert!(policy.renew_at(&Account { health: dead, ..account(issued, 60) }).is_none());
    }

    /// A refresh token with a known end is renewed ahead of it even when the access token
    /// would not be renewed before (no expiry, or a long one): an unused account never dies
    /// of an inactivity limit.
    #[test]
    fn a_refresh_token_end_brings_the_renewal_forward() {
        let policy = RefreshPolicy::default();
        let issued = datetime!(2026-01-01 12:00 UTC);
        let unused = Account {
            expires_at: None,
            refresh_unused_expires_at: Some(issued + time::Duration::days(90)),
            ..account(issued, 0)
        };
        // A tenth of the 90 days before the end: day 81.
        assert_eq!(policy.renew_at(&unused), Some(issued + time::Duration::days(81)));
        // With a one-hour access token, the access token comes first.
        let hourly = Account { refresh_unused_expires_at: unused.refresh_unused_expires_at, ..account(issued, 3600) };
        assert!(policy.renew_at(&hourly).unwrap() < issued + time::Duration::hours(1));
        // A provider-said end earlier than the inactivity limit wins.
        let said = Account { refresh_expires_at: Some(issued + time::Duration::days(7)), ..unused.clone() };
        assert_eq!(
            said.refresh_deadline(),
            Some((issued + time::Duration::days(7), crate::account::RefreshExpiry::Provider))
        );
        assert_eq!(
            policy.renew_at(&said),
            Some(issued + time::Duration::days(7) - time::Duration::hours(16) - time::Duration::minutes(48))
        );
        // Renewed a second before the end: nothing left to gain.
        let late =
            Account { token_issued_at: issued + time::Duration::days(7) - time::Duration::SECOND, ..said.clone() };
        assert_eq!(policy.refresh_renew_at(&late), None);
        // Without a refresh token there is no such end.
        assert_eq!(Account { has_refresh_token: false, ..said }.refresh_deadline(), None);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_honours_retry_after() {
        let policy = RefreshPolicy::default();
        let secs = |n| policy.backoff(n, None).as_secs();
        assert_eq!([secs(1), secs(2), secs(3), secs(4)], [5, 10, 20, 40]);
        assert_eq!(secs(30), 300);
        assert_eq!(policy.backoff(1, Some(Duration::from_secs(120))).as_secs(), 120);
    }
}
