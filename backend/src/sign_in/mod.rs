//! The three-legged flow: authorization code + PKCE sign-in, user tokens kept
//! fresh with the refresh grant, and sign-out with revocation (RFC 6749, RFC 7636,
//! RFC 7009, following RFC 9700 and the token-mediating-backend pattern).
//!
//! The browser holds only its session cookie and short-lived access tokens; the
//! refresh token and the client secret stay here.
//!
//! - `code_flow`: sign-in (`begin`, `take_login`, `complete`) and sign-out.
//! - `end_session`: the provider's end-session request that follows sign-out.
//! - `user_token`: the user's tokens, which one serves which audience, and the
//!   refresh that keeps them fresh (one per session at a time).
//! - `profile`: the user's claims, from the ID token and userinfo.
//! - `id_token`, `userinfo`: the ID token's checks; the userinfo endpoint.
//! - `used_states`: the states that reached the callback, so each completes
//!   once; also the `jti`s of logout tokens.
//! - `backchannel`: back-channel logout (OpenID Connect Back-Channel Logout
//!   1.0), which ends every session of a provider session or user;
//!   `logout_token` its token's checks, `jwks` the provider's keys for them.
//! - `error`: each flow's own failures.

use std::sync::Arc;
use std::time::Duration;

use tower_sessions::session::Id;
use url::Url;

mod backchannel;
mod code_flow;
mod end_session;
mod error;
mod id_token;
mod jwks;
mod logout_token;
mod profile;
mod used_states;
mod user_token;
mod userinfo;

pub use code_flow::CallbackParams;
pub use error::{FlowError, LogoutError, LogoutFailure, SignInError, SignInFailure, UserTokenError, UserTokenFailure};
pub use userinfo::Userinfo;

use crate::cluster::Cluster;
use crate::exchange::Exchange;
use crate::login_state::LoginStateKey;
use crate::provider::{Issuer, Provider};
use crate::session::{SessionBackend, SessionIndex, UserGrant};
use crate::single_flight::SingleFlight;
use crate::token_cache::CachePolicy;
use end_session::EndSession;
use jwks::Jwks;
use used_states::UsedStates;

/// Settings of the three-legged flow.
#[derive(Debug, Clone)]
pub struct SignIn {
    /// The exact redirect URI registered with the provider; its origin is ours.
    pub redirect_url: Url,
    /// Scopes requested at sign-in; the backend holds this (wide) grant.
    pub user_scopes: Vec<String>,
    /// Narrower scopes for the token handed to the browser, obtained through the
    /// refresh grant; `None` hands out the sign-in token itself.
    pub browser_scopes: Option<Vec<String>>,
    /// The API the user's tokens are for (RFC 8707 `resource`), sent on the
    /// authorization, code and refresh requests; such tokens may be refused by
    /// userinfo, so `/api/user/me` falls back to the ID token's claims.
    pub resource: Option<Url>,
    /// Signs the session cookie.
    pub session_key: crate::session::SessionKey,
    /// `SESSION_SECRET_PREVIOUS`: cookies signed or sealed with it are still
    /// accepted during a rotation, and re-issued with `session_key`.
    pub previous_session_key: Option<crate::session::SessionKey>,
    pub cookie_secure: bool,
    /// A session never outlives this (the refresh token's maximum lifetime).
    pub session_max_lifetime: Duration,
    /// Whether `/auth/login` takes the host a proxy in front saw from its
    /// `Forwarded` or `X-Forwarded-Host`/`-Proto` headers.
    pub trust_forwarded_headers: bool,
    /// Whether sign-out also sends the browser to the provider's end-session
    /// endpoint, when it has one (OpenID Connect RP-Initiated Logout 1.0).
    pub end_session: bool,
    /// Where the provider sends the browser back after ending its session.
    pub post_logout_redirect_url: Url,
}

impl SignIn {
    /// Our own origin, from the redirect URL: the only origin (with any CORS
    /// allowlist) that may call cookie-authenticated routes.
    pub fn origin(&self) -> String {
        self.redirect_url.origin().ascii_serialization()
    }

    /// The login-state cookie's `Path`: the callback's directory (`/auth` for
    /// `/auth/callback`), which holds `/auth/login` too.
    pub fn login_state_path(&self) -> String {
        let path = self.redirect_url.path();
        match path.rfind('/') {
            Some(0) | None => "/".to_owned(),
            Some(end) => path[..end].to_owned(),
        }
    }
}

