//! The API proxy (issue 14): `/api/proxy/{name}/…` calls a configured API with
//! the server-held token, strips the browser's credentials, refuses every way
//! out of the API's base URL, enforces methods, prefixes, limits and timeouts,
//! never follows redirects, renews a refused token once, streams bodies, needs
//! the session and CSRF header for user-token APIs, and keeps tokens out of
//! the log. Against the `--dev` resource server and a fault-injecting API.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::broker::{Broker, BrokerBuilder};
use common::fake_api::FakeApi;
use common::fault_upstream::{FaultUpstream, Script};
use common::raw_http::get_raw;
use common::sign_in::Rig;
use common::{assert_error, get, get_with, http_client, manual_client, request, scratch_file};
use futures_util::StreamExt;
use reqwest::Method;

/// A broker on the generic preset whose token endpoint is `upstream`, with
/// these `[apis.*]` tables.
async fn broker_with_apis(upstream: &FaultUpstream, toml: &str) -> Broker {
    let file = scratch_file("apis.toml", toml);
    Broker::generic(&upstream.token_url(), &["--config", file.to_str().expect("utf-8 path")]).await
}

/// Sends `target` as the raw request-target, so no client normalises it first;
/// returns the status and body.
async fn raw_get(addr: SocketAddr, target: &str) -> (u16, String) {
    let (status, _, body) = get_raw(addr, target, "Connection: close\r\n").await;
    (status, body)
}

/// The demo's model, through the proxy and directly: the dev resource server
/// serves it only to a valid token with the viewer scope, like a real model API.
#[tokio::test]
async fn dev_model_is_served_only_with_a_scoped_token() {
    let file = scratch_file("dev.toml", "[profiles.other]\nscope = \"data:read\"\n");
    let broker = Broker::start(&["--dev", "--config", file.to_str().expect("utf-8 path")]).await;
    let client = http_client();
    let demo = get(&client, &broker.url("/dev/demo.json")).await.json();
    let model = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/dev-model.glb")).expect("model");
    assert_eq!(demo["model"]["proxyUrl"], "/api/proxy/models/building.glb");

    let proxied = client.get(broker.url("/api/proxy/models/building.glb")).send().await.expect("proxied");
    assert_eq!(proxied.status(), 200);
    assert_eq!(proxied.headers()["content-type"], "model/gltf-binary");
    assert_eq!(proxied.bytes().await.expect("body").as_ref(), model.as_slice());
    let head = request(&client, Method::HEAD, &broker.url("/api/proxy/models/building.glb"), &[]).await;
    assert_eq!((head.status, head.header("content-length")), (200, Some(model.len().to_string().as_str())));

    let direct = demo["model"]["directUrl"].as_str().expect("directUrl").to_owned();
    let anonymous = get(&client, &direct).await;
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.header("www-authenticate").is_some_and(|v| v.starts_with("Bearer")));
    let forged = get_with(&client, &direct, &[("authorization", "Bearer dev_forged")]).await;
    assert_eq!(forged.status, 401);
    assert!(forged.header("www-authenticate").is_some_and(|v| v.contains("invalid_token")));
    let token = get(&client, &broker.url("/api/token")).await.token();
    let bearer = format!("Bearer {token}");
    let allowed = client.get(&direct).header("authorization", &bearer).header("origin", "http://page.example");
    let allowed = allowed.send().await.expect("direct");
    assert_eq!(allowed.status(), 200);
    assert_eq!(allowed.headers()["access-control-allow-origin"], "*");
    assert_eq!(allowed.bytes().await.expect("body").as_ref(), model.as_slice());
    let other = get(&client, &broker.url("/api/token/other")).await.token();
    let unscoped = get_with(&client, &direct, &[("authorization", &format!("Bearer {other}"))]).await;
    assert_eq!(unscoped.status, 403);
    assert!(unscoped.header("www-authenticate").is_some_and(|v| v.contains("insufficient_scope")));
    let missing = get_with(&client, &direct.replace("building.glb", "other.glb"), &[("authorization", &bearer)]).await;
    assert_eq!(missing.status, 404);
}

