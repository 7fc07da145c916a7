//! The three-legged flow: authorization code + PKCE sign-in, user tokens kept
//! fresh with the refresh grant, and sign-out with revocation (RFC 6749, RFC 7636,
//! RFC 7009, following RFC 9700 and the token-mediating-backend pattern).
//!
//! The browser holds only its session cookie and short-lived access tokens; the
//! refresh token and the client secret stay here.

use std::convert::Infallible;
use std::time::Duration;

use oauth2::{AccessToken, CsrfToken, PkceCodeChallenge};
use serde::Deserialize;
use tower_sessions::session::Id;
use tower_sessions::{Expiry, Session};
use url::Url;

mod id_token;
mod userinfo;

pub use userinfo::Userinfo;

use self::id_token::IdClaims;

use crate::cluster::{Cluster, ClusterError};
use crate::exchange::{Exchange, ExchangeError};
use crate::login_state::LoginStateKey;
use crate::session::{PendingLogin, SessionBackend, SessionError, USER_KEY, UserGrant};
use crate::single_flight::{Flight, SingleFlight, TaskStopped};
use crate::token_cache::{CachePolicy, StoredToken, now_ms};

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
    pub cookie_secure: bool,
    /// A session never outlives this (the refresh token's maximum lifetime).
    pub session_max_lifetime: Duration,
}

impl SignIn {
    /// Our own origin, from the redirect URL: the only origin (with any CORS
    /// allowlist) that may call cookie-authenticated routes.
    pub fn origin(&self) -> String {
        self.redirect_url.origin().ascii_serialization()
    }
}

