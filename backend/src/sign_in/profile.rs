//! The signed-in user's profile: the ID token's user claims kept at sign-in,
//! with the provider's userinfo claims merged over them (OpenID Connect Core §5.3.2).

use tower_sessions::Session;

use super::id_token::IdClaims;
use super::user_token::Audience;
use super::{SignInService, UserTokenError, UserTokenFailure};
use crate::exchange::ExchangeError;
use crate::session::{USER_KEY, UserGrant};

impl SignInService {
    /// The user's profile: the ID token's user claims kept at sign-in, with the
    /// provider's userinfo claims merged over them when userinfo answers for the
    /// same `sub`. Signed-out callers learn that first (401), whether or not
    /// there is a profile to give (404).
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
        let userinfo = &self.0.userinfo;
        if !userinfo.is_configured() {
            return id_claims.map(serde_json::Value::Object).ok_or(UserTokenFailure::NoUserinfo.into());
        }
        let fetched = userinfo.fetch(&token.access_token).await;
        let Some(claims) = id_claims else {
            return match fetched {
                Err(ExchangeError::Rejected { status: 401, .. }) => Err(UserTokenFailure::LoginRequired.into()),
                // Refused for scope (403 insufficient_scope, …): no profile for this
                // sign-in, which is not the upstream failing (never a 502).
                Err(ExchangeError::Rejected { status, .. }) => {
                    tracing::info!(status, "userinfo refused the user's token and there is no ID token");
                    Err(UserTokenFailure::NoUserinfo.into())
                }
                other => Ok(other?),
            };
        };
        Ok(merge(claims, fetched))
    }
}

/// The ID token's user claims with userinfo's merged over them, when userinfo
/// answered for the same `sub` (OpenID Connect Core §5.3.2); otherwise the ID
/// token's claims alone, whatever userinfo said.
fn merge(mut claims: IdClaims, fetched: Result<serde_json::Value, ExchangeError>) -> serde_json::Value {
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
        let same = merge(id.clone(), Ok(json!({"sub": "u1", "name": "Ada", "email": "a@x"})));
        assert_eq!(same, json!({"sub": "u1", "iss": "https://op", "name": "Ada", "email": "a@x"}));
        let other = merge(id.clone(), Ok(json!({"sub": "u2", "name": "Eve"})));
        assert_eq!(other, json!({"sub": "u1", "iss": "https://op", "name": "old"}));
        let no_sub = merge(id.clone(), Ok(json!({"name": "Eve"})));
        assert_eq!(no_sub["name"], "old");
        for status in [401, 403] {
            let refused = ExchangeError::Rejected { status, error: "insufficient_scope".into(), description: None };
            assert_eq!(merge(id.clone(), Err(refused))["sub"], "u1");
        }
        let down = ExchangeError::Unavailable { status: 503, retry_after: None };
        assert_eq!(merge(id, Err(down))["name"], "old");
    }
}
