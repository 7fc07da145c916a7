//! A failing upstream is left alone for a backoff window (issue 10, section 1):
//! a flood of browser requests during an outage costs the upstream a handful of
//! calls, not thousands; the window is shared by replicas through Redis; and the
//! first request after the window gets a token once the upstream has recovered.

mod common;

use std::time::{Duration, Instant};

use common::broker::Broker;
use common::fault_upstream::{FaultUpstream, Script};
use common::redis::RedisServer;
use common::replicas::{Replicas, replica};
use common::{Deadline, Reply, assert_error, get, http_client};

/// The measurement: 20 clients asking as fast as they can for 5 s.
const CLIENTS: usize = 20;
const FLOOD: Duration = Duration::from_secs(5);
/// The flags that turn the backoff off: the behaviour before issue 10.
const NO_BACKOFF: [&str; 4] = ["--upstream-backoff-max-secs", "0", "--upstream-retry-after-max-secs", "0"];

fn rate_limited() -> Script {
    Script::oauth_error(429, "slow_down", "too many requests").with_header("retry-after", "60")
}

fn fast_500() -> Script {
    Script::raw(500, "text/html", "<h1>Internal Server Error</h1>")
}

/// Every reply of `CLIENTS` clients sending `GET url` back to back for [`FLOOD`].
async fn flood(url: &str) -> Vec<Reply> {
    let until = Instant::now() + FLOOD;
    let clients = (0..CLIENTS).map(|_| async move {
        let client = http_client();
        let mut replies = Vec::new();
        while Instant::now() < until {
            replies.push(get(&client, url).await);
        }
        replies
    });
    futures_util::future::join_all(clients).await.into_iter().flatten().collect()
}

/// The upstream calls a flood causes against `script`, with the broker's `flags`.
async fn calls_during_flood(script: Script, flags: &[&str]) -> (usize, Vec<Reply>) {
    let upstream = FaultUpstream::start(script).await;
    let broker = Broker::generic(&upstream.token_url(), flags).await;
    let replies = flood(&broker.url("/api/token")).await;
    (upstream.requests(), replies)
}

fn retry_after(reply: &Reply) -> u64 {
    reply.header("retry-after").expect("a 503 carries Retry-After").parse().expect("whole seconds")
}

/// `429 Retry-After: 60` is honoured: at most 2 calls in 5 s, and every browser
/// gets a 503 whose `Retry-After` counts down the window instead of restarting it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_upstream_is_asked_at_most_twice() {
    let (calls, replies) = calls_during_flood(rate_limited(), &[]).await;
    println!(
        "429 Retry-After: 60, {CLIENTS} clients for {FLOOD:?}: {calls} upstream calls, {} requests",
        replies.len()
    );
    assert!(calls <= 2, "{calls} upstream calls");
    assert!(replies.len() > CLIENTS, "the flood ran");
    let mut sorted = replies.clone();
    sorted.sort_by_key(|r| r.sent_at);
    for reply in &sorted {
        assert_error!(reply, 503, "upstream_unavailable");
        assert!((1..=60).contains(&retry_after(reply)), "{:?}", reply.header("retry-after"));
    }
    let (first, last) = (sorted.first().expect("replies"), sorted.last().expect("replies"));
    let elapsed = last.sent_at.duration_since(first.sent_at).as_secs();
    assert!(
        retry_after(last) + elapsed <= 61,
        "Retry-After {} after {elapsed} s: not counting down",
        retry_after(last)
    );
}

/// A fast 500 (no `Retry-After`) gets jittered exponential backoff: at most 6
/// calls in 5 s; and once the upstream is back, the first request after the
/// window gets a token with one more call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_500_is_asked_at_most_six_times_then_recovers() {
    let upstream = FaultUpstream::start(fast_500()).await;
    let broker = Broker::generic(&upstream.token_url(), &[]).await;
    let url = broker.url("/api/token");
    let replies = flood(&url).await;
    let calls = upstream.requests();
    println!("fast 500, {CLIENTS} clients for {FLOOD:?}: {calls} upstream calls, {} requests", replies.len());
    assert!(calls <= 6, "{calls} upstream calls");
    assert!(replies.iter().all(|r| r.status == 503), "every request failed fast with 503");

    upstream.set(Script::token(3600));
    let client = http_client();
    let deadline = Deadline::new("the backoff window to close");
    let recovered = loop {
        deadline.check();
        let reply = get(&client, &url).await;
        if reply.status != 503 {
            break reply;
        }
        assert_eq!(upstream.requests(), calls, "a request inside the window reached the upstream");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(recovered.status, 200, "{}", recovered.body);
    assert_eq!(upstream.requests(), calls + 1, "one attempt after the window, and it succeeded");
}

/// The window is the upstream's `Retry-After`: nobody asks before it ends, and
/// the first request after it gets a token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_request_after_retry_after_gets_a_token() {
    let upstream = FaultUpstream::start(
        Script::oauth_error(503, "temporarily_unavailable", "busy").with_header("retry-after", "2"),
    )
    .await;
    let broker = Broker::generic(&upstream.token_url(), &[]).await;
    let client = http_client();
    let url = broker.url("/api/token");
    let failed = get(&client, &url).await;
    assert_eq!((failed.status, retry_after(&failed)), (503, 2), "{}", failed.body);
    upstream.set(Script::token(3600));
    let deadline = Deadline::new("the Retry-After window to close");
    let recovered = loop {
        deadline.check();
        let reply = get(&client, &url).await;
        if reply.status != 503 {
            break reply;
        }
        assert!(retry_after(&reply) <= 2);
        assert_eq!(upstream.requests(), 1, "asked again inside the window");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(recovered.sent_at >= failed.sent_at + Duration::from_millis(1900), "the window was cut short");
    assert_eq!(recovered.status, 200, "{}", recovered.body);
    assert_eq!(upstream.requests(), 2);
}

/// With Redis, one replica's failed call closes the upstream to the whole
/// cluster: the other replica answers 503 from the shared window without a call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backoff_window_is_shared_by_replicas() {
    let redis = RedisServer::start().await;
    let upstream = FaultUpstream::start(rate_limited()).await;
    let replicas = Replicas::start(2, &replica(&upstream.token_url(), &redis.url(), &[]), None).await;
    let client = http_client();
    let first = get(&client, &replicas.url(0, "/api/token")).await;
    assert_eq!(first.status, 503, "{}", first.body);
    assert_eq!(upstream.requests(), 1);
    let second = get(&client, &replicas.url(1, "/api/token")).await;
    assert_eq!(second.status, 503, "{}", second.body);
    assert!((1..=60).contains(&retry_after(&second)));
    assert_eq!(upstream.requests(), 1, "the second replica asked the upstream during the cluster's window");
    let keys = redis.cli(&["--scan", "--pattern", "token-broker:backoff:*"]).await;
    assert_eq!(keys.len(), 1, "the window is stored in Redis: {keys:?}");
}

/// The figures in BENCHMARKS.md, with the backoff on and off side by side in one
/// run. Run with `--ignored --nocapture`; it takes about 25 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: prints the upstream amplification with and without the backoff"]
async fn amplification_side_by_side() {
    println!("| upstream | backoff | upstream calls | browser requests |\n|---|---|---|---|");
    for (name, script) in [("429 Retry-After: 60", rate_limited as fn() -> Script), ("fast 500", fast_500)] {
        for (mode, flags) in [("off (before)", &NO_BACKOFF[..]), ("on (default)", &[][..])] {
            let (calls, replies) = calls_during_flood(script(), flags).await;
            println!("| {name} | {mode} | {calls} | {} |", replies.len());
        }
    }
}
