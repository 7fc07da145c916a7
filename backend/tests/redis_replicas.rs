//! Several replicas of the real binary sharing one real `redis-server` (issue #6):
//! one upstream call per token for the whole cluster, sessions usable on every
//! replica and across restarts, rotation-safe refreshes, and surviving the loss
//! of a replica or of Redis itself.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::code_upstream::{CodeUpstream, CodeUpstreamSettings};
use common::fault_upstream::{FaultUpstream, Script};
use common::redis::RedisServer;
use common::replicas::{
    Hit, Load, Replicas, metric, replica, set_cookie, sign_in, user_token, wait_for_redis_state, with_sign_in,
};
use common::{PATIENCE, assert_error, free_port, get, http_client, manual_client, poll_for, wait_until};

/// Token lifetime at the upstream, and the policy that makes it refresh 2 s before expiry.
const LIFETIME: Duration = Duration::from_secs(6);
const WINDOW: Duration = Duration::from_secs(2);
const POLICY: [(&str, &str); 2] = [("TOKEN_MIN_TTL_SECS", "1"), ("TOKEN_REFRESH_WINDOW_MIN_SECS", "2")];

async fn two_legged_cluster(script: Script) -> (RedisServer, FaultUpstream, Replicas) {
    let redis = RedisServer::start().await;
    let upstream = FaultUpstream::start(script).await;
    let replicas = Replicas::start(3, &replica(&upstream.token_url(), &redis.url(), &POLICY), None).await;
    (redis, upstream, replicas)
}

/// The reason for Redis: a cold burst spread over three replicas costs the upstream one call, not three.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_burst_across_replicas_makes_one_upstream_call() {
    let (redis, upstream, replicas) =
        two_legged_cluster(Script::token(LIFETIME.as_secs()).delayed(Duration::from_millis(300))).await;
    let client = http_client();
    let urls = replicas.urls("/api/token");
    let burst = (0..300).map(|i| get(&client, &urls[i % 3]));
    let replies = futures_util::future::join_all(burst).await;
    let tokens: BTreeSet<String> = replies.iter().map(common::Reply::token).collect();
    assert_eq!(upstream.requests(), 1, "upstream calls for a 300-request cold burst over 3 replicas");
    assert_eq!(tokens.into_iter().collect::<Vec<_>>(), ["tok-1"], "every replica serves the one token");
    let keys = redis.cli(&["--scan", "--pattern", "token-broker:*"]).await;
    assert!(keys.iter().any(|k| k.starts_with("token-broker:token:")), "the shared token key is written: {keys:?}");
}

/// Under steady traffic the cluster refreshes once per lifetime, and all replicas serve the same token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_traffic_refreshes_once_per_lifetime_for_the_cluster() {
    const RUN: Duration = Duration::from_secs(13);
    let (_redis, upstream, replicas) =
        two_legged_cluster(Script::token(LIFETIME.as_secs()).delayed(Duration::from_millis(300))).await;
    let load = Load::start(replicas.urls("/api/token"), 2, Duration::from_millis(10), PATIENCE);
    upstream.wait_for_requests(1).await;
    // Waiting out real token lifetimes is the point of this test.
    tokio::time::sleep(RUN).await;
    let hits = load.stop().await;
    let calls = upstream.requests();

    let failures: Vec<_> = hits.iter().filter(|h| h.outcome.is_err()).collect();
    assert!(failures.is_empty(), "failed requests: {failures:?}");
    // A refresh starts at the earliest LIFETIME - WINDOW = 4 s after the previous
    // call, so over RUN after the first call: at most 1 + floor(13 / 4) = 4 calls.
    // A second call for the same refresh (one per replica) would break that bound
    // and the spacing below.
    let issued_at: Vec<Instant> =
        upstream.issued().iter().map(|r| r.expires_at.expect("expires_in is set") - LIFETIME).collect();
    assert!((3..=4).contains(&calls), "upstream calls over {RUN:?}: {calls} (expected 3 or 4: one per refresh)");
    for pair in issued_at.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= LIFETIME - WINDOW - Duration::from_millis(300), "two upstream calls {gap:?} apart");
    }
    // Same token on every replica at any moment: rounds send to all three at once;
    // a disagreement is allowed only within 1 s of a new token's issue.
    let mut rounds: std::collections::BTreeMap<(usize, u64), Vec<&Hit>> = Default::default();
    for hit in &hits {
        rounds.entry((hit.worker, hit.round)).or_default().push(hit);
    }
    let mut split = 0;
    for round in rounds.values() {
        let tokens: BTreeSet<&str> = round.iter().map(|h| h.outcome.as_deref().expect("ok")).collect();
        if tokens.len() > 1 {
            split += 1;
            assert_eq!(tokens.len(), 2, "more than two tokens in one instant: {tokens:?}");
            let newest =
                tokens.iter().map(|t| upstream.record_of(t).expires_at.expect("set") - LIFETIME).max().expect("two");
            let sent = round[0].sent_at;
            let distance = if sent > newest { sent - newest } else { newest - sent };
            assert!(
                distance < Duration::from_secs(1),
                "replicas disagree {distance:?} away from a switch-over: {tokens:?}"
            );
        }
    }
    assert!(split * 10 < rounds.len(), "{split} of {} rounds saw different tokens", rounds.len());
}

