//! RP-initiated logout (issue 21, item 1; OpenID Connect RP-Initiated Logout
//! 1.0) against the real `oidc-provider`: sign-out sends the browser to the
//! provider's end-session endpoint with the parameters the specification
//! names, the provider accepts them and ends its session, and the ID token
//! reaches the browser only inside that URL, never a log line.

mod common;

use base64::Engine;
use common::binary::{BrokerProcess, run_to_exit};
use common::broker::BrokerBuilder;
use common::browser::Browser;
use common::oidc_provider::{OidcProvider, ProviderAgent};
use common::sign_in::{Rig, query_param};
use common::{Reply, SESSION_SECRET, free_port, get, http_client};

const CLIENT_ID: &str = "broker-web";
const CLIENT_SECRET: &str = "web-secret-0123456789abcdef";
const SCOPE: &str = "openid offline_access profile";

/// The provider with the broker's client registered for `base`, and the broker
/// (the binary, so its whole log is seen) with sign-in there plus `env`.
async fn start(env: &[(&str, &str)]) -> (OidcProvider, BrokerProcess, String) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = serde_json::json!([{
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": [format!("{base}/auth/callback")],
        "post_logout_redirect_uris": [format!("{base}/")],
        "token_endpoint_auth_method": "client_secret_basic",
        "scope": SCOPE,
    }])
    .to_string();
    let oidc = OidcProvider::start_with(60, &[("SIGN_IN", "1"), ("EXTRA_CLIENTS", &client)]).await;
    let broker = BrokerBuilder::new()
        .env(&[
            ("RUST_LOG", "trace"),
            ("BIND_ADDR", &format!("127.0.0.1:{port}")),
            ("OAUTH_PROVIDER", "oidc"),
            ("OAUTH_ISSUER", &oidc.issuer),
            ("OAUTH_CLIENT_ID", CLIENT_ID),
            ("OAUTH_CLIENT_SECRET", CLIENT_SECRET),
            ("OAUTH_REDIRECT_URL", &format!("{base}/auth/callback")),
            ("OAUTH_USER_SCOPE", SCOPE),
            ("SESSION_SECRET", SESSION_SECRET),
            ("COOKIE_SECURE", "false"),
        ])
        .env(env)
        .spawn()
        .await;
    (oidc, broker, base)
}

/// Signs `browser` in as `user` through the provider's pages, as `agent`.
async fn sign_in(oidc: &OidcProvider, agent: &ProviderAgent, browser: &Browser, user: &str) {
    let login = browser.login_raw("%2F").await;
    assert_eq!(login.status, 302, "{}", login.body);
    let callback = agent.authorize(&oidc.issuer, login.header("location").expect("Location"), user).await;
    let landed = browser.get(&callback, &[]).await;
    assert_eq!(landed.status, 302, "callback: {}", landed.body);
    assert_eq!(browser.user_token().await.status, 200, "signed in");
}

/// The provider's advertised end-session endpoint.
async fn end_session_endpoint(oidc: &OidcProvider) -> String {
    let metadata = get(&http_client(), &format!("{}/.well-known/openid-configuration", oidc.issuer)).await;
    metadata.json()["end_session_endpoint"].as_str().expect("oidc-provider advertises end_session_endpoint").to_owned()
}

/// Asserts `url` is the logout request of §2 for [`CLIENT_ID`] and returns its `id_token_hint`.
fn check_logout_request(url: &str, endpoint: &str, base: &str, issuer: &str, user: &str) -> String {
    check_logout_request_of(CLIENT_ID, url, endpoint, base, issuer, user)
}

/// Asserts `url` is the logout request of §2 for `client_id` and returns its `id_token_hint`.
fn check_logout_request_of(client_id: &str, url: &str, endpoint: &str, base: &str, issuer: &str, user: &str) -> String {
    assert!(url.starts_with(&format!("{endpoint}?")), "to the end-session endpoint: {url}");
    assert_eq!(query_param(url, "post_logout_redirect_uri"), Some(format!("{base}/")), "{url}");
    assert_eq!(query_param(url, "client_id").as_deref(), Some(client_id), "{url}");
    assert!(query_param(url, "state").is_some_and(|s| s.len() >= 16), "an unguessable state: {url}");
    let hint = query_param(url, "id_token_hint").unwrap_or_else(|| panic!("id_token_hint: {url}"));
    let payload = hint.split('.').nth(1).expect("a JWT");
    let claims: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64url"))
            .expect("JSON claims");
    assert_eq!((claims["iss"].as_str(), claims["sub"].as_str()), (Some(issuer), Some(user)), "{claims}");
    assert_eq!(claims["aud"], client_id, "the ID token of this sign-in: {claims}");
    hint
}

