//! CORS on the token routes: same-origin only unless origins are listed, exact
//! allowlist matching, working preflight, and refusal of unsafe combinations.

mod common;

use common::binary::run_to_exit;
use common::broker::Broker;
use common::fault_upstream::{FaultUpstream, Script};
use common::{get_with, http_client, request};

const APP: &str = "https://app.example.com";
const OTHER: &str = "https://evil.example.net";

/// Default is same-origin: another site's page gets no CORS header, so the browser
/// keeps it from reading tokens.
#[tokio::test]
async fn no_allowed_origins_means_no_cors_headers() {
    let upstream = FaultUpstream::start(Script::token(3600)).await;
    let broker = Broker::generic(&upstream.token_url(), &[]).await;
    let reply = get_with(&http_client(), &broker.url("/api/token"), &[("origin", OTHER)]).await;
    assert_eq!(reply.status, 200);
    assert!(reply.header("access-control-allow-origin").is_none(), "{:?}", reply.headers);
    let preflight = request(
        &http_client(),
        reqwest::Method::OPTIONS,
        &broker.url("/api/token"),
        &[("origin", OTHER), ("access-control-request-method", "GET")],
    )
    .await;
    assert!(preflight.header("access-control-allow-origin").is_none(), "{:?}", preflight.headers);
}

/// Listed origins get exactly their own origin back; anything else gets nothing.
#[tokio::test]
async fn only_listed_origins_get_cors_headers() {
    let upstream = FaultUpstream::start(Script::token(3600)).await;
    let broker = Broker::generic(
        &upstream.token_url(),
        &["--allowed-origins", "https://app.example.com, http://localhost:5173"],
    )
    .await;
    let client = http_client();
    let url = broker.url("/api/token");
    let allowed = get_with(&client, &url, &[("origin", APP)]).await;
    assert_eq!(allowed.header("access-control-allow-origin"), Some(APP));
    assert!(allowed.header("access-control-allow-credentials").is_none(), "credentials are off by default");
    let vary = allowed
        .headers
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().expect("ascii").to_ascii_lowercase())
        .collect::<Vec<_>>();
    assert!(vary.iter().any(|v| v.contains("origin")), "caches must key on Origin: {vary:?}");
    let local = get_with(&client, &url, &[("origin", "http://localhost:5173")]).await;
    assert_eq!(local.header("access-control-allow-origin"), Some("http://localhost:5173"));
    for origin in [OTHER, "https://app.example.com.evil.net", "http://app.example.com"] {
        let denied = get_with(&client, &url, &[("origin", origin)]).await;
        assert!(denied.header("access-control-allow-origin").is_none(), "{origin}: {:?}", denied.headers);
    }
}

/// A browser's preflight from a listed origin succeeds and allows GET; one from
/// another origin is not approved.
#[tokio::test]
async fn preflight_from_a_listed_origin_is_approved() {
    let upstream = FaultUpstream::start(Script::token(3600)).await;
    let broker = Broker::generic(&upstream.token_url(), &["--allowed-origins", APP]).await;
    let client = http_client();
    let url = broker.url("/api/token/default");
    let preflight = request(
        &client,
        reqwest::Method::OPTIONS,
        &url,
        &[
            ("origin", APP),
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", "authorization"),
        ],
    )
    .await;
    assert!((200..300).contains(&preflight.status), "{}", preflight.status);
    assert_eq!(preflight.header("access-control-allow-origin"), Some(APP));
    assert!(
        preflight.header("access-control-allow-methods").is_some_and(|m| m.contains("GET")),
        "{:?}",
        preflight.headers
    );
    assert!(
        preflight
            .header("access-control-allow-headers")
            .is_some_and(|h| h.to_ascii_lowercase().contains("authorization"))
    );
    let denied = request(
        &client,
        reqwest::Method::OPTIONS,
        &url,
        &[("origin", OTHER), ("access-control-request-method", "GET")],
    )
    .await;
    assert!(denied.header("access-control-allow-origin").is_none(), "{:?}", denied.headers);
    assert_eq!(upstream.requests(), 0, "a preflight never costs an upstream call");
}

/// Errors carry CORS headers too, so a listed page can read why it got no token.
#[tokio::test]
async fn error_responses_carry_cors_headers_for_listed_origins() {
    let upstream = FaultUpstream::start(Script::raw(503, "text/plain", "down")).await;
    let broker = Broker::generic(&upstream.token_url(), &["--allowed-origins", APP]).await;
    let reply = get_with(&http_client(), &broker.url("/api/token"), &[("origin", APP)]).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("access-control-allow-origin"), Some(APP));
}

/// With credentials allowed, listed origins are told so (cookies for user tokens).
#[tokio::test]
async fn credentials_flag_is_sent_when_enabled() {
    let upstream = FaultUpstream::start(Script::token(3600)).await;
    let broker =
        Broker::generic(&upstream.token_url(), &["--allowed-origins", APP, "--cors-allow-credentials", "true"]).await;
    let reply = get_with(&http_client(), &broker.url("/api/token"), &[("origin", APP)]).await;
    assert_eq!(reply.header("access-control-allow-origin"), Some(APP));
    assert_eq!(reply.header("access-control-allow-credentials"), Some("true"));
}

/// `*` lets any page read tokens (the public-viewer case), without credentials.
#[tokio::test]
async fn wildcard_allows_any_origin() {
    let upstream = FaultUpstream::start(Script::token(3600)).await;
    let broker = Broker::generic(&upstream.token_url(), &["--allowed-origins", "*"]).await;
    let reply = get_with(&http_client(), &broker.url("/api/token"), &[("origin", OTHER)]).await;
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    assert!(reply.header("access-control-allow-credentials").is_none());
}

/// `*` with credentials is refused at start-up (exit 2, naming the variable)
/// instead of panicking inside tower-http or silently allowing every site.
#[tokio::test]
async fn wildcard_with_credentials_is_a_startup_error() {
    let exited = run_to_exit(&["--dev"], &[("ALLOWED_ORIGINS", "*"), ("CORS_ALLOW_CREDENTIALS", "true")]).await;
    assert_eq!(exited.status.code(), Some(2), "{:?}", exited.stderr);
    assert_eq!(exited.stderr.len(), 1, "{:?}", exited.stderr);
    assert!(exited.stderr[0].starts_with("configuration error: ALLOWED_ORIGINS:"), "{:?}", exited.stderr);
}
