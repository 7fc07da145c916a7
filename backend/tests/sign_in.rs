//! The three-legged sign-in (issue #5) end to end over real HTTP: the broker
//! with sign-in on, the dev authorization server's sign-in form, a stand-in
//! browser keeping its own cookie. Covers the redirect parameters, state and
//! PKCE, open redirects, cross-site calls, forged cookies, refresh with
//! rotation, browser down-scoping, revocation on sign-out, and secrets.

mod common;

use std::time::{Duration, Instant};

use common::broker::BrokerBuilder;
use common::browser::{Browser, is_removal};
use common::sign_in::{DEV_CLIENT_ID, Rig, dev_token, query_param, s256, standalone_dev_server};
use common::{Reply, SESSION_SECRET, assert_error, free_port};

/// Asserts the 400 `invalid_state` sign-in page.
fn assert_invalid_state(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 400, "{what}: {}", reply.body);
    assert!(reply.body.contains("expired or was already used"), "{what}: {}", reply.body);
    assert!(reply.header("location").is_none(), "{what}: redirected");
    assert_eq!(reply.header("referrer-policy"), Some("no-referrer"), "{what}");
}

/// Asserts `/api/user/token` answers 401 `login_required` for this browser.
async fn assert_signed_out(browser: &Browser, what: &str) {
    let reply = browser.user_token().await;
    assert_error!(reply, 401, "login_required", "{what}:");
}

