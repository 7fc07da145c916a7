//! Sign-in fixtures: the broker in-process with sign-in on (in `--dev`, or
//! against a standalone dev authorization server behind a recording proxy), a
//! cookie-keeping stand-in for one browser, and the dev server's sign-in form
//! driven over plain HTTP.

use std::net::SocketAddr;
use std::sync::Mutex;

use base64::Engine;
use sha2::Digest;
use token_backend::dev_auth_server::DevAuthServer;
use token_backend::session::{SessionBackend, UserGrant};
use token_backend::{AppState, Config, app, server};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use url::Url;

use super::config::config_bound_to;
use super::token_proxy::TokenProxy;
use super::{Reply, SESSION_SECRET, lock, manual_client};

/// The dev server's fixed client id.
pub const DEV_CLIENT_ID: &str = token_backend::dev_auth_server::DEV_CLIENT_ID;
/// `base64url(SHA-256(verifier))`, the S256 code challenge (RFC 7636 §4.2).
pub fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// A query parameter of `url`.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    Url::parse(url).ok()?.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

// ---------------------------------------------------------------------------
// The broker with sign-in, in-process
// ---------------------------------------------------------------------------

/// The broker serving on a port known before configuration (the redirect URI
/// names it), with a dev authorization server behind it.
pub struct Rig {
    pub base: String,
    /// The dev authorization server, e.g. `http://127.0.0.1:PORT`.
    pub dev_issuer: String,
    /// The client secret the broker uses at the dev server.
    pub client_secret: String,
    /// Only for [`Rig::proxied`].
    pub proxy: Option<TokenProxy>,
    pub sessions: SessionBackend,
    shutdown: Option<oneshot::Sender<()>>,
    _built: token_backend::app::Built,
    _standalone: Option<DevAuthServer>,
}

/// `Config` for a broker that will serve on `bind`, from flags alone.
pub fn config(bind: SocketAddr, args: &[&str]) -> Config {
    config_bound_to(&bind.to_string(), args).unwrap_or_else(|e| panic!("invalid test configuration:\n{e}"))
}

/// The flags that turn sign-in on for a broker whose callback is `redirect`
/// (on loopback, so the cookie may go without `Secure`).
pub fn sign_in_flags(redirect: &str) -> [&str; 6] {
    ["--redirect-url", redirect, "--session-secret", SESSION_SECRET, "--cookie-secure", "false"]
}

impl Rig {
    /// `--dev` plus `args`: sign-in on, against the embedded dev server.
    pub async fn dev(args: &[&str]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind broker");
        let addr = listener.local_addr().expect("local addr");
        let mut full = vec!["--dev"];
        full.extend_from_slice(args);
        let built = AppState::build(config(addr, &full)).await.expect("broker starts");
        let dev = built.dev_server.as_ref().expect("--dev starts the dev server");
        let dev_issuer = dev.issuer().as_str().trim_end_matches('/').to_owned();
        let client_secret = dev.client().secret.secret().clone();
        Self::serve(listener, built, dev_issuer, client_secret, None, None)
    }

    /// Not `--dev`: the generic preset against a standalone dev server whose
    /// token and revocation endpoints sit behind a [`TokenProxy`]. `token_ttl`
    /// is the dev server's token lifetime.
    pub async fn proxied(token_ttl_secs: u64, args: &[&str]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind broker");
        let addr = listener.local_addr().expect("local addr");
        let redirect = format!("http://{addr}/auth/callback");
        let (dev, proxy, client_secret) = standalone_dev_server(token_ttl_secs, &redirect).await;
        let dev_issuer = dev.issuer().as_str().trim_end_matches('/').to_owned();
        let (token_url, revoke_url) = (proxy.url("token"), proxy.url("revoke"));
        let (authorize_url, userinfo_url) = (format!("{dev_issuer}/authorize"), format!("{dev_issuer}/userinfo"));
        let mut full = vec![
            "--provider",
            "generic",
            "--token-url",
            &token_url,
            "--authorize-url",
            &authorize_url,
            "--revoke-url",
            &revoke_url,
            "--userinfo-url",
            &userinfo_url,
            "--client-id",
            DEV_CLIENT_ID,
            "--client-secret",
            &client_secret,
        ];
        full.extend_from_slice(&sign_in_flags(&redirect));
        full.extend_from_slice(args);
        let built = AppState::build(config(addr, &full)).await.expect("broker starts");
        Self::serve(listener, built, dev_issuer, client_secret, Some(proxy), Some(dev))
    }

