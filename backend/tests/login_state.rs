//! Pending sign-ins live in an encrypted cookie, not a server session (issue 10,
//! section 3): anonymous `GET /auth/login` floods cannot grow the broker's
//! memory, and sign-in still works afterwards. Several tabs' sign-ins share
//! that cookie, each completes once, and one that could not fit is refused at
//! `/auth/login` (issue 18, section 4).

mod common;

use std::time::Duration;

use common::broker::BrokerBuilder;
use common::browser::Browser;
use common::code_upstream::{CodeUpstream, CodeUpstreamSettings};
use common::redis::RedisServer;
use common::replicas::{Replicas, replica, set_cookie, set_cookie_named, sign_in, user_token, with_sign_in};
use common::sign_in::{Rig, query_param};
use common::{Reply, free_port, get, get_with, manual_client};

/// The longest login-state value a browser keeps: 4,096 bytes of name and value.
const MAX_COOKIE_CHARS: usize = 4096 - "login_state=".len();

/// Resident memory of the process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/PID/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// `count` cookieless logins from 20 clients at once; each gets a redirect and a
/// login-state cookie, and no session cookie.
async fn cookieless_logins(client: &reqwest::Client, base: &str, count: usize) {
    let url = format!("{base}/auth/login");
    let workers = (0..20).map(|_| async {
        for _ in 0..count / 20 {
            let reply = get(client, &url).await;
            assert_eq!(reply.status, 302, "{}", reply.body);
            assert!(set_cookie_named(&reply, "login_state").is_some());
            assert_eq!(set_cookie(&reply), None, "a cookieless login created a session");
        }
    });
    futures_util::future::join_all(workers).await;
}

/// 20,000 cookieless logins leave the broker's memory within 2 MB of where it
/// started (each used to store a 15-minute session), and sign-in still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookieless_logins_do_not_grow_memory() {
    let upstream =
        CodeUpstream::start(CodeUpstreamSettings { app_ttl_secs: 3600, user_ttl_secs: 3600, delay: Duration::ZERO })
            .await;
    let port = free_port();
    let broker = BrokerBuilder::generic(&upstream.url("/token")).env(&[("BIND_ADDR", &format!("127.0.0.1:{port}"))]);
    let broker = with_sign_in(broker, &upstream, port).spawn().await;
    let client = manual_client();
    // Warm-up: thread stacks, allocator arenas and connection buffers reach their working size.
    cookieless_logins(&client, &broker.base, 2_000).await;
    let before = rss_kib(broker.pid());
    cookieless_logins(&client, &broker.base, 20_000).await;
    let after = rss_kib(broker.pid());
    println!("RSS before 20,000 cookieless logins: {before} KiB; after: {after} KiB");
    assert!(after <= before + 2048, "memory grew from {before} KiB to {after} KiB");

    let cookie = sign_in(&client, &broker.base).await;
    assert_eq!(user_token(&client, &broker.base, &cookie).await.status, 200);
}

/// Asserts a sign-in error page saying `text`, and no session cookie.
fn assert_refused(reply: &Reply, status: u16, text: &str, what: &str) {
    assert_eq!(reply.status, status, "{what}: {}", reply.body);
    assert!(reply.body.contains(text), "{what}: no `{text}` in {}", reply.body);
    assert_eq!(set_cookie(reply), None, "{what}: a session cookie was set");
}

/// Starts sign-ins to `paths` in one browser, one after another as tabs do;
/// returns their callback URLs and checks each cookie fits in a browser.
async fn start_sign_ins(browser: &Browser, paths: &[String]) -> Vec<String> {
    let mut callbacks = Vec::new();
    for path in paths {
        callbacks.push(browser.authorize(path, "allow", "alice").await);
        let cookie = browser.login_state().expect("a pending sign-in");
        assert!(cookie.len() <= MAX_COOKIE_CHARS, "a {}-character login-state cookie", cookie.len());
    }
    callbacks
}

/// Two tabs start a sign-in each, then both complete: the second login keeps the first's pending sign-in.
#[tokio::test]
async fn two_pending_sign_ins_in_one_browser_both_complete() {
    let rig = Rig::dev(&[]).await;
    let browser = rig.browser();
    let paths = ["/first-tab".to_owned(), "/second-tab".to_owned()];
    let callbacks = start_sign_ins(&browser, &paths).await;
    for (callback, path) in callbacks.iter().zip(&paths) {
        let landed = browser.get(callback, &[]).await;
        assert_eq!(landed.status, 302, "{path}: {}", landed.body);
        assert_eq!(landed.header("location"), Some(path.as_str()));
    }
    assert_eq!(browser.user_token().await.status, 200);
    assert_eq!(browser.login_state(), None, "both sign-ins are spent");
}

/// A stale login-state cookie sent first (one set with `Path=/auth/callback`
/// before this release is more specific, so browsers send it first) does not
/// hide the one that holds the sign-in.
#[tokio::test]
async fn a_stale_login_state_cookie_sent_first_does_not_break_the_callback() {
    let rig = Rig::dev(&[]).await;
    let browser = rig.browser();
    let callback = browser.authorize("/", "allow", "alice").await;
    let stale = rig.browser();
    stale.authorize("/", "allow", "bob").await;
    let cookies = format!(
        "login_state={}; login_state={}",
        stale.login_state().expect("stale"),
        browser.login_state().expect("current")
    );
    let landed = get_with(&manual_client(), &callback, &[("cookie", &cookies)]).await;
    assert_eq!(landed.status, 302, "{}", landed.body);
    assert!(set_cookie(&landed).is_some(), "signed in");
}

