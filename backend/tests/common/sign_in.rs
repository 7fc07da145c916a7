//! The sign-in rig: the broker in-process with sign-in on, in `--dev` or
//! against a standalone dev authorization server behind a recording proxy,
//! plus the dev server's token endpoint called directly.

use base64::Engine;
use sha2::Digest;
use token_backend::dev_auth_server::DevAuthServer;
use token_backend::session::{SessionBackend, UserGrant};
use url::Url;

use super::Reply;
use super::broker::{Broker, BrokerBuilder};
use super::browser::Browser;
use super::served::bind_loopback;
use super::token_proxy::TokenProxy;

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

/// The broker with sign-in on, against a dev authorization server.
pub struct Rig {
    pub broker: Broker,
    /// The dev authorization server, e.g. `http://127.0.0.1:PORT`.
    pub dev_issuer: String,
    /// The client secret the broker uses at the dev server.
    pub client_secret: String,
    /// Only for [`Rig::proxied`].
    pub proxy: Option<TokenProxy>,
    pub sessions: SessionBackend,
    _standalone: Option<DevAuthServer>,
}

impl Rig {
    /// `--dev` plus `args`: sign-in on, against the embedded dev server.
    pub async fn dev(args: &[&str]) -> Self {
        let broker = BrokerBuilder::dev().args(args).start().await;
        let dev = broker.dev_server().expect("--dev starts the dev server");
        let dev_issuer = issuer(dev);
        let client_secret = dev.client().proof.secret().expect("the dev client has a secret").secret().clone();
        Self::new(broker, dev_issuer, client_secret, None, None)
    }

    /// Not `--dev`: the generic preset against a standalone dev server whose
    /// token and revocation endpoints sit behind a [`TokenProxy`]. `token_ttl`
    /// is the dev server's token lifetime.
    pub async fn proxied(token_ttl_secs: u64, args: &[&str]) -> Self {
        // The dev server registers the redirect URI, so the broker's port comes first.
        let listener = bind_loopback().await;
        let redirect = format!("http://{}/auth/callback", listener.local_addr().expect("local addr"));
        let (dev, proxy, client_secret) = standalone_dev_server(token_ttl_secs, &redirect).await;
        let dev_issuer = issuer(&dev);
        let broker = BrokerBuilder::generic(&proxy.url("/token"))
            .client(DEV_CLIENT_ID, &client_secret)
            .args(&[
                "--authorize-url",
                &format!("{dev_issuer}/authorize"),
                "--revoke-url",
                &proxy.url("/revoke"),
                "--userinfo-url",
                &format!("{dev_issuer}/userinfo"),
            ])
            .sign_in()
            .args(args)
            .start_on(listener)
            .await;
        Self::new(broker, dev_issuer, client_secret, Some(proxy), Some(dev))
    }

    fn new(
        broker: Broker,
        dev_issuer: String,
        client_secret: String,
        proxy: Option<TokenProxy>,
        standalone: Option<DevAuthServer>,
    ) -> Self {
        let sessions = broker.state().sign_in.as_ref().expect("sign-in is configured").sessions();
        Self { broker, dev_issuer, client_secret, proxy, sessions, _standalone: standalone }
    }

    /// `http://127.0.0.1:PORT{path}` on the broker.
    pub fn url(&self, path: &str) -> String {
        self.broker.url(path)
    }

    pub fn browser(&self) -> Browser {
        Browser::new(&self.url(""))
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

/// The dev server's issuer without its trailing slash.
fn issuer(dev: &DevAuthServer) -> String {
    dev.issuer().as_str().trim_end_matches('/').to_owned()
}

/// A dev server registered for `redirect`, and a recording proxy in front of it.
pub async fn standalone_dev_server(token_ttl_secs: u64, redirect: &str) -> (DevAuthServer, TokenProxy, String) {
    let dev =
        DevAuthServer::start(std::time::Duration::from_secs(token_ttl_secs), Some(Url::parse(redirect).expect("url")))
            .await
            .expect("dev server starts");
    let proxy = TokenProxy::start(dev.issuer().as_str()).await;
    let secret = dev.client().proof.secret().expect("the dev client has a secret").secret().clone();
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