/// Replaces the `state` parameter of a callback URL.
fn with_state(callback: &str, state: Option<&str>) -> String {
    let mut url = url::Url::parse(callback).expect("callback URL");
    let pairs: Vec<(String, String)> =
        url.query_pairs().filter(|(k, _)| k != "state").map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    {
        let mut query = url.query_pairs_mut();
        query.clear();
        for (k, v) in &pairs {
            query.append_pair(k, v);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
    }
    url.to_string()
}

/// Dev sign-in: every authorization parameter, a rotated HttpOnly Lax cookie, no Referer leak, a token and a profile.
#[tokio::test]
async fn dev_sign_in_sends_every_parameter_and_rotates_the_session() {
    let rig = Rig::dev(&[]).await;
    let browser = rig.browser();
    let login = browser.login_raw("%2Fviewer%3Fx%3D1").await;
    assert_eq!(login.status, 302, "{}", login.body);
    let authorize = login.header("location").expect("Location").to_owned();
    assert!(authorize.starts_with(&format!("{}/authorize?", rig.dev_issuer)), "{authorize}");
    let param =
        |name: &str| query_param(&authorize, name).unwrap_or_else(|| panic!("`{name}` missing from {authorize}"));
    assert_eq!(param("response_type"), "code");
    assert_eq!(param("client_id"), DEV_CLIENT_ID);
    assert_eq!(param("redirect_uri"), rig.url("/auth/callback"));
    assert_eq!(param("code_challenge_method"), "S256");
    let challenge = param("code_challenge");
    assert_eq!(challenge.len(), 43, "{challenge}");
    assert!(challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{challenge}");
    // base64url of ≥ 16 random bytes is ≥ 22 characters: at least 128 bits.
    assert!(param("state").len() >= 22, "state too short: {}", param("state"));
    assert!(param("nonce").len() >= 22, "nonce too short");
    assert_eq!(param("scope").split(' ').collect::<Vec<_>>(), ["openid", "profile", "data:read"]);
    let pending_set_cookie = login.header("set-cookie").expect("login sets the login-state cookie").to_owned();
    assert!(pending_set_cookie.starts_with("login_state="), "{pending_set_cookie}");
    assert_eq!(login.headers.get_all("set-cookie").iter().count(), 1, "an anonymous login creates no session");

    let callback = browser.decide(&authorize, "allow", "alice").await;
    assert!(callback.starts_with(&rig.url("/auth/callback?")), "{callback}");
    assert_eq!(query_param(&callback, "state"), Some(param("state")));
    let landed = browser.get(&callback, &[]).await;
    assert_eq!(landed.status, 302, "{}", landed.body);
    assert_eq!(landed.header("location"), Some("/viewer?x=1"));
    assert_eq!(landed.header("referrer-policy"), Some("no-referrer"));
    let set_cookie = landed
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ASCII").to_owned())
        .find(|c| c.starts_with("session="))
        .expect("callback sets the session cookie");
    for (cookie, path) in [(&pending_set_cookie, "path=/auth"), (&set_cookie, "path=/")] {
        let attrs: Vec<String> = cookie.split(';').map(|a| a.trim().to_ascii_lowercase()).collect();
        for wanted in ["httponly", "samesite=lax", path] {
            assert!(attrs.iter().any(|a| a == wanted), "`{wanted}` missing: {cookie}");
        }
        assert!(!attrs.iter().any(|a| a == "secure"), "--dev cookies are not Secure: {cookie}");
    }
    assert_eq!(browser.login_state(), None, "the finished sign-in leaves no login state");
    let signed_in_cookie = browser.cookie().expect("a session cookie");
    assert!(rig.grant(&signed_in_cookie).await.is_some());

    let token = browser.user_token().await;
    assert!(token.token().starts_with("dev_"), "{}", token.body);
    assert_eq!(token.json()["token_type"], "Bearer");
    assert_eq!(token.header("cache-control"), Some("no-store"));
    let me = browser.get("/api/user/me", &[("x-requested-with", "fetch")]).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["sub"], "alice");
}

/// A modified, missing or replayed `state` gets the 400 page and no session.
#[tokio::test]
async fn tampered_missing_or_replayed_state_is_refused() {
    let rig = Rig::dev(&[]).await;
    let browser = rig.browser();
    let callback = browser.authorize("/", "allow", "alice").await;
    let state = query_param(&callback, "state").expect("state");
    let mut tampered = state.clone().into_bytes();
    tampered[0] = if tampered[0] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    let cases = [
        ("tampered", with_state(&callback, Some(&tampered))),
        ("missing", with_state(&callback, None)),
        ("empty", with_state(&callback, Some(""))),
    ];
    for (what, url) in &cases {
        assert_invalid_state(&browser.get(url, &[]).await, what);
        assert_signed_out(&browser, what).await;
    }
    // The genuine callback still works once (the failures above consumed nothing) …
    let landed = browser.get(&callback, &[]).await;
    assert_eq!(landed.status, 302, "{}", landed.body);
    let token = browser.user_token().await.token();
    // … and never twice: the replay is refused and does not replace the session.
    let cookie = browser.cookie();
    let replay = browser.get(&callback, &[]).await;
    assert_invalid_state(&replay, "replayed");
    assert_eq!(browser.cookie(), cookie);
    assert_eq!(browser.user_token().await.token(), token);
    // A fresh browser replaying it gets nothing either.
    let other = rig.browser();
    assert_invalid_state(&other.get(&callback, &[]).await, "replayed elsewhere");
    assert_signed_out(&other, "replayed elsewhere").await;
}

/// A callback carried to another browser (login CSRF / code injection) signs that browser in to nothing.
#[tokio::test]
async fn a_callback_from_another_browsers_session_is_refused() {
    let rig = Rig::dev(&[]).await;
    let (a, b) = (rig.browser(), rig.browser());
    let a_callback = a.authorize("/", "allow", "alice").await;
    // B has a sign-in of its own in progress, with another state.
    let b_callback = b.authorize("/", "allow", "mallory").await;
    assert_ne!(query_param(&a_callback, "state"), query_param(&b_callback, "state"));
    assert_invalid_state(&b.get(&a_callback, &[]).await, "A's callback in B");
    assert_signed_out(&b, "B after A's callback").await;
    // A's code under B's own state: the broker exchanges it with B's PKCE verifier, which fails.
    let code = query_param(&a_callback, "code").expect("code");
    let mut mixed = url::Url::parse(&b_callback).expect("url");
    let pairs: Vec<(String, String)> = mixed
        .query_pairs()
        .map(|(k, v)| (k.to_string(), if k == "code" { code.clone() } else { v.into_owned() }))
        .collect();
    mixed.query_pairs_mut().clear().extend_pairs(&pairs);
    let mixed = mixed.to_string();
    let injected = b.get(&mixed, &[]).await;
    assert_eq!(injected.status, 502, "A's code with B's verifier: {}", injected.body);
    assert_signed_out(&b, "B after injecting A's code").await;
    // A's code is single-use at the dev server, so A's own sign-in now fails too, safely.
    let a_landed = a.get(&a_callback, &[]).await;
    assert_ne!(a_landed.status, 302, "{}", a_landed.body);
    assert_signed_out(&a, "A after its code was burnt").await;
    // A fresh attempt by A completes.
    a.sign_in("/", "alice").await;
    assert_eq!(a.user_token().await.status, 200);
}

/// The dev server refuses a code exchanged with a wrong or missing PKCE verifier, and accepts the right one.
#[tokio::test]
async fn dev_server_enforces_pkce() {
    let rig = Rig::dev(&[]).await;
    let browser = rig.browser();
    let redirect_uri = rig.url("/auth/callback");
    let verifier = "correct-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";
    // Our own authorization request, so we hold the verifier the broker never reveals.
    let code = || async {
        let authorize = format!(
            "{}/authorize?response_type=code&client_id={DEV_CLIENT_ID}&redirect_uri={}&code_challenge={}&code_challenge_method=S256&state=s&scope=openid",
            rig.dev_issuer,
            url::form_urlencoded::byte_serialize(redirect_uri.as_bytes()).collect::<String>(),
            s256(verifier),
        );
        query_param(&browser.decide(&authorize, "allow", "alice").await, "code").expect("code")
    };
    let exchange = |code: String, verifier: Option<&'static str>| {
        let redirect_uri = redirect_uri.clone();
        let rig = &rig;
        async move {
            let mut form = vec![
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", redirect_uri.as_str()),
            ];
            if let Some(v) = verifier {
                form.push(("code_verifier", v));
            }
            rig.dev_token(&form).await
        }
    };
    let wrong = exchange(code().await, Some("wrong-verifier-0123456789-abcdefghijklmnopqrstuvwxyz")).await;
    assert_eq!((wrong.status, wrong.error_code().as_str()), (400, "invalid_grant"), "{}", wrong.body);
    let missing = exchange(code().await, None).await;
    assert_eq!((missing.status, missing.error_code().as_str()), (400, "invalid_grant"), "{}", missing.body);
    let right = exchange(code().await, Some(verifier)).await;
    assert_eq!(right.status, 200, "{}", right.body);
    assert!(right.json()["refresh_token"].as_str().is_some_and(|t| t.starts_with("devrt_")));
}

