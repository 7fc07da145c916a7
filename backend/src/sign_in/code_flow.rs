//! Sign-in with the authorization code and PKCE (RFC 6749 §4.1, RFC 7636), the
//! pending sign-ins kept in the browser's login-state cookie, and sign-out with
//! revocation (RFC 7009).

use oauth2::{CsrfToken, PkceCodeChallenge};
use serde::Deserialize;
use tower_sessions::{Expiry, Session};
use url::Url;

use super::id_token::{self, IdClaims};
use super::{SignInError, SignInFailure, SignInService};
use crate::login_state::MAX_COOKIE_CHARS;
use crate::provider::Issuer;
use crate::session::{PENDING_TTL_MS, PendingLogin, SessionError, Subject, USER_KEY, UserGrant};
use crate::token_cache::{StoredToken, now_ms};

/// The query of `/auth/callback` (RFC 6749 §4.1.2 and §4.1.2.1).
#[derive(Debug, Deserialize)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// The issuer that sent the response (RFC 9207).
    pub iss: Option<String>,
}

impl SignInService {
    /// Starts a sign-in: adds state, PKCE verifier and nonce to the browser's
    /// pending sign-ins (from its login-state `cookie`, if any) and returns the
    /// provider's authorization URL and the new cookie value. Nothing is stored
    /// on the server, so anonymous requests cannot grow memory or Redis.
    pub fn begin(&self, cookie: Option<&str>, return_to: Option<&str>) -> Result<(Url, String), SignInError> {
        let shared = &self.0;
        let return_to = self.validate_return_to(return_to.unwrap_or("/"))?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = shared.is_oidc.then(CsrfToken::new_random);
        let (url, state) = shared.exchange.authorize_url(
            &shared.settings.user_scopes,
            challenge,
            nonce.as_ref().map(|n| n.secret().as_str()),
        )?;
        let now = now_ms();
        let mut pending = cookie.and_then(|c| shared.login_state.open(c)).unwrap_or_default();
        let len = return_to.len();
        pending.push(PendingLogin { state, verifier, nonce, return_to, started_at_ms: now }, now);
        // A cookie the browser would drop, or the callback refuse, loses the
        // sign-in later with a bare error: make room now, oldest sign-in first.
        loop {
            let sealed = shared.login_state.seal(&pending);
            if sealed.len() <= MAX_COOKIE_CHARS {
                return Ok((url, sealed));
            }
            if !pending.evict_oldest() {
                return Err(SignInFailure::ReturnToTooLong { len }.into());
            }
        }
    }

    /// Takes the sign-in named by the callback's `state` out of the browser's
    /// login-state `cookie`. Also returns the cookie without it (`None` when no
    /// sign-in is left), which the caller sends back whatever happens next, so a
    /// replayed callback never finds its state again.
    pub fn take_login(
        &self,
        cookie: Option<&str>,
        state: Option<&str>,
    ) -> (Option<String>, Result<PendingLogin, SignInFailure>) {
        let login_state = &self.0.login_state;
        let mut pending = cookie.and_then(|c| login_state.open(c)).unwrap_or_default();
        let login = match state.filter(|s| !s.is_empty()) {
            None => Err(SignInFailure::MissingState),
            Some(state) => pending.take(state, now_ms()).ok_or(SignInFailure::InvalidState),
        };
        let remaining = (!pending.is_empty()).then(|| login_state.seal(&pending));
        (remaining, login)
    }