/// A login-state cookie copied before the callback and replayed with its code
/// gets `sign_in_replayed`: no second code exchange, no new session.
#[tokio::test]
async fn a_replayed_login_state_and_code_complete_nothing() {
    let rig = Rig::proxied(600, &[]).await;
    let victim = rig.browser();
    let callback = victim.authorize("/", "allow", "alice").await;
    let captured = victim.login_state().expect("a pending sign-in");
    assert_eq!(victim.get(&callback, &[]).await.status, 302);
    assert_eq!(rig.proxy().grants("authorization_code").len(), 1);

    for attacker in [rig.browser(), victim] {
        attacker.set_login_state(Some(&captured));
        let session_before = attacker.cookie();
        let replay = attacker.get(&callback, &[]).await;
        assert_refused(&replay, 400, "this sign-in was already completed", "replay");
        assert_eq!(attacker.cookie(), session_before, "the replay changed the session");
    }
    assert_eq!(rig.proxy().grants("authorization_code").len(), 1, "the code was exchanged again");
}

/// With Redis, a sign-in completed on one replica is refused on another: no second exchange.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_on_another_replica_is_refused() {
    let redis = RedisServer::start().await;
    let upstream =
        CodeUpstream::start(CodeUpstreamSettings { app_ttl_secs: 60, user_ttl_secs: 600, delay: Duration::ZERO }).await;
    let port = free_port();
    let broker = with_sign_in(replica(&upstream.url("/token"), &redis.url(), &[]), &upstream, port);
    let replicas = Replicas::start(2, &broker, Some(port)).await;
    let client = manual_client();
    let login = get(&client, &replicas.url(0, "/auth/login")).await;
    let pending = set_cookie_named(&login, "login_state").expect("a login-state cookie");
    let authorize = get(&client, login.header("location").expect("location")).await;
    let callback = authorize.header("location").expect("callback").to_owned();
    let done = get_with(&client, &callback, &[("Cookie", &pending)]).await;
    assert_eq!(done.status, 302, "{}", done.body);

    let state = query_param(&callback, "state").expect("state");
    let code = query_param(&callback, "code").expect("code");
    let elsewhere = replicas.url(1, &format!("/auth/callback?code={code}&state={state}"));
    let replay = get_with(&client, &elsewhere, &[("Cookie", &pending)]).await;
    assert_refused(&replay, 400, "this sign-in was already completed", "replay on replica 1");
    assert_eq!(upstream.code_grants(), 1, "replica 1 exchanged the code again");
}

/// The issue's probe: a `return_to` of 1,199 `"` (each escaped in the sealed
/// JSON) fits and completes; one that can never fit gets a clear 400 at `/auth/login`.
#[tokio::test]
async fn return_to_is_checked_against_the_cookie_size_at_login() {
    let rig = Rig::dev(&[]).await;
    let browser = rig.browser();
    let quotes = format!("/{}", "\"".repeat(1199));
    browser.sign_in(&quotes, "alice").await;
    assert_eq!(browser.user_token().await.status, 200);

    let too_long: String = url::form_urlencoded::byte_serialize(format!("/{}", "\"".repeat(2000)).as_bytes()).collect();
    let refused = browser.login_raw(&too_long).await;
    assert_refused(&refused, 400, "return_to is too long to keep through sign-in", "2,000 quotes");
    assert!(refused.header("location").is_none());
    assert_eq!(set_cookie_named(&refused, "login_state"), None, "the pending sign-ins are kept as they were");
}

/// Five pending sign-ins with 400-character paths: the cookie always fits, the
/// oldest are evicted when needed (their callback says so), the rest complete.
#[tokio::test]
async fn long_pending_sign_ins_evict_the_oldest_to_fit() {
    let rig = Rig::dev(&[]).await;
    for filler in ["a", "\""] {
        let browser = rig.browser();
        let paths: Vec<String> = (0..5).map(|i| format!("/{i}{}", filler.repeat(398))).collect();
        let callbacks = start_sign_ins(&browser, &paths).await;
        let mut completed = Vec::new();
        for (i, callback) in callbacks.iter().enumerate().rev() {
            let landed = browser.get(callback, &[]).await;
            if landed.status == 302 {
                assert_eq!(landed.header("location"), Some(paths[i].as_str()));
                completed.push(i);
            } else {
                assert_refused(&landed, 400, "expired or was already used", &format!("{filler}: evicted sign-in {i}"));
            }
        }
        let newest: Vec<usize> = (5 - completed.len()..5).rev().collect();
        assert_eq!(completed, newest, "{filler}: only the oldest may be evicted");
        assert!(completed.len() >= 2, "{filler}: too few completed: {completed:?}");
        if filler == "\"" {
            assert!(!completed.contains(&0), "escaped paths must have evicted the oldest");
        }
    }
}