/// `return_to` must be a path on this site: off-site targets get 400 `invalid_return_to` and no redirect.
#[tokio::test]
async fn return_to_cannot_leave_the_site() {
    let rig = Rig::dev(&[]).await;
    let browser = rig.browser();
    let attempts = [
        "https%3A%2F%2Fevil.example",
        "%2F%2Fevil.example",
        "%2F%5Cevil.example",
        "%2F%5C%5Cevil.example",
        "javascript%3Aalert(1)",
        "%2F%0d%0aSet-Cookie:x",
        "%2F%09%2Fevil.example",
        "evil.example",
        "",
    ];
    for raw in attempts {
        let reply = browser.login_raw(raw).await;
        assert_eq!(reply.status, 400, "return_to={raw}: {}", reply.body);
        assert!(reply.body.contains("return_to must be a path on this site"), "return_to={raw}: {}", reply.body);
        assert!(reply.header("location").is_none(), "return_to={raw} redirected");
        assert!(reply.header("set-cookie").is_none(), "return_to={raw} started a session");
    }
    // A local path survives the round trip exactly.
    let landed = browser.sign_in("/viewer?x=1", "alice").await;
    assert_eq!(landed.header("location"), Some("/viewer?x=1"));
}

/// Cookie-authenticated routes refuse calls without `X-Requested-With` or from a foreign `Origin`.
#[tokio::test]
async fn cross_site_calls_are_refused() {
    let rig = Rig::dev(&[]).await;
    let browser = rig.browser();
    browser.sign_in("/", "alice").await;
    let evil = [("x-requested-with", "fetch"), ("origin", "https://evil.example")];
    let cases: [(&str, &[(&str, &str)]); 4] =
        [("/api/user/token", &[]), ("/api/user/token", &evil), ("/api/user/me", &[]), ("/api/user/me", &evil)];
    for (path, headers) in cases {
        let reply = browser.get(path, headers).await;
        assert_error!(reply, 403, "cross_site_request", "{path} {headers:?}:");
        assert!(!reply.body.contains("dev_"), "a token leaked: {}", reply.body);
    }
    let ours = browser.get("/api/user/token", &[("x-requested-with", "fetch"), ("origin", &rig.url(""))]).await;
    assert_eq!(ours.status, 200, "{}", ours.body);
    // A foreign sign-out (with or without X-Requested-With) does nothing.
    let logout = browser.logout(Some("https://evil.example")).await;
    assert_eq!(logout.status, 403, "{}", logout.body);
    let form_post =
        browser.send(reqwest::Method::POST, &browser.url("/auth/logout"), &[("origin", "null")], None).await;
    assert_eq!(form_post.status, 403, "{}", form_post.body);
    assert!(form_post.header("set-cookie").is_none());
    assert_eq!(browser.user_token().await.status, 200, "the session survived");
}