    /// Completes `login` from the provider's redirect, at most once per state
    /// (before any code exchange). On success the session holds the user's
    /// grant under a new id, and the caller redirects to the returned path.
    pub async fn complete(
        &self,
        session: &Session,
        login: PendingLogin,
        params: CallbackParams,
    ) -> Result<String, SignInError> {
        let shared = &self.0;
        let now = now_ms();
        let expires_at_ms = login.started_at_ms + PENDING_TTL_MS;
        let is_first = shared
            .used_states
            .claim(shared.cluster.as_ref(), login.state.secret(), expires_at_ms, now)
            .await
            .map_err(SignInFailure::UsedStates)?;
        if !is_first {
            return Err(SignInFailure::Replayed.into());
        }
        // RFC 9207 §2.4: before anything in the response is used, errors included.
        check_response_issuer(shared.issuer.as_ref(), params.iss.as_deref())?;
        if let Some(error) = params.error {
            let failure = if error == "access_denied" {
                SignInFailure::Denied
            } else {
                SignInFailure::Provider { error, description: params.error_description }
            };
            return Err(failure.into());
        }
        let code = params.code.filter(|c| !c.is_empty()).ok_or(SignInFailure::MissingCode)?;
        let issued = shared.exchange.exchange_code(code, login.verifier).await?;
        let (checked, id_token) = match (&login.nonce, issued.id_token) {
            (Some(nonce), Some(id_token)) => {
                let issuer = shared.issuer.as_ref().map(|i| i.identifier.as_str());
                let checked = id_token::check(&id_token, nonce.secret(), shared.exchange.client_id(), issuer, now)?;
                (Some(checked), Some(id_token))
            }
            _ => (None, None),
        };
        let (id_claims, sid) = checked.map_or((None, None), |c| (Some(c.claims), c.sid));
        let subjects = index_subjects(sid.as_deref(), id_claims.as_ref());
        let grant = UserGrant {
            refresh_token: issued.refresh_token,
            wide: StoredToken::issued(issued.access_token, now, issued.expires_in),
            browser: None,
            signed_in_at_ms: now,
            id_claims,
            id_token,
            sid,
        };
        // A new session id on sign-in defeats session fixation.
        session.cycle_id().await?;
        session.insert(USER_KEY, &grant).await?;
        let ends = time::OffsetDateTime::now_utc() + shared.settings.session_max_lifetime;
        session.set_expiry(Some(Expiry::AtDateTime(ends)));
        if !subjects.is_empty() {
            // Saved now rather than after the handler, for the new id the index names.
            session.save().await?;
            if let Some(id) = session.id() {
                let ends_ms = i64::try_from(ends.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
                shared.index.add(&subjects, id, ends_ms, now).await.map_err(SignInFailure::SessionIndex)?;
            }
        }
        Ok(login.return_to)
    }

    /// Signs out: revokes the refresh token where the provider supports it (a
    /// failure is logged, not fatal), deletes the session and clears the cookie.
    /// Returns the provider's end-session request the browser should follow, when
    /// RP-initiated logout is on; also without a session here, since the
    /// provider's may outlive ours.
    pub async fn sign_out(&self, session: &Session) -> Result<Option<Url>, SessionError> {
        let shared = &self.0;
        let grant = match session.id() {
            Some(id) => shared.sessions.load_grant(&id).await?.map(|(_, grant)| grant),
            None => None,
        };
        let (refresh_token, id_token) = grant.map_or((None, None), |g| (g.refresh_token, g.id_token));
        if let Some(refresh_token) = refresh_token
            && shared.exchange.has_revocation_url()
            && let Err(e) = shared.exchange.revoke(refresh_token).await
        {
            tracing::warn!(error = %e, "refresh token revocation failed; the session is ended anyway");
        }
        session.flush().await?;
        let client_id = shared.exchange.client_id();
        Ok(shared.end_session.as_ref().map(|end| end.request_url(client_id, id_token.as_ref())))
    }

    /// `return_to` must stay on this origin: a path, never `//host` or a URL.
    fn validate_return_to(&self, raw: &str) -> Result<String, SignInFailure> {
        let is_path = raw.starts_with('/')
            && !raw.starts_with("//")
            && !raw.contains('\\')
            && raw.len() <= 2048
            && !raw.chars().any(char::is_control);
        if !is_path {
            return Err(SignInFailure::InvalidReturnTo);
        }
        let base = &self.0.settings.redirect_url;
        let resolved = base.join(raw).map_err(|_| SignInFailure::InvalidReturnTo)?;
        if resolved.origin() != base.origin() {
            return Err(SignInFailure::InvalidReturnTo);
        }
        Ok(raw.to_owned())
    }
}

/// What a back-channel logout may name this session by: the provider's `sid`
/// and the user's `sub`, when the ID token gave them.
fn index_subjects(sid: Option<&str>, claims: Option<&IdClaims>) -> Vec<Subject> {
    let sub = claims.and_then(|c| c.get("sub")).and_then(serde_json::Value::as_str);
    sid.map(|sid| Subject::Sid(sid.to_owned())).into_iter().chain(sub.map(|sub| Subject::Sub(sub.to_owned()))).collect()
}

/// The mix-up defence of RFC 9207 §2.4: an `iss` must name our issuer, and a
/// provider whose metadata promises `iss` must send it. Without a known issuer
/// (OAuth presets without discovery) there is nothing to compare with.
fn check_response_issuer(expected: Option<&Issuer>, iss: Option<&str>) -> Result<(), SignInFailure> {
    match (expected, iss) {
        (Some(issuer), Some(iss)) if iss != issuer.identifier => Err(SignInFailure::IssuerMismatch),
        (Some(issuer), None) if issuer.sends_iss => Err(SignInFailure::MissingIssuer),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The issuer must match exactly when sent, and be sent when promised.
    #[test]
    fn response_issuer_is_checked() {
        let promised = Issuer { identifier: "https://op.example".into(), sends_iss: true, jwks_url: None };
        let unpromised = Issuer { sends_iss: false, ..promised.clone() };
        assert!(check_response_issuer(Some(&promised), Some("https://op.example")).is_ok());
        for wrong in ["https://evil.example", "https://op.example/", "HTTPS://op.example"] {
            let refused = check_response_issuer(Some(&unpromised), Some(wrong));
            assert!(matches!(refused, Err(SignInFailure::IssuerMismatch)), "{wrong}");
        }
        assert!(matches!(check_response_issuer(Some(&promised), None), Err(SignInFailure::MissingIssuer)));
        assert!(check_response_issuer(Some(&unpromised), None).is_ok());
        assert!(check_response_issuer(None, Some("https://anyone.example")).is_ok());
    }
}
