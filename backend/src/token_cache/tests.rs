//! Cache semantics under paused time: single-flight, refresh-ahead, minimum
//! remaining life, error sharing and backoff.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use futures_util::future::join_all;

use super::*;
use crate::telemetry::Metrics;

/// One scripted upstream answer.
#[derive(Debug, Clone)]
enum Answer {
    Token { lifetime: Duration },
    Fail(ExchangeError),
}

/// A token source that answers from a script after a delay and counts its calls.
#[derive(Debug)]
struct ScriptedSource {
    delay: Duration,
    script: Mutex<VecDeque<Answer>>,
    /// Used when the script runs out.
    fallback: Answer,
    calls: AtomicUsize,
}

impl ScriptedSource {
    fn new(delay: Duration, script: Vec<Answer>, fallback: Answer) -> Arc<Self> {
        Arc::new(Self { delay, script: Mutex::new(script.into()), fallback, calls: AtomicUsize::new(0) })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl TokenSource for ScriptedSource {
    fn fetch<'a>(
        &'a self,
        _scopes: &'a [String],
    ) -> futures_util::future::BoxFuture<'a, Result<IssuedToken, ExchangeError>> {
        Box::pin(async move {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            let answer =
                self.script.lock().ok().and_then(|mut s| s.pop_front()).unwrap_or_else(|| self.fallback.clone());
            tokio::time::sleep(self.delay).await;
            match answer {
                Answer::Token { lifetime } => Ok(IssuedToken {
                    access_token: AccessToken::new(format!("token-{n}")),
                    expires_in: lifetime,
                    refresh_token: None,
                    id_token: None,
                }),
                Answer::Fail(e) => Err(e),
            }
        })
    }
}

const LIFETIME: Duration = Duration::from_secs(120);

fn ok() -> Answer {
    Answer::Token { lifetime: LIFETIME }
}

fn down() -> Answer {
    Answer::Fail(ExchangeError::Unreachable("connection refused".into()))
}

fn cache(source: &Arc<ScriptedSource>) -> TokenCache {
    let source: Arc<dyn TokenSource> = Arc::clone(source) as Arc<dyn TokenSource>;
    TokenCache::new(vec!["viewables:read".into()], source, CachePolicy::default(), Metrics::new().profile("default"))
}

/// Lets spawned tasks run until they block (time is paused, so none advances).
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

/// The defaults give a 120 s token a 60 s refresh window and a 3600 s one 720 s.
#[test]
fn refresh_window_follows_the_issue() {
    let p = CachePolicy::default();
    assert_eq!(p.refresh_window(Duration::from_secs(120)), Duration::from_secs(60));
    assert_eq!(p.refresh_window(Duration::from_secs(3600)), Duration::from_secs(720));
    assert_eq!(p.refresh_window(Duration::from_secs(100)), Duration::from_secs(50), "never more than half");
    assert_eq!(p.refresh_window(Duration::from_secs(60)), Duration::from_secs(33), "starts before min_ttl is reached");
    assert_eq!(p.refresh_window(Duration::from_secs(40)), Duration::from_secs(31), "starts before min_ttl is reached");
}

/// For every lifetime the cache accepts, the refresh starts strictly before the
/// token stops being served, whatever the (valid) settings.
#[test]
fn refresh_starts_before_the_token_stops_being_served() {
    for (min_ttl, percent, window_min) in [(30, 20, 60), (0, 1, 0), (3600, 50, 86_400), (30, 1, 0), (1, 50, 60)] {
        let p = CachePolicy {
            min_ttl: Duration::from_secs(min_ttl),
            refresh_window_percent: percent,
            refresh_window_min: Duration::from_secs(window_min),
            ..CachePolicy::default()
        };
        for lifetime in (min_ttl + 1..min_ttl + 200).chain([7200, 86_400, 366 * 86_400]) {
            let lifetime = Duration::from_secs(lifetime);
            let window = p.refresh_window(lifetime);
            assert!(window > p.min_ttl, "{p:?}, lifetime {lifetime:?}: window {window:?}");
            assert!(window <= lifetime, "{p:?}, lifetime {lifetime:?}: window {window:?}");
        }
    }
}

/// Backoff grows, is capped, and is jittered within [d/2, d].
#[test]
fn retry_delay_is_capped_and_jittered() {
    let p = CachePolicy::default();
    for attempt in 0..12 {
        let d = p.retry_delay(attempt);
        let full = Duration::from_secs(1u64 << attempt.min(5)).min(p.retry_max);
        assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?} vs {full:?}");
    }
}