/// Garbage, signed-but-unknown and tampered cookies get 401 `login_required` and no new session.
#[tokio::test]
async fn forged_or_stale_cookies_get_login_required() {
    let rig = Rig::dev(&[]).await;
    let alice = rig.browser();
    alice.sign_in("/", "alice").await;
    let real = alice.cookie().expect("cookie");
    // A validly signed id whose session has ended.
    let bob = rig.browser();
    bob.sign_in("/", "bob").await;
    let stale = bob.cookie().expect("cookie");
    assert_eq!(bob.logout(None).await.status, 204);
    let mut flipped = real.clone().into_bytes();
    flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
    let tampered_signature = String::from_utf8(flipped).expect("ascii");
    let mut swapped = real.clone().into_bytes();
    let last = swapped.len() - 1;
    swapped[last] = if swapped[last] == b'A' { b'B' } else { b'A' };
    let tampered_id = String::from_utf8(swapped).expect("ascii");
    let cases = [
        ("garbage", "not-a-session".to_owned()),
        ("empty", String::new()),
        ("signed but ended", stale),
        ("tampered signature", tampered_signature),
        ("tampered id", tampered_id),
        ("signature only", real[..44].to_owned()),
    ];
    for (what, cookie) in cases {
        let browser = rig.browser();
        browser.set_cookie(Some(&cookie));
        let reply = browser.user_token().await;
        assert_error!(reply, 401, "login_required", "{what}:");
        for set in reply.headers.get_all("set-cookie") {
            assert!(is_removal(set.to_str().expect("ascii")), "{what}: a session was created: {set:?}");
        }
        let me = browser.get("/api/user/me", &[("x-requested-with", "fetch")]).await;
        assert_eq!(me.status, 401, "{what}: {}", me.body);
    }
    // Alice's genuine cookie was never disturbed.
    assert_eq!(alice.user_token().await.status, 200);
}

