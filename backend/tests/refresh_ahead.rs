//! Refresh-ahead with real lifetimes: requests near expiry never wait for the
//! upstream, a failing refresh stays invisible while the token is good, and no
//! token is ever served with less than `min_ttl` left.
//!
//! Tokens live 8 s here; with `--token-min-ttl-secs 1 --token-refresh-window-min-secs 4`
//! the refresh starts 4 s after issue and the token is served until 7 s.

mod common;

use std::time::{Duration, Instant};

use common::broker::Broker;
use common::fault_upstream::{FaultUpstream, Script};
use common::{Deadline, Reply, get, http_client, wait_until};

const LIFETIME: u64 = 8;
const MIN_TTL: Duration = Duration::from_secs(1);
/// How slow the upstream is while refreshing; far above any cache hit's latency.
const UPSTREAM_DELAY: Duration = Duration::from_secs(2);

/// The refresh policy of the module doc.
const POLICY: [&str; 4] = ["--token-min-ttl-secs", "1", "--token-refresh-window-min-secs", "4"];

/// The token in `reply` had at least `MIN_TTL` left, by the upstream's own clock,
/// when the request was sent.
fn assert_fresh_enough(upstream: &FaultUpstream, reply: &Reply) {
    let token = reply.token();
    let expires_at = upstream.record_of(&token).expires_at.expect("issued with a lifetime");
    let left = expires_at.saturating_duration_since(reply.sent_at);
    assert!(left >= MIN_TTL, "`{token}` was served with only {left:?} left");
}

/// Near expiry, viewers get the current token at once while one slow refresh runs
/// in the background, then the new token; the upstream sees one refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_refresh_window_do_not_wait_for_the_upstream() {
    let upstream = FaultUpstream::start(Script::token(LIFETIME)).await;
    let broker = Broker::generic(&upstream.token_url(), &POLICY).await;
    let client = http_client();
    let url = broker.url("/api/token");
    let first = get(&client, &url).await.token();
    upstream.set(Script::token(LIFETIME).delayed(UPSTREAM_DELAY));

    let mut slowest = Duration::ZERO;
    let mut served_during_refresh = 0;
    let deadline = Deadline::new("the refreshed token");
    let second = loop {
        deadline.check();
        let reply = get(&client, &url).await;
        assert_fresh_enough(&upstream, &reply);
        slowest = slowest.max(reply.latency);
        let token = reply.token();
        if token != first {
            break token;
        }
        assert!(upstream.requests() <= 2, "more than one refresh for one token");
        if upstream.requests() == 2 {
            served_during_refresh += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    assert_eq!(upstream.requests(), 2, "exactly one refresh");
    assert!(served_during_refresh > 0, "no request arrived while the refresh was in flight");
    assert!(slowest < Duration::from_millis(1000), "a request waited {slowest:?} (upstream delay {UPSTREAM_DELAY:?})");
    assert!(second.starts_with("tok-"));
}

/// An upstream outage during refresh does not reach viewers while the current
/// token is still good; only when it runs out do they see 503, and the cache
/// recovers as soon as the upstream does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_refresh_is_invisible_until_the_token_runs_out() {
    let upstream = FaultUpstream::start(Script::token(LIFETIME)).await;
    let broker = Broker::generic(&upstream.token_url(), &POLICY).await;
    let client = http_client();
    let url = broker.url("/api/token");
    let first = get(&client, &url).await.token();
    let expires_at = upstream.record_of(&first).expires_at.expect("lifetime");
    upstream.set(Script::raw(500, "text/plain", "down for maintenance"));

    let mut ok_after_refresh_failed = 0;
    let deadline = Deadline::new("the token to run out");
    let failure = loop {
        deadline.check();
        let failed_refreshes = upstream.requests() - 1;
        let reply = get(&client, &url).await;
        if reply.status != 200 {
            break reply;
        }
        assert_eq!(reply.token(), first, "no other token exists");
        assert_fresh_enough(&upstream, &reply);
        if failed_refreshes > 0 {
            ok_after_refresh_failed += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    assert_eq!(failure.status, 503, "{}", failure.body);
    assert!(ok_after_refresh_failed > 0, "no request was served after the refresh failed");
    assert!(upstream.requests() >= 2, "the refresh was attempted");
    // Served until (nearly) `expires_at - MIN_TTL`: the outage was hidden as long as possible.
    let served_until = failure.sent_at;
    assert!(
        served_until + MIN_TTL + Duration::from_millis(1500) >= expires_at,
        "gave up {:?} before the token ran out",
        expires_at.saturating_duration_since(served_until)
    );

    upstream.set(Script::token(LIFETIME));
    // The failure opened a backoff window (under 1 s after one failed flight);
    // the first request after it gets a fresh token.
    let recovered = common::poll_for("a token after the backoff window", || async {
        let reply = get(&client, &url).await;
        (reply.status == 200).then_some(reply)
    })
    .await;
    assert_ne!(recovered.token(), first);
    assert_fresh_enough(&upstream, &recovered);
}

/// A cache nobody asked during the refresh window does not serve its old token
/// after it runs out: the next request waits for a fresh one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_cache_fetches_a_fresh_token_after_expiry() {
    let upstream = FaultUpstream::start(Script::token(3)).await;
    let broker = Broker::generic(&upstream.token_url(), &POLICY).await;
    let client = http_client();
    let url = broker.url("/api/token");
    let first = get(&client, &url).await.token();
    let expires_at = upstream.record_of(&first).expires_at.expect("lifetime");
    // Real lifetimes: wait on the wall clock until the token is no longer servable.
    wait_until("the first token to fall below min_ttl", || async { Instant::now() + MIN_TTL >= expires_at }).await;

    let reply = get(&client, &url).await;
    assert_ne!(reply.token(), first, "a token with less than min_ttl left was served");
    assert_fresh_enough(&upstream, &reply);
    assert_eq!(upstream.requests(), 2);
}
