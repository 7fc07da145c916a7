//! Publish-subscribe through the shared Redis: a message for every replica.
//! Redis pub/sub delivers at most once and keeps nothing for a subscriber that
//! is away, so a [`Subscription`] reports each reconnection: its owner must
//! assume it missed messages and look again at whatever they were about.

use fred::clients::SubscriberClient;
use fred::prelude::{ClientLike, EventInterface, PubsubInterface};
use fred::types::Message;
use fred::types::config::Server;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;

use super::{Cluster, ClusterError, builder};

/// What a subscription receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// A message published on the channel.
    Message(String),
    /// The connection to Redis was (re)established: anything published while it
    /// was down is lost.
    Reconnected,
}

/// A subscription to one channel, on a connection of its own (a subscribed
/// connection can run no other command); it resubscribes after every
/// reconnection, and closes its connection when dropped.
pub struct Subscription {
    client: SubscriberClient,
    channel: String,
    messages: Receiver<Message>,
    /// fred reports the first connection here too; only later ones are reconnections.
    reconnects: Receiver<Server>,
    has_connected: bool,
    is_subscribed: bool,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").field("channel", &self.channel).finish_non_exhaustive()
    }
}

impl Cluster {
    /// Sends `message` to the replicas subscribed to `channel` now (none while
    /// Redis is down: then the error says so, and the outage is noted).
    pub async fn publish(&self, channel: &str, message: String) -> Result<(), ClusterError> {
        let result = self.inner.pool.next().publish::<i64, _, _>(channel, message).await;
        let result = result.map(drop).map_err(ClusterError::from);
        self.note(&result);
        result
    }

    /// Subscribes to `channel` on a new connection, which connects (and
    /// reconnects) in the background like the pool's.
    pub fn subscribe(&self, channel: &str) -> Result<Subscription, ClusterError> {
        let client = builder(self.inner.config.clone()).build_subscriber_client()?;
        let (messages, reconnects) = (client.message_rx(), client.reconnect_rx());
        drop(client.connect());
        Ok(Subscription {
            client,
            channel: channel.to_owned(),
            messages,
            reconnects,
            has_connected: false,
            is_subscribed: false,
        })
    }
}

impl Subscription {
    /// Subscribes now, waiting for the first connection (bounded by the command
    /// timeout; if Redis is down, the next reconnection subscribes). True once
    /// subscribed: from then on no message is missed until a `Reconnected`.
    pub async fn start(&mut self) -> bool {
        match self.client.subscribe(self.channel.as_str()).await {
            Ok(()) => self.is_subscribed = true,
            Err(e) => {
                tracing::warn!(error = %e, "could not subscribe to a Redis channel yet; retrying at the next reconnection");
            }
        }
        self.is_subscribed
    }

    /// The next delivery; `None` once the client is gone for good. On each
    /// (re)connection the channel is subscribed again before `Reconnected` is
    /// returned, so what the owner looks up afterwards is covered.
    pub async fn next(&mut self) -> Option<Delivery> {
        loop {
            tokio::select! {
                message = self.messages.recv() => match message {
                    Ok(message) => {
                        let Some(text) = message.value.as_string() else { continue };
                        return Some(Delivery::Message(text));
                    }
                    // Messages were dropped for a slow reader: as good as a gap.
                    Err(RecvError::Lagged(_)) => return Some(Delivery::Reconnected),
                    Err(RecvError::Closed) => return None,
                },
                reconnected = self.reconnects.recv() => match reconnected {
                    Ok(_) | Err(RecvError::Lagged(_)) => {
                        // The first connection's notice, after `start` already subscribed, is no gap.
                        let is_first = !std::mem::replace(&mut self.has_connected, true);
                        let was_subscribed = self.is_subscribed;
                        if self.start().await && !(is_first && was_subscribed) {
                            return Some(Delivery::Reconnected);
                        }
                    }
                    Err(RecvError::Closed) => return None,
                },
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let client = self.client.clone();
            runtime.spawn(async move { client.quit().await });
        }
    }
}
