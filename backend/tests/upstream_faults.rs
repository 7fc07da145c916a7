//! Everything an upstream can do wrong, from the fault-injecting upstream: each
//! failure maps to the documented status and error code, and nothing broken is cached.

mod common;

use std::time::Duration;

use common::binary::closed_port_url;
use common::broker::Broker;
use common::fault_upstream::{FaultUpstream, Script};
use common::{Reply, assert_error, get, http_client};
use serde_json::{Value, json};

/// One request through a fresh broker whose upstream follows `script`.
async fn one_request(script: Script, extra: &[&str]) -> (Reply, FaultUpstream, Broker) {
    let upstream = FaultUpstream::start(script).await;
    let broker = Broker::generic(&upstream.token_url(), extra).await;
    let reply = get(&http_client(), &broker.url("/api/token")).await;
    (reply, upstream, broker)
}

/// A 503 tells the browser to come back later, in the usual error shape.
fn assert_unavailable(reply: &Reply, case: &str) {
    assert_error!(reply, 503, "upstream_unavailable", "{case}:");
    let retry_after: u64 = reply.header("retry-after").expect("Retry-After").parse().expect("whole seconds");
    assert!(retry_after >= 1, "{case}");
}

/// A 502 is not an outage: retrying is not suggested.
fn assert_bad_gateway(reply: &Reply, code: &str, case: &str) {
    assert_error!(reply, 502, code, "{case}:");
    assert!(reply.header("retry-after").is_none(), "{case}");
}

/// Nothing listening: a transient outage (503 + `Retry-After`), not a broker bug.
#[tokio::test]
async fn unreachable_upstream_is_503_with_retry_after() {
    let broker = Broker::generic(&closed_port_url().await, &[]).await;
    assert_unavailable(&get(&http_client(), &broker.url("/api/token")).await, "connection refused");
}

/// A hung upstream costs a viewer the configured timeout, not the request timeout.
#[tokio::test]
async fn slow_upstream_times_out_as_503() {
    let (reply, upstream, _broker) =
        one_request(Script::token(3600).delayed(Duration::from_secs(5)), &["--upstream-timeout-secs", "1"]).await;
    assert_unavailable(&reply, "timeout");
    assert!(reply.latency < Duration::from_secs(4), "took {:?}", reply.latency);
    assert_eq!(upstream.requests(), 1);
}

/// 5xx and 429, whatever their body, are outages: 503.
#[tokio::test]
async fn upstream_5xx_and_429_are_503() {
    for (case, script) in [
        ("500 html", Script::raw(500, "text/html", "<html><body>Internal Server Error</body></html>")),
        ("502 empty", Script::raw(502, "text/plain", "")),
        ("503 server_error", Script::oauth_error(503, "server_error", "maintenance")),
        ("429 slow down", Script::oauth_error(429, "slow_down", "too many requests").with_header("retry-after", "7")),
        ("400 temporarily_unavailable", Script::oauth_error(400, "temporarily_unavailable", "busy")),
    ] {
        let (reply, _upstream, _broker) = one_request(script, &[]).await;
        assert_unavailable(&reply, case);
    }
}

/// The upstream refusing our credentials or scope is a configuration problem:
/// 502 `upstream_rejected`, and retrying is not suggested.
#[tokio::test]
async fn upstream_refusals_are_502_upstream_rejected() {
    for (case, script) in [
        ("401 invalid_client", Script::oauth_error(401, "invalid_client", "client authentication failed")),
        ("400 invalid_scope", Script::oauth_error(400, "invalid_scope", "scope not allowed")),
        ("400 unauthorized_client", Script::oauth_error(400, "unauthorized_client", "grant not allowed")),
        ("403 html", Script::raw(403, "text/html", "<h1>Forbidden</h1>")),
        ("401 empty", Script::raw(401, "application/json", "")),
    ] {
        let (reply, _upstream, _broker) = one_request(script, &[]).await;
        assert_bad_gateway(&reply, "upstream_rejected", case);
    }
}