/// Why a sign-in (login or callback) failed; shown to the user as a page.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("return_to must be a path on this site")]
    InvalidReturnTo,
    #[error("the sign-in response has no state")]
    MissingState,
    #[error("the sign-in state is unknown, expired or already used")]
    InvalidState,
    #[error("the user declined to sign in")]
    Denied,
    #[error("the authorization server reported `{error}`")]
    Provider { error: String, description: Option<String> },
    #[error("the sign-in response has no authorization code")]
    MissingCode,
    #[error("the ID token does not belong to this sign-in ({0})")]
    InvalidIdToken(&'static str),
    #[error(transparent)]
    Exchange(#[from] ExchangeError),
    #[error(transparent)]
    Session(#[from] SessionError),
}

impl From<tower_sessions::session::Error> for SignInError {
    fn from(e: tower_sessions::session::Error) -> Self {
        Self::Session(e.into())
    }
}

/// Why a user token or profile could not be served.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UserTokenError {
    #[error("no signed-in session, or it has ended")]
    LoginRequired,
    #[error(transparent)]
    Exchange(#[from] ExchangeError),
    #[error(transparent)]
    Session(#[from] SessionError),
    /// Redis failed while ordering this session's refresh across replicas.
    #[error("the session refresh lock is unavailable: {0}")]
    RefreshLock(#[source] ClusterError),
    #[error("the session refresh lock was not acquired in time")]
    RefreshLockTimeout,
    /// The refresh task ended without an answer (a panic, or the runtime stopping).
    #[error(transparent)]
    RefreshStopped(#[from] TaskStopped),
    /// Still signed in, but no token that can be served yet: a retryable 503, not a sign-out.
    #[error("no usable user token after refreshing")]
    NoUsableToken,
    /// No ID-token claims, and userinfo is absent or refused the user's token.
    #[error("no user profile: the provider has no userinfo endpoint, or it refused the user's token")]
    NoUserinfo,
}

impl From<tower_sessions::session::Error> for UserTokenError {
    fn from(e: tower_sessions::session::Error) -> Self {
        Self::Session(e.into())
    }
}

/// The query of `/auth/callback` (RFC 6749 §4.1.2 and §4.1.2.1).
#[derive(Debug, Deserialize)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Which of the user's tokens a caller needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Audience {
    /// The token handed to the browser (down-scoped when a browser scope is set).
    Browser,
    /// The sign-in token, for the backend's own calls (userinfo).
    Backend,
}

/// Runs sign-in, user-token refresh and sign-out for one provider.
pub struct SignInService {
    config: SignIn,
    exchange: Exchange,
    userinfo: Userinfo,
    sessions: SessionBackend,
    /// With several replicas, the per-session refresh lock lives here.
    cluster: Option<Cluster>,
    policy: CachePolicy,
    /// Ask for and check an OpenID Connect nonce.
    is_oidc: bool,
    client_id: String,
    /// Seals the pending sign-ins into the browser's login-state cookie.
    login_state: LoginStateKey,
    /// One refresh per session at a time: refresh tokens rotate, so two parallel
    /// refreshes would race and one would be rejected.
    flights: SingleFlight<Id, UserGrant, UserTokenError>,
}

impl std::fmt::Debug for SignInService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInService").field("config", &self.config).finish_non_exhaustive()
    }
}

impl SignInService {
    pub fn new(
        config: SignIn,
        exchange: Exchange,
        userinfo: Userinfo,
        sessions: SessionBackend,
        cluster: Option<Cluster>,
        policy: CachePolicy,
        is_oidc: bool,
    ) -> Self {
        let client_id = exchange.client_id().to_owned();
        let is_oidc = is_oidc || config.user_scopes.iter().any(|s| s == "openid");
        let login_state = LoginStateKey::derive(&config.session_key.0);
        Self {
            config,
            exchange,
            userinfo,
            sessions,
            cluster,
            policy,
            is_oidc,
            client_id,
            login_state,
            flights: SingleFlight::default(),
        }
    }

    pub fn config(&self) -> &SignIn {
        &self.config
    }

    pub fn sessions(&self) -> SessionBackend {
        self.sessions.clone()
    }

    /// Starts a sign-in: adds state, PKCE verifier and nonce to the browser's
    /// pending sign-ins (from its login-state `cookie`, if any) and returns the
    /// provider's authorization URL and the new cookie value. Nothing is stored
    /// on the server, so anonymous requests cannot grow memory or Redis.
    pub fn begin(&self, cookie: Option<&str>, return_to: Option<&str>) -> Result<(Url, String), SignInError> {
        let return_to = self.validate_return_to(return_to.unwrap_or("/"))?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = self.is_oidc.then(CsrfToken::new_random);
        let (url, state) = self.exchange.authorize_url(
            &self.config.user_scopes,
            challenge,
            nonce.as_ref().map(|n| n.secret().as_str()),
        )?;
        let now = now_ms();
        let mut pending = cookie.and_then(|c| self.login_state.open(c)).unwrap_or_default();
        pending.push(PendingLogin { state, verifier, nonce, return_to, started_at_ms: now }, now);
        Ok((url, self.login_state.seal(&pending)))
    }

    /// Takes the sign-in named by the callback's `state` out of the browser's
    /// login-state `cookie`. Also returns the cookie without it (`None` when no
    /// sign-in is left), which the caller sends back whatever happens next, so a
    /// replayed callback never finds its state again.
    pub fn take_login(
        &self,
        cookie: Option<&str>,
        state: Option<&str>,
    ) -> (Option<String>, Result<PendingLogin, SignInError>) {
        let mut pending = cookie.and_then(|c| self.login_state.open(c)).unwrap_or_default();
        let login = match state.filter(|s| !s.is_empty()) {
            None => Err(SignInError::MissingState),
            Some(state) => pending.take(state, now_ms()).ok_or(SignInError::InvalidState),
        };
        let remaining = (!pending.is_empty()).then(|| self.login_state.seal(&pending));
        (remaining, login)
    }

    /// Completes `login` from the provider's redirect. On success the session
    /// holds the user's grant under a new id, and the caller redirects to the
    /// returned path.
    pub async fn complete(
        &self,
        session: &Session,
        login: PendingLogin,
        params: CallbackParams,
    ) -> Result<String, SignInError> {
        let now = now_ms();
        if let Some(error) = params.error {
            return Err(if error == "access_denied" {
                SignInError::Denied
            } else {
                SignInError::Provider { error, description: params.error_description }
            });
        }
        let code = params.code.filter(|c| !c.is_empty()).ok_or(SignInError::MissingCode)?;
        let issued = self.exchange.exchange_code(code, login.verifier).await?;
        let id_claims = match (&login.nonce, &issued.id_token) {
            (Some(nonce), Some(id_token)) => Some(id_token::check(id_token, nonce.secret(), &self.client_id, now)?),
            _ => None,
        };
        let grant = UserGrant {
            refresh_token: issued.refresh_token,
            wide: StoredToken::issued(issued.access_token, now, issued.expires_in),
            browser: None,
            signed_in_at_ms: now,
            id_claims,
        };
        // A new session id on sign-in defeats session fixation.
        session.cycle_id().await?;
        session.insert(USER_KEY, &grant).await?;
        let ends = time::OffsetDateTime::now_utc() + self.config.session_max_lifetime;
        session.set_expiry(Some(Expiry::AtDateTime(ends)));
        Ok(login.return_to)
    }

    /// The browser's access token for this session, refreshed when inside its
    /// refresh window.
    pub async fn browser_token(&self, session: &Session) -> Result<StoredToken, UserTokenError> {
        self.token(session, Audience::Browser).await
    }

    /// A browser token other than `rejected`, which an API refused: refreshed
    /// now, once for all the session's concurrent callers. Without a refresh
    /// token the current one comes back and the API's refusal stands.
    pub async fn renew_browser_token(
        &self,
        session: &Session,
        rejected: &AccessToken,
    ) -> Result<StoredToken, UserTokenError> {
        let id = session.id().ok_or(UserTokenError::LoginRequired)?;
        let is_new = |t: &StoredToken| t.access_token.secret() != rejected.secret();
        // A flight started before the refusal may bring back the rejected token;
        // then one more, which sees it as rejected.
        let mut latest = None;
        for _ in 0..2 {
            let grant = self.renewal_flight(id, rejected.clone()).await?;
            let token = self.pick(&grant, Audience::Browser).filter(|t| t.is_usable(&self.policy, now_ms())).cloned();
            match token {
                Some(token) if is_new(&token) => return Ok(token),
                other => latest = other,
            }
        }
        latest.ok_or(UserTokenError::NoUsableToken)
    }

    /// The user's profile: the ID token's user claims kept at sign-in, with the
    /// provider's userinfo claims merged over them when userinfo answers for the
    /// same `sub` (OpenID Connect Core §5.3.2). Signed-out callers learn that
    /// first (401), whether or not there is a profile to give (404).
    ///
    /// A userinfo 401/403 does not end the session when the ID token can answer:
    /// the token sent is the backend's own, refreshed ahead of expiry, so such a
    /// refusal means the token is not meant for userinfo (an API audience under
    /// RFC 8707 resource indicators, `insufficient_scope`), not that the user is
    /// signed out. Without ID-token claims a 401 still means `login_required`.
    pub async fn profile(&self, session: &Session) -> Result<serde_json::Value, UserTokenError> {
        let token = self.token(session, Audience::Backend).await?;
        let grant: Option<UserGrant> = session.get(USER_KEY).await?;
        let id_claims = grant.and_then(|g| g.id_claims);
        if !self.userinfo.is_configured() {
            return id_claims.map(serde_json::Value::Object).ok_or(UserTokenError::NoUserinfo);
        }
        let fetched = self.userinfo.fetch(&token.access_token).await;
        let Some(claims) = id_claims else {
            return match fetched {
                Err(ExchangeError::Rejected { status: 401, .. }) => Err(UserTokenError::LoginRequired),
                // Refused for scope (403 insufficient_scope, …): no profile for this
                // sign-in, which is not the upstream failing (never a 502).
                Err(ExchangeError::Rejected { status, .. }) => {
                    tracing::info!(status, "userinfo refused the user's token and there is no ID token");
                    Err(UserTokenError::NoUserinfo)
                }
                other => Ok(other?),
            };
        };
        Ok(merge_profile(claims, fetched))
    }

    /// Signs out: revokes the refresh token where the provider supports it (a
    /// failure is logged, not fatal), deletes the session and clears the cookie.
    pub async fn sign_out(&self, session: &Session) -> Result<(), SessionError> {
        if let Some(id) = session.id()
            && let Some((_, grant)) = self.sessions.load_grant(&id).await?
            && let Some(refresh_token) = grant.refresh_token
            && self.exchange.has_revocation_url()
            && let Err(e) = self.exchange.revoke(refresh_token).await
        {
            tracing::warn!(error = %e, "refresh token revocation failed; the session is ended anyway");
        }
        session.flush().await?;
        Ok(())
    }

    async fn token(&self, session: &Session, audience: Audience) -> Result<StoredToken, UserTokenError> {
        let id = session.id().ok_or(UserTokenError::LoginRequired)?;
        let grant: UserGrant = session.get(USER_KEY).await?.ok_or(UserTokenError::LoginRequired)?;
        if let Some(token) = self.pick(&grant, audience).filter(|t| t.is_fresh(&self.policy, now_ms())) {
            return Ok(token.clone());
        }
        // A flight for the other audience may be running; after it, look again.
        // Three rounds cover joining that flight and then running our own.
        for _ in 0..3 {
            let grant = self.refresh_flight(id, audience).await?;
            if let Some(token) = self.pick(&grant, audience).filter(|t| t.is_usable(&self.policy, now_ms())) {
                return Ok(token.clone());
            }
        }
        Err(UserTokenError::NoUsableToken)
    }

    fn pick<'g>(&self, grant: &'g UserGrant, audience: Audience) -> Option<&'g StoredToken> {
        match (audience, &self.config.browser_scopes) {
            (Audience::Browser, Some(_)) => grant.browser.as_ref(),
            _ => Some(&grant.wide),
        }
    }

    /// Joins the session's refresh in progress or starts one in its own task, so
    /// it completes (and the rotated refresh token is stored) even if the
    /// request that started it goes away.
    fn refresh_flight(&self, id: Id, audience: Audience) -> Flight<UserGrant, UserTokenError> {
        let started = self.flights.join_or_start(id, || {
            let work = RefreshWork {
                exchange: self.exchange.clone(),
                sessions: self.sessions.clone(),
                cluster: self.cluster.clone(),
                policy: self.policy.clone(),
                browser_scopes: self.config.browser_scopes.clone(),
                rejected: None,
            };
            Ok::<_, Infallible>(work.run(id, audience))
        });
        started.unwrap_or_else(|never| match never {})
    }

    /// Joins the session's refresh in progress, or starts one that replaces `rejected`.
    fn renewal_flight(&self, id: Id, rejected: AccessToken) -> Flight<UserGrant, UserTokenError> {
        let started = self.flights.join_or_start(id, || {
            let work = RefreshWork {
                exchange: self.exchange.clone(),
                sessions: self.sessions.clone(),
                cluster: self.cluster.clone(),
                policy: self.policy.clone(),
                browser_scopes: self.config.browser_scopes.clone(),
                rejected: Some(rejected),
            };
            Ok::<_, Infallible>(work.run(id, Audience::Browser))
        });
        started.unwrap_or_else(|never| match never {})
    }

    /// `return_to` must stay on this origin: a path, never `//host` or a URL.
    fn validate_return_to(&self, raw: &str) -> Result<String, SignInError> {
        let is_path = raw.starts_with('/')
            && !raw.starts_with("//")
            && !raw.contains('\\')
            && raw.len() <= 2048
            && !raw.chars().any(char::is_control);
        if !is_path {
            return Err(SignInError::InvalidReturnTo);
        }
        let base = &self.config.redirect_url;
        let resolved = base.join(raw).map_err(|_| SignInError::InvalidReturnTo)?;
        if resolved.origin() != base.origin() {
            return Err(SignInError::InvalidReturnTo);
        }
        Ok(raw.to_owned())
    }
}

