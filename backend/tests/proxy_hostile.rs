//! The API proxy against a hostile API and a hostile page (issue 18): every
//! answer is sandboxed so nothing runs as script on the broker's origin,
//! headers that `Connection` names stay on their hop, path prefixes match
//! whole segments, and an API's `401` cannot make the broker renew tokens at will.

mod common;

use common::broker::Broker;
use common::fake_api::FakeApi;
use common::fault_upstream::{FaultUpstream, Script};
use common::raw_http::get_raw;
use common::sign_in::Rig;
use common::{get, http_client, scratch_file};

/// A broker on the generic preset whose token endpoint is `upstream`, with
/// these `[apis.*]` tables.
async fn broker_with_apis(upstream: &FaultUpstream, toml: &str) -> Broker {
    let file = scratch_file("apis.toml", toml);
    Broker::generic(&upstream.token_url(), &["--config", file.to_str().expect("utf-8 path")]).await
}

/// Every answer is sandboxed and unsniffable; HTML, SVG and untyped answers are
/// downloads unless the API opts in to inline, and even then stay sandboxed.
#[tokio::test]
async fn proxied_answers_are_sandboxed() {
    let upstream = FaultUpstream::start(Script::token(3600)).await;
    let api = FakeApi::start().await;
    let toml = format!(
        "[apis.files]\nbase_url = \"{0}\"\n[apis.inline]\nbase_url = \"{0}\"\ninline_active_content = true\n",
        api.url("/")
    );
    let broker = broker_with_apis(&upstream, &toml).await;
    let client = http_client();
    let cases = [
        ("files/page.html", Some("attachment")),
        ("files/drawing.svg", Some("attachment")),
        ("files/missing", Some("attachment")),
        ("files/echo/x", None),
        ("inline/page.html", None),
        ("inline/drawing.svg", Some("inline")),
    ];
    for (path, disposition) in cases {
        let reply = get(&client, &broker.url(&format!("/api/proxy/{path}"))).await;
        assert_eq!(reply.header("content-security-policy"), Some("sandbox; default-src 'none'"), "{path}");
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"), "{path}");
        assert_eq!(reply.header("content-disposition"), disposition, "{path}");
    }
}

/// Headers that `Connection` names are hop-by-hop (RFC 9110 §7.6.1): the
/// browser's never reach the API, and the API's never reach the browser.
#[tokio::test]
async fn headers_named_in_connection_stay_on_their_hop() {
    let upstream = FaultUpstream::start(Script::token(3600)).await;
    let api = FakeApi::start().await;
    let broker = Broker::generic(&upstream.token_url(), &["--proxy-api", &format!("api={}", api.url("/"))]).await;
    let headers = "Connection: keep-alive, Range, If-None-Match\r\nRange: bytes=0-1\r\n\
                   If-None-Match: \"v0\"\r\nAccept: text/plain\r\nConnection: close\r\n";
    let (status, _, _) = get_raw(broker.addr(), "/api/proxy/api/echo/a", headers).await;
    assert_eq!(status, 200);
    let received = api.received();
    let got = &received.last().expect("the API got the request").headers;
    assert_eq!(got["accept"], "text/plain");
    for hop in ["range", "if-none-match"] {
        assert!(!got.contains_key(hop), "{hop} reached the API");
    }

    let (status, head, body) = get_raw(broker.addr(), "/api/proxy/api/hop", "Connection: close\r\n").await;
    assert_eq!((status, body.as_str()), (200, "hop"));
    assert!(!head.contains("etag:"), "ETag reached the browser:\n{head}");
    assert!(!head.contains("max-age=3600"), "the API's Cache-Control reached the browser:\n{head}");
}

/// A prefix allows its own segment and what is below it, never a look-alike,
/// with or without a trailing slash in the config.
#[tokio::test]
async fn path_prefixes_match_whole_segments() {
    let upstream = FaultUpstream::start(Script::token(3600)).await;
    let api = FakeApi::start().await;
    let toml = format!(
        "[apis.bare]\nbase_url = \"{0}\"\npaths = [\"/echo\"]\n[apis.slash]\nbase_url = \"{0}\"\npaths = [\"/echo/\"]\n",
        api.url("/")
    );
    let broker = broker_with_apis(&upstream, &toml).await;
    for name in ["bare", "slash"] {
        for probe in ["echo-private/x", "echoX", "echo.bak/x", "echo%2dprivate/x", "echo;v=1/x"] {
            let (status, _, body) =
                get_raw(broker.addr(), &format!("/api/proxy/{name}/{probe}"), "Connection: close\r\n").await;
            assert_eq!(status, 403, "{name}/{probe}: {body}");
            assert!(body.contains("\"path_not_allowed\""), "{name}/{probe}: {body}");
        }
    }
    assert!(api.received().is_empty(), "a look-alike reached the API: {:?}", api.received());
    for name in ["bare", "slash"] {
        let (status, _, _) =
            get_raw(broker.addr(), &format!("/api/proxy/{name}/echo/x"), "Connection: close\r\n").await;
        assert_eq!(status, 200, "{name}");
    }
}

/// A path that always answers `401` cannot make the broker call the token
/// endpoint at will: one renewal, then the cool-down (default 30 s) holds.
#[tokio::test]
async fn always_401_makes_one_token_call_per_cooldown() {
    let upstream = FaultUpstream::start(Script::token(3600)).await;
    let api = FakeApi::start().await;
    let broker = Broker::generic(&upstream.token_url(), &["--proxy-api", &format!("api={}", api.url("/"))]).await;
    let client = http_client();
    get(&client, &broker.url("/api/token")).await.token();
    api.refuse_all();
    for i in 0..15 {
        let reply = get(&client, &broker.url(&format!("/api/proxy/api/guarded/{i}"))).await;
        assert_eq!(reply.status, 401, "request {i}: the API's 401 is passed on");
    }
    assert_eq!(upstream.requests(), 2, "the first token and at most one renewal");
    // The cool-down does not stop a refusal of the replaced token from getting the new one.
    let tokens: std::collections::HashSet<_> = api.received().iter().filter_map(|r| r.bearer()).collect();
    assert_eq!(tokens.len(), 2, "the renewed token is used, not renewed again");
}

/// On a user's API, a path that always answers `401` spends at most one
/// refresh grant (each rotates the user's refresh token), not one per request.
#[tokio::test]
async fn always_401_on_a_user_api_makes_one_refresh_grant() {
    let api = FakeApi::start().await;
    let file =
        scratch_file("user-401.toml", &format!("[apis.mine]\nbase_url = \"{}\"\ntoken = \"user\"\n", api.url("/")));
    let rig = Rig::proxied(3600, &["--config", file.to_str().expect("utf-8 path")]).await;
    let browser = rig.browser();
    browser.sign_in("/", "alice").await;
    let ajax = [("x-requested-with", "fetch")];
    assert_eq!(browser.get("/api/proxy/mine/guarded/first", &ajax).await.status, 200);
    api.refuse_all();
    for i in 0..10 {
        let reply = browser.get(&format!("/api/proxy/mine/guarded/{i}"), &ajax).await;
        assert_eq!(reply.status, 401, "request {i}");
    }
    assert!(
        rig.proxy().grants("refresh_token").len() <= 1,
        "{} refresh grants",
        rig.proxy().grants("refresh_token").len()
    );
    assert_eq!(browser.get("/api/user/token", &ajax).await.status, 200, "the session still has its tokens");
}
