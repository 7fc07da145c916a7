//! `GET /api/user/session/events` across replicas sharing a real `redis-server`
//! (issue 21 item 3): a session ended on one replica is reported on a stream
//! held at another within 5 s; a reconnecting stream is told the current state
//! first; an ending Redis never announced is found after its reconnection.

mod common;

use std::time::Duration;

use common::code_upstream::{CodeUpstream, CodeUpstreamSettings};
use common::redis::RedisServer;
use common::replicas::{Replicas, XRW, replica, sign_in, user_token, with_sign_in};
use common::sign_in::session_id;
use common::{assert_error, free_port, manual_client, request, wait_until};

/// The pub/sub channel of session endings, under the default key prefix.
const CHANNEL: &str = "token-broker:events:session-ended";

/// The issue's bound on telling every tab.
const TELL_WITHIN: Duration = Duration::from_secs(5);

/// A client's view of the event stream: the `session` events' `authenticated` values.
struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    async fn open(client: &reqwest::Client, base: &str, headers: &[(&str, &str)]) -> Self {
        let mut request = client.get(format!("{base}/api/user/session/events")).header("Accept", "text/event-stream");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("event stream request");
        assert_eq!(response.status(), 200, "event stream status");
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        assert_eq!(header("content-type").as_deref(), Some("text/event-stream"));
        assert_eq!(header("cache-control").as_deref(), Some("no-store"));
        Self { response, buffer: String::new() }
    }

    /// The next `authenticated` value, or `None` when the server closed the stream.
    async fn next(&mut self) -> Option<bool> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                let is_session = event.lines().any(|l| l == "event: session");
                let data = event.lines().find_map(|l| l.strip_prefix("data: "));
                match (is_session, data) {
                    (true, Some(r#"{"authenticated":true}"#)) => return Some(true),
                    (true, Some(r#"{"authenticated":false}"#)) => return Some(false),
                    (true, other) => panic!("unexpected session event data {other:?}"),
                    // Heartbeat comments and anything else.
                    _ => continue,
                }
            }
            let chunk = self.response.chunk().await.expect("event stream body")?;
            self.buffer.push_str(std::str::from_utf8(&chunk).expect("utf-8 events"));
        }
    }

    /// The next value, which must come within [`TELL_WITHIN`].
    async fn next_soon(&mut self, what: &str) -> Option<bool> {
        tokio::time::timeout(TELL_WITHIN, self.next()).await.unwrap_or_else(|_| panic!("{what}: nothing within 5 s"))
    }
}

async fn two_replicas(redis: &RedisServer) -> (CodeUpstream, Replicas) {
    replicas_with(redis, 2, &[]).await
}

async fn replicas_with(redis: &RedisServer, count: usize, env: &[(&str, &str)]) -> (CodeUpstream, Replicas) {
    let settings = CodeUpstreamSettings { app_ttl_secs: 60, user_ttl_secs: 600, delay: Duration::ZERO };
    let upstream = CodeUpstream::start(settings).await;
    let port = free_port();
    let broker = with_sign_in(replica(&upstream.url("/token"), &redis.url(), env), &upstream, port);
    let replicas = Replicas::start(count, &broker, Some(port)).await;
    // Each replica hears the others once it has subscribed (before, its streams look
    // their sessions up again when it does); wait for that so the test sees the steady state.
    let expected = count.to_string();
    wait_until("every replica to subscribe to the session events", || async {
        redis.cli(&["PUBSUB", "NUMSUB", CHANNEL]).await.get(1) == Some(&expected)
    })
    .await;
    (upstream, replicas)
}

/// Signing out on replica A is reported within 5 s on a stream held at replica
/// B, which then closes; reconnecting there is told "signed out" at once, and
/// the user token is refused. A browser without a session is told at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_on_one_replica_reaches_a_stream_at_another() {
    let redis = RedisServer::start().await;
    let (_upstream, replicas) = two_replicas(&redis).await;
    let client = manual_client();
    let (a, b) = (&replicas.get(0).base, &replicas.get(1).base);
    let cookie = sign_in(&client, a).await;

    let mut anonymous = EventStream::open(&client, b, &[]).await;
    assert_eq!(anonymous.next_soon("no session").await, Some(false));
    assert_eq!(anonymous.next_soon("no session, then closed").await, None);

    let mut at_b = EventStream::open(&client, b, &[("Cookie", &cookie)]).await;
    assert_eq!(at_b.next_soon("signed in").await, Some(true));
    let bystander = sign_in(&client, a).await;
    let mut other = EventStream::open(&client, b, &[("Cookie", &bystander)]).await;
    assert_eq!(other.next_soon("the other user").await, Some(true));

    let logout =
        request(&client, reqwest::Method::POST, &format!("{a}/auth/logout"), &[XRW, ("Cookie", &cookie)]).await;
    assert!(logout.status == 204 || logout.status == 200, "logout: {} {}", logout.status, logout.body);

    assert_eq!(at_b.next_soon("the ending, at replica B").await, Some(false));
    assert_eq!(at_b.next_soon("closed after the ending").await, None);
    let mut again = EventStream::open(&client, b, &[("Cookie", &cookie)]).await;
    assert_eq!(again.next_soon("reconnected after the ending").await, Some(false));
    assert_error!(user_token(&client, b, &cookie).await, 401, "login_required");

    // The other user's stream heard nothing and is still open, signed in.
    let quiet = tokio::time::timeout(Duration::from_millis(500), other.next()).await;
    assert!(quiet.is_err(), "another session's stream was told {quiet:?}");
    assert_eq!(user_token(&client, b, &bystander).await.status, 200);
}