/// Follows the end-session request at the provider as `agent`: the provider
/// accepts it (its confirmation page, not an error), the user confirms, and it
/// sends the browser back to our `/` with the `state`.
async fn confirm_at_provider(oidc: &OidcProvider, agent: &ProviderAgent, request: &str, base: &str) {
    let (status, _, page) = agent.send(request, None).await;
    assert_eq!(status, 200, "the provider accepts the logout request: {page}");
    let action = page.split("action=\"").nth(1).and_then(|r| r.split('"').next()).expect("the confirmation form");
    let xsrf = page.split("name=\"xsrf\" value=\"").nth(1).and_then(|r| r.split('"').next()).expect("xsrf");
    let action = if action.starts_with('/') { format!("{}{action}", oidc.issuer) } else { action.to_owned() };
    let (status, location, body) = agent.send(&action, Some(&[("xsrf", xsrf), ("logout", "yes")])).await;
    let back = location.unwrap_or_else(|| panic!("confirm answered {status}: {body}"));
    assert!(back.starts_with(&format!("{base}/?")), "back to post_logout_redirect_uri: {back}");
    assert_eq!(query_param(&back, "state"), query_param(request, "state"), "with our state");
}

/// A form post's sign-out is a 303 to the provider's end-session endpoint with
/// `id_token_hint`, `post_logout_redirect_uri`, `client_id` and `state`; the
/// provider accepts it and ends its session, so the next sign-in shows its
/// login page again. A `fetch` gets the same URL as `200 {"end_session_url"}`.
/// The ID token reaches the browser only inside those URLs and is never logged.
#[tokio::test]
async fn sign_out_ends_the_providers_session_too() {
    let (oidc, broker, base) = start(&[]).await;
    let endpoint = end_session_endpoint(&oidc).await;
    let browser = Browser::new(&base);
    let agent = ProviderAgent::new();

    // A form post.
    sign_in(&oidc, &agent, &browser, "alice").await;
    let form = browser.send(reqwest::Method::POST, &browser.url("/auth/logout"), &[], None).await;
    assert_eq!(form.status, 303, "{}", form.body);
    assert_eq!(form.header("cache-control"), Some("no-store"));
    let request = form.header("location").expect("Location").to_owned();
    let first_hint = check_logout_request(&request, &endpoint, &base, &oidc.issuer, "alice");
    assert_eq!(browser.user_token().await.status, 401, "our session ended first");
    confirm_at_provider(&oidc, &agent, &request, &base).await;
    // The provider's session is gone: a new sign-in asks for the password again.
    let login = browser.login_raw("%2F").await;
    let (_, interaction, _) = agent.send(login.header("location").expect("Location"), None).await;
    let interaction = interaction.expect("to the provider's interaction");
    let interaction = if interaction.starts_with('/') { format!("{}{interaction}", oidc.issuer) } else { interaction };
    let (status, _, page) = agent.send(&interaction, None).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("name=\"prompt\" value=\"login\""), "the provider's login page again: {page}");

    // A fetch.
    sign_in(&oidc, &agent, &browser, "alice").await;
    let fetch = browser.logout(Some(&base)).await;
    assert_eq!(fetch.status, 200, "{}", fetch.body);
    assert_eq!(fetch.header("cache-control"), Some("no-store"));
    let request = fetch.json()["end_session_url"].as_str().expect("end_session_url").to_owned();
    let second_hint = check_logout_request(&request, &endpoint, &base, &oidc.issuer, "alice");
    assert_eq!(browser.user_token().await.status, 401);
    confirm_at_provider(&oidc, &agent, &request, &base).await;

    let log = broker.stop().await;
    assert!(log.iter().any(|l| l.contains("TRACE")), "trace logging was on");
    let logout_line = format!(" POST {base}/auth/logout");
    let is_logout = |text: &String| text.lines().next().is_some_and(|l| l.ends_with(&logout_line));
    for hint in [first_hint, second_hint] {
        let leaks: Vec<String> =
            browser.seen().into_iter().filter(|text| text.contains(&hint) && !is_logout(text)).collect();
        assert!(leaks.is_empty(), "the ID token reached the browser outside the logout answer: {leaks:?}");
        assert!(!log.iter().any(|l| l.contains(&hint)), "the ID token is in the broker's log");
    }
}

