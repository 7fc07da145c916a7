//! `/api/user/me` against the real `oidc-provider` with resource indicators on
//! (RFC 8707): the broker asks for an API resource (`OAUTH_RESOURCE`), so the
//! user's access token is a JWT for that API, which the provider's userinfo
//! refuses. The profile then comes from the ID token checked at sign-in.

mod common;

use common::broker::BrokerBuilder;
use common::browser::Browser;
use common::oidc_provider::{OidcProvider, ProviderAgent};
use common::sign_in::query_param;
use common::{SESSION_SECRET, free_port};

const API: &str = "https://api.example.test/";
const CLIENT_ID: &str = "broker-web";
const CLIENT_SECRET: &str = "web-secret-0123456789abcdef";
const SCOPE: &str = "openid offline_access profile data:read";

/// The API-scoped token is refused by userinfo, yet `/api/user/me` answers 200
/// with the ID token's claims, and the session survives.
#[tokio::test]
async fn me_answers_from_the_id_token_when_userinfo_refuses_an_api_token() {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let redirect = format!("{base}/auth/callback");
    let client = serde_json::json!([{
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": [redirect],
        "token_endpoint_auth_method": "client_secret_basic",
        "scope": SCOPE,
    }])
    .to_string();
    let oidc =
        OidcProvider::start_with(60, &[("SIGN_IN", "1"), ("EXTRA_CLIENTS", &client), ("RESOURCE_SERVER", API)]).await;
    let broker = BrokerBuilder::new()
        .env(&[
            ("RUST_LOG", "info"),
            ("BIND_ADDR", &format!("127.0.0.1:{port}")),
            ("OAUTH_PROVIDER", "oidc"),
            ("OAUTH_ISSUER", &oidc.issuer),
            ("OAUTH_CLIENT_ID", CLIENT_ID),
            ("OAUTH_CLIENT_SECRET", CLIENT_SECRET),
            ("OAUTH_REDIRECT_URL", &redirect),
            ("OAUTH_USER_SCOPE", SCOPE),
            ("OAUTH_RESOURCE", API),
            ("SESSION_SECRET", SESSION_SECRET),
            ("COOKIE_SECURE", "false"),
        ])
        .spawn()
        .await;
    let browser = Browser::new(&broker.base);

    let login = browser.login_raw("%2F").await;
    assert_eq!(login.status, 302, "{}", login.body);
    let authorize = login.header("location").expect("Location").to_owned();
    assert_eq!(query_param(&authorize, "resource").as_deref(), Some(API), "RFC 8707 on the authorization request");
    let callback = ProviderAgent::new().authorize(&oidc.issuer, &authorize, "alice").await;
    assert!(callback.starts_with(&redirect), "{callback}");
    let landed = browser.get(&callback, &[]).await;
    assert_eq!(landed.status, 302, "callback: {}", landed.body);

    // The user's token is for the API: a JWT whose audience is the resource, refused by userinfo.
    let token = browser.user_token().await.token();
    let payload = token.split('.').nth(1).unwrap_or_else(|| panic!("a JWT access token: {token}"));
    let payload =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).expect("base64url");
    let at: serde_json::Value = serde_json::from_slice(&payload).expect("JSON claims");
    assert_eq!(at["aud"], API, "the token is for the API: {at}");
    let userinfo = common::get_with(
        &common::http_client(),
        &format!("{}/me", oidc.issuer),
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert!(
        matches!(userinfo.status, 401 | 403),
        "userinfo refuses the API token: {} {}",
        userinfo.status,
        userinfo.body
    );

    for _ in 0..2 {
        let me = browser.get("/api/user/me", &[("x-requested-with", "fetch")]).await;
        assert_eq!(me.status, 200, "{}", me.body);
        let claims = me.json();
        assert_eq!(claims["sub"], "alice", "{claims}");
        assert_eq!(claims["iss"], oidc.issuer.as_str(), "{claims}");
        assert!(claims.get("nonce").is_none() && claims.get("aud").is_none(), "protocol claims are not kept: {claims}");
    }
    assert_eq!(browser.user_token().await.status, 200, "the userinfo refusal did not end the session");
    drop(broker);
}
