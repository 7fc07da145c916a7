//! Rotating `SESSION_SECRET` without signing anyone out: replicas of the real
//! binary sharing a real Redis, one still on the old secret, one rotating
//! (`SESSION_SECRET` new, `SESSION_SECRET_PREVIOUS` old) and one on the new
//! secret alone. The rotating replica accepts session and login-state cookies
//! made with the old secret and re-issues them with the new one; without
//! `SESSION_SECRET_PREVIOUS` the same cookies are refused.

mod common;

use common::binary::BrokerProcess;
use common::code_upstream::{CodeUpstream, CodeUpstreamSettings};
use common::redis::RedisServer;
use common::replicas::{replica, set_cookie, set_cookie_named, sign_in, user_token, with_sign_in};
use common::{SESSION_SECRET, check_error, free_port, get_with, manual_client};
use std::time::Duration;

/// The secret the cluster rotates to (the old one is the rigs' [`SESSION_SECRET`]).
const NEW_SECRET: &str = "rotated-session-secret-0123456789abcdefghijkl";

struct Cluster {
    _redis: RedisServer,
    _upstream: CodeUpstream,
    old: BrokerProcess,
    rotating: BrokerProcess,
    new_only: BrokerProcess,
}

/// Three replicas behind one public redirect URL (the old replica's port), as
/// behind a load balancer, so a sign-in may start on one and finish on another.
async fn cluster() -> Cluster {
    let redis = RedisServer::start().await;
    let upstream =
        CodeUpstream::start(CodeUpstreamSettings { app_ttl_secs: 60, user_ttl_secs: 600, delay: Duration::ZERO }).await;
    let port = free_port();
    let base = with_sign_in(replica(&upstream.url("/token"), &redis.url(), &[]), &upstream, port);
    let old = base.clone().env(&[("BIND_ADDR", &format!("127.0.0.1:{port}"))]);
    let rotating = base.clone().env(&[("SESSION_SECRET", NEW_SECRET), ("SESSION_SECRET_PREVIOUS", SESSION_SECRET)]);
    let new_only = base.env(&[("SESSION_SECRET", NEW_SECRET)]);
    let (old, rotating, new_only) = tokio::join!(old.spawn(), rotating.spawn(), new_only.spawn());
    Cluster { _redis: redis, _upstream: upstream, old, rotating, new_only }
}

/// A session cookie signed with the old secret works on the rotating replica,
/// which re-issues it signed with the new secret (accepted by a replica that
/// knows only the new secret) and does not re-issue the new one again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cookies_of_the_previous_secret_are_accepted_and_reissued() {
    let cluster = cluster().await;
    let client = manual_client();
    let old_cookie = sign_in(&client, &cluster.old.base).await;
    let token = user_token(&client, &cluster.old.base, &old_cookie).await.token();

    let refused = user_token(&client, &cluster.new_only.base, &old_cookie).await;
    check_error(&refused, 401, "login_required", format_args!("the old cookie without SESSION_SECRET_PREVIOUS"));

    let accepted = user_token(&client, &cluster.rotating.base, &old_cookie).await;
    assert_eq!(accepted.token(), token, "the rotating replica finds the session: {}", accepted.body);
    let reissued = set_cookie(&accepted).expect("the cookie is re-issued with the new secret");
    assert_ne!(reissued, old_cookie);
    let attributes = accepted.header("set-cookie").expect("set-cookie");
    assert!(attributes.contains("HttpOnly") && attributes.contains("SameSite=Lax"), "{attributes}");
    assert!(attributes.contains("Path=/"), "{attributes}");

    assert_eq!(user_token(&client, &cluster.new_only.base, &reissued).await.token(), token, "new secret alone");
    let again = user_token(&client, &cluster.rotating.base, &reissued).await;
    assert_eq!(again.token(), token);
    assert_eq!(set_cookie(&again), None, "a cookie of the current secret is not re-issued");
}

/// A sign-in started under the old secret (its login-state cookie sealed with
/// it) completes on the rotating replica, and not on one without the old secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_started_under_the_previous_secret_complete() {
    let cluster = cluster().await;
    let client = manual_client();
    let callback = |replica: &BrokerProcess| {
        let (old, base) = (cluster.old.base.clone(), replica.base.clone());
        let client = client.clone();
        async move {
            let login = get_with(&client, &format!("{old}/auth/login"), &[]).await;
            let pending = set_cookie_named(&login, "login_state").expect("login-state cookie");
            let authorize = get_with(&client, login.header("location").expect("location"), &[]).await;
            let callback_url = authorize.header("location").expect("location").replacen(&old, &base, 1);
            get_with(&client, &callback_url, &[("Cookie", &pending)]).await
        }
    };

    let refused = callback(&cluster.new_only).await;
    assert_eq!(refused.status, 400, "the old login state without SESSION_SECRET_PREVIOUS: {}", refused.body);
    assert_eq!(set_cookie(&refused), None, "no session");

    let completed = callback(&cluster.rotating).await;
    assert_eq!(completed.status, 302, "the rotating replica completes it: {}", completed.body);
    let session = set_cookie(&completed).expect("a session cookie, signed with the new secret");
    assert_eq!(user_token(&client, &cluster.new_only.base, &session).await.status, 200);
}
