//! `/api/token` and `/api/token/{profile}` against a real third-party authorization
//! server (oidc-provider from npm): both client-authentication methods, the
//! response shape and headers, profiles, discovery, and the real binary.

mod common;

use common::binary::{BrokerProcess, run_to_exit};
use common::broker::{Broker, BrokerBuilder};
use common::fault_upstream::{FaultUpstream, Script};
use common::oidc_provider::OidcProvider;
use common::{Reply, assert_error, get, http_client, poll_for, scratch_file};

/// A broker for the real server with one of its clients, authenticating the way
/// that client is registered.
async fn broker_for(oidc: &OidcProvider, basic: bool, extra: &[&str]) -> Broker {
    let (client, auth) = if basic { (&oidc.basic, "basic") } else { (&oidc.post, "post") };
    oidc.broker(client).args(&["--client-auth", auth]).args(extra).start().await
}

/// The success body is exactly RFC 6749 §5.1's three fields, and never cacheable.
fn assert_token_response(reply: &Reply, max_expires_in: u64) {
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    let keys: Vec<&str> = body.as_object().expect("object").keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 3, "unexpected fields: {keys:?}");
    assert!(!body["access_token"].as_str().expect("access_token").is_empty());
    assert_eq!(body["token_type"], "Bearer");
    let expires_in = body["expires_in"].as_u64().expect("expires_in is a number");
    assert!(expires_in > 0 && expires_in <= max_expires_in, "expires_in {expires_in}");
    assert_no_store(reply);
}

fn assert_no_store(reply: &Reply) {
    assert_eq!(reply.header("cache-control"), Some("no-store"), "{:?}", reply.headers);
    assert_eq!(reply.header("pragma"), Some("no-cache"), "{:?}", reply.headers);
}

/// `client_secret_basic` (what APS requires) works against a server we did not write.
#[tokio::test]
async fn client_secret_basic_gets_a_token() {
    let oidc = OidcProvider::start(60).await;
    let broker = broker_for(&oidc, true, &[]).await;
    let reply = get(&http_client(), &broker.url("/api/token")).await;
    assert_token_response(&reply, 60);
    assert_eq!(oidc.token_requests().await, 1);
}

/// `client_secret_post` works against a server we did not write.
#[tokio::test]
async fn client_secret_post_gets_a_token() {
    let oidc = OidcProvider::start(60).await;
    let broker = broker_for(&oidc, false, &[]).await;
    let reply = get(&http_client(), &broker.url("/api/token")).await;
    assert_token_response(&reply, 60);
}

/// A secret with reserved characters survives HTTP Basic: the broker form-encodes
/// it as RFC 6749 §2.3.1 requires, and a real server decodes it.
#[tokio::test]
async fn basic_auth_form_encodes_reserved_characters() {
    let oidc = OidcProvider::start(60).await;
    let broker = oidc.broker(&oidc.special).args(&["--client-auth", "basic"]).start().await;
    assert_token_response(&get(&http_client(), &broker.url("/api/token")).await, 60);
}

/// The configured method is the one on the wire (oidc-provider accepts either, so
/// the fault upstream records what arrives): Basic sends no secret in the body,
/// post sends no `Authorization` header.
#[tokio::test]
async fn configured_client_auth_method_is_used_on_the_wire() {
    let upstream = FaultUpstream::start(Script::token(3600)).await;
    let client = http_client();
    for auth in ["basic", "post"] {
        let broker = Broker::generic(&upstream.token_url(), &["--client-auth", auth]).await;
        get(&client, &broker.url("/api/token")).await.token();
        let request = upstream.received().pop().expect("a request");
        assert_eq!(request.form("grant_type").as_deref(), Some("client_credentials"));
        if auth == "basic" {
            assert_eq!(request.basic_credentials(), Some(("broker".into(), "broker-secret".into())));
            assert_eq!(request.form("client_secret"), None);
        } else {
            assert!(request.headers.get("authorization").is_none(), "{:?}", request.headers);
            assert_eq!(request.form("client_id").as_deref(), Some("broker"));
            assert_eq!(request.form("client_secret").as_deref(), Some("broker-secret"));
        }
    }
}

