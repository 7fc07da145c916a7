//! "This session ended", told to whoever follows that session on any replica
//! (the browser's event stream, `GET /api/user/session/events`).
//!
//! Every ending passes through [`SessionBackend`](super::SessionBackend)'s
//! delete (sign-out, a refresh token the provider rejected, back-channel
//! logout), which calls [`SessionEvents::ended`]: the event reaches this
//! replica's followers through a `tokio` broadcast channel and, with Redis, the
//! other replicas through pub/sub. Published messages name a session by its
//! [`SessionTag`], never by its id: the id is the bearer credential the cookie
//! carries, and anyone allowed to `SUBSCRIBE` could read the channel.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tower_sessions::session::Id;

use crate::cluster::{Cluster, ClusterError, Delivery};

/// Events buffered per follower; one that falls further behind rechecks its
/// session instead (see [`SessionEvent::Recheck`]).
const CAPACITY: usize = 256;

/// A session named without its id: SHA-256 of the id, which cannot be turned
/// back into the (128-bit random) id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTag([u8; 32]);

impl SessionTag {
    pub fn of(id: &Id) -> Self {
        Self(Sha256::digest(id.to_string().as_bytes()).into())
    }

    fn to_hex(self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn from_hex(text: &str) -> Option<Self> {
        let mut tag = [0u8; 32];
        if text.len() != 64 || !text.is_ascii() {
            return None;
        }
        for (i, byte) in tag.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Self(tag))
    }
}

/// What followers of sessions are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEvent {
    /// The session with this tag ended.
    Ended(SessionTag),
    /// Endings may have been missed (Redis was unreachable): every follower
    /// looks at its session again.
    Recheck,
}

/// The notifier: cheap to clone; with Redis, a relay task forwards the other
/// replicas' events until the last clone is dropped.
#[derive(Debug, Clone)]
pub struct SessionEvents(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    local: broadcast::Sender<SessionEvent>,
    shared: Option<Shared>,
    relay: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    cluster: Cluster,
    channel: String,
    /// Marks this replica's own messages, which it has delivered locally already.
    origin: String,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(relay) = &self.relay {
            relay.abort();
        }
    }
}

impl Default for SessionEvents {
    fn default() -> Self {
        Self::local()
    }
}

impl SessionEvents {
    /// Events for this process alone (no Redis: one replica).
    pub fn local() -> Self {
        let (local, _) = broadcast::channel(CAPACITY);
        Self(Arc::new(Inner { local, shared: None, relay: None }))
    }

    /// Events shared by every replica through `cluster`'s pub/sub channel
    /// `{REDIS_KEY_PREFIX}events:session-ended`.
    pub fn shared(cluster: &Cluster) -> Result<Self, ClusterError> {
        let (local, _) = broadcast::channel(CAPACITY);
        let channel = cluster.key("events", "session-ended");
        let origin = format!("{:016x}", rand::random::<u64>());
        let subscription = cluster.subscribe(&channel)?;
        let relay = tokio::spawn(relay(subscription, local.clone(), origin.clone()));
        let shared = Shared { cluster: cluster.clone(), channel, origin };
        Ok(Self(Arc::new(Inner { local, shared: Some(shared), relay: Some(relay) })))
    }

    /// Tells every follower of `id`, here and on the other replicas, that it
    /// ended. Never fails: a follower on a replica that Redis could not reach
    /// learns it when Redis is back ([`SessionEvent::Recheck`]).
    pub async fn ended(&self, id: &Id) {
        let tag = SessionTag::of(id);
        // No receiver is not an error: nobody follows a session right now.
        let _ = self.0.local.send(SessionEvent::Ended(tag));
        if let Some(shared) = &self.0.shared {
            let message = format!("{} {}", shared.origin, tag.to_hex());
            if let Err(e) = shared.cluster.publish(&shared.channel, message).await {
                tracing::warn!(error = %e, "could not tell the other replicas that a session ended");
            }
        }
    }

    /// A receiver of every event from now on.
    pub fn follow(&self) -> broadcast::Receiver<SessionEvent> {
        self.0.local.subscribe()
    }
}

/// Forwards the other replicas' endings to this one's followers, and a
/// [`SessionEvent::Recheck`] after each reconnection to Redis.
async fn relay(mut subscription: crate::cluster::Subscription, local: broadcast::Sender<SessionEvent>, origin: String) {
    // Streams opened before the subscription was in place look again.
    if subscription.start().await {
        let _ = local.send(SessionEvent::Recheck);
    }
    while let Some(delivery) = subscription.next().await {
        let event = match delivery {
            Delivery::Reconnected => SessionEvent::Recheck,
            Delivery::Message(text) => match text.split_once(' ') {
                Some((from, _)) if from == origin => continue,
                Some((_, tag)) => match SessionTag::from_hex(tag) {
                    Some(tag) => SessionEvent::Ended(tag),
                    None => continue,
                },
                None => continue,
            },
        };
        let _ = local.send(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tag is the same for the same id on every replica, differs between
    /// ids, survives the wire, and does not contain the id.
    #[test]
    fn tags_name_sessions_without_their_ids() {
        let (a, b) = (Id::default(), Id::default());
        assert_eq!(SessionTag::of(&a), SessionTag::of(&a));
        assert_ne!(SessionTag::of(&a), SessionTag::of(&b));
        let hex = SessionTag::of(&a).to_hex();
        assert_eq!(SessionTag::from_hex(&hex), Some(SessionTag::of(&a)));
        assert!(!hex.contains(&a.to_string()));
        assert_eq!(SessionTag::from_hex("zz"), None);
        assert_eq!(SessionTag::from_hex(&"é".repeat(32)), None);
    }

    /// A local ending reaches every follower.
    #[tokio::test]
    async fn endings_reach_local_followers() {
        let events = SessionEvents::local();
        let (mut one, mut two) = (events.follow(), events.follow());
        let id = Id::default();
        events.ended(&id).await;
        assert_eq!(one.recv().await.ok(), Some(SessionEvent::Ended(SessionTag::of(&id))));
        assert_eq!(two.recv().await.ok(), Some(SessionEvent::Ended(SessionTag::of(&id))));
    }
}