/// Denying on the provider's page gives the 403 "cancelled" page and no session; its state is spent.
#[tokio::test]
async fn denied_consent_stores_nothing() {
    let rig = Rig::dev(&[]).await;
    let browser = rig.browser();
    let callback = browser.authorize("/", "deny", "alice").await;
    assert_eq!(query_param(&callback, "error").as_deref(), Some("access_denied"));
    assert!(query_param(&callback, "code").is_none());
    let reply = browser.get(&callback, &[]).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(reply.body.contains("Sign-in cancelled"), "{}", reply.body);
    assert!(reply.header("location").is_none());
    assert_signed_out(&browser, "after deny").await;
    assert_invalid_state(&browser.get(&callback, &[]).await, "deny replayed");
    // Any other provider error is a 400 page naming it.
    let other = browser.authorize("/", "allow", "alice").await;
    let state = query_param(&other, "state").expect("state");
    let iss = &rig.dev_issuer;
    let reply = browser.get(&rig.url(&format!("/auth/callback?error=server_error&state={state}&iss={iss}")), &[]).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.body.contains("server_error"), "{}", reply.body);
    assert_signed_out(&browser, "after server_error").await;
}

/// In its refresh window the user token is refreshed once for concurrent callers; the refresh token rotates.
#[tokio::test]
async fn user_token_refresh_is_single_flight_and_rotates() {
    let rig =
        Rig::dev(&["--dev-token-ttl-secs", "6", "--token-min-ttl-secs", "1", "--token-refresh-window-min-secs", "3"])
            .await;
    let browser = rig.browser();
    browser.sign_in("/", "alice").await;
    let signed_in = Instant::now();
    let cookie = browser.cookie().expect("cookie");
    let first = browser.user_token().await.token();
    assert_eq!(browser.user_token().await.token(), first, "fresh tokens are served, not refreshed");
    let before = rig.grant(&cookie).await.expect("grant").refresh_token.expect("refresh token").into_secret();
    // Wait out the fresh part of the 6 s token (the window is its last 3 s).
    tokio::time::sleep_until((signed_in + Duration::from_millis(3300)).into()).await;
    let replies = futures_util::future::join_all((0..8).map(|_| browser.user_token())).await;
    let tokens: Vec<String> = replies.iter().map(Reply::token).collect();
    assert!(tokens.iter().all(|t| *t == tokens[0]), "callers got different tokens: {tokens:?}");
    assert_ne!(tokens[0], first, "the token was not refreshed");
    let after = rig.grant(&cookie).await.expect("grant").refresh_token.expect("refresh token").into_secret();
    assert_ne!(after, before, "the rotated refresh token was stored");
    // The old refresh token is spent at the dev server (rotation), which is why a second
    // parallel refresh would have ended the session.
    let reuse = rig.dev_token(&[("grant_type", "refresh_token"), ("refresh_token", &before)]).await;
    assert_eq!((reuse.status, reuse.error_code().as_str()), (400, "invalid_grant"), "{}", reuse.body);
    assert_eq!(browser.user_token().await.token(), tokens[0]);
}

/// With a browser scope, the browser gets its own token from a refresh grant with that scope; userinfo uses the wide one.
#[tokio::test]
async fn browser_scope_is_obtained_by_a_narrowing_refresh() {
    let rig = Rig::proxied(
        60,
        &["--user-scope", "openid profile data:read viewables:read", "--user-browser-scope", "viewables:read"],
    )
    .await;
    let proxy = rig.proxy();
    let browser = rig.browser();
    browser.sign_in("/", "alice").await;
    let codes = proxy.grants("authorization_code");
    assert_eq!(codes.len(), 1);
    assert_eq!(codes[0].response_json()["scope"], "openid profile data:read viewables:read");
    let wide = codes[0].response_json()["access_token"].as_str().expect("access token").to_owned();
    assert!(proxy.grants("refresh_token").is_empty(), "nothing refreshed before the browser asks");

    let token = browser.user_token().await.token();
    let refreshes = proxy.grants("refresh_token");
    assert_eq!(refreshes.len(), 1, "one narrowing refresh");
    assert_eq!(refreshes[0].form("scope").as_deref(), Some("viewables:read"));
    assert_eq!(refreshes[0].response_json()["scope"], "viewables:read");
    assert_eq!(refreshes[0].response_json()["access_token"].as_str(), Some(token.as_str()));
    assert_ne!(token, wide, "the browser must not get the sign-in token");
    assert_eq!(browser.user_token().await.token(), token);
    let me = browser.get("/api/user/me", &[("x-requested-with", "fetch")]).await;
    assert_eq!(me.json()["sub"], "alice");
    assert_eq!(proxy.grants("refresh_token").len(), 1, "userinfo used the stored wide token");
}