/// Losing one replica under load costs only the requests sent to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_replica_leaves_the_others_serving() {
    let (_redis, upstream, mut replicas) = two_legged_cluster(Script::token(60)).await;
    let load = Load::start(replicas.urls("/api/token"), 3, Duration::from_millis(5), Duration::from_secs(5));
    let ok_on = |hits: &[Hit], i: usize| hits.iter().filter(|h| h.replica == i && h.outcome.is_ok()).count();
    wait_until("traffic on every replica", || async { (0..3).all(|i| ok_on(&load.hits(), i) >= 20) }).await;
    replicas.kill(2).await;
    let killed_at = Instant::now();
    let after_kill = |hits: &[Hit], i: usize| {
        hits.iter().filter(|h| h.replica == i && h.sent_at > killed_at && h.outcome.is_ok()).count()
    };
    wait_until("traffic after the kill", || async { (0..2).all(|i| after_kill(&load.hits(), i) >= 100) }).await;
    let hits = load.stop().await;
    for i in 0..2 {
        let failed: Vec<_> = hits.iter().filter(|h| h.replica == i && h.outcome.is_err()).collect();
        assert!(failed.is_empty(), "replica {i} failed while replica 2 died: {failed:?}");
    }
    assert!(
        hits.iter().any(|h| h.replica == 2 && h.sent_at > killed_at && h.outcome.is_err()),
        "the loop kept sending to the killed replica"
    );
    assert_eq!(upstream.requests(), 1, "the survivors keep the shared token");
}

fn sign_in_settings(user_ttl_secs: u64) -> CodeUpstreamSettings {
    CodeUpstreamSettings { app_ttl_secs: 60, user_ttl_secs, delay: Duration::from_millis(300) }
}

async fn sign_in_cluster(
    redis: &RedisServer,
    settings: CodeUpstreamSettings,
    policy: &[(&str, &str)],
) -> (CodeUpstream, Replicas) {
    let upstream = CodeUpstream::start(settings).await;
    let port = free_port();
    let broker = with_sign_in(replica(&upstream.url("/token"), &redis.url(), policy), &upstream, port);
    let replicas = Replicas::start(3, &broker, Some(port)).await;
    (upstream, replicas)
}

/// A session created on one replica works on the others, and survives restarting all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_is_shared_and_survives_restarting_every_replica() {
    let redis = RedisServer::start().await;
    let (upstream, mut replicas) = sign_in_cluster(&redis, sign_in_settings(600), &POLICY).await;
    let client = manual_client();
    let cookie = sign_in(&client, &replicas.get(0).base).await;
    let token = user_token(&client, &replicas.get(1).base, &cookie).await.token();
    assert_eq!(user_token(&client, &replicas.get(2).base, &cookie).await.token(), token, "replica C");
    assert_eq!(user_token(&client, &replicas.get(0).base, &cookie).await.token(), token, "replica A");
    let sessions = redis.cli(&["dbsize"]).await;
    assert_ne!(sessions, ["0"], "the session is in Redis");

    replicas.restart_all().await;
    for i in 0..3 {
        let reply = user_token(&client, &replicas.get(i).base, &cookie).await;
        assert_eq!(reply.token(), token, "replica {i} after restarting all replicas");
    }
    assert_eq!((upstream.code_grants(), upstream.refresh_grants()), (1, 0), "no new sign-in and no refresh");
}

/// Rotation is safe across replicas: one refresh-grant call per refresh, never a reused refresh token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_across_replicas_rotate_once() {
    const USER_TTL: u64 = 4;
    let redis = RedisServer::start().await;
    let (upstream, replicas) = sign_in_cluster(&redis, sign_in_settings(USER_TTL), &POLICY).await;
    let client = manual_client();
    let cookie = sign_in(&client, &replicas.get(0).base).await;
    let mut token = user_token(&client, &replicas.get(1).base, &cookie).await.token();
    for cycle in 1..=3 {
        // Refresh starts 2 s before expiry (TOKEN_REFRESH_WINDOW_MIN_SECS); wait the token's life out until then.
        let refresh_at = upstream.user_token_issued_at(&token) + Duration::from_secs(USER_TTL) - WINDOW;
        tokio::time::sleep_until((refresh_at + Duration::from_millis(100)).into()).await;
        let burst = (0..30).map(|i| user_token(&client, &replicas.get(i % 3).base, &cookie));
        let replies = futures_util::future::join_all(burst).await;
        let tokens: BTreeSet<String> = replies.iter().map(common::Reply::token).collect();
        assert_eq!(tokens.len(), 1, "cycle {cycle}: one new token for the whole burst: {tokens:?}");
        let new = tokens.into_iter().next().expect("one");
        assert_ne!(new, token, "cycle {cycle}: the token was refreshed");
        token = new;
        assert_eq!(upstream.refresh_grants(), cycle, "cycle {cycle}: refresh-grant calls");
        assert_eq!(upstream.invalid_grants(), 0, "cycle {cycle}: a refresh token was reused");
    }
}