/// A 200 we cannot use is 502 `upstream_invalid_response`, and it is not cached:
/// the next request asks the upstream again.
#[tokio::test]
async fn unusable_success_responses_are_502_and_not_cached() {
    let huge = json!({ "access_token": "x".repeat(80 * 1024), "token_type": "Bearer", "expires_in": 3600 }).to_string();
    let token = |fields: Value| Script::raw(200, "application/json", fields.to_string());
    for (case, script) in [
        ("not JSON", Script::raw(200, "text/plain", "hello")),
        ("HTML", Script::raw(200, "text/html", "<html>login page</html>")),
        ("empty body", Script::raw(200, "application/json", "")),
        ("oversized with Content-Length", Script::raw(200, "application/json", huge.clone())),
        ("oversized chunked", Script::raw(200, "application/json", huge.clone()).chunked()),
        ("missing access_token", token(json!({ "token_type": "Bearer", "expires_in": 3600 }))),
        ("empty access_token", token(json!({ "access_token": "", "token_type": "Bearer", "expires_in": 3600 }))),
        ("zero expires_in", token(json!({ "access_token": "t", "token_type": "Bearer", "expires_in": 0 }))),
        ("negative expires_in", token(json!({ "access_token": "t", "token_type": "Bearer", "expires_in": -60 }))),
        (
            "absurd expires_in",
            token(json!({ "access_token": "t", "token_type": "Bearer", "expires_in": 99_999_999_999u64 })),
        ),
        ("word expires_in", token(json!({ "access_token": "t", "token_type": "Bearer", "expires_in": "soon" }))),
        ("below min ttl", token(json!({ "access_token": "t", "token_type": "Bearer", "expires_in": 5 }))),
        ("DPoP token_type", token(json!({ "access_token": "t", "token_type": "DPoP", "expires_in": 3600 }))),
        ("redirect", Script::raw(302, "text/plain", "").with_header("location", "/token")),
    ] {
        // The backoff window (tested in `upstream_backoff.rs`) would answer the
        // second request itself; off here, the second request shows nothing was cached.
        let no_backoff = ["--upstream-backoff-max-secs", "0", "--upstream-retry-after-max-secs", "0"];
        let (reply, upstream, broker) = one_request(script, &no_backoff).await;
        assert_bad_gateway(&reply, "upstream_invalid_response", case);
        let again = get(&http_client(), &broker.url("/api/token")).await;
        assert_eq!(again.status, 502, "{case}: {}", again.body);
        assert_eq!(upstream.requests(), 2, "{case}: a bad response must not be cached (or a redirect followed)");
    }
}

/// Harmless deviations real providers send are accepted (201, `expires_in` as a
/// string, lower-case or missing `token_type`), and a missing `expires_in` means
/// the configured default lifetime.
#[tokio::test]
async fn harmless_deviations_are_accepted() {
    for (case, script, expected_expires_in) in [
        ("201 Created", Script::token(3600).with_status(201), 3600),
        ("string expires_in", Script::token_fields(Some(json!("1800")), Some(json!("Bearer"))), 1800),
        ("lower-case token_type", Script::token_fields(Some(json!(1200)), Some(json!("bearer"))), 1200),
        ("missing token_type", Script::token_fields(Some(json!(600)), None), 600),
        ("missing expires_in", Script::token_fields(None, Some(json!("Bearer"))), 900),
    ] {
        let (reply, upstream, broker) = one_request(script, &["--token-default-ttl-secs", "900"]).await;
        let token = reply.token();
        assert!(token.starts_with("tok-"), "{case}");
        let body = reply.json();
        assert_eq!(body["token_type"], "Bearer", "{case}: always normalised for the browser");
        let expires_in = body["expires_in"].as_u64().expect("number");
        assert!(
            expires_in <= expected_expires_in && expires_in + 30 >= expected_expires_in,
            "{case}: expires_in {expires_in}, expected about {expected_expires_in}"
        );
        assert_eq!(get(&http_client(), &broker.url("/api/token")).await.token(), token, "{case}: cached");
        assert_eq!(upstream.requests(), 1, "{case}");
    }
}
