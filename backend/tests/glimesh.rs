//! The `glimesh` preset against a server that speaks Glimesh's documented wire
//! format: client credentials as request parameters, `token_type: "bearer"`,
//! `created_at`, `refresh_token: null`, 60-second codes with PKCE S256.

mod common;

use std::time::{Duration, Instant};

use common::broker::{Broker, BrokerBuilder};
use common::browser::Browser;
use common::glimesh::{CredentialsIn, FakeGlimesh, GLIMESH_CLIENT_ID, GLIMESH_CLIENT_SECRET, GLIMESH_TOKEN_TTL_SECS};
use common::sign_in::query_param;
use common::{Reply, assert_error};

/// The `glimesh` preset against `fake`, as the client the fake knows.
fn glimesh_broker(fake: &FakeGlimesh) -> BrokerBuilder {
    BrokerBuilder::preset("glimesh", &fake.token_url()).client(GLIMESH_CLIENT_ID, GLIMESH_CLIENT_SECRET)
}

/// With nothing but an id and a secret, the preset sends them where Glimesh reads them.
#[tokio::test]
async fn client_credentials_work_with_the_preset_defaults() {
    let fake = FakeGlimesh::start(GLIMESH_TOKEN_TTL_SECS).await;
    let broker = glimesh_broker(&fake).start().await;
    let reply = common::get(&common::http_client(), &broker.url("/api/token")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    assert!(reply.token().starts_with("glimesh-access-"), "{body}");
    assert_eq!(body["token_type"], "Bearer", "lower-case `bearer` is accepted and served as Bearer: {body}");
    let expires_in = body["expires_in"].as_u64().expect("expires_in");
    assert!(expires_in > 21_000 && expires_in <= GLIMESH_TOKEN_TTL_SECS, "{body}");
    assert!(!reply.body.contains(GLIMESH_CLIENT_SECRET));

    let requests = fake.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].grant_type, "client_credentials");
    assert_eq!(requests[0].credentials_in, CredentialsIn::Form, "{requests:?}");
    assert!(!requests[0].had_authorization_header, "no Basic header by default: {requests:?}");
}

/// An explicit `OAUTH_CLIENT_AUTH` still wins over the preset's default.
#[tokio::test]
async fn explicit_client_auth_overrides_the_preset() {
    let fake = FakeGlimesh::start(GLIMESH_TOKEN_TTL_SECS).await;
    let broker = glimesh_broker(&fake).args(&["--client-auth", "basic"]).start().await;
    let reply = common::get(&common::http_client(), &broker.url("/api/token")).await;
    assert_error!(reply, 502, "upstream_rejected");
    let requests = fake.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].credentials_in, CredentialsIn::HeaderOnly, "{requests:?}");
    assert_eq!(requests[0].status, 401);
}

/// The broker with sign-in through the fake.
struct SignInRig {
    broker: Broker,
    fake: FakeGlimesh,
}

impl SignInRig {
    async fn start(user_token_ttl_secs: u64, extra: &[&str]) -> Self {
        let fake = FakeGlimesh::start(user_token_ttl_secs).await;
        let broker =
            glimesh_broker(&fake).args(&["--authorize-url", &fake.authorize_url()]).sign_in().args(extra).start().await;
        Self { broker, fake }
    }

    fn browser(&self) -> Browser {
        Browser::new(&self.broker.url(""))
    }

    /// Signs `browser` in through the fake's authorize endpoint; returns the authorize URL it was sent to.
    async fn sign_in(&self, browser: &Browser) -> String {
        let login = browser.login_raw("%2F").await;
        assert_eq!(login.status, 302, "{}", login.body);
        let authorize = login.header("location").expect("Location").to_owned();
        let consented = browser.get(&authorize, &[]).await;
        assert_eq!(consented.status, 303, "fake authorize: {}", consented.body);
        let callback = consented.header("location").expect("callback Location").to_owned();
        assert!(callback.starts_with(&self.broker.url("/auth/callback?")), "{callback}");
        let landed = browser.get(&callback, &[]).await;
        assert_eq!(landed.status, 302, "callback: {}", landed.body);
        assert_eq!(landed.header("location"), Some("/"));
        authorize
    }
}

/// The code flow as Glimesh documents it: S256 PKCE, the code redeemed with the
/// credentials as parameters, the user token refreshed with the refresh token.
#[tokio::test]
async fn code_flow_with_pkce_and_refresh() {
    let rig = SignInRig::start(6, &["--token-min-ttl-secs", "1", "--token-refresh-window-min-secs", "3"]).await;
    let browser = rig.browser();
    let authorize = rig.sign_in(&browser).await;
    let signed_in = Instant::now();
    assert!(authorize.starts_with(&rig.fake.authorize_url()), "{authorize}");
    assert_eq!(query_param(&authorize, "code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(query_param(&authorize, "scope").as_deref(), Some("public"), "the preset's user scope");
    assert_eq!(query_param(&authorize, "client_id").as_deref(), Some(GLIMESH_CLIENT_ID));

    let first = browser.user_token().await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(first.token().starts_with("glimesh-access-"), "{}", first.body);

    // Into the refresh window of the 6 s token (its last 3 s).
    tokio::time::sleep_until((signed_in + Duration::from_millis(3300)).into()).await;
    let refreshed = browser.user_token().await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    assert_ne!(refreshed.token(), first.token(), "the user token was refreshed");

    let grants: Vec<(String, CredentialsIn)> =
        rig.fake.requests().iter().map(|r| (r.grant_type.clone(), r.credentials_in)).collect();
    assert_eq!(
        grants,
        [("authorization_code".to_owned(), CredentialsIn::Form), ("refresh_token".to_owned(), CredentialsIn::Form)],
    );
    assert!(rig.fake.requests().iter().all(|r| r.status == 200 && !r.had_authorization_header));
    for seen in browser.seen() {
        assert!(!seen.contains("glimesh-refresh-"), "a refresh token reached the browser:\n{seen}");
        assert!(!seen.contains(GLIMESH_CLIENT_SECRET), "the client secret reached the browser:\n{seen}");
    }
}

/// Glimesh has no OpenID userinfo: `/api/user/me` says so in JSON, never a 502.
#[tokio::test]
async fn user_me_without_userinfo_is_a_documented_404() {
    let rig = SignInRig::start(GLIMESH_TOKEN_TTL_SECS, &[]).await;
    let browser = rig.browser();
    let anonymous: Reply = browser.get("/api/user/me", &[("x-requested-with", "fetch")]).await;
    assert_error!(anonymous, 401, "login_required");

    rig.sign_in(&browser).await;
    let me = browser.get("/api/user/me", &[("x-requested-with", "fetch")]).await;
    assert_error!(me, 404, "userinfo_not_configured");
    assert_eq!(me.header("content-type"), Some("application/json"));
    assert!(me.json()["error_description"].as_str().is_some_and(|d| d.contains("userinfo")), "{}", me.body);
}
