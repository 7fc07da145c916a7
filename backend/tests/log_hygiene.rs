//! The log tells operators the truth and nothing secret (issue 10, section 4):
//! upstream error text is scrubbed of every credential the broker sent and of
//! control characters, one upstream failure is one log line however many
//! requests share it, a log written to a pipe carries no colour codes, and a
//! browser still sending the cookie of an ended session is not a warning.

mod common;

use base64::Engine;
use common::binary::BrokerProcess;
use common::broker::BrokerBuilder;
use common::browser::Browser;
use common::fault_upstream::{FaultUpstream, Script};
use common::{free_port, get, http_client};

const CLIENT_ID: &str = "broker id";
/// Reserved characters, so its form-encoded spelling differs from the plain one.
const SECRET: &str = "S3cret/+=log hygiene";

fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// An empty NO_COLOR is "not set": colour would follow the terminal test alone.
const NO_COLOR_UNSET: (&str, &str) = ("NO_COLOR", "");

/// An `error_description` that echoes the Basic header and the form-encoded
/// secret, and carries a newline and ANSI escapes, is logged scrubbed, on one
/// line, without escape bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_error_text_is_scrubbed_and_escaped() {
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", form_encode(CLIENT_ID), form_encode(SECRET)));
    let description = format!(
        "bad client: Authorization: Basic {basic}; body had client_secret={}\n\
         2026-01-01T00:00:00Z ERROR forged-line: all tokens revoked \u{1b}[31mred",
        form_encode(SECRET)
    );
    for client_auth in ["basic", "post"] {
        let upstream = FaultUpstream::start(Script::oauth_error(401, "invalid_client", &description)).await;
        let broker = BrokerBuilder::generic(&upstream.token_url())
            .client(CLIENT_ID, SECRET)
            .env(&[("OAUTH_CLIENT_AUTH", client_auth), NO_COLOR_UNSET])
            .spawn()
            .await;
        let reply = get(&http_client(), &broker.url("/api/token")).await;
        assert_eq!(reply.status, 502, "{}", reply.body);
        let log = broker.stop().await;
        let failure: Vec<&String> = log.iter().filter(|l| l.contains("invalid_client")).collect();
        assert_eq!(failure.len(), 1, "{client_auth}: the failure is logged once:\n{}", log.join("\n"));
        assert!(failure[0].contains("[redacted]"), "{}", failure[0]);
        for line in &log {
            for leaked in [basic.as_str(), SECRET, &form_encode(SECRET)] {
                assert!(!line.contains(leaked), "{client_auth}: `{leaked}` is in the log: {line}");
            }
            assert!(!line.contains('\u{1b}'), "{client_auth}: an escape byte is in the log: {line:?}");
            assert!(!line.contains("forged-line") || line.contains("invalid_client"), "a forged line: {line}");
        }
    }
}

/// 50 requests sharing one failed upstream call write one failure line, not one per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_upstream_failure_is_one_log_line() {
    let upstream =
        FaultUpstream::start(Script::raw(500, "text/plain", "down").delayed(std::time::Duration::from_millis(500)))
            .await;
    let broker = BrokerBuilder::generic(&upstream.token_url())
        .client(CLIENT_ID, SECRET)
        .env(&[("OAUTH_CLIENT_AUTH", "basic"), NO_COLOR_UNSET])
        .spawn()
        .await;
    let client = http_client();
    let url = broker.url("/api/token");
    let replies = futures_util::future::join_all((0..50).map(|_| get(&client, &url))).await;
    assert!(replies.iter().all(|r| r.status == 503));
    assert_eq!(upstream.requests(), 1);
    let log = broker.stop().await;
    let failures: Vec<&String> = log.iter().filter(|l| l.contains(" ERROR ") || l.contains(" WARN ")).collect();
    assert_eq!(failures.len(), 1, "one failure, one line:\n{}", log.join("\n"));
}

/// Requests carrying the cookie of a session that has ended (signed out, expired)
/// are routine for browsers: they get 401 and write no WARN line each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_session_cookie_is_not_a_warning() {
    // Dev-mode sign-in redirects back to BIND_ADDR, so it needs a real port.
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let env = [("BIND_ADDR", bind.as_str()), ("SESSION_SECRET", "log-hygiene-session-secret-0123456789abcdef")];
    let broker = BrokerProcess::start(&["--dev"], &env).await;
    let browser = Browser::new(&broker.base);
    browser.sign_in("/", "bob").await;
    let stale = browser.cookie().expect("a session cookie");
    assert_eq!(browser.logout(None).await.status, 200, "signed out, with the dev server's end-session URL");
    browser.set_cookie(Some(&stale));
    for _ in 0..5 {
        assert_eq!(browser.user_token().await.status, 401);
    }
    let log = broker.stop().await;
    let warnings: Vec<&String> =
        log.iter().filter(|l| l.contains(" WARN ") && !l.contains("development mode")).collect();
    assert!(warnings.is_empty(), "{warnings:#?}");
}