/// The code exchange carries the login's PKCE verifier, the exact redirect URI and client authentication.
#[tokio::test]
async fn code_exchange_sends_the_pkce_verifier() {
    let rig = Rig::proxied(60, &["--user-scope", "openid profile"]).await;
    let browser = rig.browser();
    let login = browser.login_raw("%2F").await;
    let authorize = login.header("location").expect("Location").to_owned();
    let callback = browser.decide(&authorize, "allow", "alice").await;
    assert_eq!(browser.get(&callback, &[]).await.status, 302);
    let exchange = &rig.proxy().grants("authorization_code")[0];
    let verifier = exchange.form("code_verifier").expect("code_verifier sent");
    assert!((43..=128).contains(&verifier.len()), "{verifier}");
    assert_eq!(s256(&verifier), query_param(&authorize, "code_challenge").expect("challenge"));
    assert_eq!(exchange.form("redirect_uri").as_deref(), Some(rig.url("/auth/callback").as_str()));
    assert_eq!(exchange.form("code"), query_param(&callback, "code"));
    assert!(exchange.form("client_secret").is_none(), "secret in the body as well as the header");
    let basic = exchange.request_headers.get("authorization").expect("client authentication").to_str().expect("ascii");
    assert!(basic.starts_with("Basic "), "{basic}");
}

/// Sign-out: 204, the cookie is removed, the refresh token is revoked upstream, the session is gone.
#[tokio::test]
async fn logout_revokes_the_refresh_token_and_ends_the_session() {
    let rig = Rig::proxied(60, &["--user-scope", "openid profile"]).await;
    let proxy = rig.proxy();
    let browser = rig.browser();
    browser.sign_in("/", "alice").await;
    let cookie = browser.cookie().expect("cookie");
    assert_eq!(browser.user_token().await.status, 200);
    let refresh_token = proxy.refresh_tokens().pop().expect("a refresh token was issued");

    let logout = browser.logout(Some(&rig.url(""))).await;
    assert_eq!(logout.status, 204, "{}", logout.body);
    let set = logout.header("set-cookie").expect("the cookie is cleared");
    assert!(set.starts_with("session=") && is_removal(set), "{set}");
    assert!(browser.cookie().is_none());
    let revocations: Vec<_> = proxy.log().into_iter().filter(|f| f.endpoint == "revoke").collect();
    assert_eq!(
        revocations.len(),
        1,
        "no RFC 7009 request reached the provider: Exchange::revoke skips http (loopback) revocation URLs, \
         because oauth2's revoke_token refuses non-https URLs and the error is swallowed"
    );
    assert_eq!(revocations[0].form("token").as_deref(), Some(refresh_token.as_str()));
    assert_eq!(revocations[0].status, 200);
    let reuse = rig.dev_token(&[("grant_type", "refresh_token"), ("refresh_token", &refresh_token)]).await;
    assert_eq!((reuse.status, reuse.error_code().as_str()), (400, "invalid_grant"), "revoked: {}", reuse.body);
    // The old cookie, replayed, names nothing.
    browser.set_cookie(Some(&cookie));
    assert_signed_out(&browser, "old cookie after logout").await;
    assert!(rig.grant(&cookie).await.is_none());
    // A plain form post (no X-Requested-With) is sent back to / with 303.
    browser.set_cookie(None);
    browser.sign_in("/", "alice").await;
    let form = browser.send(reqwest::Method::POST, &browser.url("/auth/logout"), &[], None).await;
    assert_eq!((form.status, form.header("location")), (303, Some("/")));
    assert_signed_out(&browser, "after form logout").await;
    assert_eq!(proxy.log().iter().filter(|f| f.endpoint == "revoke").count(), 2);
}

