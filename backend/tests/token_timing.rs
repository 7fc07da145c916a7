//! Token timing (issue 10, section 5): the refresh window opens strictly before
//! a token stops being served, so no request waits at expiry; settings that no
//! token could be served with stop the start-up; a too-short refreshed user
//! token does not loop; and a token read back from Redis is checked like one
//! from the upstream.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::binary::run_to_exit;
use common::broker::BrokerBuilder;
use common::code_upstream::{CodeUpstream, CodeUpstreamSettings};
use common::fault_upstream::{FaultUpstream, Script};
use common::manual_client;
use common::redis::RedisServer;
use common::replicas::{Replicas, replica, sign_in, user_token, with_sign_in};
use common::{free_port, get, http_client};
use futures_util::future::BoxFuture;
use oauth2::AccessToken;
use token_backend::ExchangeError;
use token_backend::exchange::IssuedToken;
use token_backend::telemetry::Metrics;
use token_backend::token_cache::{CachePolicy, TokenCache, TokenSource};
use tokio::time::Instant;

/// Issues tokens of one lifetime after a delay, and counts them.
#[derive(Debug)]
struct FixedLifetime {
    lifetime: Duration,
    delay: Duration,
    calls: AtomicUsize,
}

impl TokenSource for FixedLifetime {
    fn fetch<'a>(&'a self, _scopes: &'a [String]) -> BoxFuture<'a, Result<IssuedToken, ExchangeError>> {
        Box::pin(async move {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            Ok(IssuedToken {
                access_token: AccessToken::new(format!("token-{n}")),
                expires_in: self.lifetime,
                refresh_token: None,
                id_token: None,
            })
        })
    }
}

/// With the default settings (`TOKEN_MIN_TTL_SECS` 30) and a 1 s upstream, a
/// steady client never waits past its first request, for lifetimes from twice
/// the minimum upward; before the fix a 60 s token had `refresh_at == usable_until`.
#[tokio::test(start_paused = true)]
async fn no_request_waits_at_expiry_for_any_lifetime() {
    let policy = CachePolicy::default();
    let min = policy.min_ttl.as_secs();
    for lifetime in [2 * min, 2 * min + 1, 2 * min + 2, 3 * min, 90, 120, 300, 3600] {
        let lifetime = Duration::from_secs(lifetime);
        let source = Arc::new(FixedLifetime { lifetime, delay: Duration::from_secs(1), calls: AtomicUsize::new(0) });
        let cache = TokenCache::new(vec![], source.clone(), policy.clone(), Metrics::new().profile("default"));
        cache.token().await.expect("first token");
        let step = lifetime / 120;
        let end = Instant::now() + lifetime * 3;
        while Instant::now() < end {
            tokio::time::sleep(step).await;
            let before = Instant::now();
            let token = cache.token().await.expect("a token");
            assert_eq!(Instant::now(), before, "lifetime {lifetime:?}: a request waited on the upstream");
            assert!(Duration::from_secs(token.expires_in(before)) >= policy.min_ttl, "lifetime {lifetime:?}");
        }
        let calls = source.calls.load(Ordering::SeqCst);
        // One call per refresh: the window is at most half the lifetime, so 3 lifetimes take 3 to 8.
        assert!((3..=8).contains(&calls), "lifetime {lifetime:?}: {calls} upstream calls over 3 lifetimes");
    }
}

/// Lifetimes no token could be served with stop the start-up with a line naming the variable.
#[tokio::test]
async fn contradictory_lifetimes_stop_the_start_up() {
    let remote = [
        ("OAUTH_PROVIDER", "generic"),
        ("OAUTH_TOKEN_URL", "https://auth.example.com/token"),
        ("OAUTH_CLIENT_ID", "broker"),
        ("OAUTH_CLIENT_SECRET", "broker-secret"),
        ("TOKEN_MIN_TTL_SECS", "120"),
        ("TOKEN_DEFAULT_TTL_SECS", "60"),
    ];
    let exited = run_to_exit(&[], &remote).await;
    assert_eq!(exited.status.code(), Some(2), "{:?}", exited.stderr);
    assert!(
        exited.stderr.iter().any(|l| l.starts_with("configuration error: TOKEN_DEFAULT_TTL_SECS")),
        "{:?}",
        exited.stderr
    );

    let exited = run_to_exit(&["--dev"], &[("DEV_TOKEN_TTL_SECS", "20")]).await;
    assert_eq!(exited.status.code(), Some(2), "{:?}", exited.stderr);
    assert!(
        exited.stderr.iter().any(|l| l.starts_with("configuration error: DEV_TOKEN_TTL_SECS")),
        "{:?}",
        exited.stderr
    );
}

/// A refresh that returns a user token too short to serve costs one refresh
/// grant per request, not three, and the signed-in user gets an error, not a loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_short_refreshed_user_token_does_not_loop() {
    let upstream =
        CodeUpstream::start(CodeUpstreamSettings { app_ttl_secs: 3600, user_ttl_secs: 5, delay: Duration::ZERO }).await;
    let port = free_port();
    let broker = BrokerBuilder::generic(&upstream.url("/token"))
        .env(&[("TOKEN_MIN_TTL_SECS", "10"), ("BIND_ADDR", &format!("127.0.0.1:{port}"))]);
    let broker = with_sign_in(broker, &upstream, port).spawn().await;
    let client = manual_client();
    let cookie = sign_in(&client, &broker.base).await;
    let before = upstream.refresh_grants();
    let reply = user_token(&client, &broker.base, &cookie).await;
    assert_ne!(reply.status, 200, "a 5 s token was served under a 10 s minimum: {}", reply.body);
    assert_eq!(upstream.refresh_grants() - before, 1, "refresh grants for one request");
}

/// A token in Redis with an absurd expiry (a corrupt or tampered value) is not
/// served: the replica asks the upstream and serves its token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_token_in_redis_is_not_served() {
    let redis = RedisServer::start().await;
    let upstream = FaultUpstream::start(Script::token(3600)).await;
    let broker = replica(&upstream.token_url(), &redis.url(), &[]);
    let first = Replicas::start(1, &broker, None).await;
    let client = http_client();
    assert_eq!(get(&client, &first.url(0, "/api/token")).await.token(), "tok-1");
    let keys = redis.cli(&["--scan", "--pattern", "token-broker:token:*"]).await;
    let key = keys.first().expect("the shared token key");
    let ten_years_ms: u64 = 10 * 366 * 24 * 3600 * 1000;
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as u64;
    let forged = serde_json::json!({
        "access_token": "forged-token",
        "issued_at_ms": now_ms,
        "expires_at_ms": now_ms + ten_years_ms,
    })
    .to_string();
    redis.cli(&["SET", key, &forged]).await;

    // A replica that starts now has nothing in memory and reads Redis.
    let second = Replicas::start(1, &broker, None).await;
    let reply = get(&client, &second.url(0, "/api/token")).await;
    assert_eq!(reply.token(), "tok-2", "the absurd token in Redis was served");
    assert!(reply.json()["expires_in"].as_u64().expect("expires_in") <= 3600);
    assert_eq!(upstream.requests(), 2);
}