/// A cold burst costs one upstream request and everyone gets the same token.
#[tokio::test(start_paused = true)]
async fn cold_burst_makes_one_upstream_call() {
    let source = ScriptedSource::new(Duration::from_millis(50), vec![], ok());
    let cache = cache(&source);
    let results = join_all((0..500).map(|_| cache.token())).await;
    assert_eq!(source.calls(), 1);
    assert!(results.iter().all(|r| r.as_ref().map(|t| t.secret() == "token-0").unwrap_or(false)));
}

/// A failure is shared by every waiter and is not cached; requests inside the
/// backoff window fail at once, and the first one after it tries again.
#[tokio::test(start_paused = true)]
async fn errors_are_shared_then_retried() {
    let source = ScriptedSource::new(Duration::from_millis(50), vec![down()], ok());
    let cache = cache(&source);
    let results = join_all((0..50).map(|_| cache.token())).await;
    assert_eq!(source.calls(), 1);
    assert!(results.iter().all(|r| matches!(r, Err(CacheError::Upstream(ExchangeError::Unreachable(_))))));
    assert!(matches!(cache.token().await, Err(CacheError::Upstream(ExchangeError::BackingOff { .. }))));
    assert_eq!(source.calls(), 1, "no call inside the window");
    // The first window is at most `backoff.base` (1 s).
    tokio::time::advance(Duration::from_secs(1)).await;
    let token = cache.token().await.expect("second attempt succeeds");
    assert_eq!(token.secret(), "token-1");
    assert_eq!(source.calls(), 2);
}

/// Cached hits never wait and `expires_in` counts down from the stored expiry.
#[tokio::test(start_paused = true)]
async fn hits_are_immediate_and_expires_in_is_recomputed() {
    let source = ScriptedSource::new(Duration::from_millis(0), vec![], ok());
    let cache = cache(&source);
    let first = cache.token().await.expect("token");
    assert_eq!(first.expires_in(Instant::now()), 120);
    tokio::time::advance(Duration::from_secs(45)).await;
    let before = Instant::now();
    let again = cache.token().await.expect("token");
    assert_eq!(before, Instant::now(), "a hit must not wait");
    assert_eq!(again.secret(), first.secret());
    assert_eq!(again.expires_in(Instant::now()), 75);
    assert_eq!(source.calls(), 1);
}

/// Inside the refresh window one background refresh starts; requests keep getting
/// the current token without waiting, then the new one.
#[tokio::test(start_paused = true)]
async fn refresh_ahead_never_makes_requests_wait() {
    let source = ScriptedSource::new(Duration::from_secs(5), vec![], ok());
    let cache = cache(&source);
    cache.token().await.expect("first token");
    // Enter the refresh window (last 60 s of 120 s).
    tokio::time::advance(Duration::from_secs(61)).await;
    for _ in 0..100 {
        let before = Instant::now();
        let token = cache.token().await.expect("served during refresh");
        assert_eq!(before, Instant::now(), "no request waits on the upstream");
        assert_eq!(token.secret(), "token-0");
    }
    settle().await;
    assert_eq!(source.calls(), 2, "exactly one background refresh");
    tokio::time::advance(Duration::from_secs(5)).await;
    settle().await;
    let fresh = cache.token().await.expect("new token");
    assert_eq!(fresh.secret(), "token-1");
    // Life is counted from when the request was sent, 5 s ago: never overestimated.
    assert_eq!(fresh.expires_in(Instant::now()), 115);
    assert_eq!(source.calls(), 2);
}

/// Refresh failures while the token is good stay in the log: clients keep getting
/// the current token, and the refresh is retried with backoff until it works.
#[tokio::test(start_paused = true)]
async fn refresh_failures_do_not_reach_clients() {
    let source = ScriptedSource::new(Duration::from_millis(10), vec![ok(), down(), down(), down()], ok());
    let cache = cache(&source);
    cache.token().await.expect("first token");
    tokio::time::advance(Duration::from_secs(61)).await;
    let mut last = String::new();
    // Poll every second for 25 s of (paused) time: always a token, never an error.
    for _ in 0..25 {
        let token = cache.token().await.expect("failures must not reach clients");
        assert!(token.expires_in(Instant::now()) > 30, "never less than min_ttl");
        last = token.secret().to_owned();
        tokio::time::advance(Duration::from_secs(1)).await;
        settle().await;
    }
    assert_eq!(last, "token-4", "the refresh eventually succeeded");
    assert_eq!(source.calls(), 5, "three failed attempts, then success: retried, not hammered");
}