/// The real binary (not --dev, RUST_LOG=trace): no refresh token, client secret or session secret in any response or in stderr.
#[tokio::test]
async fn secrets_never_reach_the_browser_or_the_log() {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let redirect = format!("{base}/auth/callback");
    let (dev, proxy, client_secret) = standalone_dev_server(4, &redirect).await;
    let issuer = dev.issuer().as_str().trim_end_matches('/').to_owned();
    let process = BrokerBuilder::generic(&proxy.url("/token"))
        .client(DEV_CLIENT_ID, &client_secret)
        .env(&[
            ("RUST_LOG", "trace"),
            ("BIND_ADDR", &format!("127.0.0.1:{port}")),
            ("OAUTH_AUTHORIZE_URL", &format!("{issuer}/authorize")),
            ("OAUTH_REVOKE_URL", &proxy.url("/revoke")),
            ("OAUTH_USERINFO_URL", &format!("{issuer}/userinfo")),
            ("OAUTH_REDIRECT_URL", &redirect),
            ("OAUTH_USER_SCOPE", "openid profile data:read"),
            ("SESSION_SECRET", SESSION_SECRET),
            ("COOKIE_SECURE", "false"),
            ("TOKEN_MIN_TTL_SECS", "1"),
            ("TOKEN_REFRESH_WINDOW_MIN_SECS", "3"),
        ])
        .spawn()
        .await;
    assert_eq!(process.base, base);
    let browser = Browser::new(&base);
    browser.sign_in("/", "alice").await;
    let signed_in = Instant::now();
    let first = browser.user_token().await.token();
    // 4 s tokens: the window is capped at half the lifetime, so refreshed after 2 s.
    tokio::time::sleep_until((signed_in + Duration::from_millis(2300)).into()).await;
    let second = browser.user_token().await.token();
    assert_ne!(first, second, "refreshed");
    assert_eq!(browser.get("/api/user/me", &[("x-requested-with", "fetch")]).await.status, 200);
    assert_eq!(browser.logout(None).await.status, 204);
    let stderr = process.stop().await.join("\n");

    let refresh_tokens = proxy.refresh_tokens();
    assert!(refresh_tokens.len() >= 2, "sign-in and refresh issued refresh tokens");
    assert!(stderr.contains("TRACE"), "trace logging was not on");
    let mut secrets: Vec<(&str, String)> = refresh_tokens.into_iter().map(|t| ("refresh token", t)).collect();
    secrets.push(("refresh token prefix", "devrt_".into()));
    secrets.push(("client secret", client_secret.clone()));
    secrets.push(("session secret", SESSION_SECRET.into()));
    let access_tokens = proxy.access_tokens();
    for seen in browser.seen() {
        for (what, secret) in &secrets {
            assert!(!seen.contains(secret.as_str()), "{what} in a response:\n{seen}");
        }
        if !seen.contains("/api/user/token") {
            for token in &access_tokens {
                assert!(!seen.contains(token.as_str()), "access token outside /api/user/token:\n{seen}");
            }
        }
    }
    for (what, secret) in &secrets {
        assert!(!stderr.contains(secret.as_str()), "{what} in the broker's stderr");
    }
    for token in &access_tokens {
        assert!(!stderr.contains(token.as_str()), "an access token in the broker's stderr");
    }
    drop(dev);
}

/// A fresh dev token endpoint answers 401 without the broker's client secret.
#[tokio::test]
async fn dev_token_endpoint_requires_the_client_secret() {
    let rig = Rig::dev(&[]).await;
    let reply = dev_token(&rig.dev_issuer, "not-the-secret", &[("grant_type", "client_credentials")]).await;
    assert_eq!((reply.status, reply.error_code().as_str()), (401, "invalid_client"), "{}", reply.body);
}
