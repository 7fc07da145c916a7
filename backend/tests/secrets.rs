//! The client secret never leaves the broker: not in a response body or header,
//! not in a log line, even at `RUST_LOG=trace` and when the upstream echoes it back.

mod common;

use base64::Engine;
use common::binary::BrokerProcess;
use common::broker::BrokerBuilder;
use common::fault_upstream::{FaultUpstream, Script};
use common::{Reply, get, http_client};
use serde_json::json;

const SECRET: &str = "S3CRET-7f1c9a-broker-value";

/// Everything a browser could see of a response, as one string.
fn visible(reply: &Reply) -> String {
    let headers: Vec<String> =
        reply.headers.iter().map(|(k, v)| format!("{k}: {}", String::from_utf8_lossy(v.as_bytes()))).collect();
    format!("{}\n{}", headers.join("\n"), reply.body)
}

/// Upstream behaviours that put the secret in front of the broker.
fn echoing_scripts() -> Vec<(&'static str, Script)> {
    vec![
        (
            "401 echoes secret in error_description",
            Script::oauth_error(401, "invalid_client", &format!("bad secret {SECRET}")),
        ),
        ("400 echoes secret as the error code", Script::oauth_error(400, SECRET, "unknown")),
        ("500 html echoes secret", Script::raw(500, "text/html", format!("<pre>client_secret={SECRET}</pre>"))),
        ("200 non-JSON echoes secret", Script::raw(200, "text/plain", format!("secret={SECRET}"))),
        (
            "200 JSON with secret in a bad field",
            Script::raw(200, "application/json", json!({ "access_token": "t", "expires_in": SECRET }).to_string()),
        ),
        ("oversized body full of secrets", Script::raw(200, "application/json", SECRET.repeat(4096)).chunked()),
        ("success", Script::token(3600)),
    ]
}

/// Runs the real binary at trace level through every echoing failure, for one
/// client-authentication method, and checks everything it exposed.
async fn assert_secret_stays_inside(client_auth: &str) {
    let upstream = FaultUpstream::start(Script::token(3600)).await;
    let broker = BrokerBuilder::generic(&upstream.token_url())
        .client("broker", SECRET)
        .env(&[
            ("RUST_LOG", "trace"),
            ("OAUTH_CLIENT_AUTH", client_auth),
            // Every scripted failure must reach the upstream, so no backoff window.
            ("UPSTREAM_BACKOFF_MAX_SECS", "0"),
            ("UPSTREAM_RETRY_AFTER_MAX_SECS", "0"),
        ])
        .spawn()
        .await;
    let client = http_client();
    let mut seen = Vec::new();
    let mut tokens = Vec::new();
    for (case, script) in echoing_scripts() {
        upstream.set(script);
        let reply = get(&client, &broker.url("/api/token")).await;
        assert!(!visible(&reply).contains(SECRET), "{case}: the secret reached the browser:\n{}", visible(&reply));
        if reply.status == 200 {
            tokens.push(reply.token());
        }
        seen.push((case, reply.status));
    }
    let metrics = get(&client, &broker.url("/metrics")).await;
    assert!(!visible(&metrics).contains(SECRET));

    // The test is only meaningful if the secret really was sent and the failures happened.
    let received = upstream.received();
    assert_eq!(received.len(), echoing_scripts().len(), "{seen:?}");
    let sent = received[0].basic_credentials().map(|(_, s)| s).or_else(|| received[0].form("client_secret"));
    assert_eq!(sent.as_deref(), Some(SECRET));
    assert_eq!(tokens.len(), 1, "{seen:?}");

    let log = broker.stop().await;
    assert!(log.iter().any(|l| l.contains("TRACE")), "trace logging was not on");
    let logged_failures = log.iter().filter(|l| l.contains("code=\"upstream_")).count();
    assert!(logged_failures >= 4, "failures were not logged:\n{}", log.join("\n"));
    assert!(log.iter().any(|l| l.contains("[redacted]")), "the echoed secret never reached the log scrubber");
    for line in &log {
        assert!(!line.contains(SECRET), "the secret is in the log: {line}");
        assert!(!line.contains(&tokens[0]), "an access token is in the log: {line}");
    }
}

/// With `client_secret_basic`, no response or log line carries the secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_never_leaves_the_broker_with_basic_auth() {
    assert_secret_stays_inside("basic").await;
}

/// With `client_secret_post` (secret in the form body), no response or log line carries it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_never_leaves_the_broker_with_post_auth() {
    assert_secret_stays_inside("post").await;
}

/// `--dev` at trace level: the embedded server's credentials (sent as HTTP Basic)
/// and the tokens it issues stay out of the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_mode_keeps_credentials_out_of_the_log() {
    let broker = BrokerProcess::start(&["--dev"], &[("RUST_LOG", "trace")]).await;
    let reply = get(&http_client(), &broker.url("/api/token")).await;
    let token = reply.token();
    let log = broker.stop().await;
    assert!(log.iter().any(|l| l.contains("DEVELOPMENT MODE")), "the dev banner is missing");
    // Any leaked Basic credentials start with the encoded `token-backend-dev:` (18 bytes, so
    // its base64 is a prefix of the whole header value).
    let basic_prefix = base64::engine::general_purpose::STANDARD.encode("token-backend-dev:");
    for line in &log {
        assert!(!line.contains(&basic_prefix), "Basic credentials are in the log: {line}");
        assert!(!line.to_ascii_lowercase().contains("client_secret"), "{line}");
        assert!(!line.contains(&token), "an access token is in the log: {line}");
    }
}