/// A token below its minimum remaining life is never served: the request waits for a new one.
#[tokio::test(start_paused = true)]
async fn never_serves_a_token_below_min_ttl() {
    let source =
        ScriptedSource::new(Duration::from_secs(2), vec![ok(), down(), down(), down(), down(), down(), down()], ok());
    let cache = cache(&source);
    cache.token().await.expect("first token");
    // Jump straight past usable_until (120 - 30 s) with no request in between.
    tokio::time::advance(Duration::from_secs(95)).await;
    let result = cache.token().await;
    assert!(
        matches!(result, Err(CacheError::Upstream(ExchangeError::Unreachable(_)))),
        "stale token must not be served: {result:?}"
    );
    tokio::time::advance(Duration::from_secs(30)).await;
    // Upstream keeps failing; a request after expiry gets the error, never the old token.
    assert!(cache.token().await.is_err());
}

/// A token the upstream issues with less life than `min_ttl` is refused, not cached.
#[tokio::test(start_paused = true)]
async fn too_short_lifetime_is_an_error() {
    let source = ScriptedSource::new(Duration::ZERO, vec![Answer::Token { lifetime: Duration::from_secs(10) }], ok());
    let cache = cache(&source);
    assert!(matches!(cache.token().await, Err(CacheError::Upstream(ExchangeError::InvalidResponse(_)))));
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(cache.token().await.expect("next one is fine").secret(), "token-1");
}

/// A flight finishes and fills the cache even if every waiting request is dropped.
#[tokio::test(start_paused = true)]
async fn cancelled_requests_do_not_cancel_the_fetch() {
    let source = ScriptedSource::new(Duration::from_secs(1), vec![], ok());
    let cache = cache(&source);
    let waiter = tokio::spawn({
        let cache = cache.clone();
        async move { cache.token().await.map(|_| ()) }
    });
    settle().await;
    waiter.abort();
    tokio::time::advance(Duration::from_secs(2)).await;
    settle().await;
    let before = Instant::now();
    assert_eq!(cache.token().await.expect("cached").secret(), "token-0");
    assert_eq!(before, Instant::now());
    assert_eq!(source.calls(), 1);
}

/// A served token is renewed when its refresh window opens, with no request
/// in the window: the first request after it already gets the new token, so
/// a client renewing shortly before expiry needs one request, not two.
#[tokio::test(start_paused = true)]
async fn served_token_is_renewed_when_its_window_opens() {
    let source = ScriptedSource::new(Duration::ZERO, vec![], ok());
    let cache = cache(&source);
    cache.token().await.expect("first token");
    tokio::time::advance(Duration::from_secs(59)).await;
    settle().await;
    assert_eq!(source.calls(), 1, "renewed before the window opened");
    tokio::time::advance(Duration::from_secs(2)).await;
    settle().await;
    assert_eq!(source.calls(), 2, "not renewed when the window opened");
    let token = cache.token().await.expect("token");
    assert_eq!(token.secret(), "token-1");
    assert_eq!(source.calls(), 2, "the request found the new token");
}

/// A token nobody was served is not renewed: once requests stop, the broker
/// makes one more upstream call (for the token served last) and then none.
#[tokio::test(start_paused = true)]
async fn unserved_tokens_lapse() {
    let source = ScriptedSource::new(Duration::ZERO, vec![], ok());
    let cache = cache(&source);
    cache.token().await.expect("first token");
    for _ in 0..10 {
        tokio::time::advance(LIFETIME).await;
        settle().await;
    }
    assert_eq!(source.calls(), 2, "an idle cache kept calling the upstream");
}

/// A token an API refused is replaced at once, by one upstream call however
/// many callers report it; a caller reporting an already replaced token gets
/// the replacement without another call.
#[tokio::test(start_paused = true)]
async fn renewal_of_a_rejected_token_is_one_call() {
    let source = ScriptedSource::new(Duration::from_millis(50), vec![], ok());
    let cache = cache(&source);
    let rejected = cache.token().await.expect("first token").secret().to_owned();
    let renewals = join_all((0..20).map(|_| cache.renew(&rejected))).await;
    let renewed: Vec<String> = renewals.into_iter().map(|r| r.expect("renewed").secret().to_owned()).collect();
    assert!(renewed.iter().all(|t| *t == renewed[0] && *t != rejected), "{renewed:?}");
    assert_eq!(source.calls(), 2);
    let late = cache.renew(&rejected).await.expect("late report");
    assert_eq!(late.secret(), renewed[0]);
    assert_eq!(source.calls(), 2, "a stale report makes no call");
    assert_eq!(cache.token().await.expect("cached").secret(), renewed[0], "the cache serves the replacement");
}
