//! The signed-in user's tokens: which one serves which audience, and the
//! refresh grant (RFC 6749 §6) that keeps them fresh, one refresh per session
//! at a time, in a task of its own so it completes (and the rotated refresh
//! token is stored) even if the request that started it goes away.

use std::convert::Infallible;
use std::time::Duration;

use oauth2::AccessToken;
use tower_sessions::Session;
use tower_sessions::session::Id;

use super::{SignIn, SignInService, UserTokenError, UserTokenFailure};
use crate::exchange::ExchangeError;
use crate::session::{USER_KEY, UserGrant};
use crate::single_flight::Flight;
use crate::token_cache::{StoredToken, now_ms};

/// Which of the user's tokens a caller needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Audience {
    /// The token handed to the browser (down-scoped when a browser scope is set).
    Browser,
    /// The sign-in token, for the backend's own calls (userinfo).
    Backend,
}

/// Where in the grant an audience's token is kept: the browser has a token of
/// its own only when a narrower browser scope is set; otherwise the sign-in
/// (wide) token serves both audiences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Wide,
    Browser,
}

impl Slot {
    fn of(audience: Audience, settings: &SignIn) -> Self {
        match (audience, &settings.browser_scopes) {
            (Audience::Browser, Some(_)) => Self::Browser,
            _ => Self::Wide,
        }
    }

    fn token(self, grant: &UserGrant) -> Option<&StoredToken> {
        match self {
            Self::Wide => Some(&grant.wide),
            Self::Browser => grant.browser.as_ref(),
        }
    }

    fn store(self, grant: &mut UserGrant, token: StoredToken) {
        match self {
            Self::Wide => grant.wide = token,
            Self::Browser => grant.browser = Some(token),
        }
    }

    /// The scopes a refresh asks for: the browser's narrower ones, or none
    /// (the grant's own) for the wide token.
    fn scopes(self, settings: &SignIn) -> &[String] {
        match (self, &settings.browser_scopes) {
            (Self::Browser, Some(scopes)) => scopes,
            _ => &[],
        }
    }
}

