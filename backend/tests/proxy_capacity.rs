//! The API proxy within its share of descriptors, against the real binary under
//! `ulimit -n 1024` (issue 18, item 6): 1,000 concurrent proxied requests to a
//! slow API are each answered `200`, or `503 proxy_busy` with `Retry-After`;
//! none is reset, answered `502` or left empty, and the process never runs out
//! of descriptors (before: 32 × 502 "Too many open files" and 5 resets).

mod common;

use common::binary::BrokerProcess;
use common::fake_api::FakeApi;
use common::fault_upstream::{FaultUpstream, Script};
use common::raw_http::{Answer, allow_descriptors, connect, exchange, get_request};
use tokio::task::JoinSet;

/// How long the API takes to answer each request.
const API_DELAY_MS: u64 = 1_500;

/// 1,000 concurrent proxied requests, one connection each, with `ulimit -n 1024`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_proxied_requests_at_1024_descriptors_get_200_or_503_never_a_reset() {
    // The clients, and the fake API's end of the broker's upstream connections.
    allow_descriptors(2_200);
    let upstream = FaultUpstream::start(Script::token(3600)).await;
    let api = FakeApi::start().await;
    let env = [
        ("OAUTH_PROVIDER", "generic"),
        ("OAUTH_TOKEN_URL", &upstream.token_url()),
        ("OAUTH_CLIENT_ID", "broker"),
        ("OAUTH_CLIENT_SECRET", "broker-secret"),
        ("PROXY_API", &format!("slow={}", api.url("/"))),
        // How long a request waits for a place before its 503.
        ("UPSTREAM_CONNECT_TIMEOUT_SECS", "1"),
    ];
    let broker = BrokerProcess::start_with_descriptor_limit(1024, &[], &env).await;
    let request = get_request(&format!("/api/proxy/slow/delay/{API_DELAY_MS}"), true);
    let mut clients = JoinSet::new();
    for _ in 0..1_000 {
        let (base, request) = (broker.base.clone(), request.clone());
        clients.spawn(async move { exchange(&mut connect(&base).await, &request).await });
    }
    let (mut ok, mut busy, mut other) = (0, 0, Vec::new());
    while let Some(answer) = clients.join_next().await {
        match answer.expect("client task") {
            Answer::Status { status: 200, .. } => ok += 1,
            Answer::Status { status: 503, retry_after: Some(_) } => busy += 1,
            unexpected => other.push(unexpected),
        }
    }
    let log = broker.stop().await.join("\n");
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains("WARN") || l.contains("ERROR")).take(5).collect();
    assert!(
        other.is_empty(),
        "{ok} × 200, {busy} × 503, and {} others: {:?}\nthe broker's first warnings: {warnings:#?}",
        other.len(),
        &other[..10.min(other.len())]
    );
    assert!(ok > 0, "{ok} × 200, {busy} × 503");
    assert!(!log.contains("Too many open files"), "the broker ran out of descriptors:\n{log}");
    assert!(api.received().len() <= 1_000, "no request was sent twice");
}
