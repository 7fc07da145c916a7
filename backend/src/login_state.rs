//! The pending sign-ins of one browser, kept in that browser as a short-lived,
//! encrypted and authenticated cookie instead of a server-side session.
//!
//! Every cookieless `GET /auth/login` used to store a session for 15 minutes
//! (5,000 requests added 7.2 MB), so anonymous traffic could grow server memory
//! or Redis without bound. Now the state, PKCE verifier and nonce travel sealed
//! with AES-256-GCM under a key derived from `SESSION_SECRET`: the browser can
//! neither read the verifier nor forge a state, and the server keeps nothing
//! until sign-in completes. `ring` (already built for rustls) does the AEAD;
//! the `cookie` crate's private jar would pull in a second AES implementation.

use base64::Engine;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sha2::Digest;

use crate::session::{PendingLogins, SessionKey};

/// The cookie's name.
pub const COOKIE_NAME: &str = "login_state";
/// Binds a sealed value to its purpose, so no other sealed value is accepted as one.
const AAD: &[u8] = b"token-broker login state v1";
/// The largest value we set or accept. Browsers keep a cookie's name and value
/// up to 4,096 bytes (RFC 6265 §6.1, Chromium's limit), and `/auth/login` checks
/// every value it sets against this, so a sign-in it starts can always finish
/// (five pending logins with short paths seal to about 1.3 KB).
pub const MAX_COOKIE_CHARS: usize = 4096 - COOKIE_NAME.len() - 1;

/// Seals and opens login-state cookies: seals with the current secret's key,
/// opens with it or, during a rotation, with the previous secret's.
pub struct LoginStateKey {
    current: LessSafeKey,
    previous: Option<LessSafeKey>,
}

impl std::fmt::Debug for LoginStateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginStateKey([redacted])")
    }
}

impl LoginStateKey {
    /// The keys for `SESSION_SECRET` and `SESSION_SECRET_PREVIOUS`.
    pub fn derive(current: &SessionKey, previous: Option<&SessionKey>) -> Self {
        Self { current: aead_key(&current.0), previous: previous.map(|key| aead_key(&key.0)) }
    }

    /// The cookie value: base64url of a random nonce and the sealed JSON.
    pub fn seal(&self, logins: &PendingLogins) -> String {
        let mut sealed = serde_json::to_vec(logins).unwrap_or_default();
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let nonce = Nonce::assume_unique_for_key(nonce_bytes);
        // Sealing fails only for inputs over ~64 GB.
        if self.current.seal_in_place_append_tag(nonce, Aad::from(AAD), &mut sealed).is_err() {
            sealed.clear();
        }
        let mut value = nonce_bytes.to_vec();
        value.extend_from_slice(&sealed);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value)
    }

    /// The logins in a cookie value; `None` for anything not sealed by this key.
    pub fn open(&self, value: &str) -> Option<PendingLogins> {
        if value.len() > MAX_COOKIE_CHARS {
            return None;
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(value).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        std::iter::once(&self.current).chain(&self.previous).find_map(|key| {
            let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
            let mut sealed = sealed.to_vec();
            let plain = key.open_in_place(nonce, Aad::from(AAD), &mut sealed).ok()?;
            serde_json::from_slice(plain).ok()
        })
    }
}

/// The AES-256-GCM key for a session key, domain-separated so the session
/// cookie's signing key is never used for encryption.
fn aead_key(session_key: &[u8]) -> LessSafeKey {
    let mut hasher = sha2::Sha256::new();
    hasher.update(AAD);
    hasher.update(session_key);
    let key = hasher.finalize();
    // AES-256 takes any 32 bytes, so this cannot fail.
    let unbound = UnboundKey::new(&AES_256_GCM, &key).unwrap_or_else(|_| unreachable!("32-byte AES-256 key"));
    LessSafeKey::new(unbound)
}

#[cfg(test)]
mod tests {
    use oauth2::{CsrfToken, PkceCodeVerifier};

    use super::*;
    use crate::session::PendingLogin;

    fn logins() -> PendingLogins {
        let mut logins = PendingLogins::default();
        let login = PendingLogin {
            state: CsrfToken::new("state-1".into()),
            verifier: PkceCodeVerifier::new("v".repeat(43)),
            nonce: None,
            return_to: "/viewer".into(),
            started_at_ms: 1,
        };
        logins.push(login, 1);
        logins
    }

    /// A sealed value opens with its key and hides the verifier.
    #[test]
    fn round_trip_hides_the_verifier() {
        let key = LoginStateKey::derive(&SessionKey::derive("secret"), None);
        let value = key.seal(&logins());
        assert!(!value.contains("vvvv") && !value.contains("state-1"));
        let mut opened = key.open(&value).expect("opens");
        assert!(opened.take("state-1", 2).is_some());
    }

    /// Another key, a flipped bit, garbage or an oversized value open to nothing.
    #[test]
    fn tampered_or_foreign_values_are_refused() {
        let key = LoginStateKey::derive(&SessionKey::derive("secret"), None);
        let value = key.seal(&logins());
        assert!(LoginStateKey::derive(&SessionKey::derive("other"), None).open(&value).is_none());
        let mut bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&value).expect("base64");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(key.open(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)).is_none());
        assert!(key.open("not base64 !").is_none());
        assert!(key.open("").is_none());
        assert!(key.open(&"A".repeat(MAX_COOKIE_CHARS + 1)).is_none());
    }

    /// During a rotation a value sealed with the previous secret still opens;
    /// new values are sealed with the current one, which the old key cannot open.
    #[test]
    fn the_previous_secret_opens_old_values_and_never_seals() {
        let (old, new) = (SessionKey::derive("old secret"), SessionKey::derive("new secret"));
        let before = LoginStateKey::derive(&old, None).seal(&logins());
        let rotating = LoginStateKey::derive(&new, Some(&old));
        let mut opened = rotating.open(&before).expect("a value sealed before the rotation opens");
        assert!(opened.take("state-1", 2).is_some());
        let after = rotating.seal(&logins());
        assert!(LoginStateKey::derive(&old, None).open(&after).is_none(), "sealed with the new secret");
        assert!(LoginStateKey::derive(&new, None).open(&after).is_some());
    }
}