impl SignInService {
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
        let id = session.id().ok_or(UserTokenFailure::LoginRequired)?;
        let slot = Slot::of(Audience::Browser, &self.0.settings);
        let is_new = |t: &StoredToken| t.access_token.secret() != rejected.secret();
        // A flight started before the refusal may bring back the rejected token;
        // then one more, which sees it as rejected.
        let mut latest = None;
        for _ in 0..2 {
            let grant = self.refresh_flight(id, slot, Some(rejected.clone())).await?;
            let token = slot.token(&grant).filter(|t| t.is_usable(&self.0.policy, now_ms())).cloned();
            match token {
                Some(token) if is_new(&token) => return Ok(token),
                other => latest = other,
            }
        }
        latest.ok_or(UserTokenFailure::NoUsableToken.into())
    }

    /// The `audience`'s token for this session, refreshed when inside its refresh window.
    pub(super) async fn token(&self, session: &Session, audience: Audience) -> Result<StoredToken, UserTokenError> {
        let policy = &self.0.policy;
        let slot = Slot::of(audience, &self.0.settings);
        let id = session.id().ok_or(UserTokenFailure::LoginRequired)?;
        let grant: UserGrant = session.get(USER_KEY).await?.ok_or(UserTokenFailure::LoginRequired)?;
        if let Some(token) = slot.token(&grant).filter(|t| t.is_fresh(policy, now_ms())) {
            return Ok(token.clone());
        }
        // A flight for the other audience may be running; after it, look again.
        // Three rounds cover joining that flight and then running our own.
        for _ in 0..3 {
            let grant = self.refresh_flight(id, slot, None).await?;
            if let Some(token) = slot.token(&grant).filter(|t| t.is_usable(policy, now_ms())) {
                return Ok(token.clone());
            }
        }
        Err(UserTokenFailure::NoUsableToken.into())
    }

    /// Joins the session's refresh in progress or starts one in its own task,
    /// which shares this service's state until it ends. A new flight replaces
    /// `rejected` (a token an API refused) even if it looks fresh.
    fn refresh_flight(&self, id: Id, slot: Slot, rejected: Option<AccessToken>) -> Flight<UserGrant, UserTokenError> {
        let service = self.clone();
        let work = async move { service.refresh(id, slot, rejected.as_ref()).await };
        let started = self.0.refreshes.join_or_start(id, || Ok::<_, Infallible>(work));
        started.unwrap_or_else(|never| match never {})
    }

    /// Reads the grant from the store (another replica or request may have
    /// refreshed it), refreshes, and writes the rotated refresh token back before
    /// anyone is handed the new access token.
    async fn refresh(&self, id: Id, slot: Slot, rejected: Option<&AccessToken>) -> Result<UserGrant, UserTokenError> {
        // Across replicas, the session's lock orders refreshes: the holder writes
        // the rotated refresh token before the next one reads the grant.
        let lock = match &self.0.cluster {
            Some(cluster) => {
                let ttl = self.0.exchange.timeout() + Duration::from_secs(5);
                let lock = cluster.lock(&format!("session:{id}"), ttl, ttl).await;
                cluster.note(&lock);
                match lock {
                    Ok(Some(lock)) => Some(lock),
                    Ok(None) => return Err(UserTokenFailure::RefreshLockTimeout.into()),
                    Err(e) => return Err(UserTokenFailure::RefreshLock(e).into()),
                }
            }
            None => None,
        };
        let result = self.refresh_locked(id, slot, rejected).await;
        if let Some(lock) = lock {
            // If release fails, the lock expires by itself.
            let _ = lock.release().await;
        }
        result
    }

    async fn refresh_locked(
        &self,
        id: Id,
        slot: Slot,
        rejected: Option<&AccessToken>,
    ) -> Result<UserGrant, UserTokenError> {
        let (sessions, policy) = (&self.0.sessions, &self.0.policy);
        let Some((record, mut grant)) = sessions.load_grant(&id).await? else {
            return Err(UserTokenFailure::LoginRequired.into());
        };
        let now = now_ms();
        let current = slot.token(&grant);
        let is_rejected = |t: &StoredToken| rejected.is_some_and(|r| r.secret() == t.access_token.secret());
        if current.is_some_and(|t| t.is_fresh(policy, now) && !is_rejected(t)) {
            return Ok(grant);
        }
        let usable = current.is_some_and(|t| t.is_usable(policy, now));
        let Some(refresh_token) = grant.refresh_token.clone() else {
            // No refresh token: the session lasts as long as its access token.
            return if usable { Ok(grant) } else { self.end(&id).await };
        };
        match self.0.exchange.refresh(&refresh_token, slot.scopes(&self.0.settings)).await {
            // Too short to serve: storing it would only send the next request
            // straight back to the upstream. A rotated refresh token is kept.
            Ok(issued) if issued.expires_in <= policy.min_ttl => {
                if let Some(rotated) = issued.refresh_token {
                    grant.refresh_token = Some(rotated);
                    sessions.save_grant(record, &grant).await?;
                }
                let e = ExchangeError::InvalidResponse(format!(
                    "refreshed user token lifetime of {}s is not longer than TOKEN_MIN_TTL_SECS ({}s)",
                    issued.expires_in.as_secs(),
                    policy.min_ttl.as_secs()
                ));
                if usable {
                    tracing::warn!(error = %e, "user token refresh failed; serving the current token");
                    Ok(grant)
                } else {
                    Err(e.into())
                }
            }
            Ok(issued) => {
                slot.store(&mut grant, StoredToken::issued(issued.access_token, now, issued.expires_in));
                if let Some(rotated) = issued.refresh_token {
                    grant.refresh_token = Some(rotated);
                }
                sessions.save_grant(record, &grant).await?;
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
        self.0.sessions.delete(id).await?;
        Err(UserTokenFailure::LoginRequired.into())
    }
}