/// The `aps` preset speaks APS authentication v2: a form POST with HTTP Basic
/// client authentication and the viewer's default scope; its reply shape is served.
#[tokio::test]
async fn aps_preset_speaks_authentication_v2() {
    let upstream = FaultUpstream::start(Script::token(3599)).await;
    let broker = BrokerBuilder::preset("aps", &upstream.token_url()).client("aps-client", "aps-secret").start().await;
    let reply = get(&http_client(), &broker.url("/api/token")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(matches!(reply.json()["expires_in"].as_u64(), Some(3598 | 3599)), "{}", reply.body);
    let request = upstream.received().pop().expect("a request");
    assert_eq!(request.basic_credentials(), Some(("aps-client".into(), "aps-secret".into())));
    assert_eq!(
        request.headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(request.form("grant_type").as_deref(), Some("client_credentials"));
    assert_eq!(request.form("scope").as_deref(), Some("viewables:read"));
    assert_eq!(request.form("client_secret"), None, "APS v2 takes the secret in the Basic header only");
}

/// A wrong secret is a configuration problem (502 `upstream_rejected`), not an outage,
/// and the error is as uncacheable as a token.
#[tokio::test]
async fn wrong_secret_is_502_upstream_rejected() {
    let oidc = OidcProvider::start(60).await;
    let broker = oidc.broker(&oidc.basic).client(&oidc.basic.id, "not-the-secret").start().await;
    let reply = get(&http_client(), &broker.url("/api/token")).await;
    assert_error!(reply, 502, "upstream_rejected");
    assert_no_store(&reply);
    assert!(reply.header("retry-after").is_none(), "retrying does not fix a wrong secret");
}

/// `expires_in` is what is left now, not the upstream's original figure, so a
/// browser never believes a cached token lives longer than it does.
#[tokio::test]
async fn expires_in_is_recomputed_for_each_response() {
    let oidc = OidcProvider::start(60).await;
    let broker = broker_for(&oidc, true, &[]).await;
    let client = http_client();
    let first = get(&client, &broker.url("/api/token")).await;
    let first_expires_in = first.json()["expires_in"].as_u64().expect("expires_in");
    assert!(first_expires_in <= 60);
    let url = broker.url("/api/token");
    let later = poll_for("expires_in to count down", || async {
        let reply = get(&client, &url).await;
        (reply.json()["expires_in"].as_u64().expect("expires_in") < first_expires_in).then_some(reply)
    })
    .await;
    assert_eq!(later.token(), first.token(), "the cached token is served again");
    assert_eq!(oidc.token_requests().await, 1, "served from the cache");
}

/// An unknown profile is a 404 in the same JSON error shape, never cacheable.
#[tokio::test]
async fn unknown_profile_is_404_json() {
    let oidc = OidcProvider::start(60).await;
    let broker = broker_for(&oidc, true, &[]).await;
    let reply = get(&http_client(), &broker.url("/api/token/nope")).await;
    assert_error!(reply, 404, "unknown_profile");
    assert!(reply.header("content-type").is_some_and(|ct| ct.starts_with("application/json")));
    assert_no_store(&reply);
    assert_eq!(oidc.token_requests().await, 0, "no upstream call for a bad name");
}

/// Each profile has its own cache and scope; the real server enforces the scopes.
#[tokio::test]
async fn profiles_with_different_scopes_get_different_tokens() {
    let oidc = OidcProvider::start(60).await;
    let toml = scratch_file(
        "profiles.toml",
        "[profiles.data]\nscope = \"data:read\"\n\n[profiles.write]\nscope = \"data:write\"\n",
    );
    let broker = broker_for(&oidc, true, &["--config", toml.to_str().expect("utf-8 path")]).await;
    let client = http_client();
    let viewer = get(&client, &broker.url("/api/token")).await;
    let data = get(&client, &broker.url("/api/token/data")).await;
    assert_token_response(&viewer, 60);
    assert_token_response(&data, 60);
    assert_ne!(viewer.token(), data.token());
    assert_eq!(get(&client, &broker.url("/api/token/default")).await.token(), viewer.token());
    assert_eq!(get(&client, &broker.url("/api/token/data")).await.token(), data.token());
    assert_eq!(oidc.token_requests().await, 2, "one upstream call per profile");
    // `data:write` is not allowed for this client: the server's refusal reaches us.
    let write = get(&client, &broker.url("/api/token/write")).await;
    assert_error!(write, 502, "upstream_rejected");
}

/// `OAUTH_PROVIDER=oidc` finds the token endpoint from the issuer's metadata.
#[tokio::test]
async fn oidc_discovery_finds_the_token_endpoint() {
    let oidc = OidcProvider::start(60).await;
    let broker = Broker::start(&[
        "--provider",
        "oidc",
        "--issuer",
        &oidc.issuer,
        "--client-id",
        &oidc.basic.id,
        "--client-secret",
        &oidc.basic.secret,
        "--scope",
        "viewables:read",
    ])
    .await;
    assert_token_response(&get(&http_client(), &broker.url("/api/token")).await, 60);
}

/// The shipped binary, configured only through `OAUTH_*` variables, serves tokens
/// and reports ready.
#[tokio::test]
async fn real_binary_serves_tokens_configured_from_environment() {
    let oidc = OidcProvider::start(60).await;
    let broker = BrokerProcess::start(
        &[],
        &[
            ("OAUTH_PROVIDER", "oidc"),
            ("OAUTH_ISSUER", &oidc.issuer),
            ("OAUTH_CLIENT_ID", &oidc.post.id),
            ("OAUTH_CLIENT_SECRET", &oidc.post.secret),
            ("OAUTH_CLIENT_AUTH", "post"),
            ("OAUTH_SCOPE", "viewables:read data:read"),
        ],
    )
    .await;
    let client = http_client();
    assert_token_response(&get(&client, &broker.url("/api/token")).await, 60);
    assert_eq!(get(&client, &broker.url("/healthz")).await.status, 200);
    assert_eq!(get(&client, &broker.url("/readyz")).await.status, 200);
    assert_eq!(oidc.token_requests().await, 1, "/readyz is answered from the cache");
}

/// Metadata naming another issuer is refused (RFC 8414 §3.3): start-up fails
/// rather than trusting endpoints from the wrong server.
#[tokio::test]
async fn discovery_refuses_metadata_for_another_issuer() {
    let oidc = OidcProvider::start(60).await;
    // Same server, but reached as `localhost`: its metadata says `127.0.0.1`.
    let issuer = oidc.issuer.replace("127.0.0.1", "localhost");
    let exited = run_to_exit(
        &[],
        &[
            ("OAUTH_PROVIDER", "oidc"),
            ("OAUTH_ISSUER", &issuer),
            ("OAUTH_CLIENT_ID", &oidc.basic.id),
            ("OAUTH_CLIENT_SECRET", &oidc.basic.secret),
        ],
    )
    .await;
    // Exit 2 like a configuration error (issue 10): retrying will not help.
    assert_eq!(exited.status.code(), Some(2), "{:?}", exited.stderr);
    let stderr = exited.stderr.join("\n");
    assert!(stderr.contains("does not match OAUTH_ISSUER"), "{stderr}");
    assert!(!stderr.contains(&oidc.basic.secret), "{stderr}");
}