/// A session that disappears without an announcement (deleted in Redis by
/// hand; an announcement lost while the replica's subscription was down) is
/// found when the subscription reconnects, and reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_missed_while_disconnected_is_reported_after_reconnection() {
    let redis = RedisServer::start().await;
    let (_upstream, replicas) = two_replicas(&redis).await;
    let client = manual_client();
    let cookie = sign_in(&client, &replicas.get(0).base).await;
    let mut stream = EventStream::open(&client, &replicas.get(1).base, &[("Cookie", &cookie)]).await;
    assert_eq!(stream.next_soon("signed in").await, Some(true));

    let value = cookie.strip_prefix("session=").expect("session cookie");
    let id = session_id(value).expect("session id in the cookie").to_string();
    assert_eq!(redis.cli(&["DEL", &id]).await, ["1"], "the session is stored under its id");
    // Redis publishes nothing for a DEL: the stream can learn it only by looking again.
    let quiet = tokio::time::timeout(Duration::from_millis(500), stream.next()).await;
    assert!(quiet.is_err(), "told {quiet:?} before any reconnection");
    let killed = redis.cli(&["CLIENT", "KILL", "TYPE", "pubsub"]).await;
    assert_ne!(killed, ["0"], "every replica holds a subscription");

    assert_eq!(stream.next_soon("the missed ending").await, Some(false));
}

/// A page on another origin cannot open the stream with the user's cookie.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_origin_is_refused() {
    let redis = RedisServer::start().await;
    let (_upstream, replicas) = two_replicas(&redis).await;
    let client = manual_client();
    let cookie = sign_in(&client, &replicas.get(0).base).await;
    let url = replicas.url(1, "/api/user/session/events");
    let reply =
        request(&client, reqwest::Method::GET, &url, &[("Cookie", &cookie), ("Origin", "https://evil.example")]).await;
    assert_error!(reply, 403, "cross_site_request");
}

/// An open stream does not hold graceful shutdown for its deadline: SIGTERM
/// ends it at once (without an event: the browser reconnects elsewhere and is
/// told the state there), and the process exits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_open_streams() {
    let redis = RedisServer::start().await;
    let (_upstream, mut replicas) = replicas_with(&redis, 1, &[("SHUTDOWN_TIMEOUT_SECS", "20")]).await;
    let client = manual_client();
    let cookie = sign_in(&client, &replicas.get(0).base).await;
    let mut stream = EventStream::open(&client, &replicas.get(0).base, &[("Cookie", &cookie)]).await;
    assert_eq!(stream.next_soon("signed in").await, Some(true));
    let pid = replicas.get(0).pid().to_string();
    let status = std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
    assert!(status.success());
    assert_eq!(stream.next_soon("the end of the stream at shutdown").await, None);
    let broker = replicas.procs[0].as_mut().expect("running");
    let exited = broker.wait_for_exit(TELL_WITHIN).await;
    assert!(exited.is_some_and(|s| s.success()), "the broker did not exit within 5 s of SIGTERM: {exited:?}");
}

/// Open streams count against `MAX_CONNECTIONS` but do not lock the token
/// route out: at the cap, one is closed to make room (its browser reconnects).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_at_the_connection_cap_make_room() {
    const CAP: usize = 3;
    let redis = RedisServer::start().await;
    let (_upstream, replicas) = replicas_with(&redis, 1, &[("MAX_CONNECTIONS", "3")]).await;
    let base = &replicas.get(0).base;
    let cookie = sign_in(&manual_client(), base).await;
    let mut streams = Vec::new();
    for _ in 0..CAP {
        // A client each, so each stream has a connection of its own.
        let mut stream = EventStream::open(&manual_client(), base, &[("Cookie", &cookie)]).await;
        assert_eq!(stream.next_soon("signed in").await, Some(true));
        streams.push(stream);
    }
    let token = tokio::time::timeout(TELL_WITHIN, manual_client().get(format!("{base}/api/token")).send()).await;
    let token = token.expect("/api/token answered within 5 s at the cap").expect("token request");
    assert_eq!(token.status(), 200);
    let mut closed = 0;
    for stream in &mut streams {
        if tokio::time::timeout(Duration::from_millis(200), stream.next()).await == Ok(None) {
            closed += 1;
        }
    }
    assert!(closed >= 1, "no stream made room");
}
