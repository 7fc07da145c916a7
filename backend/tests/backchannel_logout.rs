//! Back-channel logout (issue 21, item 2; OpenID Connect Back-Channel Logout
//! 1.0) against the real `oidc-provider`, two replicas of the real binary and
//! a real `redis-server`: ending the user's session at the provider ends it on
//! every replica and revokes its refresh token, other users keep theirs, and
//! logout tokens that are forged, for someone else, an ID token in disguise,
//! or replayed (to another replica) are refused with 400 and end nothing.
//! The provider signs with a fixed test key, so tests can sign tokens with the
//! provider's own key to get every claim wrong but one.

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use common::binary::BrokerProcess;
use common::broker::BrokerBuilder;
use common::browser::Browser;
use common::oidc_provider::{OidcProvider, ProviderAgent};
use common::redis::RedisServer;
use common::{Reply, SESSION_SECRET, free_port, get, http_client, key_fixture};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

const CLIENT_ID: &str = "broker-web";
const CLIENT_SECRET: &str = "web-secret-0123456789abcdef";
const SCOPE: &str = "openid offline_access profile";
/// The `kid` of the provider's signing key (`rsa.pem`).
const PROVIDER_KID: &str = "provider-key";
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// How soon every replica must refuse an ended session.
const LOGOUT_WITHIN: Duration = Duration::from_secs(5);

/// The provider and the broker: two replicas sharing Redis (the provider posts
/// logout tokens to replica 1 while users sign in through replica 0), or one
/// standalone, with sessions, index and used `jti`s in its memory.
struct Rig {
    oidc: OidcProvider,
    replicas: Vec<BrokerProcess>,
    redis: Option<RedisServer>,
}

impl Rig {
    async fn replicated() -> Self {
        Self::start(Some(RedisServer::start().await)).await
    }

    async fn standalone() -> Self {
        Self::start(None).await
    }

    async fn start(redis: Option<RedisServer>) -> Self {
        let ports: Vec<u16> = (0..if redis.is_some() { 2 } else { 1 }).map(|_| free_port()).collect();
        let last = ports.len() - 1;
        let base = |i: usize| format!("http://127.0.0.1:{}", ports[i]);
        let client = serde_json::json!([{
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "redirect_uris": [format!("{}/auth/callback", base(0))],
            "token_endpoint_auth_method": "client_secret_basic",
            "scope": SCOPE,
            "backchannel_logout_uri": format!("{}/auth/backchannel-logout", base(last)),
            "backchannel_logout_session_required": true,
        }])
        .to_string();
        let key = key_fixture("rsa.pem");
        let oidc = OidcProvider::start_with(
            60,
            &[
                ("SIGN_IN", "1"),
                ("BACKCHANNEL_LOGOUT", "1"),
                ("EXTRA_CLIENTS", &client),
                ("SIGNING_KEY_FILE", key.to_str().expect("UTF-8 path")),
                ("SIGNING_KEY_ID", PROVIDER_KID),
            ],
        )
        .await;
        let redis_url = redis.as_ref().map(RedisServer::url);
        let replica = |i: usize| {
            let redis = redis_url.iter().map(|url| ("REDIS_URL", url.as_str()));
            BrokerBuilder::new()
                .env(&[
                    ("RUST_LOG", "trace"),
                    ("BIND_ADDR", &format!("127.0.0.1:{}", ports[i])),
                    ("OAUTH_PROVIDER", "oidc"),
                    ("OAUTH_ISSUER", &oidc.issuer),
                    ("OAUTH_CLIENT_ID", CLIENT_ID),
                    ("OAUTH_CLIENT_SECRET", CLIENT_SECRET),
                    ("OAUTH_REDIRECT_URL", &format!("{}/auth/callback", base(0))),
                    ("OAUTH_USER_SCOPE", SCOPE),
                    ("SESSION_SECRET", SESSION_SECRET),
                    ("COOKIE_SECURE", "false"),
                ])
                .env(&redis.collect::<Vec<_>>())
                .spawn()
        };
        let replicas = futures_util::future::join_all((0..ports.len()).map(replica)).await;
        Self { oidc, replicas, redis }
    }