/// Outside `--dev` there is no demo description and no `models` API.
#[tokio::test]
async fn demo_json_is_dev_only() {
    let upstream = FaultUpstream::start(Script::token(3600)).await;
    let broker = Broker::generic(&upstream.token_url(), &[]).await;
    let client = http_client();
    assert_eq!(get(&client, &broker.url("/dev/demo.json")).await.status, 404);
    let reply = get(&client, &broker.url("/api/proxy/models/building.glb")).await;
    assert_error!(reply, 404, "api_not_found");
}

/// The API gets the server's token and none of the browser's credentials or
/// hop-by-hop headers; the browser gets none of the API's cookies or challenges.
#[tokio::test]
async fn token_is_attached_and_browser_credentials_are_stripped() {
    let upstream = FaultUpstream::start(Script::token(3600)).await;
    let api = FakeApi::start().await;
    let broker = Broker::generic(&upstream.token_url(), &["--proxy-api", &format!("api={}", api.url("/"))]).await;
    let client = http_client();
    let token = get(&client, &broker.url("/api/token")).await.token();
    let reply = get_with(
        &client,
        &broker.url("/api/proxy/api/echo/a?q=1&r=%2F"),
        &[
            ("cookie", "session=browser-session"),
            ("authorization", "Bearer browser-token"),
            ("x-requested-with", "fetch"),
            ("connection", "x-secret"),
            ("x-secret", "1"),
            ("if-none-match", "\"v0\""),
        ],
    )
    .await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "echo"));
    assert_eq!(reply.header("etag"), Some("\"v1\""));
    for hidden in ["set-cookie", "www-authenticate", "x-internal"] {
        assert!(reply.header(hidden).is_none(), "{hidden} reached the browser");
    }
    let received = api.received();
    let got = received.last().expect("the API got the request");
    assert_eq!(got.target, "/echo/a?q=1&r=%2F");
    assert_eq!(got.bearer().as_deref(), Some(token.as_str()));
    assert_eq!(got.headers["if-none-match"], "\"v0\"");
    assert_eq!(got.headers["host"], api.url("").trim_start_matches("http://").trim_end_matches('/'));
    for stripped in ["cookie", "x-requested-with", "x-secret"] {
        assert!(!got.headers.contains_key(stripped), "{stripped} reached the API");
    }
}

/// Every way out of the base URL is refused before anything reaches the API.
#[tokio::test]
async fn traversal_and_host_escapes_are_refused() {
    let upstream = FaultUpstream::start(Script::token(3600)).await;
    let api = FakeApi::start().await;
    let broker =
        broker_with_apis(&upstream, &format!("[apis.api]\nbase_url = \"{}\"\npaths = [\"/\"]\n", api.url("/echo/")))
            .await;
    let cases = [
        "/api/proxy/api/../redirect",
        "/api/proxy/api/a/../../redirect",
        "/api/proxy/api/./a",
        "/api/proxy/api/%2e%2e/redirect",
        "/api/proxy/api/%2E%2E/redirect",
        "/api/proxy/api/..%2Fredirect",
        "/api/proxy/api/a%2F..%2F..%2Fredirect",
        "/api/proxy/api/a%5c..%5credirect",
        "/api/proxy/api//evil.example/x",
        "/api/proxy/api/http://evil.example/x",
        "/api/proxy/api/@evil.example/x",
        "/api/proxy/api/a%40evil.example",
        "/api/proxy/api/a%00b",
        "/api/proxy/api/models/..;/..;/redirect",
        "/api/proxy/api/models/..;jsessionid=x/redirect",
        "/api/proxy/api/models/.;/redirect",
        "/api/proxy/api/models/..%3b/redirect",
        "/api/proxy/api/models/..%3B/redirect",
        "/api/proxy/api/models/..%3Bjsessionid=x/redirect",
    ];
    for target in cases {
        let (status, body) = raw_get(broker.addr(), target).await;
        assert_eq!(status, 403, "{target}: {body}");
        assert!(body.contains("\"path_not_allowed\""), "{target}: {body}");
    }
    // A backslash is not even valid in a request-target: refused by the HTTP layer.
    let (status, _) = raw_get(broker.addr(), "/api/proxy/api/a\\..\\redirect").await;
    assert!(status == 400 || status == 403, "{status}");
    assert!(api.received().is_empty(), "the API was reached: {:?}", api.received());
    // And the controls: an ordinary path does reach it, under the base, and so
    // does a URL-encoded derivative URN, its encoded slashes passed on as sent.
    assert_eq!(raw_get(broker.addr(), "/api/proxy/api/x").await.0, 200);
    assert_eq!(api.received()[0].target, "/echo/x");
    let urn = "manifest/urn%3Aadsk.viewing%3Afs.file%3AdXJu%2Foutput%2F0.svf";
    assert_eq!(raw_get(broker.addr(), &format!("/api/proxy/api/{urn}")).await.0, 200);
    assert_eq!(api.received()[1].target, format!("/echo/{urn}"));
}

