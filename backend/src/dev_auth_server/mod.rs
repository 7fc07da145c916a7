//! [`DevAuthServer`]: an embedded OAuth 2.0 authorization server for `--dev`.
//!
//! It listens on a loopback port of its own and the broker reaches it over real
//! HTTP, exactly as it would a remote server, so dev mode runs the production
//! code path. It issues random opaque tokens with a short lifetime and supports
//! `client_credentials`, `authorization_code` with PKCE (S256 required) behind a
//! sign-in page, `refresh_token` with rotation, revocation, userinfo and an
//! end-session endpoint (RP-initiated logout); and, as
//! the protected resource next to it, the demo's 3D model (`resource`).

mod authorize;
mod end_session;
mod grants;
mod resource;
mod token_endpoint;

pub use resource::{MODEL_NAME, MODEL_SCOPE};

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use base64::Engine;
use oauth2::{ClientId, ClientSecret};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use url::Url;

use crate::provider::{ClientCredentials, ClientProof, Issuer, Provider};
use grants::Grants;

/// The dev server's fixed client id; the secret is random per process.
pub const DEV_CLIENT_ID: &str = "token-backend-dev";

/// What the endpoints share.
#[derive(Debug)]
struct DevState {
    client_id: String,
    client_secret: ClientSecret,
    token_ttl: Duration,
    issuer: String,
    /// The one registered redirect URI; sign-in is refused without it.
    redirect_uri: Option<String>,
    grants: Mutex<Grants>,
}

impl DevState {
    fn grants(&self) -> MutexGuard<'_, Grants> {
        self.grants.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running dev authorization server; stops when dropped.
#[derive(Debug)]
pub struct DevAuthServer {
    addr: SocketAddr,
    client: ClientCredentials,
    task: JoinHandle<()>,
}

impl DevAuthServer {
    /// Starts the server on a free loopback port. `redirect_uri` is registered
    /// for the authorization code flow.
    pub async fn start(token_ttl: Duration, redirect_uri: Option<Url>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let secret = ClientSecret::new(random_token(32));
        let state = Arc::new(DevState {
            client_id: DEV_CLIENT_ID.to_owned(),
            client_secret: secret.clone(),
            token_ttl,
            issuer: format!("http://{addr}"),
            redirect_uri: redirect_uri.map(String::from),
            grants: Mutex::default(),
        });
        let router = Router::new()
            .route("/authorize", get(authorize::page).post(authorize::decide))
            .route("/token", post(token_endpoint::token))
            .route("/revoke", post(token_endpoint::revoke))
            .route("/userinfo", get(token_endpoint::userinfo))
            .route("/end-session", get(end_session::end_session))
            .route("/.well-known/oauth-authorization-server", get(token_endpoint::metadata))
            .with_state(Arc::clone(&state))
            .merge(resource::router(state));
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!("development authorization server stopped: {e}");
            }
        });
        tracing::info!(issuer = %format!("http://{addr}"), "development authorization server started");
        let client = ClientCredentials {
            id: ClientId::new(DEV_CLIENT_ID.to_owned()),
            proof: ClientProof::Basic(secret),
            file: None,
        };
        Ok(Self { addr, client, task })
    }

    pub fn issuer(&self) -> Url {
        // A socket address always makes a valid URL.
        Url::parse(&format!("http://{}", self.addr)).unwrap_or_else(|_| unreachable_url())
    }

    /// All of the server's endpoints, as the broker sees them.
    pub fn provider(&self) -> Provider {
        let endpoint = |path: &str| self.issuer().join(path).unwrap_or_else(|_| unreachable_url());
        let mut provider = Provider::with_token_url(endpoint("/token"));
        provider.authorize_url = Some(oauth2::AuthUrl::from_url(endpoint("/authorize")));
        provider.revocation_url = Some(oauth2::RevocationUrl::from_url(endpoint("/revoke")));
        provider.userinfo_url = Some(endpoint("/userinfo"));
        provider.end_session_url = Some(endpoint("/end-session"));
        // Its `iss`, in authorization responses and ID tokens, has no trailing slash.
        provider.issuer = Some(Issuer { identifier: format!("http://{}", self.addr), sends_iss: true, jwks_url: None });
        provider
    }

    /// Where the protected resource server serves its models (`{models}/building.glb`).
    pub fn models_url(&self) -> Url {
        self.issuer().join("/models").unwrap_or_else(|_| unreachable_url())
    }

    /// The credentials the broker uses against this server.
    pub fn client(&self) -> &ClientCredentials {
        &self.client
    }
}

impl Drop for DevAuthServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn unreachable_url() -> Url {
    Url::parse("http://127.0.0.1/").unwrap_or_else(|_| unreachable!("constant URL parses"))
}

/// `bytes` random bytes as unpadded base64url: unguessable tokens and secrets.
fn random_token(bytes: usize) -> String {
    let buf: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}
