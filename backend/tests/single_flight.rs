//! Single-flight: however many requests find the cache cold, the upstream sees one
//! token request, and every waiting request gets its outcome.

mod common;

use std::time::Duration;

use common::broker::Broker;
use common::fault_upstream::{FaultUpstream, Script};
use common::oidc_provider::OidcProvider;
use common::{Reply, get, http_client};
use futures_util::future::join_all;

/// Sends `n` concurrent requests to `url`.
async fn burst(url: &str, n: usize) -> Vec<Reply> {
    let client = http_client();
    join_all((0..n).map(|_| get(&client, url))).await
}

/// The reason the broker exists: a page load of 200 viewers costs one upstream call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_burst_makes_one_upstream_call() {
    let upstream = FaultUpstream::start(Script::token(3600).delayed(Duration::from_millis(500))).await;
    let broker = Broker::generic(&upstream.token_url(), &[]).await;
    let replies = burst(&broker.url("/api/token"), 200).await;
    let first = replies[0].token();
    for reply in &replies {
        assert_eq!(reply.token(), first, "every request gets the one token");
    }
    assert_eq!(upstream.requests(), 1);
}

/// Single-flight holds against a real authorization server, counted on its side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_burst_against_oidc_provider_makes_one_token_request() {
    let oidc = OidcProvider::start(300).await;
    let broker = oidc.broker(&oidc.basic).start().await;
    let replies = burst(&broker.url("/api/token"), 100).await;
    let first = replies[0].token();
    assert!(replies.iter().all(|r| r.token() == first));
    assert_eq!(oidc.token_requests().await, 1);
}

/// A failing upstream is asked once per burst, not once per viewer, and every
/// viewer gets the same error; the failure is not cached as a token, so the next
/// request retries. (The backoff window, off here, has its own tests in `upstream_backoff.rs`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_flight_is_shared_then_retried() {
    let upstream = FaultUpstream::start(
        Script::raw(500, "text/html", "<h1>Internal Server Error</h1>").delayed(Duration::from_millis(500)),
    )
    .await;
    let no_backoff = ["--upstream-backoff-max-secs", "0", "--upstream-retry-after-max-secs", "0"];
    let broker = Broker::generic(&upstream.token_url(), &no_backoff).await;
    let replies = burst(&broker.url("/api/token"), 100).await;
    for reply in &replies {
        assert_eq!(reply.status, 503, "{}", reply.body);
        assert_eq!(reply.body, replies[0].body, "one shared outcome");
    }
    assert_eq!(upstream.requests(), 1);

    let client = http_client();
    assert_eq!(get(&client, &broker.url("/api/token")).await.status, 503);
    assert_eq!(upstream.requests(), 2, "an error is not cached: the next request asks again");

    upstream.set(Script::token(3600));
    let token = get(&client, &broker.url("/api/token")).await.token();
    assert_eq!(upstream.requests(), 3);
    assert_eq!(get(&client, &broker.url("/api/token")).await.token(), token, "now cached");
    assert_eq!(upstream.requests(), 3);
}

/// Profiles are separate caches: a burst across two profiles makes exactly one call each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_profile_has_its_own_single_flight() {
    let upstream = FaultUpstream::start(Script::token(3600).delayed(Duration::from_millis(500))).await;
    let toml = common::scratch_file("profile.toml", "[profiles.data]\nscope = \"data:read\"\n");
    let broker = Broker::generic(&upstream.token_url(), &["--config", toml.to_str().expect("utf-8 path")]).await;
    let (viewer_url, data_url) = (broker.url("/api/token"), broker.url("/api/token/data"));
    let (viewer, data) = tokio::join!(burst(&viewer_url, 50), burst(&data_url, 50));
    assert!(viewer.iter().all(|r| r.token() == viewer[0].token()));
    assert!(data.iter().all(|r| r.token() == data[0].token()));
    assert_ne!(viewer[0].token(), data[0].token());
    assert_eq!(upstream.requests(), 2);
    let scopes: Vec<Option<String>> = upstream.received().iter().map(|r| r.form("scope")).collect();
    assert!(scopes.contains(&Some("data:read".into())), "{scopes:?}");
}
