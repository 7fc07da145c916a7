//! The JWT bearer grant with the APS Secure Service Account profile
//! (`OAUTH_PROVIDER=aps`, `OAUTH_GRANT=jwt-bearer`) against a fake APS token
//! endpoint that verifies every assertion as APS documents it.

mod common;

use std::collections::BTreeSet;

use base64::Engine;
use common::binary::run_to_exit;
use common::broker::{BrokerBuilder, CLIENT_ID, CLIENT_SECRET};
use common::fake_aps::{FakeAps, KEY_ID, SERVICE_ACCOUNT};
use common::redis::RedisServer;
use common::replicas::Replicas;
use common::{check_error, get, http_client, key_fixture, scratch_file};
use serde_json::Value;

/// The SSA settings on an `aps` broker whose token URL is the fake's, signing with `key`.
fn ssa_broker(aps: &FakeAps, key: &str) -> BrokerBuilder {
    let key = key_fixture(key);
    BrokerBuilder::preset("aps", &aps.token_url()).args(&[
        "--grant",
        "jwt-bearer",
        "--assertion-subject",
        SERVICE_ACCOUNT,
        "--assertion-key-file",
        key.to_str().expect("utf-8 path"),
        "--assertion-key-id",
        KEY_ID,
        "--scope",
        "data:read account:read",
    ])
}

/// The claims of a compact JWS, unverified (the fake verified them).
fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64url"))
        .expect("JSON")
}

/// 200 concurrent cold requests share one exchange, whose assertion passes
/// every APS check (signature, kid, iss, sub, aud, exp, scope array, fresh jti,
/// HTTP Basic) and asks for the profile's scopes.
#[tokio::test]
async fn cold_burst_makes_one_ssa_exchange() {
    let aps = FakeAps::start().await;
    let broker = ssa_broker(&aps, "rsa.pem").start().await;
    let client = http_client();
    let url = broker.url("/api/token");
    let replies = futures_util::future::join_all((0..200).map(|_| get(&client, &url))).await;
    for reply in &replies {
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.token(), "ssa-token-0");
    }
    assert_eq!(aps.refusals(), Vec::<String>::new());
    assert_eq!(aps.exchanges(), 1, "one exchange for the whole burst");
    let sent = claims(&aps.assertions()[0]);
    assert_eq!(sent["scope"], serde_json::json!(["data:read", "account:read"]), "{sent}");
}

/// Each exchange signs a new assertion: a second profile's exchange is
/// accepted by an endpoint that refuses a replayed `jti`, and replaying the
/// first assertion is refused.
#[tokio::test]
async fn every_exchange_signs_a_new_assertion() {
    let aps = FakeAps::start().await;
    // The named profile takes the subject and key from the OAUTH_ASSERTION_* settings.
    let file = scratch_file("ssa.toml", "[profiles.files]\nscope = \"data:read\"\ngrant = \"jwt-bearer\"\n");
    let broker = ssa_broker(&aps, "rsa.pem").args(&["--config", file.to_str().expect("utf-8 path")]).start().await;
    let client = http_client();
    assert_eq!(get(&client, &broker.url("/api/token")).await.token(), "ssa-token-0");
    assert_eq!(get(&client, &broker.url("/api/token/files")).await.token(), "ssa-token-1");
    assert_eq!(aps.refusals(), Vec::<String>::new());
    let assertions = aps.assertions();
    assert_ne!(claims(&assertions[0])["jti"], claims(&assertions[1])["jti"]);
    assert_eq!(claims(&assertions[1])["scope"], serde_json::json!(["data:read"]));

    let replay = client
        .post(aps.token_url())
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", &assertions[0])])
        .send()
        .await
        .expect("fake APS answers");
    assert_eq!(replay.status(), 400, "the fake refuses a replayed assertion");
}

/// An assertion signed with another key is refused upstream (502), so the
/// fake's signature check is real.
#[tokio::test]
async fn an_assertion_signed_with_another_key_is_refused() {
    let aps = FakeAps::start().await;
    let broker = ssa_broker(&aps, "other-rsa.pem").start().await;
    let reply = get(&http_client(), &broker.url("/api/token")).await;
    check_error(&reply, 502, "upstream_rejected", format_args!("wrong key"));
    assert!(aps.refusals()[0].contains("InvalidSignature"), "{:?}", aps.refusals());
}