/// `OAUTH_END_SESSION=false` keeps the old sign-out: 204 for a `fetch`, 303 to
/// `/` for a form, though the provider has an end-session endpoint.
#[tokio::test]
async fn end_session_false_keeps_the_local_sign_out() {
    let (oidc, broker, base) = start(&[("OAUTH_END_SESSION", "false")]).await;
    let browser = Browser::new(&base);
    let agent = ProviderAgent::new();
    sign_in(&oidc, &agent, &browser, "bob").await;
    let fetch: Reply = browser.logout(None).await;
    assert_eq!(fetch.status, 204, "{}", fetch.body);
    assert_eq!(browser.user_token().await.status, 401);
    sign_in(&oidc, &agent, &browser, "bob").await;
    let form = browser.send(reqwest::Method::POST, &browser.url("/auth/logout"), &[], None).await;
    assert_eq!((form.status, form.header("location")), (303, Some("/")), "{}", form.body);
    assert_eq!(browser.user_token().await.status, 401);
    drop(broker);
}

/// `--dev` shows the whole loop: sign-out sends the browser to the dev
/// server's end-session endpoint (advertised in its metadata) with the ID
/// token, which brings it back to the site's `/` with the `state`.
#[tokio::test]
async fn dev_server_ends_the_session_and_comes_back() {
    let rig = Rig::dev(&[]).await;
    let metadata = get(&http_client(), &format!("{}/.well-known/oauth-authorization-server", rig.dev_issuer)).await;
    let endpoint = metadata.json()["end_session_endpoint"].as_str().expect("end_session_endpoint").to_owned();
    let browser = rig.browser();
    browser.sign_in("/", "carol").await;
    let form = browser.send(reqwest::Method::POST, &browser.url("/auth/logout"), &[], None).await;
    assert_eq!(form.status, 303, "{}", form.body);
    let request = form.header("location").expect("Location").to_owned();
    let dev_client = common::sign_in::DEV_CLIENT_ID;
    check_logout_request_of(dev_client, &request, &endpoint, &rig.url(""), &rig.dev_issuer, "carol");
    let back = browser.get(&request, &[]).await;
    assert_eq!(back.status, 302, "{}", back.body);
    let back = back.header("location").expect("Location");
    assert!(back.starts_with(&rig.url("/?state=")), "{back}");
    assert_eq!(query_param(back, "state"), query_param(&request, "state"));
    // A request naming another client, or a return to another origin, is refused.
    for (name, value) in [("client_id", "someone-else"), ("post_logout_redirect_uri", "https://evil.example/")] {
        let mut url = url::Url::parse(&request).expect("URL");
        let pairs: Vec<(String, String)> =
            url.query_pairs().filter(|(k, _)| k != name).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        url.query_pairs_mut().clear().extend_pairs(&pairs).append_pair(name, value);
        assert_eq!(browser.get(url.as_str(), &[]).await.status, 400, "{name}={value}");
    }
}

/// The settings are read and checked once at start-up: `check-config` shows
/// what sign-out will do, and a bad value stops start-up naming its variable.
#[tokio::test]
async fn end_session_settings_are_validated_and_shown() {
    let shown = run_to_exit(&["check-config", "--dev"], &[("OAUTH_END_SESSION", "false")]).await;
    assert!(shown.status.success(), "{:?}", shown.stderr);
    let out = shown.stdout.join("\n");
    assert!(out.contains("OAUTH_END_SESSION=false"), "{out}");
    let value = |name: &str| out.lines().find_map(|l| l.strip_prefix(&format!("{name}="))).expect(name);
    let origin = value("OAUTH_REDIRECT_URL").strip_suffix("/auth/callback").expect("the callback");
    assert_eq!(value("OAUTH_POST_LOGOUT_REDIRECT_URL"), format!("{origin}/"), "our origin + / by default");
    let bad = [
        ("OAUTH_END_SESSION", "maybe"),
        ("OAUTH_POST_LOGOUT_REDIRECT_URL", "http://app.example.com/"),
        ("OAUTH_POST_LOGOUT_REDIRECT_URL", "/relative"),
    ];
    for (var, value) in bad {
        let refused = run_to_exit(&["check-config", "--dev"], &[(var, value)]).await;
        assert!(!refused.status.success(), "{var}={value} accepted");
        assert!(refused.stderr.join("\n").contains(var), "{var}={value}: {:?}", refused.stderr);
    }
}