/// Losing Redis degrades to local mode (visible, logged once, user routes 503) and recovers by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_falls_back_to_local_mode_and_recovers() {
    // Two-legged tokens keep flowing from memory (each replica refreshes on its own),
    // `/readyz` and the metric show the outage, the log has it once, user routes answer
    // 503 without dropping the cookie; Redis back: shared mode resumes, and the session,
    // kept by Redis's append-only file, still works.
    // 8 s tokens refreshed 3 s before expiry and served until 1 s before: a refresh
    // that first waits out a Redis timeout (1.5 s) still lands before the token stops being served.
    const APP_TTL: u64 = 8;
    let policy = [("TOKEN_MIN_TTL_SECS", "1"), ("TOKEN_REFRESH_WINDOW_MIN_SECS", "3")];
    let mut redis = RedisServer::start_persistent().await;
    let settings =
        CodeUpstreamSettings { app_ttl_secs: APP_TTL, user_ttl_secs: 600, delay: Duration::from_millis(200) };
    let (upstream, replicas) = sign_in_cluster(&redis, settings, &policy).await;
    let client = manual_client();
    let cookie = sign_in(&client, &replicas.get(0).base).await;
    let user = user_token(&client, &replicas.get(1).base, &cookie).await.token();
    let load = Load::start(replicas.urls("/api/token"), 2, Duration::from_millis(20), PATIENCE);
    let shared =
        poll_for("the first shared token", || async { load.hits().iter().find_map(|h| h.outcome.clone().ok()) }).await;

    redis.kill().await;
    wait_for_redis_state(&client, &replicas, "down").await;
    for i in 0..3 {
        // Kubernetes gives a readiness probe 1 s by default; a slower one would take the replica out.
        let probe = get(&client, &replicas.url(i, "/readyz")).await;
        assert_eq!(probe.status, 200, "replica {i} stays ready without Redis: {}", probe.body);
        assert!(probe.latency < Duration::from_secs(1), "replica {i}: /readyz took {:?} without Redis", probe.latency);
    }
    for i in 0..3 {
        let reply = user_token(&client, &replicas.get(i).base, &cookie).await;
        assert_error!(reply, 503, "session_store_unavailable", "replica {i}:");
        assert_eq!(set_cookie(&reply), None, "replica {i} must not touch the session cookie");
    }
    // Each replica's token reaches its refresh window during the outage and is
    // replaced by one the replica asked the upstream for itself.
    let served_new =
        |i: usize| load.hits().iter().any(|h| h.replica == i && h.outcome.as_ref().is_ok_and(|t| *t != shared));
    wait_until("every replica to refresh on its own", || async { (0..3).all(served_new) }).await;
    let during_outage = upstream.client_credentials();
    assert_eq!(during_outage, 1 + 3, "the shared token, then one call per replica refreshing alone");
    for i in 0..3 {
        assert_eq!(
            metric(&client, &replicas.get(i).base, "token_broker_redis_outages_total").await,
            1.0,
            "replica {i}"
        );
    }

    redis.restart().await;
    wait_for_redis_state(&client, &replicas, "up").await;
    let reply = user_token(&client, &replicas.get(2).base, &cookie).await;
    assert_eq!(reply.token(), user, "the session survived the Redis restart (append-only file)");
    // Shared mode again: the replicas converge on one token, and its refresh is one upstream call.
    let all_same = || async {
        let urls = replicas.urls("/api/token");
        let replies = futures_util::future::join_all(urls.iter().map(|url| get(&client, url))).await;
        let tokens: BTreeSet<String> = replies.iter().map(common::Reply::token).collect();
        (tokens.len() == 1).then(|| tokens.into_iter().next().expect("one"))
    };
    let converged = poll_for("the replicas to share one token again", &all_same).await;
    let before = upstream.client_credentials();
    let next = poll_for("the next shared token", || async { all_same().await.filter(|t| *t != converged) }).await;
    assert_ne!(next, converged);
    assert_eq!(upstream.client_credentials(), before + 1, "one upstream call for the cluster's next refresh");

    let hits = load.stop().await;
    let failures: Vec<_> = hits.iter().filter(|h| h.outcome.is_err()).collect();
    assert!(failures.is_empty(), "two-legged requests failed: {failures:?}");
    for i in 0..3 {
        assert_eq!(
            metric(&client, &replicas.get(i).base, "token_broker_redis_outages_total").await,
            1.0,
            "replica {i}"
        );
    }
    for i in 0..3 {
        let logged = replicas.get(i).stderr.lines().iter().filter(|l| l.contains("Redis is unavailable")).count();
        assert_eq!(logged, 1, "replica {i} logs the outage once, not per request");
    }
}
