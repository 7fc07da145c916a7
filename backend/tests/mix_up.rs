//! The sign-in's issuer checks (issue 18, section 5): the authorization
//! response's `iss` (RFC 9207, the mix-up defence) against the real
//! `oidc-provider`, which sends it and says so in its metadata, and the ID
//! token's `iss` (OpenID Connect Core §3.1.3.7 step 2) against a fake issuer
//! that signs for someone else.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Form, Json};
use base64::Engine;
use common::broker::{Broker, BrokerBuilder};
use common::browser::Browser;
use common::oidc_provider::{OidcProvider, ProviderAgent};
use common::served::{Served, bind_loopback};
use common::sign_in::query_param;
use common::{Reply, lock};

const CLIENT_ID: &str = "broker-web";
const CLIENT_SECRET: &str = "web-secret-0123456789abcdef";

/// The broker with sign-in against the OpenID Connect issuer at `issuer`, on `listener`.
async fn broker_for(issuer: &str, listener: tokio::net::TcpListener) -> Broker {
    BrokerBuilder::new()
        .args(&["--provider", "oidc", "--issuer", issuer, "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET])
        .args(&["--user-scope", "openid offline_access profile"])
        .sign_in()
        .start_on(listener)
        .await
}

/// `url` with its query parameter `name` set to `value`, or removed for `None`.
fn with_param(url: &str, name: &str, value: Option<&str>) -> String {
    let mut url = url::Url::parse(url).expect("URL");
    let pairs: Vec<(String, String)> =
        url.query_pairs().filter(|(k, _)| k != name).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    url.query_pairs_mut().clear().extend_pairs(&pairs);
    if let Some(value) = value {
        url.query_pairs_mut().append_pair(name, value);
    }
    url.to_string()
}

/// Asserts the sign-in error page with `text`, and that the browser is not signed in.
async fn assert_refused(browser: &Browser, reply: &Reply, text: &str, what: &str) {
    assert_eq!(reply.status, 400, "{what}: {}", reply.body);
    assert!(reply.body.contains(text), "{what}: no `{text}` in {}", reply.body);
    assert_eq!(browser.user_token().await.status, 401, "{what}: signed in anyway");
}

/// Against the real oidc-provider: a response whose `iss` names another issuer,
/// or that lacks the `iss` its metadata promises, is refused before the code is
/// exchanged; the genuine response completes.
#[tokio::test]
async fn authorization_responses_must_name_the_issuer() {
    let listener = bind_loopback().await;
    let redirect = format!("http://{}/auth/callback", listener.local_addr().expect("addr"));
    let client = serde_json::json!([{
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
        "redirect_uris": [redirect], "token_endpoint_auth_method": "client_secret_basic",
        "scope": "openid offline_access profile",
    }])
    .to_string();
    let oidc = OidcProvider::start_with(60, &[("SIGN_IN", "1"), ("EXTRA_CLIENTS", &client)]).await;
    let broker = broker_for(&oidc.issuer, listener).await;
    let mismatch = "did not come from the expected authorization server";
    let cases = [
        ("another issuer", Some("https://attacker.example")),
        ("the issuer with a trailing slash", Some(&*format!("{}/", oidc.issuer))),
        ("no iss", None),
    ];
    for (what, iss) in cases {
        let browser = Browser::new(&broker.url(""));
        let login = browser.login_raw("%2F").await;
        let callback =
            ProviderAgent::new().authorize(&oidc.issuer, login.header("location").expect("Location"), "alice").await;
        assert_eq!(query_param(&callback, "iss").as_deref(), Some(oidc.issuer.as_str()), "oidc-provider sends iss");
        let exchanges = oidc.token_requests().await;
        let reply = browser.get(&with_param(&callback, "iss", iss), &[]).await;
        assert_refused(&browser, &reply, mismatch, what).await;
        assert_eq!(oidc.token_requests().await, exchanges, "{what}: the code was exchanged");
    }
    let browser = Browser::new(&broker.url(""));
    let login = browser.login_raw("%2F").await;
    let callback =
        ProviderAgent::new().authorize(&oidc.issuer, login.header("location").expect("Location"), "alice").await;
    let landed = browser.get(&callback, &[]).await;
    assert_eq!(landed.status, 302, "the genuine response: {}", landed.body);
    assert_eq!(browser.user_token().await.status, 200);
}

/// What the fake issuer puts in its ID tokens' `iss`, and the nonce of each code.
#[derive(Default)]
struct FakeIssuer {
    id_token_iss: Mutex<String>,
    nonces: Mutex<HashMap<String, String>>,
}

/// Discovery (no `iss` promised in authorization responses), an authorize
/// endpoint that consents at once, and a token endpoint whose ID token names
/// `id_token_iss` as its issuer.
async fn fake_issuer(state: Arc<FakeIssuer>) -> Served {
    let listener = bind_loopback().await;
    let issuer = format!("http://{}", listener.local_addr().expect("addr"));
    let metadata = serde_json::json!({
        "issuer": issuer, "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
    });
    let router = axum::Router::new()
        .route("/.well-known/openid-configuration", get(move || async move { Json(metadata) }))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .with_state(state);
    Served::spawn(listener, |listener| axum::serve(listener, router))
}

async fn authorize(
    State(state): State<Arc<FakeIssuer>>,
    Query(query): Query<HashMap<String, String>>,
) -> axum::response::Redirect {
    let code = format!("code-{}", lock(&state.nonces).len());
    lock(&state.nonces).insert(code.clone(), query["nonce"].clone());
    let mut back = url::Url::parse(&query["redirect_uri"]).expect("redirect_uri");
    back.query_pairs_mut().append_pair("code", &code).append_pair("state", &query["state"]);
    axum::response::Redirect::to(back.as_str())
}

async fn token(
    State(state): State<Arc<FakeIssuer>>,
    Form(form): Form<HashMap<String, String>>,
) -> Json<serde_json::Value> {
    let nonce = lock(&state.nonces).get(&form["code"]).cloned();
    let claims = serde_json::json!({
        "iss": *lock(&state.id_token_iss), "sub": "alice", "aud": CLIENT_ID, "nonce": nonce,
        "exp": 4_000_000_000i64, "iat": 1,
    });
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let id_token = format!("{}.{}.sig", b64(br#"{"alg":"RS256"}"#), b64(claims.to_string().as_bytes()));
    Json(serde_json::json!({
        "access_token": "at-1", "token_type": "Bearer", "expires_in": 600, "refresh_token": "rt-1", "id_token": id_token,
    }))
}

/// An ID token issued in another issuer's name is refused (Core §3.1.3.7 step
/// 2) and signs no one in; the same flow with our issuer's name completes.
#[tokio::test]
async fn an_id_token_from_another_issuer_is_refused() {
    let state = Arc::new(FakeIssuer::default());
    let fake = fake_issuer(Arc::clone(&state)).await;
    let broker = broker_for(&fake.url(""), bind_loopback().await).await;
    for (iss, is_accepted) in [("https://attacker.example".to_owned(), false), (fake.url(""), true)] {
        *lock(&state.id_token_iss) = iss.clone();
        let browser = Browser::new(&broker.url(""));
        let login = browser.login_raw("%2F").await;
        let authorize = browser.get(login.header("location").expect("Location"), &[]).await;
        let callback = authorize.header("location").expect("callback").to_owned();
        let reply = browser.get(&callback, &[]).await;
        if is_accepted {
            assert_eq!(reply.status, 302, "iss {iss}: {}", reply.body);
            assert_eq!(browser.user_token().await.status, 200);
        } else {
            assert_refused(&browser, &reply, "the sign-in response could not be used", &iss).await;
        }
    }
}