/// The ID token's user claims with userinfo's merged over them, when userinfo
/// answered for the same `sub` (OpenID Connect Core §5.3.2); otherwise the ID
/// token's claims alone, whatever userinfo said.
fn merge_profile(mut claims: IdClaims, fetched: Result<serde_json::Value, ExchangeError>) -> serde_json::Value {
    match fetched {
        Ok(serde_json::Value::Object(info)) if info.get("sub").is_some() && info.get("sub") == claims.get("sub") => {
            claims.extend(info);
        }
        Ok(_) => {
            tracing::warn!("userinfo answered for another `sub` or not with an object; using the ID token's claims")
        }
        Err(ExchangeError::Rejected { status, .. }) => {
            tracing::info!(status, "userinfo refused the user's token; using the ID token's claims");
        }
        Err(e) => tracing::warn!(error = %e, "userinfo failed; using the ID token's claims"),
    }
    serde_json::Value::Object(claims)
}

/// What a refresh task needs; owned, because it outlives the request.
struct RefreshWork {
    exchange: Exchange,
    sessions: SessionBackend,
    cluster: Option<Cluster>,
    policy: CachePolicy,
    browser_scopes: Option<Vec<String>>,
    /// A token an API refused: not fresh, whatever its expiry says.
    rejected: Option<AccessToken>,
}

