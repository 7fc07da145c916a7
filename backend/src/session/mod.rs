//! Server-side sessions for the three-legged flow. The browser holds only a
//! signed, `HttpOnly` cookie naming its session; tokens stay here.
//!
//! Sessions go through `tower-sessions` with a store behind [`SessionBackend`],
//! in memory by default; a shared store (Redis) plugs in behind the same handle.

mod data;
mod memory;

pub use data::{PENDING_TTL_MS, PendingLogin, PendingLogins, StoredToken, UserGrant};
pub use memory::MemoryStore;

use std::fmt;
use std::sync::Arc;

use tower_sessions::cookie::{Key, SameSite};
use tower_sessions::service::SignedCookie;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::config::SignIn;

/// Session keys.
pub const USER_KEY: &str = "user";

/// Why the session store failed; becomes `503 session_store_unavailable`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("session store: {0}")]
pub struct SessionError(String);

impl SessionError {
    pub fn from_message(message: &str) -> Self {
        Self(message.to_owned())
    }
}

impl From<tower_sessions::session::Error> for SessionError {
    fn from(e: tower_sessions::session::Error) -> Self {
        Self(e.to_string())
    }
}

impl From<session_store::Error> for SessionError {
    fn from(e: session_store::Error) -> Self {
        Self(e.to_string())
    }
}

/// The session store, shared by the session layer and the user-token refresh,
/// which reads and writes records directly so a rotated refresh token is never
/// overwritten by a request's stale copy.
#[derive(Clone)]
pub struct SessionBackend(Arc<dyn SessionStore>);

impl fmt::Debug for SessionBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SessionBackend").field(&self.0).finish()
    }
}

impl SessionBackend {
    pub fn new(store: impl SessionStore) -> Self {
        Self(Arc::new(store))
    }

    /// The signed-in user's grant, read from the store (not from a request's copy).
    pub async fn load_grant(&self, id: &Id) -> Result<Option<(Record, UserGrant)>, SessionError> {
        let Some(record) = self.0.load(id).await? else { return Ok(None) };
        let grant = record.data.get(USER_KEY).cloned().map(serde_json::from_value::<UserGrant>);
        match grant {
            Some(Ok(grant)) => Ok(Some((record, grant))),
            Some(Err(e)) => Err(SessionError(format!("unreadable user grant: {e}"))),
            None => Ok(None),
        }
    }

    /// Writes the grant into the record and saves it.
    pub async fn save_grant(&self, mut record: Record, grant: &UserGrant) -> Result<(), SessionError> {
        let value = serde_json::to_value(grant).map_err(|e| SessionError(e.to_string()))?;
        record.data.insert(USER_KEY.to_owned(), value);
        Ok(self.0.save(&record).await?)
    }

    pub async fn delete(&self, id: &Id) -> Result<(), SessionError> {
        Ok(self.0.delete(id).await?)
    }
}

#[async_trait::async_trait]
impl SessionStore for SessionBackend {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.0.create(record).await
    }
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.0.save(record).await
    }
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.0.load(id).await
    }
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.0.delete(id).await
    }
}

/// The cookie name: `__Host-` when Secure, so the cookie is bound to this exact
/// origin and path `/` and can't be set by a sibling subdomain.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-session" } else { "session" }
}

/// The session layer: signed cookie, `HttpOnly`, `SameSite=Lax`, path `/`.
pub fn layer(sign_in: &SignIn, backend: SessionBackend) -> SessionManagerLayer<SessionBackend, SignedCookie> {
    SessionManagerLayer::new(backend)
        .with_name(cookie_name(sign_in.cookie_secure))
        .with_secure(sign_in.cookie_secure)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_path("/")
        .with_expiry(Expiry::OnSessionEnd)
        .with_signed(Key::from(&sign_in.session_key.0))
}