/// Methods and path prefixes come from the API's settings; errors are the JSON shape.
#[tokio::test]
async fn methods_and_path_prefixes_are_enforced() {
    let upstream = FaultUpstream::start(Script::token(3600)).await;
    let api = FakeApi::start().await;
    let broker = broker_with_apis(
        &upstream,
        &format!("[apis.ro]\nbase_url = \"{}\"\nmethods = [\"GET\"]\npaths = [\"/echo/\"]\n", api.url("/")),
    )
    .await;
    let client = http_client();
    assert_eq!(get(&client, &broker.url("/api/proxy/ro/echo/x")).await.status, 200);
    let post = request(&client, Method::POST, &broker.url("/api/proxy/ro/echo/x"), &[]).await;
    assert_error!(post, 405, "method_not_allowed");
    assert_eq!(post.header("allow"), Some("GET"));
    let outside = get(&client, &broker.url("/api/proxy/ro/bytes/10")).await;
    assert_error!(outside, 403, "path_not_allowed");
    let unknown = get(&client, &broker.url("/api/proxy/nope/echo/x")).await;
    assert_error!(unknown, 404, "api_not_found");
    assert_eq!(api.received().len(), 1, "only the allowed request reached the API");
}

/// Size limits both ways, the timeout, and redirects, each with its error code.
#[tokio::test]
async fn limits_timeout_and_redirects() {
    let upstream = FaultUpstream::start(Script::token(3600)).await;
    let api = FakeApi::start().await;
    let broker = broker_with_apis(
        &upstream,
        &format!(
            "[apis.small]\nbase_url = \"{}\"\nmethods = [\"GET\", \"POST\"]\nmax_request_bytes = 1000\n\
             max_response_bytes = 1000\ntimeout_secs = 1\n",
            api.url("/")
        ),
    )
    .await;
    let client = http_client();
    let url = |path: &str| broker.url(&format!("/api/proxy/small{path}"));

    let exact = client.get(url("/bytes/1000")).send().await.expect("exact");
    assert_eq!(exact.bytes().await.expect("body").len(), 1000);
    let declared = get(&client, &url("/bytes/1001")).await;
    assert_error!(declared, 502, "response_too_large");
    // No Content-Length: the limit is found mid-stream, so the connection is cut
    // and the body never completes.
    // (Here the first chunk is already over it, so even the headers may not go out.)
    let streamed = match client.get(url("/chunked/5000")).send().await {
        Ok(response) => response.bytes().await.map(|b| b.len()),
        Err(e) => Err(e),
    };
    assert!(streamed.is_err(), "a body over the limit must not arrive complete: {streamed:?}");

    let fits = client.post(url("/upload")).body(vec![b'u'; 1000]).send().await.expect("upload");
    assert_eq!(fits.text().await.expect("body"), "1000");
    let declared = client.post(url("/upload")).body(vec![b'u'; 1001]).send().await.expect("too large");
    assert_eq!(declared.status(), 413);
    let before = api.received().len();
    let chunks = futures_util::stream::iter((0..4).map(|_| Ok::<_, std::io::Error>(vec![b'u'; 400])));
    let streamed = client.post(url("/upload")).body(reqwest::Body::wrap_stream(chunks)).send().await;
    // The broker answers 413 once the limit is crossed; the API never gets the whole body.
    if let Ok(response) = streamed {
        assert_eq!(response.status(), 413);
    }
    assert!(api.received().len() <= before + 1);

    let started = Instant::now();
    let slow = get(&client, &url("/slow")).await;
    assert_error!(slow, 504, "upstream_timeout");
    assert!(started.elapsed() < Duration::from_secs(4), "timed out after {:?}", started.elapsed());

    let redirect = manual_client().get(url("/redirect")).send().await.expect("redirect");
    assert_eq!(redirect.status(), 502);
    assert!(redirect.headers().get("location").is_none(), "the redirect target reached the browser");
    let body: serde_json::Value = serde_json::from_slice(&redirect.bytes().await.expect("body")).expect("JSON");
    assert_eq!(body["error"], "upstream_redirect");
    assert_eq!(api.received().iter().filter(|r| r.target == "/redirect").count(), 1, "not followed");
}

