//! Following one browser's session for its event stream: whether it is signed
//! in now, then the moment that stops being true, whether the session is
//! deleted on any replica or its lifetime (`SESSION_MAX_LIFETIME_SECS`) runs out.
//!
//! Following only reads: it never saves the session, so an open stream does
//! not keep a session alive (sessions have a fixed end, no idle extension).

use std::time::Duration;

use futures_util::stream::{self, BoxStream, StreamExt};
use time::OffsetDateTime;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::Instant;
use tower_sessions::session::Id;

use super::{SessionBackend, SessionError, SessionEvent, SessionTag};

impl SessionBackend {
    /// The states a browser's stream reports: `true` if `id` names a signed-in
    /// session now, then `false` once when it ends; just `false` without one.
    /// The lookup happens after subscribing, so an ending in between is not missed.
    pub async fn follow(&self, id: Option<Id>) -> Result<BoxStream<'static, bool>, SessionError> {
        let events = self.events.follow();
        let (id, ends_at) = match id {
            Some(id) => match self.ends_at(&id).await? {
                Some(ends_at) => (id, ends_at),
                None => return Ok(stream::iter([false]).boxed()),
            },
            None => return Ok(stream::iter([false]).boxed()),
        };
        let watcher = Watcher { backend: self.clone(), id, tag: SessionTag::of(&id), events, ends_at };
        let end = stream::once(watcher.until_ended()).filter_map(|ended| async move { ended.then_some(false) });
        Ok(stream::iter([true]).chain(end).boxed())
    }

    /// When the signed-in session `id` reaches its lifetime; `None` if there is none.
    async fn ends_at(&self, id: &Id) -> Result<Option<Instant>, SessionError> {
        let Some((record, _)) = self.load_grant(id).await? else { return Ok(None) };
        let left = Duration::try_from(record.expiry_date - OffsetDateTime::now_utc()).unwrap_or(Duration::ZERO);
        Ok(Some(Instant::now() + left))
    }
}

/// One signed-in session being followed.
struct Watcher {
    backend: SessionBackend,
    id: Id,
    tag: SessionTag,
    events: broadcast::Receiver<SessionEvent>,
    ends_at: Instant,
}

impl Watcher {
    /// True once the session has ended; false if the events stopped (the
    /// notifier is gone, which happens only when the process stops).
    async fn until_ended(mut self) -> bool {
        let lifetime = tokio::time::sleep_until(self.ends_at);
        tokio::pin!(lifetime);
        loop {
            tokio::select! {
                () = &mut lifetime => return true,
                event = self.events.recv() => match event {
                    Ok(SessionEvent::Ended(tag)) if tag == self.tag => return true,
                    Ok(SessionEvent::Ended(_)) => {}
                    Ok(SessionEvent::Recheck) | Err(RecvError::Lagged(_)) => match self.backend.ends_at(&self.id).await {
                        Ok(None) => return true,
                        Ok(Some(_)) => {}
                        // Unknown for now; the next recheck (Redis back) looks again.
                        Err(e) => tracing::debug!(error = %e, "could not recheck a followed session"),
                    },
                    Err(RecvError::Closed) => return false,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use tower_sessions::session::Record;
    use tower_sessions::session_store::SessionStore;

    use super::*;
    use crate::session::{MemoryStore, SessionEvents, USER_KEY};

    async fn signed_in(backend: &SessionBackend, lifetime: time::Duration) -> Id {
        let grant = serde_json::json!({
            "refresh_token": "rt", "browser": null, "signed_in_at_ms": 0,
            "wide": {"access_token": "at", "issued_at_ms": 0, "expires_at_ms": 1},
        });
        let mut record = Record {
            id: Id::default(),
            data: HashMap::from([(USER_KEY.to_owned(), grant)]),
            expiry_date: OffsetDateTime::now_utc() + lifetime,
        };
        backend.create(&mut record).await.expect("create");
        record.id
    }

    fn backend() -> SessionBackend {
        SessionBackend::new(MemoryStore::default(), SessionEvents::local())
    }

    /// No session, or an unknown one: `false` at once, and the stream ends.
    #[tokio::test]
    async fn no_session_is_reported_at_once() {
        let backend = backend();
        for id in [None, Some(Id::default())] {
            let states: Vec<bool> = backend.follow(id).await.expect("follow").collect().await;
            assert_eq!(states, [false]);
        }
    }

    /// A deleted session is reported as ended; another session's ending is not.
    #[tokio::test]
    async fn deletion_ends_the_stream() {
        let backend = backend();
        let (mine, other) =
            (signed_in(&backend, time::Duration::hours(1)).await, signed_in(&backend, time::Duration::hours(1)).await);
        let mut stream = backend.follow(Some(mine)).await.expect("follow");
        assert_eq!(stream.next().await, Some(true));
        backend.delete(&other).await.expect("delete other");
        backend.delete(&mine).await.expect("delete mine");
        assert_eq!(stream.next().await, Some(false));
        assert_eq!(stream.next().await, None);
    }

    /// A session that reaches its lifetime is reported as ended, with nothing deleted.
    #[tokio::test(start_paused = true)]
    async fn lifetime_ends_the_stream() {
        let backend = backend();
        let id = signed_in(&backend, time::Duration::hours(2)).await;
        let mut stream = backend.follow(Some(id)).await.expect("follow");
        assert_eq!(stream.next().await, Some(true));
        let before = Instant::now();
        assert_eq!(stream.next().await, Some(false));
        assert!(before.elapsed() >= Duration::from_secs(2 * 3600 - 5), "{:?}", before.elapsed());
    }
}
