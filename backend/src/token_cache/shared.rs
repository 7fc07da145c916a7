//! [`SharedSource`]: the two-legged token shared by every replica through Redis.
//!
//! Each replica's [`super::TokenCache`] still answers from its own memory; it
//! comes here only when it needs a new token. Here the replica takes the token
//! another replica already stored, or takes the cluster-wide lock and asks the
//! upstream itself, so a cold burst spread over all replicas, and each refresh,
//! costs one upstream call for the whole cluster. If Redis fails, the replica
//! asks the upstream directly (its local single-flight still holds).

use std::sync::Arc;
use std::time::Duration;

use fred::prelude::{Expiration, KeysInterface};
use futures_util::future::BoxFuture;
use sha2::Digest;

use super::{CachePolicy, StoredToken, TokenSource, now_ms};
use crate::cluster::{Cluster, ClusterError, poll_interval};
use crate::exchange::{ExchangeError, IssuedToken};

/// A token source that shares tokens and single-flight across replicas.
#[derive(Debug)]
pub struct SharedSource {
    upstream: Arc<dyn TokenSource>,
    cluster: Cluster,
    policy: CachePolicy,
    /// Identifies the client and token endpoint; with the scopes it names the token.
    identity: String,
    /// How long a lock is held at most: longer than one upstream request can take.
    lock_ttl: Duration,
}

enum Outcome {
    Token(IssuedToken),
    Failed(ExchangeError),
}

impl SharedSource {
    pub fn new(
        upstream: Arc<dyn TokenSource>,
        cluster: Cluster,
        policy: CachePolicy,
        identity: String,
        upstream_timeout: Duration,
    ) -> Self {
        Self { upstream, cluster, policy, identity, lock_ttl: upstream_timeout + Duration::from_secs(5) }
    }

    /// Scopes are sorted so `a b` and `b a` name the same token.
    fn token_id(&self, scopes: &[String]) -> String {
        let mut sorted: Vec<&str> = scopes.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        let digest = sha2::Sha256::digest(format!("{}\n{}", self.identity, sorted.join(" ")));
        digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }

    async fn fetch_shared(&self, scopes: &[String]) -> Result<Outcome, ClusterError> {
        let id = self.token_id(scopes);
        let key = self.cluster.key("token", &id);
        let deadline = tokio::time::Instant::now() + self.lock_ttl + Duration::from_secs(1);
        loop {
            if let Some(token) = self.read_fresh(&key).await? {
                return Ok(Outcome::Token(token));
            }
            if let Some(lock) = self.cluster.try_lock(&format!("token:{id}"), self.lock_ttl).await? {
                // Someone may have stored a token between our read and our lock.
                let outcome = match self.read_fresh(&key).await {
                    Ok(Some(token)) => Ok(Outcome::Token(token)),
                    Ok(None) => self.fetch_upstream_and_store(&key, scopes).await,
                    Err(e) => Err(e),
                };
                // An unreleased lock expires by itself; nothing to do on failure.
                let _ = lock.release().await;
                return outcome;
            }
            if tokio::time::Instant::now() >= deadline {
                // The holder is stuck or died without its lock expiring yet.
                tracing::warn!("timed out waiting for another replica's token request; asking the upstream directly");
                return Ok(match self.upstream.fetch(scopes).await {
                    Ok(token) => Outcome::Token(token),
                    Err(e) => Outcome::Failed(e),
                });
            }
            tokio::time::sleep(poll_interval()).await;
        }
    }

    async fn fetch_upstream_and_store(&self, key: &str, scopes: &[String]) -> Result<Outcome, ClusterError> {
        let issued_at_ms = now_ms();
        let token = match self.upstream.fetch(scopes).await {
            Ok(token) => token,
            Err(e) => return Ok(Outcome::Failed(e)),
        };
        let stored = StoredToken::issued(token.access_token.clone(), issued_at_ms, token.expires_in);
        let write = self.write(key, &stored, token.expires_in).await;
        if let Err(e) = &write {
            // The token is good; the other replicas will fetch their own.
            tracing::warn!(error = %e, "could not share the new token through Redis");
        }
        Ok(Outcome::Token(token))
    }

    /// The stored token if it is outside its refresh window: a token inside it
    /// is exactly what the caller is trying to replace.
    async fn read_fresh(&self, key: &str) -> Result<Option<IssuedToken>, ClusterError> {
        let raw: Option<String> = self.cluster.pool_ref().get(key).await?;
        let Some(stored) = raw.and_then(|r| serde_json::from_str::<StoredToken>(&r).ok()) else { return Ok(None) };
        let now = now_ms();
        if !stored.is_fresh(&self.policy, now) {
            return Ok(None);
        }
        Ok(Some(IssuedToken {
            expires_in: stored.remaining(now),
            access_token: stored.access_token,
            refresh_token: None,
            id_token: None,
        }))
    }

    async fn write(&self, key: &str, stored: &StoredToken, ttl: Duration) -> Result<(), ClusterError> {
        let value = serde_json::to_string(stored).map_err(|e| ClusterError::Encode(Arc::new(e)))?;
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        let _: Option<String> =
            self.cluster.pool_ref().set(key, value, Some(Expiration::PX(ttl_ms)), None, false).await?;
        Ok(())
    }
}

impl TokenSource for SharedSource {
    fn fetch<'a>(&'a self, scopes: &'a [String]) -> BoxFuture<'a, Result<IssuedToken, ExchangeError>> {
        Box::pin(async move {
            let shared = self.fetch_shared(scopes).await;
            self.cluster.note(&shared);
            match shared {
                Ok(Outcome::Token(token)) => Ok(token),
                Ok(Outcome::Failed(e)) => Err(e),
                Err(_) => self.upstream.fetch(scopes).await,
            }
        })
    }
}