    /// Signs `user` in through replica 0 and returns a browser per replica holding the session.
    async fn sign_in(&self, agent: &ProviderAgent, user: &str) -> Vec<Browser> {
        let browser = Browser::new(&self.replicas[0].base);
        let login = browser.login_raw("%2F").await;
        assert_eq!(login.status, 302, "{}", login.body);
        let callback = agent.authorize(&self.oidc.issuer, login.header("location").expect("Location"), user).await;
        let landed = browser.get(&callback, &[]).await;
        assert_eq!(landed.status, 302, "callback: {}", landed.body);
        let mut browsers = vec![browser];
        for replica in &self.replicas[1..] {
            let other = Browser::new(&replica.base);
            other.set_cookie(browsers[0].cookie().as_deref());
            browsers.push(other);
        }
        for b in &browsers {
            assert_eq!(b.user_token().await.status, 200, "{user} is signed in on {}", b.url(""));
        }
        browsers
    }

    /// Posts `logout_token` to replica `i`'s back-channel logout route (modulo the replicas).
    async fn post_logout_token(&self, i: usize, logout_token: &str) -> Reply {
        let url = self.replicas[i % self.replicas.len()].url("/auth/backchannel-logout");
        send(http_client().post(url).form(&[("logout_token", logout_token)])).await
    }

    /// What the provider saw happen (`/test/events`).
    async fn events(&self) -> serde_json::Value {
        get(&http_client(), &format!("{}/test/events", self.oidc.issuer)).await.json()
    }

    /// Stops every replica and returns their logs.
    async fn stop(self) -> Vec<String> {
        let mut log = Vec::new();
        for replica in self.replicas {
            log.extend(replica.stop().await);
        }
        log
    }
}

/// Sends `request` and reads the whole answer.
async fn send(request: reqwest::RequestBuilder) -> Reply {
    let started = Instant::now();
    let response = request.send().await.expect("back-channel post");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.expect("body");
    Reply { status, headers, body, latency: started.elapsed(), sent_at: started }
}