/// An API's 401 renews the token once and retries once, for idempotent
/// methods only; a second 401 goes to the browser.
#[tokio::test]
async fn a_refused_token_is_renewed_and_retried_exactly_once() {
    let upstream = FaultUpstream::start(Script::token(3600)).await;
    let api = FakeApi::start().await;
    let broker = broker_with_apis(
        &upstream,
        // No cool-down, so each step below may renew again.
        &format!(
            "[apis.api]\nbase_url = \"{}\"\nmethods = [\"GET\", \"POST\"]\nrenew_cooldown_secs = 0\n",
            api.url("/")
        ),
    )
    .await;
    let client = http_client();
    let first = get(&client, &broker.url("/api/token")).await.token();
    api.refuse(&first);
    let reply = get(&client, &broker.url("/api/proxy/api/guarded/a")).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "guarded"));
    assert_eq!(upstream.requests(), 2, "one renewal");
    let bearers: Vec<_> = api.received().iter().map(|r| r.bearer().expect("bearer")).collect();
    let second = bearers[1].clone();
    assert_eq!(bearers, [first.clone(), second.clone()]);
    assert_ne!(first, second);

    api.refuse(&second);
    let post = request(&client, Method::POST, &broker.url("/api/proxy/api/guarded/b"), &[]).await;
    assert_eq!(post.status, 401, "a POST is not retried");
    assert!(post.header("www-authenticate").is_none());
    assert_eq!(upstream.requests(), 2, "no renewal for a POST");

    let retried = get(&client, &broker.url("/api/proxy/api/guarded/c")).await;
    assert_eq!(retried.status, 200);
    assert_eq!(upstream.requests(), 3, "the GET renewed the token the POST was refused with");

    api.refuse_all();
    let twice = get(&client, &broker.url("/api/proxy/api/guarded/d")).await;
    assert_eq!(twice.status, 401, "the second refusal goes to the browser");
    assert_eq!(upstream.requests(), 4, "one renewal, never a loop");
    assert_eq!(api.received().iter().filter(|r| r.target == "/guarded/d").count(), 2, "one retry");
}