impl RefreshWork {
    /// Reads the grant from the store (another replica or request may have
    /// refreshed it), refreshes, and writes the rotated refresh token back before
    /// anyone is handed the new access token.
    async fn run(self, id: Id, audience: Audience) -> Result<UserGrant, UserTokenError> {
        // Across replicas, the session's lock orders refreshes: the holder writes
        // the rotated refresh token before the next one reads the grant.
        let lock = match &self.cluster {
            Some(cluster) => {
                let ttl = self.exchange.timeout() + Duration::from_secs(5);
                let lock = cluster.lock(&format!("session:{id}"), ttl, ttl).await;
                cluster.note(&lock);
                match lock {
                    Ok(Some(lock)) => Some(lock),
                    Ok(None) => return Err(UserTokenError::RefreshLockTimeout),
                    Err(e) => return Err(UserTokenError::RefreshLock(e)),
                }
            }
            None => None,
        };
        let result = self.refresh_locked(id, audience).await;
        if let Some(lock) = lock {
            // If release fails, the lock expires by itself.
            let _ = lock.release().await;
        }
        result
    }

    async fn refresh_locked(&self, id: Id, audience: Audience) -> Result<UserGrant, UserTokenError> {
        let Some((record, mut grant)) = self.sessions.load_grant(&id).await? else {
            return Err(UserTokenError::LoginRequired);
        };
        let browser = audience == Audience::Browser && self.browser_scopes.is_some();
        let now = now_ms();
        let current = if browser { grant.browser.as_ref() } else { Some(&grant.wide) };
        let is_rejected =
            |t: &StoredToken| self.rejected.as_ref().is_some_and(|r| r.secret() == t.access_token.secret());
        if current.is_some_and(|t| t.is_fresh(&self.policy, now) && !is_rejected(t)) {
            return Ok(grant);
        }
        let usable = current.is_some_and(|t| t.is_usable(&self.policy, now));
        let Some(refresh_token) = grant.refresh_token.clone() else {
            // No refresh token: the session lasts as long as its access token.
            return if usable { Ok(grant) } else { self.end(&id).await };
        };
        let scopes: &[String] = match (&self.browser_scopes, browser) {
            (Some(scopes), true) => scopes,
            _ => &[],
        };
        match self.exchange.refresh(&refresh_token, scopes).await {
            // Too short to serve: storing it would only send the next request
            // straight back to the upstream. A rotated refresh token is kept.
            Ok(issued) if issued.expires_in <= self.policy.min_ttl => {
                if let Some(rotated) = issued.refresh_token {
                    grant.refresh_token = Some(rotated);
                    self.sessions.save_grant(record, &grant).await?;
                }
                let e = ExchangeError::InvalidResponse(format!(
                    "refreshed user token lifetime of {}s is not longer than TOKEN_MIN_TTL_SECS ({}s)",
                    issued.expires_in.as_secs(),
                    self.policy.min_ttl.as_secs()
                ));
                if usable {
                    tracing::warn!(error = %e, "user token refresh failed; serving the current token");
                    Ok(grant)
                } else {
                    Err(e.into())
                }
            }
            Ok(issued) => {
                let token = StoredToken::issued(issued.access_token, now, issued.expires_in);
                if browser {
                    grant.browser = Some(token);
                } else {
                    grant.wide = token;
                }
                if let Some(rotated) = issued.refresh_token {
                    grant.refresh_token = Some(rotated);
                }
                self.sessions.save_grant(record, &grant).await?;
                Ok(grant)
            }
            Err(ExchangeError::Rejected { error, .. }) if error == "invalid_grant" => {
                tracing::info!("refresh token rejected (invalid_grant); ending the session");
                self.end(&id).await
            }
            Err(e) if usable => {
                tracing::warn!(error = %e, "user token refresh failed; serving the current token");
                Ok(grant)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn end(&self, id: &Id) -> Result<UserGrant, UserTokenError> {
        self.sessions.delete(id).await?;
        Err(UserTokenError::LoginRequired)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(value: serde_json::Value) -> IdClaims {
        value.as_object().expect("object").clone()
    }

    /// Userinfo's claims win for the same `sub`; another `sub` or a refusal leaves the ID token's.
    #[test]
    fn profile_merges_userinfo_only_for_the_same_sub() {
        let id = claims(json!({"sub": "u1", "iss": "https://op", "name": "old"}));
        let same = merge_profile(id.clone(), Ok(json!({"sub": "u1", "name": "Ada", "email": "a@x"})));
        assert_eq!(same, json!({"sub": "u1", "iss": "https://op", "name": "Ada", "email": "a@x"}));
        let other = merge_profile(id.clone(), Ok(json!({"sub": "u2", "name": "Eve"})));
        assert_eq!(other, json!({"sub": "u1", "iss": "https://op", "name": "old"}));
        let no_sub = merge_profile(id.clone(), Ok(json!({"name": "Eve"})));
        assert_eq!(no_sub["name"], "old");
        for status in [401, 403] {
            let refused = ExchangeError::Rejected { status, error: "insufficient_scope".into(), description: None };
            assert_eq!(merge_profile(id.clone(), Err(refused))["sub"], "u1");
        }
        let down = ExchangeError::Unavailable { status: 503, retry_after: None };
        assert_eq!(merge_profile(id, Err(down))["name"], "old");
    }
}
