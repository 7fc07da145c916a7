//! Sign-in behind a framework's dev server or a reverse proxy (issue 19,
//! section 3): `PUBLIC_URL` names the origin users see, `TRUST_FORWARDED_HEADERS`
//! lets a proxy in front say which host the browser asked for, and a proxy that
//! rewrites the `Host` gets a clear page instead of a redirect loop.

mod common;

use common::broker::{Broker, BrokerBuilder};
use common::config::config_from_flags;
use common::sign_in::query_param;
use common::{Reply, get_with, manual_client, request};

/// The origin the browser is on: a dev server proxying `/auth` and `/api` to the broker.
const PUBLIC: &str = "http://localhost:5173";

async fn broker(extra: &[&str]) -> Broker {
    BrokerBuilder::dev().args(&["--public-url", PUBLIC]).args(extra).start().await
}

async fn login(broker: &Broker, path: &str, headers: &[(&str, &str)]) -> Reply {
    get_with(&manual_client(), &broker.url(path), headers).await
}

/// Asserts a 302 to the provider whose `redirect_uri` is on `PUBLIC_URL`.
fn assert_to_provider(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 302, "{what}: {}", reply.body);
    let location = reply.header("location").expect("Location");
    let redirect_uri = format!("{PUBLIC}/auth/callback");
    assert_eq!(query_param(location, "redirect_uri").as_deref(), Some(redirect_uri.as_str()), "{what}: {location}");
}

/// Asserts the 421 page that names the settings, and no redirect.
fn assert_wrong_host(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 421, "{what}: {}", reply.body);
    assert!(reply.header("location").is_none(), "{what}: redirected");
    for setting in ["PUBLIC_URL", "TRUST_FORWARDED_HEADERS", "changeOrigin"] {
        assert!(reply.body.contains(setting), "{what}: no {setting} in {}", reply.body);
    }
}

/// The redirect URL defaults to `PUBLIC_URL` + `/auth/callback`, and a login
/// addressed to that host (a proxy keeping the `Host`) goes to the provider.
#[tokio::test]
async fn redirect_url_defaults_to_public_url() {
    let broker = broker(&[]).await;
    let settings = broker.state().sign_in.as_ref().expect("sign-in").settings();
    assert_eq!(settings.redirect_url.as_str(), "http://localhost:5173/auth/callback");
    assert_to_provider(&login(&broker, "/auth/login", &[("host", "localhost:5173")]).await, "Host kept");
}

/// A proxy that rewrites the `Host` (Vite's `changeOrigin`) gets one redirect
/// to `PUBLIC_URL`, then the 421 page, not a loop; so does a browser whose
/// `Referer` shows it is on `PUBLIC_URL` already, and untrusted forwarded headers.
#[tokio::test]
async fn a_rewritten_host_gets_a_clear_page_instead_of_a_loop() {
    let broker = broker(&[]).await;
    let first = login(&broker, "/auth/login?return_to=%2Fapp", &[]).await;
    assert_eq!(first.status, 302, "{}", first.body);
    let canonical = first.header("location").expect("Location");
    assert!(canonical.starts_with("http://localhost:5173/auth/login?return_to=%2Fapp&"), "{canonical}");
    // The dev server proxies the redirected login back, with the Host rewritten again.
    let path = &canonical[PUBLIC.len()..];
    assert_wrong_host(&login(&broker, path, &[]).await, "second pass");
    assert_wrong_host(&login(&broker, "/auth/login", &[("referer", "http://localhost:5173/app")]).await, "Referer");
    let forwarded = [("x-forwarded-host", "localhost:5173"), ("x-forwarded-proto", "http")];
    assert_wrong_host(&login(&broker, "/auth/login", &forwarded).await, "untrusted X-Forwarded-Host");
}

/// With `TRUST_FORWARDED_HEADERS`, `X-Forwarded-Host`/`-Proto` and `Forwarded`
/// name the browser's host (Next.js rewrites, reverse proxies).
#[tokio::test]
async fn forwarded_headers_name_the_host_when_trusted() {
    let broker = broker(&["--trust-forwarded-headers", "true"]).await;
    let cases: [&[(&str, &str)]; 2] = [
        &[("x-forwarded-host", "localhost:5173"), ("x-forwarded-proto", "http")],
        &[("forwarded", "for=127.0.0.1;host=localhost:5173;proto=http")],
    ];
    for headers in cases {
        assert_to_provider(&login(&broker, "/auth/login", headers).await, &format!("{headers:?}"));
    }
    let wrong_scheme = [("x-forwarded-host", "localhost:5173"), ("x-forwarded-proto", "https")];
    assert_eq!(login(&broker, "/auth/login", &wrong_scheme).await.status, 302, "to PUBLIC_URL, once");
}

/// Cookie-authenticated routes accept `PUBLIC_URL` as `Origin`.
#[tokio::test]
async fn public_url_is_a_trusted_origin() {
    let broker = broker(&[]).await;
    let logout = |origin: &'static str| {
        let url = broker.url("/auth/logout");
        async move {
            let headers = [("x-requested-with", "fetch"), ("origin", origin)];
            request(&manual_client(), reqwest::Method::POST, &url, &headers).await.status
        }
    };
    assert_eq!(logout(PUBLIC).await, 204);
    assert_eq!(logout("http://localhost:9999").await, 403);
}

/// `PUBLIC_URL` is an origin, and an explicit redirect URL must be on it.
#[test]
fn public_url_is_validated() {
    let message = |args: &[&str]| config_from_flags(args).expect_err("a bad configuration").to_string();
    let with_path = message(&["--dev", "--public-url", "http://localhost:5173/app"]);
    assert!(with_path.contains("PUBLIC_URL") && with_path.contains("must be an origin"), "{with_path}");
    let elsewhere =
        message(&["--dev", "--public-url", PUBLIC, "--redirect-url", "http://127.0.0.1:3000/auth/callback"]);
    assert!(elsewhere.contains("OAUTH_REDIRECT_URL") && elsewhere.contains("PUBLIC_URL's origin"), "{elsewhere}");
}
