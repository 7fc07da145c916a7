//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0): the provider
//! posts a signed logout token when a user's session there ends, and every
//! session it names ends here, on every replica.
//!
//! Sessions are found through the [`SessionIndex`](crate::session::SessionIndex)
//! written at sign-in and ended through the session store
//! ([`crate::session::SessionBackend::delete`]), which every replica reads, so
//! the next request on any replica finds no session.

use std::time::Duration;

use tower_sessions::session::Id;

use super::{LogoutError, LogoutFailure, SignInService, logout_token};
use crate::token_cache::now_ms;

impl SignInService {
    /// Checks `raw` (§2.6), accepts its `jti` once in the cluster, then ends
    /// every session of its `sid` (or, without one, of its `sub`), revoking
    /// their refresh tokens. Returns how many sessions ended. Nothing is touched
    /// unless the token is valid and new.
    pub async fn back_channel_logout(&self, raw: &str) -> Result<usize, LogoutError> {
        let shared = &self.0;
        let (Some(jwks), Some(issuer)) = (&shared.jwks, &shared.issuer) else {
            return Err(LogoutFailure::Unavailable.into());
        };
        let now = now_ms();
        let client_id = shared.exchange.client_id();
        let token = logout_token::verify(raw, jwks, &issuer.identifier, client_id, now).await?;
        let is_first = shared
            .used_logout_tokens
            .claim(shared.cluster.as_ref(), &token.jti, token.remember_until_ms, now)
            .await
            .map_err(LogoutFailure::Index)?;
        if !is_first {
            return Err(LogoutFailure::Replayed.into());
        }
        let subject = &token.subject;
        let sessions = shared.index.sessions(subject, now).await.map_err(LogoutFailure::Index)?;
        let mut ended = 0;
        for id in &sessions {
            if self.end_session(id, token.sub.as_deref()).await? {
                ended += 1;
            }
        }
        // Only once they have ended: after a failure, they can still be found.
        shared.index.forget(subject, &sessions).await.map_err(LogoutFailure::Index)?;
        Ok(ended)
    }

    /// Revokes the session's refresh token where the provider supports it (a
    /// failure is logged, not fatal, as at sign-out) and deletes the session
    /// through the session store. With both `sid` and `sub` in the token, a
    /// session of another user is left alone. False if there was nothing to end.
    async fn end_session(&self, id: &Id, sub: Option<&str>) -> Result<bool, LogoutError> {
        let shared = &self.0;
        // A refresh in progress holds the refresh token to revoke (it may
        // rotate it) and would write the grant back after the delete, bringing
        // the session back: wait for it, across replicas through the session's
        // refresh lock, here by joining its flight.
        let lock = match &shared.cluster {
            Some(cluster) => {
                let ttl = shared.exchange.timeout() + Duration::from_secs(5);
                let lock = cluster.lock(&format!("session:{id}"), ttl, ttl).await;
                cluster.note(&lock);
                // Held past its TTL: its holder is gone; end the session anyway.
                lock.map_err(LogoutFailure::Index)?
            }
            None => None,
        };
        let running = shared.refreshes.join_or_start(*id, || Err::<std::future::Pending<_>, ()>(()));
        if let Ok(flight) = running {
            // Its outcome does not matter: the grant is read from the store next.
            let _ = flight.await;
        }
        let result = self.revoke_and_delete(id, sub).await;
        if let Some(lock) = lock {
            // If release fails, the lock expires by itself.
            let _ = lock.release().await;
        }
        result
    }

    async fn revoke_and_delete(&self, id: &Id, sub: Option<&str>) -> Result<bool, LogoutError> {
        let shared = &self.0;
        let Some((_, grant)) = shared.sessions.load_grant(id).await? else { return Ok(false) };
        let grant_sub = grant.id_claims.as_ref().and_then(|c| c.get("sub")).and_then(serde_json::Value::as_str);
        if sub.is_some_and(|sub| grant_sub != Some(sub)) {
            return Ok(false);
        }
        if let Some(refresh_token) = grant.refresh_token
            && shared.exchange.has_revocation_url()
            && let Err(e) = shared.exchange.revoke(refresh_token).await
        {
            tracing::warn!(error = %e, "refresh token revocation failed; the session is ended anyway");
        }
        shared.sessions.delete(id).await?;
        Ok(true)
    }
}