/// SSA settings that cannot work stop the binary with one line naming the
/// variable: an EC key (APS signs with RS256), a missing subject.
#[tokio::test]
async fn bad_ssa_settings_exit_2_naming_the_variable() {
    let ec = key_fixture("ec-p256.pem");
    let rsa = key_fixture("rsa.pem");
    let cases = [
        (ec.to_str().expect("utf-8"), Some(SERVICE_ACCOUNT), "OAUTH_ASSERTION_KEY_FILE", "RS256"),
        (rsa.to_str().expect("utf-8"), None, "OAUTH_ASSERTION_SUBJECT", "missing"),
    ];
    for (key, subject, var, reason) in cases {
        let mut env = vec![
            ("OAUTH_PROVIDER", "aps"),
            ("OAUTH_CLIENT_ID", "broker"),
            ("OAUTH_CLIENT_SECRET", "s3cret"),
            ("OAUTH_GRANT", "jwt-bearer"),
            ("OAUTH_ASSERTION_KEY_FILE", key),
            ("OAUTH_ASSERTION_KEY_ID", KEY_ID),
        ];
        env.extend(subject.map(|s| ("OAUTH_ASSERTION_SUBJECT", s)));
        let exited = run_to_exit(&["check-config"], &env).await;
        assert_eq!(exited.status.code(), Some(2), "{:?}", exited.stderr);
        assert_eq!(exited.stderr.len(), 1, "{:?}", exited.stderr);
        assert!(exited.stderr[0].starts_with(&format!("configuration error: {var}: ")), "{:?}", exited.stderr);
        assert!(exited.stderr[0].contains(reason), "{:?}", exited.stderr);
    }
}

/// Service-account tokens are shared through Redis: a cold burst over three
/// replicas of the binary costs APS one exchange.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_one_ssa_exchange_through_redis() {
    let redis = RedisServer::start().await;
    let aps = FakeAps::start().await;
    let broker = ssa_broker(&aps, "rsa.pem").env(&[("REDIS_URL", &redis.url())]);
    let replicas = Replicas::start(3, &broker, None).await;
    let client = http_client();
    let urls = replicas.urls("/api/token");
    let replies = futures_util::future::join_all((0..90).map(|i| get(&client, &urls[i % 3]))).await;
    let tokens: BTreeSet<String> = replies.iter().map(common::Reply::token).collect();
    assert_eq!(tokens.into_iter().collect::<Vec<_>>(), ["ssa-token-0"], "every replica serves the one token");
    assert_eq!(aps.exchanges(), 1, "one exchange for the cluster");
    assert_eq!(aps.refusals(), Vec::<String>::new());
}

/// `check-config` lists the grant, the service account and the key (file,
/// algorithm, `kid`), and none of the key.
#[tokio::test]
async fn check_config_lists_the_ssa_settings() {
    let key = key_fixture("rsa.pem");
    let key = key.to_str().expect("utf-8 path");
    let env = [
        ("OAUTH_PROVIDER", "aps"),
        ("OAUTH_CLIENT_ID", "broker"),
        ("OAUTH_CLIENT_SECRET", "s3cret-9b1e"),
        ("OAUTH_GRANT", "jwt-bearer"),
        ("OAUTH_ASSERTION_SUBJECT", SERVICE_ACCOUNT),
        ("OAUTH_ASSERTION_KEY_FILE", key),
        ("OAUTH_ASSERTION_KEY_ID", KEY_ID),
    ];
    let exited = run_to_exit(&["check-config"], &env).await;
    assert_eq!(exited.status.code(), Some(0), "{:?}", exited.stderr);
    let out = exited.stdout.join("\n");
    for line in [
        "OAUTH_GRANT=jwt-bearer".to_owned(),
        format!("OAUTH_ASSERTION_SUBJECT={SERVICE_ACCOUNT}"),
        format!("OAUTH_ASSERTION_KEY_FILE={key} (RS256)"),
        format!("OAUTH_ASSERTION_KEY_ID={KEY_ID}"),
    ] {
        assert!(exited.stdout.contains(&line), "{line} missing:\n{out}");
    }
    let pem = std::fs::read_to_string(key).expect("key");
    assert!(pem.lines().filter(|l| !l.starts_with("-----")).all(|l| !out.contains(l)), "{out}");
    assert!(!out.contains("s3cret-9b1e"), "{out}");
}