    fn serve(
        listener: TcpListener,
        built: token_backend::app::Built,
        dev_issuer: String,
        client_secret: String,
        proxy: Option<TokenProxy>,
        standalone: Option<DevAuthServer>,
    ) -> Self {
        let addr = listener.local_addr().expect("local addr");
        let sessions = built.state.sign_in.as_ref().expect("sign-in is configured").sessions();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(server::run(listener, app(built.state.clone()), async move {
            let _ = rx.await;
        }));
        Self {
            base: format!("http://{addr}"),
            dev_issuer,
            client_secret,
            proxy,
            sessions,
            shutdown: Some(tx),
            _built: built,
            _standalone: standalone,
        }
    }

    pub fn browser(&self) -> Browser {
        Browser::new(&self.base)
    }

    pub fn proxy(&self) -> &TokenProxy {
        self.proxy.as_ref().expect("a proxied rig")
    }

    /// The grant stored for the session this cookie value names.
    pub async fn grant(&self, cookie: &str) -> Option<UserGrant> {
        let id = session_id(cookie)?;
        self.sessions.load_grant(&id).await.expect("session store").map(|(_, grant)| grant)
    }

    /// `POST {dev}/token` with the broker's client credentials.
    pub async fn dev_token(&self, form: &[(&str, &str)]) -> Reply {
        dev_token(&self.dev_issuer, &self.client_secret, form).await
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A dev server registered for `redirect`, and a recording proxy in front of it.
pub async fn standalone_dev_server(token_ttl_secs: u64, redirect: &str) -> (DevAuthServer, TokenProxy, String) {
    let dev =
        DevAuthServer::start(std::time::Duration::from_secs(token_ttl_secs), Some(Url::parse(redirect).expect("url")))
            .await
            .expect("dev server starts");
    let proxy = TokenProxy::start(dev.issuer().as_str()).await;
    let secret = dev.client().secret.secret().clone();
    (dev, proxy, secret)
}

/// `POST {issuer}/token` with HTTP Basic client authentication.
pub async fn dev_token(issuer: &str, client_secret: &str, form: &[(&str, &str)]) -> Reply {
    let response = super::http_client()
        .post(format!("{issuer}/token"))
        .basic_auth(DEV_CLIENT_ID, Some(client_secret))
        .form(form)
        .send()
        .await
        .expect("dev token endpoint answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.expect("body");
    Reply { status, headers, body, latency: Default::default(), sent_at: std::time::Instant::now() }
}

/// The session id inside a signed cookie value (a 44-character base64 HMAC, then the id).
pub fn session_id(cookie: &str) -> Option<tower_sessions::session::Id> {
    cookie.get(44..)?.parse().ok()
}

// ---------------------------------------------------------------------------
// One browser
// ---------------------------------------------------------------------------

/// One browser: its own `session` and `login_state` cookies for the broker's
/// origin, redirects not followed, and every response it saw kept as text for
/// secret searches.
pub struct Browser {
    base: String,
    client: reqwest::Client,
    cookie: Mutex<Option<String>>,
    login_state: Mutex<Option<String>>,
    seen: Mutex<Vec<String>>,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        let client = manual_client();
        Self {
            base: base.to_owned(),
            client,
            cookie: Mutex::default(),
            login_state: Mutex::default(),
            seen: Mutex::default(),
        }
    }

    /// The current `session` cookie value.
    pub fn cookie(&self) -> Option<String> {
        lock(&self.cookie).clone()
    }

    pub fn set_cookie(&self, value: Option<&str>) {
        *lock(&self.cookie) = value.map(str::to_owned);
    }

    /// The current `login_state` cookie value (the pending sign-ins).
    pub fn login_state(&self) -> Option<String> {
        lock(&self.login_state).clone()
    }

    pub fn set_login_state(&self, value: Option<&str>) {
        *lock(&self.login_state) = value.map(str::to_owned);
    }

    /// Every response seen so far (status, headers, body) as text.
    pub fn seen(&self) -> Vec<String> {
        lock(&self.seen).clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request; the cookies go only to the broker's origin (`login_state`
    /// only to the callback, as its `Path` says), and its `Set-Cookie`s are applied.
    pub async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &[(&str, &str)],
        form: Option<&[(String, String)]>,
    ) -> Reply {
        let mut builder = self.client.request(method.clone(), url);
        let ours = url.starts_with(&self.base);
        let mut cookies = Vec::new();
        if ours && let Some(cookie) = self.cookie() {
            cookies.push(format!("session={cookie}"));
        }
        if ours
            && url[self.base.len()..].starts_with("/auth/callback")
            && let Some(state) = self.login_state()
        {
            cookies.push(format!("login_state={state}"));
        }
        if !cookies.is_empty() {
            builder = builder.header("cookie", cookies.join("; "));
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        if let Some(form) = form {
            builder = builder.form(form);
        }
        let sent_at = std::time::Instant::now();
        let response = builder.send().await.unwrap_or_else(|e| panic!("{method} {url} failed: {e}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.expect("response body");
        if ours {
            for set in headers.get_all("set-cookie") {
                let set = set.to_str().expect("ASCII Set-Cookie");
                if let Some(value) = set.strip_prefix("session=").map(|v| v.split(';').next().unwrap_or_default()) {
                    let removed = value.is_empty() || is_removal(set);
                    self.set_cookie((!removed).then_some(value));
                }
                if let Some(value) = set.strip_prefix("login_state=").map(|v| v.split(';').next().unwrap_or_default()) {
                    let removed = value.is_empty() || is_removal(set);
                    self.set_login_state((!removed).then_some(value));
                }
            }
        }
        let header_text: String =
            headers.iter().map(|(k, v)| format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes()))).collect();
        lock(&self.seen).push(format!("{status} {method} {url}\n{header_text}\n{body}"));
        Reply { status, headers, body, latency: sent_at.elapsed(), sent_at }
    }

    pub async fn get(&self, path_or_url: &str, headers: &[(&str, &str)]) -> Reply {
        let url = if path_or_url.starts_with("http") { path_or_url.to_owned() } else { self.url(path_or_url) };
        self.send(reqwest::Method::GET, &url, headers, None).await
    }

    /// `GET /api/user/token` as the demo page does it.
    pub async fn user_token(&self) -> Reply {
        self.get("/api/user/token", &[("x-requested-with", "fetch")]).await
    }

    /// `POST /auth/logout` as the demo page's `fetch` does it.
    pub async fn logout(&self, origin: Option<&str>) -> Reply {
        let mut headers = vec![("x-requested-with", "fetch")];
        if let Some(origin) = origin {
            headers.push(("origin", origin));
        }
        self.send(reqwest::Method::POST, &self.url("/auth/logout"), &headers, None).await
    }

    /// `GET /auth/login?return_to=…` (the raw query text after `return_to=`).
    pub async fn login_raw(&self, raw_return_to: &str) -> Reply {
        self.get(&format!("/auth/login?return_to={raw_return_to}"), &[]).await
    }

    /// Starts a sign-in and answers the dev server's page with `decision` as
    /// `user`; returns the callback URL the dev server redirected to (not followed).
    pub async fn authorize(&self, return_to: &str, decision: &str, user: &str) -> String {
        let encoded: String = url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
        let login = self.login_raw(&encoded).await;
        assert_eq!(login.status, 302, "login: {}", login.body);
        let authorize = login.header("location").expect("login Location").to_owned();
        self.decide(&authorize, decision, user).await
    }

    /// GETs the dev sign-in page at `authorize_url`, then posts its form.
    pub async fn decide(&self, authorize_url: &str, decision: &str, user: &str) -> String {
        let page = self.get(authorize_url, &[]).await;
        assert_eq!(page.status, 200, "dev sign-in page: {}", page.body);
        assert!(page.body.contains("<form method=\"post\" action=\"/authorize\">"), "{}", page.body);
        let url = Url::parse(authorize_url).expect("authorize URL");
        let mut form: Vec<(String, String)> =
            url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        form.push(("decision".into(), decision.into()));
        form.push(("user".into(), user.into()));
        let mut action = url.clone();
        action.set_query(None);
        let answer = self.send(reqwest::Method::POST, action.as_str(), &[], Some(&form)).await;
        assert_eq!(answer.status, 302, "dev /authorize: {}", answer.body);
        answer.header("location").expect("dev /authorize Location").to_owned()
    }

    /// A whole sign-in as `user`, landing on `return_to`; panics unless it works.
    pub async fn sign_in(&self, return_to: &str, user: &str) -> Reply {
        let callback = self.authorize(return_to, "allow", user).await;
        let landed = self.get(&callback, &[]).await;
        assert_eq!(landed.status, 302, "callback: {}", landed.body);
        assert_eq!(landed.header("location"), Some(return_to));
        landed
    }
}

/// A removal cookie: tower-sessions sends `Max-Age=0` (with an `Expires` a year ago).
pub fn is_removal(set_cookie: &str) -> bool {
    set_cookie.to_ascii_lowercase().split(';').any(|a| a.trim() == "max-age=0")
}
