//! What a session holds. Secret fields use `oauth2`'s types, whose `Debug`
//! prints `[redacted]`; times are Unix milliseconds so they survive restarts and
//! mean the same on every replica.

use oauth2::{CsrfToken, PkceCodeVerifier, RefreshToken};
use serde::{Deserialize, Serialize};

use crate::constant_time;
use crate::exchange::IdToken;
use crate::token_cache::StoredToken;

/// At most this many sign-ins may be in progress per session (one per tab).
const MAX_PENDING: usize = 5;
/// A sign-in not completed within this is forgotten.
pub const PENDING_TTL_MS: i64 = 10 * 60 * 1000;

/// A sign-in started by `/auth/login`, awaiting its callback.
#[derive(Debug, Serialize, Deserialize)]
pub struct PendingLogin {
    pub state: CsrfToken,
    pub verifier: PkceCodeVerifier,
    pub nonce: Option<CsrfToken>,
    pub return_to: String,
    pub started_at_ms: i64,
}

/// The sign-ins in progress in one session.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PendingLogins(Vec<PendingLogin>);

impl PendingLogins {
    /// Adds a sign-in, dropping expired ones and the oldest beyond the limit.
    pub fn push(&mut self, login: PendingLogin, now_ms: i64) {
        self.0.retain(|p| now_ms - p.started_at_ms < PENDING_TTL_MS);
        self.0.push(login);
        let excess = self.0.len().saturating_sub(MAX_PENDING);
        self.0.drain(..excess);
    }

    /// Removes and returns the sign-in with this `state`, if it is still fresh.
    /// Removal makes a replayed callback fail.
    pub fn take(&mut self, state: &str, now_ms: i64) -> Option<PendingLogin> {
        let index = self.0.iter().position(|p| constant_time::eq(p.state.secret(), state))?;
        let login = self.0.remove(index);
        (now_ms - login.started_at_ms < PENDING_TTL_MS).then_some(login)
    }

    /// Forgets the oldest sign-in, to make room in the cookie; false if at most
    /// one is left (the newest is never evicted).
    pub fn evict_oldest(&mut self) -> bool {
        let has_older = self.0.len() > 1;
        if has_older {
            self.0.remove(0);
        }
        has_older
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The signed-in user's grant. The refresh token never leaves the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserGrant {
    pub refresh_token: Option<RefreshToken>,
    /// The token for the full sign-in scope; used by the backend (userinfo).
    pub wide: StoredToken,
    /// The narrower token handed to the browser, when a browser scope is set.
    pub browser: Option<StoredToken>,
    pub signed_in_at_ms: i64,
    /// The user claims of the ID token checked at sign-in (no protocol claims,
    /// never the raw JWT), so `/api/user/me` can answer when userinfo refuses an
    /// API-scoped token or is absent. `None` for plain OAuth sign-ins and for
    /// sessions stored before this field existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_claims: Option<serde_json::Map<String, serde_json::Value>>,
    /// The raw ID token of the sign-in, kept only to send as `id_token_hint` to
    /// the provider's end-session endpoint at sign-out; its `Debug` is redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<IdToken>,
    /// The ID token's `sid` (the provider's session, OpenID Connect Back-Channel
    /// Logout 1.0 §2.1), under which the session is indexed so a logout token
    /// naming it ends this session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(state: &str, at: i64) -> PendingLogin {
        PendingLogin {
            state: CsrfToken::new(state.into()),
            verifier: PkceCodeVerifier::new("v".repeat(43)),
            nonce: None,
            return_to: "/".into(),
            started_at_ms: at,
        }
    }

    /// A state is accepted once, only while fresh, and unknown states are refused.
    #[test]
    fn pending_logins_are_single_use_and_expire() {
        let mut pending = PendingLogins::default();
        pending.push(login("a", 0), 0);
        pending.push(login("b", 0), 0);
        assert!(pending.take("a", 1000).is_some());
        assert!(pending.take("a", 1000).is_none(), "replay");
        assert!(pending.take("zzz", 1000).is_none());
        assert!(pending.take("b", PENDING_TTL_MS + 1).is_none(), "expired");
    }

    /// Only the newest few sign-ins are kept.
    #[test]
    fn pending_logins_are_bounded() {
        let mut pending = PendingLogins::default();
        for i in 0..10 {
            pending.push(login(&i.to_string(), 0), 0);
        }
        assert!(pending.take("0", 0).is_none());
        assert!(pending.take("9", 0).is_some());
    }

    /// Eviction drops the oldest first and never the last one.
    #[test]
    fn eviction_keeps_the_newest() {
        let mut pending = PendingLogins::default();
        pending.push(login("a", 0), 0);
        pending.push(login("b", 0), 0);
        assert!(pending.evict_oldest());
        assert!(!pending.evict_oldest(), "the newest stays");
        assert!(pending.take("a", 0).is_none());
        assert!(pending.take("b", 0).is_some());
    }

    /// A grant stored before `id_claims` existed still loads.
    #[test]
    fn grant_without_claims_loads() {
        let stored = serde_json::json!({
            "refresh_token": "rt", "browser": null, "signed_in_at_ms": 5,
            "wide": {"access_token": "at", "issued_at_ms": 0, "expires_at_ms": 1},
        });
        let grant: UserGrant = serde_json::from_value(stored).expect("old grant");
        assert!(grant.id_claims.is_none());
        assert!(!serde_json::to_string(&grant).expect("json").contains("id_claims"));
    }

    /// `Debug` never shows tokens or verifiers.
    #[test]
    fn debug_is_redacted() {
        let grant = UserGrant {
            refresh_token: Some(RefreshToken::new("rt-secret".into())),
            wide: StoredToken {
                access_token: oauth2::AccessToken::new("at-secret".into()),
                issued_at_ms: 0,
                expires_at_ms: 1,
            },
            browser: None,
            signed_in_at_ms: 0,
            id_claims: None,
            id_token: Some(serde_json::from_str("\"it-secret\"").expect("id token")),
            sid: None,
        };
        let printed = format!("{grant:?} {:?}", login("st-secret", 0));
        assert!(!printed.contains("secret"), "{printed}");
    }
}