/// Runs sign-in, user-token refresh and sign-out for one provider. Cheap to
/// clone: clones share one state, which a refresh task keeps alive until it ends.
#[derive(Clone)]
pub struct SignInService(Arc<Shared>);

/// What the flows share.
struct Shared {
    settings: SignIn,
    /// Sends our redirect URL and `resource` with every sign-in request.
    exchange: Exchange,
    userinfo: Userinfo,
    sessions: SessionBackend,
    /// With several replicas, the per-session refresh lock lives here.
    cluster: Option<Cluster>,
    policy: CachePolicy,
    /// Ask for and check an OpenID Connect nonce.
    is_oidc: bool,
    /// The OpenID Connect issuer, when known: the `iss` of authorization
    /// responses and ID tokens must name it.
    issuer: Option<Issuer>,
    /// Where sign-out sends the browser next, when the provider has an
    /// end-session endpoint and `OAUTH_END_SESSION` is on.
    end_session: Option<EndSession>,
    /// Seals the pending sign-ins into the browser's login-state cookie.
    login_state: LoginStateKey,
    /// States that reached the callback: each completes at most once.
    used_states: UsedStates,
    /// Sessions by the provider's `sid` and the user's `sub`, for back-channel logout.
    index: SessionIndex,
    /// The provider's signing keys, when it publishes them (`jwks_uri`):
    /// back-channel logout needs them and the issuer.
    jwks: Option<Jwks>,
    /// The `jti`s of accepted logout tokens: each is accepted once.
    used_logout_tokens: UsedStates,
    /// One refresh per session at a time: refresh tokens rotate, so two parallel
    /// refreshes would race and one would be rejected.
    refreshes: SingleFlight<Id, UserGrant, UserTokenError>,
}

impl std::fmt::Debug for SignInService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInService").field("settings", &self.0.settings).finish_non_exhaustive()
    }
}

/// The provider has no authorization endpoint, so no one can sign in.
#[derive(Debug, thiserror::Error)]
#[error(
    "OAUTH_REDIRECT_URL or PUBLIC_URL is set but the provider has no authorization endpoint; set OAUTH_AUTHORIZE_URL"
)]
pub struct NoAuthorizeUrl;

impl SignInService {
    /// The flows for `settings` at `provider`, with `exchange` (the two-legged
    /// one) sending our redirect URL and `resource` from here on.
    pub fn new(
        settings: SignIn,
        exchange: Exchange,
        userinfo: Userinfo,
        sessions: SessionBackend,
        cluster: Option<Cluster>,
        policy: CachePolicy,
        provider: &Provider,
    ) -> Result<Self, NoAuthorizeUrl> {
        if !exchange.has_authorize_url() {
            return Err(NoAuthorizeUrl);
        }
        let exchange = exchange.with_redirect_url(&settings.redirect_url).with_resource(settings.resource.as_ref());
        let issuer = provider.issuer.clone();
        let is_oidc = issuer.is_some() || settings.user_scopes.iter().any(|s| s == "openid");
        let end_session = provider.end_session_url.clone().filter(|_| settings.end_session).map(|endpoint| {
            EndSession { endpoint, post_logout_redirect_uri: settings.post_logout_redirect_url.clone() }
        });
        let login_state = LoginStateKey::derive(&settings.session_key, settings.previous_session_key.as_ref());
        let jwks = issuer
            .as_ref()
            .and_then(|i| i.jwks_url.clone())
            .map(|url| Jwks::new(url, userinfo.http().clone(), policy.backoff.clone()));
        let index = SessionIndex::new(cluster.clone());
        Ok(Self(Arc::new(Shared {
            settings,
            exchange,
            userinfo,
            sessions,
            cluster,
            policy,
            is_oidc,
            issuer,
            end_session,
            login_state,
            used_states: UsedStates::new("used_state"),
            index,
            jwks,
            used_logout_tokens: UsedStates::new("used_logout_jti"),
            refreshes: SingleFlight::default(),
        })))
    }

    pub fn settings(&self) -> &SignIn {
        &self.0.settings
    }

    pub fn sessions(&self) -> SessionBackend {
        self.0.sessions.clone()
    }
}
