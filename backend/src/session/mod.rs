//! Server-side sessions for the three-legged flow. The browser holds only a
//! signed, `HttpOnly` cookie naming its session; tokens stay here.
//!
//! Sessions go through `tower-sessions` with a store behind [`SessionBackend`],
//! in memory by default; a shared store (Redis) plugs in behind the same handle.
//! Every ending of a session passes through that handle's delete, which tells
//! the session's followers (`events`, `follow`).

mod data;
mod events;
mod follow;
mod index;
mod memory;
mod rekey;

pub use data::{PENDING_TTL_MS, PendingLogin, PendingLogins, UserGrant};
pub use events::{SessionEvent, SessionEvents, SessionTag};
pub use index::{SessionIndex, Subject};
pub use memory::MemoryStore;
pub use rekey::{Rekey, rekey};

use std::fmt;
use std::sync::Arc;

use tower_sessions::cookie::{Key, SameSite};
use tower_sessions::service::SignedCookie;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{Expiry, SessionManagerLayer};

/// Session keys.
pub const USER_KEY: &str = "user";

/// Why the session store failed; becomes `503 session_store_unavailable`.
/// Cloneable so one refresh failure can be shared by every request waiting on
/// it, hence the `Arc`s around sources that are not.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SessionError {
    /// The store could not load, save or delete a record.
    #[error("session store: {0}")]
    Store(#[source] Arc<session_store::Error>),
    /// The request's session could not be read or written through the store.
    #[error("session store: {0}")]
    Session(#[source] Arc<tower_sessions::session::Error>),
    /// A stored grant does not decode, or a grant does not encode.
    #[error("session store: unreadable user grant: {0}")]
    Grant(#[source] Arc<serde_json::Error>),
}

impl From<tower_sessions::session::Error> for SessionError {
    fn from(e: tower_sessions::session::Error) -> Self {
        Self::Session(Arc::new(e))
    }
}

impl From<session_store::Error> for SessionError {
    fn from(e: session_store::Error) -> Self {
        Self::Store(Arc::new(e))
    }
}

/// The session store, shared by the session layer and the user-token refresh,
/// which reads and writes records directly so a rotated refresh token is never
/// overwritten by a request's stale copy. Deleting through it (either `delete`)
/// tells the session's followers, on every replica, that it ended.
#[derive(Clone)]
pub struct SessionBackend {
    store: Arc<dyn SessionStore>,
    events: SessionEvents,
}

impl fmt::Debug for SessionBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SessionBackend").field(&self.store).finish()
    }
}

impl SessionBackend {
    /// `store`, whose deletions are announced through `events`.
    pub fn new(store: impl SessionStore, events: SessionEvents) -> Self {
        Self { store: Arc::new(store), events }
    }

    /// Where endings are announced.
    pub fn events(&self) -> &SessionEvents {
        &self.events
    }

    /// The signed-in user's grant, read from the store (not from a request's copy).
    pub async fn load_grant(&self, id: &Id) -> Result<Option<(Record, UserGrant)>, SessionError> {
        let Some(record) = self.store.load(id).await? else { return Ok(None) };
        let grant = record.data.get(USER_KEY).cloned().map(serde_json::from_value::<UserGrant>);
        match grant {
            Some(Ok(grant)) => Ok(Some((record, grant))),
            Some(Err(e)) => Err(SessionError::Grant(Arc::new(e))),
            None => Ok(None),
        }
    }

    /// Writes the grant into the record and saves it.
    pub async fn save_grant(&self, mut record: Record, grant: &UserGrant) -> Result<(), SessionError> {
        let value = serde_json::to_value(grant).map_err(|e| SessionError::Grant(Arc::new(e)))?;
        record.data.insert(USER_KEY.to_owned(), value);
        Ok(self.store.save(&record).await?)
    }

    /// Ends the session: deletes it and tells its followers.
    pub async fn delete(&self, id: &Id) -> Result<(), SessionError> {
        Ok(SessionStore::delete(self, id).await?)
    }
}

#[async_trait::async_trait]
impl SessionStore for SessionBackend {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.store.create(record).await
    }
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.store.save(record).await
    }
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.store.load(id).await
    }
    /// Where sign-out (the session layer's `flush`) and every other ending pass.
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.store.delete(id).await?;
        self.events.ended(id).await;
        Ok(())
    }
}

/// The cookie name: `__Host-` when Secure, so the cookie is bound to this exact
/// origin and path `/` and can't be set by a sibling subdomain.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-session" } else { "session" }
}

/// 64 bytes derived from `SESSION_SECRET`; never printed.
#[derive(Clone)]
pub struct SessionKey(pub(crate) [u8; 64]);

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey([redacted])")
    }
}

impl SessionKey {
    /// The key for `SESSION_SECRET`.
    pub fn derive(secret: &str) -> Self {
        use sha2::Digest;
        Self(sha2::Sha512::digest(secret.as_bytes()).into())
    }

    /// A throw-away key, for `--dev` without `SESSION_SECRET`.
    pub fn random() -> Self {
        let mut key = [0u8; 64];
        key.iter_mut().for_each(|b| *b = rand::random());
        Self(key)
    }
}

/// The session layer: signed cookie, `HttpOnly`, `SameSite=Lax`, path `/`.
pub fn layer(
    key: &SessionKey,
    cookie_secure: bool,
    backend: SessionBackend,
) -> SessionManagerLayer<SessionBackend, SignedCookie> {
    SessionManagerLayer::new(backend)
        .with_name(cookie_name(cookie_secure))
        .with_secure(cookie_secure)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_path("/")
        .with_expiry(Expiry::OnSessionEnd)
        .with_signed(Key::from(&key.0))
}
