//! `OAUTH_CLIENT_AUTH=private_key_jwt` (RFC 7523 §2.2) against the real
//! `oidc-provider`, which verifies each client assertion against the JWKS the
//! client registered and refuses a replayed one: two-legged tokens with RSA and
//! EC keys, and sign-in (code, refresh and revocation) with no shared secret.

mod common;

use common::broker::BrokerBuilder;
use common::browser::Browser;
use common::oidc_provider::OidcProvider;
use common::oidc_provider::ProviderAgent;
use common::{SESSION_SECRET, check_error, free_port, get, http_client, key_fixture};
use serde_json::{Value, json};

/// A client-credentials client at the provider that authenticates with the
/// public key `public` under `kid`.
fn key_client(id: &str, kid: &str, public: &str) -> Value {
    json!({
        "client_id": id,
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks_pem": [{ "kid": kid, "file": key_fixture(public) }],
        "grant_types": ["client_credentials"],
        "response_types": [],
        "redirect_uris": [],
        "scope": "viewables:read",
    })
}

/// The broker as `client_id`, signing with the private key `private` under `kid`.
fn key_broker(oidc: &OidcProvider, client_id: &str, private: &str, kid: &str) -> BrokerBuilder {
    let key_file = key_fixture(private);
    BrokerBuilder::new().args(&[
        "--provider",
        "generic",
        "--token-url",
        &oidc.token_endpoint,
        "--client-id",
        client_id,
        "--client-auth",
        "private_key_jwt",
        "--client-key-file",
        key_file.to_str().expect("utf-8 path"),
        "--client-key-id",
        kid,
        "--scope",
        "viewables:read",
    ])
}

/// An RSA key (RS256) and an EC P-256 key (ES256) each get a two-legged token
/// from a server that accepts only the registered key's signature.
#[tokio::test]
async fn two_legged_tokens_with_rsa_and_ec_client_assertions() {
    let clients =
        json!([key_client("key-rsa", "rsa-1", "rsa.pub.pem"), key_client("key-ec", "ec-1", "ec-p256.pub.pem"),])
            .to_string();
    let oidc = OidcProvider::start_with(60, &[("EXTRA_CLIENTS", &clients)]).await;
    for (client, private, kid) in [("key-rsa", "rsa.pem", "rsa-1"), ("key-ec", "ec-p256.pem", "ec-1")] {
        let broker = key_broker(&oidc, client, private, kid).start().await;
        let reply = get(&http_client(), &broker.url("/api/token")).await;
        assert_eq!(reply.status, 200, "{client}: {}", reply.body);
        assert!(!reply.token().is_empty(), "{client}");
    }
    assert_eq!(oidc.token_requests().await, 2, "one exchange per broker");
}

/// A key the client did not register (or the right key under another `kid`)
/// is refused upstream: the provider really checks the signature.
#[tokio::test]
async fn an_unregistered_key_is_refused_upstream() {
    let clients = json!([key_client("key-rsa", "rsa-1", "rsa.pub.pem")]).to_string();
    let oidc = OidcProvider::start_with(60, &[("EXTRA_CLIENTS", &clients)]).await;
    for (private, kid) in [("other-rsa.pem", "rsa-1"), ("rsa.pem", "rsa-2")] {
        let broker = key_broker(&oidc, "key-rsa", private, kid).start().await;
        let reply = get(&http_client(), &broker.url("/api/token")).await;
        check_error(&reply, 502, "upstream_rejected", format_args!("{private} as {kid}"));
    }
}

/// Sign-in with no shared secret: the code grant, the refresh grant and the
/// revocation at sign-out each carry their own assertion (the provider refuses
/// a `jti` it has seen), and the provider records no failed grant.
#[tokio::test]
async fn sign_in_refresh_and_sign_out_with_private_key_jwt() {
    const CLIENT_ID: &str = "broker-web-key";
    const SCOPE: &str = "openid offline_access profile data:read";
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let redirect = format!("{base}/auth/callback");
    let client = json!([{
        "client_id": CLIENT_ID,
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks_pem": [{ "kid": "ec-1", "file": key_fixture("ec-p256.pub.pem") }],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": [redirect],
        "scope": SCOPE,
    }])
    .to_string();
    let oidc = OidcProvider::start_with(60, &[("SIGN_IN", "1"), ("EXTRA_CLIENTS", &client)]).await;
    let key_file = key_fixture("ec-p256.pem");
    let broker = BrokerBuilder::new()
        .env(&[
            ("RUST_LOG", "info"),
            ("BIND_ADDR", &format!("127.0.0.1:{port}")),
            ("OAUTH_PROVIDER", "oidc"),
            ("OAUTH_ISSUER", &oidc.issuer),
            ("OAUTH_CLIENT_ID", CLIENT_ID),
            ("OAUTH_CLIENT_AUTH", "private_key_jwt"),
            ("OAUTH_CLIENT_KEY_FILE", key_file.to_str().expect("utf-8 path")),
            ("OAUTH_CLIENT_KEY_ID", "ec-1"),
            ("OAUTH_REDIRECT_URL", &redirect),
            ("OAUTH_USER_SCOPE", SCOPE),
            // The narrower browser token comes from a refresh grant.
            ("OAUTH_USER_BROWSER_SCOPE", "data:read"),
            ("SESSION_SECRET", SESSION_SECRET),
            ("COOKIE_SECURE", "false"),
        ])
        .spawn()
        .await;
    let browser = Browser::new(&broker.base);

    let login = browser.login_raw("%2F").await;
    assert_eq!(login.status, 302, "{}", login.body);
    let authorize = login.header("location").expect("Location").to_owned();
    let callback = ProviderAgent::new().authorize(&oidc.issuer, &authorize, "alice").await;
    let landed = browser.get(&callback, &[]).await;
    assert_eq!(landed.status, 302, "callback: {}", landed.body);
    assert_eq!(browser.user_token().await.status, 200);
    assert_eq!(browser.logout(None).await.status, 204);

    let events = get(&http_client(), &format!("{}/test/events", oidc.issuer)).await.json();
    assert_eq!(events["grant_errors"], json!([]), "{events}");
    assert!(events["counts"]["grant.success"].as_u64() >= Some(2), "code and refresh grants: {events}");
    assert!(events["counts"]["refresh_token.consumed"].as_u64() >= Some(1), "a refresh happened: {events}");
    let destroyed =
        events["refresh_tokens"].as_array().expect("refresh tokens").iter().filter(|t| t["destroyed"] == true);
    assert_eq!(destroyed.count(), 1, "the live refresh token was revoked at sign-out: {events}");
    drop(broker);
}