/// Every replica refuses `browsers`' session within [`LOGOUT_WITHIN`].
async fn assert_signed_out(browsers: &[Browser], who: &str) {
    let deadline = Instant::now() + LOGOUT_WITHIN;
    for browser in browsers {
        loop {
            let status = browser.user_token().await.status;
            if status == 401 {
                break;
            }
            assert_eq!(status, 200, "{who} on {}", browser.url(""));
            assert!(Instant::now() < deadline, "{who} still signed in on {} after {LOGOUT_WITHIN:?}", browser.url(""));
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

async fn assert_signed_in(browsers: &[Browser], who: &str) {
    for browser in browsers {
        assert_eq!(browser.user_token().await.status, 200, "{who} is still signed in on {}", browser.url(""));
    }
}

/// The user ends their session at the provider's end-session endpoint (not
/// through the broker) and confirms "sign out of everything".
async fn end_session_at_provider(oidc: &OidcProvider, agent: &ProviderAgent) {
    let metadata = get(&http_client(), &format!("{}/.well-known/openid-configuration", oidc.issuer)).await.json();
    let endpoint = metadata["end_session_endpoint"].as_str().expect("end_session_endpoint");
    let (status, _, page) = agent.send(endpoint, None).await;
    assert_eq!(status, 200, "the provider's logout page: {page}");
    let action = page.split("action=\"").nth(1).and_then(|r| r.split('"').next()).expect("the confirmation form");
    let xsrf = page.split("name=\"xsrf\" value=\"").nth(1).and_then(|r| r.split('"').next()).expect("xsrf");
    let action = if action.starts_with('/') { format!("{}{action}", oidc.issuer) } else { action.to_owned() };
    let (status, location, body) = agent.send(&action, Some(&[("xsrf", xsrf), ("logout", "yes")])).await;
    assert!(location.is_some(), "the provider ended its session: {status} {body}");
}

/// Whether the refresh tokens issued to `account` were all destroyed (revoked).
fn refresh_tokens_revoked(events: &serde_json::Value, account: &str) -> Vec<bool> {
    let tokens = events["refresh_tokens"].as_array().expect("refresh_tokens");
    tokens.iter().filter(|t| t["account"] == account && t["saved"] == true).map(|t| t["destroyed"] == true).collect()
}

/// In Redis, bob's session is indexed under the SHA-256 of his `sub`, in a set
/// that expires with his session (14 days by default); alice's `sid` set is
/// emptied (so gone), and the `jti` the provider sent is remembered for minutes only.
async fn check_redis_index(redis: &RedisServer) {
    use sha2::Digest;
    let hex =
        |value: &str| sha2::Sha256::digest(value.as_bytes()).iter().map(|b| format!("{b:02x}")).collect::<String>();
    let bob = format!("token-broker:session_sub:{}", hex("bob"));
    assert_eq!(redis.cli(&["ZCARD", &bob]).await, ["1"], "bob's one session");
    let ttl: i64 = redis.cli(&["PTTL", &bob]).await[0].parse().expect("PTTL");
    let lifetime = 14 * 24 * 3600 * 1000;
    assert!((lifetime - 60_000..=lifetime).contains(&ttl), "the set expires with the session: {ttl} ms");
    let sids = redis.cli(&["--scan", "--pattern", "token-broker:session_sid:*"]).await;
    assert_eq!(sids.len(), 1, "bob's sid only; alice's was emptied: {sids:?}");
    let jtis = redis.cli(&["--scan", "--pattern", "token-broker:used_logout_jti:*"]).await;
    assert_eq!(jtis.len(), 1, "{jtis:?}");
    let ttl: i64 = redis.cli(&["PTTL", &jtis[0]]).await[0].parse().expect("PTTL");
    assert!((1..=6 * 60 * 1000).contains(&ttl), "remembered while the token could be accepted: {ttl} ms");
}

/// Logout-token claims for [`CLIENT_ID`] from `issuer`, valid but for what `change` alters.
fn claims(issuer: &str, change: impl FnOnce(&mut serde_json::Value)) -> serde_json::Value {
    let now = jsonwebtoken::get_current_timestamp();
    let jti = format!("{:032x}", rand::random::<u128>());
    let mut claims = serde_json::json!({
        "iss": issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 120, "jti": jti,
        "sub": "alice", "events": { EVENT: {} },
    });
    change(&mut claims);
    claims
}

/// `claims` signed with the PEM RSA key `key` under `kid`.
fn sign(claims: &serde_json::Value, key: &str, kid: &str) -> String {
    let pem = std::fs::read(key_fixture(key)).expect("key fixture");
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    header.typ = Some("logout+jwt".into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_pem(&pem).expect("RSA key")).expect("sign")
}

/// Ending the session at the provider makes it post a logout token (with the
/// `sid` of the sign-in) to replica 1; within 5 s the session is refused by
/// both replicas, its refresh token revoked at the provider, and another
/// user's session is untouched.
#[tokio::test]
async fn ending_the_providers_session_ends_it_on_every_replica() {
    ending_the_providers_session_ends_it(Rig::replicated().await).await;
}

/// The same on one broker without Redis: the index and the used `jti`s in memory.
#[tokio::test]
async fn ending_the_providers_session_ends_it_standalone() {
    ending_the_providers_session_ends_it(Rig::standalone().await).await;
}

async fn ending_the_providers_session_ends_it(rig: Rig) {
    let (alice_at_provider, bob_at_provider) = (ProviderAgent::new(), ProviderAgent::new());
    let alice = rig.sign_in(&alice_at_provider, "alice").await;
    let bob = rig.sign_in(&bob_at_provider, "bob").await;

    end_session_at_provider(&rig.oidc, &alice_at_provider).await;
    assert_signed_out(&alice, "alice").await;
    assert_signed_in(&bob, "bob").await;

    let events = rig.events().await;
    assert_eq!(events["counts"]["backchannel.success"], 1, "the broker answered 200: {events}");
    assert!(events["counts"]["backchannel.error"].is_null(), "{events}");
    let revoked = refresh_tokens_revoked(&events, "alice");
    assert!(!revoked.is_empty() && revoked.iter().all(|r| *r), "alice's refresh token was revoked: {events}");
    assert!(refresh_tokens_revoked(&events, "bob").iter().all(|r| !r), "bob's was not: {events}");

    if let Some(redis) = &rig.redis {
        check_redis_index(redis).await;
    }
    let log = rig.stop().await;
    assert!(
        log.iter().any(|l| l.contains("back-channel logout: sessions ended") && l.contains("sessions=1")),
        "{log:#?}"
    );
}

/// Logout tokens that are forged (another key, under the provider's `kid` or
/// an unknown one), for another client or issuer, an ID token (with `nonce`),
/// without the logout event, stale, unsigned, or signed with HMAC using the
/// provider's public key are refused with 400 `invalid_request` and end
/// nothing. A valid one ends the session; replayed to the other replica it is
/// refused and leaves the user's next session alone. No token is ever logged,
/// and each refusal is one log line.
#[tokio::test]
async fn invalid_and_replayed_logout_tokens_are_refused_and_touch_nothing() {
    refuses_invalid_and_replayed_logout_tokens(Rig::replicated().await).await;
}

/// The same on one broker without Redis.
#[tokio::test]
async fn invalid_and_replayed_logout_tokens_are_refused_standalone() {
    refuses_invalid_and_replayed_logout_tokens(Rig::standalone().await).await;
}

async fn refuses_invalid_and_replayed_logout_tokens(rig: Rig) {
    let issuer = rig.oidc.issuer.clone();
    let agent = ProviderAgent::new();
    let alice = rig.sign_in(&agent, "alice").await;

    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let unsigned = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"logout+jwt"}"#),
        b64(claims(&issuer, |_| {}).to_string().as_bytes())
    );
    let hmac_with_public_key = {
        let public = std::fs::read(key_fixture("rsa.pub.pem")).expect("public key");
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(PROVIDER_KID.into());
        jsonwebtoken::encode(&header, &claims(&issuer, |_| {}), &EncodingKey::from_secret(&public)).expect("sign")
    };
    let provider_signed = |change: fn(&mut serde_json::Value)| sign(&claims(&issuer, change), "rsa.pem", PROVIDER_KID);
    let refused: Vec<(&str, String)> = vec![
        ("forged under the provider's kid", sign(&claims(&issuer, |_| {}), "other-rsa.pem", PROVIDER_KID)),
        ("forged under an unknown kid", sign(&claims(&issuer, |_| {}), "other-rsa.pem", "attacker-key")),
        ("for another client", provider_signed(|c| c["aud"] = "someone-else".into())),
        ("from another issuer", provider_signed(|c| c["iss"] = "https://evil.example".into())),
        ("an ID token (nonce)", provider_signed(|c| c["nonce"] = "n-123".into())),
        ("without events", provider_signed(|c| c["events"] = serde_json::Value::Null)),
        ("issued an hour ago", provider_signed(|c| c["iat"] = (jsonwebtoken::get_current_timestamp() - 3600).into())),
        ("unsigned (alg none)", unsigned),
        ("HMAC with the public key", hmac_with_public_key),
        ("not a JWT", "not-a-jwt".to_owned()),
    ];
    for (i, (what, token)) in refused.iter().enumerate() {
        let reply = rig.post_logout_token(i % 2, token).await;
        assert_eq!(reply.status, 400, "{what}: {}", reply.body);
        assert_eq!(reply.json()["error"], "invalid_request", "{what}: {}", reply.body);
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{what}");
        assert_signed_in(&alice, "alice").await;
    }

    // The token as JSON instead of a form.
    let body = serde_json::json!({ "logout_token": refused[0].1 }).to_string();
    let request = http_client().post(rig.replicas[0].url("/auth/backchannel-logout"));
    let json = send(request.header("content-type", "application/json").body(body)).await;
    assert_eq!(
        (json.status, json.json()["error"].as_str()),
        (400, Some("invalid_request")),
        "not a form: {}",
        json.body
    );

    // A valid token ends alice's sessions (by `sub`); the same token again, at
    // the other replica, after she signed in anew, ends nothing.
    let valid = sign(&claims(&issuer, |_| {}), "rsa.pem", PROVIDER_KID);
    let accepted = rig.post_logout_token(0, &valid).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_eq!(accepted.header("cache-control"), Some("no-store"));
    assert_signed_out(&alice, "alice").await;
    let alice_again = rig.sign_in(&agent, "alice").await;
    let replayed = rig.post_logout_token(1, &valid).await;
    assert_eq!(replayed.status, 400, "replayed: {}", replayed.body);
    assert_eq!(replayed.json()["error"], "invalid_request");
    assert_signed_in(&alice_again, "alice").await;

    let log = rig.stop().await;
    assert!(log.iter().any(|l| l.contains("TRACE")), "trace logging was on");
    let signatures: Vec<&str> = refused
        .iter()
        .map(|(_, t)| t.as_str())
        .chain([valid.as_str()])
        .filter_map(|t| t.rsplit('.').next())
        .filter(|s| s.len() > 8)
        .collect();
    for line in &log {
        for signature in &signatures {
            assert!(!line.contains(signature), "a logout token in the log: {line}");
        }
    }
    let refusals = log.iter().filter(|l| l.contains("back-channel logout refused")).count();
    assert_eq!(refusals, refused.len() + 2, "one line per refusal:\n{}", log.join("\n"));
}
