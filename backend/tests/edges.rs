//! Smaller edges (issue 10, section 6): `/readyz` keeps its own time bound, an
//! outage page too large to read keeps its `Retry-After`, a password in a URL
//! setting is never printed, a start-up failure after validation exits 2 with
//! one line, and an unknown profile name is not reflected back unbounded.

mod common;

use std::time::Duration;

use common::binary::run_to_exit;
use common::broker::{Broker, BrokerBuilder};
use common::fault_upstream::{FaultUpstream, Script};
use common::{assert_error, get, http_client};

/// A hung upstream makes `/readyz` say "not ready" within about a second, not
/// after the upstream timeout: orchestrators fail slow probes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_within_its_bound_while_the_upstream_hangs() {
    let upstream = FaultUpstream::start(Script::token(3600).delayed(Duration::from_secs(15))).await;
    let broker = Broker::generic(&upstream.token_url(), &["--upstream-timeout-secs", "30"]).await;
    let reply = get(&http_client(), &broker.url("/readyz")).await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.json()["status"], "not_ready");
    assert!(reply.latency < Duration::from_secs(3), "/readyz took {:?}", reply.latency);
}

/// A 503 whose body is over the size cap is still an outage with its `Retry-After`.
#[tokio::test]
async fn large_503_body_keeps_retry_after() {
    let page = "<p>maintenance</p>".repeat(10_000);
    let upstream = FaultUpstream::start(Script::raw(503, "text/html", page).with_header("retry-after", "42")).await;
    let broker = Broker::generic(&upstream.token_url(), &[]).await;
    let reply = get(&http_client(), &broker.url("/api/token")).await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.header("retry-after"), Some("42"));
}

/// A password in `OAUTH_TOKEN_URL` is not printed with the configuration error.
#[tokio::test]
async fn password_in_token_url_is_never_echoed() {
    for url in ["http://broker:hunter2-url-pw@auth.example.com/token", "ftp://broker:hunter2-url-pw@[bad/token"] {
        let exited = run_to_exit(
            &[],
            &[
                ("OAUTH_PROVIDER", "generic"),
                ("OAUTH_TOKEN_URL", url),
                ("OAUTH_CLIENT_ID", "broker"),
                ("OAUTH_CLIENT_SECRET", "broker-secret"),
            ],
        )
        .await;
        assert_eq!(exited.status.code(), Some(2), "{:?}", exited.stderr);
        let all = exited.stderr.join("\n");
        assert!(all.contains("OAUTH_TOKEN_URL"), "{all}");
        assert!(!all.contains("hunter2-url-pw"), "the password was printed: {all}");
    }
}

/// A password in `OAUTH_TOKEN_URL` appears in no response and no log line, even
/// at trace level, whether the upstream fails or answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_in_token_url_stays_out_of_responses_and_logs() {
    let upstream = FaultUpstream::start(Script::raw(500, "text/plain", "down")).await;
    let url = upstream.token_url().replacen("http://", "http://broker:hunter2-url-pw@", 1);
    let broker =
        BrokerBuilder::generic(&url).env(&[("RUST_LOG", "trace"), ("UPSTREAM_BACKOFF_MAX_SECS", "0")]).spawn().await;
    let client = http_client();
    let failed = get(&client, &broker.url("/api/token")).await;
    assert_eq!(failed.status, 503, "{}", failed.body);
    upstream.set(Script::token(3600));
    let served = get(&client, &broker.url("/api/token")).await;
    assert_eq!(served.status, 200, "{}", served.body);
    assert_eq!(upstream.requests(), 2);
    let log = broker.stop().await;
    assert!(log.iter().any(|l| l.contains("TRACE")), "trace logging was not on");
    for text in log.iter().chain([&failed.body, &served.body]) {
        assert!(!text.contains("hunter2-url-pw"), "the URL password is out: {text}");
    }
}

/// A failure after validation (the port is taken) exits 2, like a configuration
/// error, and says so once.
#[tokio::test]
async fn startup_failure_after_validation_exits_2_once() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let exited = run_to_exit(&["--dev"], &[("BIND_ADDR", &addr)]).await;
    assert_eq!(exited.status.code(), Some(2), "{:?}", exited.stderr);
    let lines: Vec<&String> = exited.stderr.iter().filter(|l| l.contains("cannot listen")).collect();
    assert_eq!(lines.len(), 1, "{:?}", exited.stderr);
}

/// An unknown profile name is shown back short and printable, whatever was asked for.
#[tokio::test]
async fn unknown_profile_is_not_reflected_unbounded() {
    let broker = Broker::generic("http://127.0.0.1:9/token", &[]).await;
    let client = http_client();
    let long = "p".repeat(5000);
    let reply = get(&client, &broker.url(&format!("/api/token/{long}"))).await;
    assert_error!(reply, 404, "unknown_profile");
    assert!(reply.body.len() < 300, "{} bytes reflected", reply.body.len());
    let reply = get(&client, &broker.url("/api/token/a%0D%0Aforged%3Cscript%3E")).await;
    let description = reply.json()["error_description"].as_str().expect("description").to_owned();
    assert!(!description.contains(['\r', '\n', '<']), "{description:?}");
}