/// Many requests refused at once with the same token make one renewal.
#[tokio::test]
async fn concurrent_refusals_make_one_renewal() {
    let upstream = FaultUpstream::start(Script::token(3600).delayed(Duration::from_millis(200))).await;
    let api = FakeApi::start().await;
    let broker = Broker::generic(&upstream.token_url(), &["--proxy-api", &format!("api={}", api.url("/"))]).await;
    let client = http_client();
    let first = get(&client, &broker.url("/api/token")).await.token();
    api.refuse(&first);
    let urls: Vec<String> = (0..20).map(|i| broker.url(&format!("/api/proxy/api/guarded/{i}"))).collect();
    let replies = futures_util::future::join_all(urls.iter().map(|url| get(&client, url))).await;
    assert!(replies.iter().all(|r| r.status == 200), "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    assert_eq!(upstream.requests(), 2, "20 refusals, one renewal");
}

/// A 64 MiB body streams through: its first bytes reach the browser while the
/// API still holds back its last chunk, so the proxy cannot be buffering it.
#[tokio::test]
async fn large_bodies_stream_through() {
    const SIZE: usize = 64 * 1024 * 1024;
    let upstream = FaultUpstream::start(Script::token(3600)).await;
    let api = FakeApi::start().await;
    let broker = Broker::generic(&upstream.token_url(), &["--proxy-api", &format!("api={}", api.url("/"))]).await;
    let response =
        http_client().get(broker.url(&format!("/api/proxy/api/gated/{SIZE}"))).send().await.expect("headers");
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let mut received = 0;
    while received < 8 * 1024 * 1024 {
        received += body.next().await.expect("more data").expect("chunk").len();
    }
    api.open_gate();
    while let Some(chunk) = body.next().await {
        received += chunk.expect("chunk").len();
    }
    assert_eq!(received, SIZE);
}

/// A user-token API needs the CSRF header, a trusted origin and a session,
/// as `/api/user/token` does, and then sends the user's token.
#[tokio::test]
async fn user_token_api_needs_session_and_csrf_header() {
    let api = FakeApi::start().await;
    let file =
        scratch_file("user-api.toml", &format!("[apis.mine]\nbase_url = \"{}\"\ntoken = \"user\"\n", api.url("/")));
    let rig = Rig::dev(&["--config", file.to_str().expect("utf-8 path")]).await;
    let browser = rig.browser();
    let ajax = [("x-requested-with", "fetch")];
    let no_header = browser.get("/api/proxy/mine/echo/a", &[]).await;
    assert_error!(no_header, 403, "cross_site_request");
    let signed_out = browser.get("/api/proxy/mine/echo/a", &ajax).await;
    assert_error!(signed_out, 401, "login_required");
    browser.sign_in("/", "alice").await;
    let no_header = browser.get("/api/proxy/mine/echo/a", &[]).await;
    assert_eq!(no_header.status, 403);
    let foreign = browser.get("/api/proxy/mine/echo/a", &[ajax[0], ("origin", "https://evil.example")]).await;
    assert_error!(foreign, 403, "cross_site_request");
    assert!(api.received().is_empty());
    let ok = browser.get("/api/proxy/mine/echo/a", &ajax).await;
    assert_eq!((ok.status, ok.body.as_str()), (200, "echo"));
    let user_token = browser.user_token().await.token();
    let got = api.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].bearer().as_deref(), Some(user_token.as_str()));
    assert!(!got[0].headers.contains_key("cookie"), "the session cookie reached the API");

    // The API refuses the user's token: the session's refresh token gets a new
    // one, the request is retried with it, and the session keeps it.
    api.refuse(&user_token);
    let renewed = browser.get("/api/proxy/mine/guarded/b", &ajax).await;
    assert_eq!((renewed.status, renewed.body.as_str()), (200, "guarded"));
    let got = api.received();
    let retried = got.last().and_then(|r| r.bearer()).expect("bearer");
    assert_ne!(retried, user_token);
    assert_eq!(browser.user_token().await.token(), retried);
}

/// Per-API metrics move, and no token reaches the log, even when tokens are
/// refused and renewed and requests fail.
#[tokio::test]
async fn metrics_move_and_tokens_stay_out_of_the_log() {
    let upstream = FaultUpstream::start(Script::token(3600)).await;
    let api = FakeApi::start().await;
    let broker = BrokerBuilder::generic(&upstream.token_url())
        .client("broker", "S3CRET-proxy-log")
        .env(&[("PROXY_API", &format!("api={}", api.url("/"))), ("RUST_LOG", "debug")])
        .spawn()
        .await;
    let client = http_client();
    let first = get(&client, &broker.url("/api/token")).await.token();
    api.refuse(&first);
    assert_eq!(get(&client, &broker.url("/api/proxy/api/guarded/a")).await.status, 200);
    assert_eq!(get(&client, &broker.url("/api/proxy/api/redirect")).await.status, 502);
    let metrics = get(&client, &broker.url("/metrics")).await.body;
    for line in [
        r#"token_broker_proxy_requests_total{api="api",status="2xx"} 1"#,
        r#"token_broker_proxy_requests_total{api="api",status="4xx"} 1"#,
        r#"token_broker_proxy_requests_total{api="api",status="3xx"} 1"#,
        r#"token_broker_proxy_upstream_duration_seconds_count{api="api"} 3"#,
        r#"token_broker_errors_total{kind="upstream_redirect"} 1"#,
    ] {
        assert!(metrics.contains(line), "missing {line} in:\n{metrics}");
    }
    let renewed = api.received().iter().filter_map(|r| r.bearer()).collect::<Vec<_>>();
    let log = broker.stop().await.join("\n");
    for secret in renewed.iter().map(String::as_str).chain(["S3CRET-proxy-log"]) {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
    assert!(log.contains("retrying once with a new one"), "the renewal is logged:\n{log}");
}
