//! [`SharedSource`]: the two-legged token shared by every replica through Redis.
//!
//! Each replica's [`super::TokenCache`] still answers from its own memory; it
//! comes here only when it needs a new token. Here the replica takes the token
//! another replica already stored, or takes the cluster-wide lock and asks the
//! upstream itself, so a cold burst spread over all replicas, and each refresh,
//! costs one upstream call for the whole cluster. A failed upstream call opens a
//! backoff window in Redis too, so no replica asks again before it closes. If
//! Redis fails, the replica asks the upstream directly (its local single-flight
//! and backoff still hold).

use std::sync::Arc;
use std::time::Duration;

use fred::prelude::{Expiration, KeysInterface};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::{CachePolicy, StoredToken, TokenSource, now_ms};
use crate::cluster::{Cluster, ClusterError, poll_interval};
use crate::exchange::{ExchangeError, IssuedToken, MAX_LIFETIME};

/// How far ahead of this replica's clock another replica's may run.
const CLOCK_SKEW_MS: i64 = 60_000;

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

/// The cluster's backoff window, written under the token lock by the replica
/// whose upstream call failed.
#[derive(Debug, Default, Serialize, Deserialize)]
struct StoredBackoff {
    /// Consecutive failures, so the window keeps growing across replicas.
    failures: u32,
    until_ms: i64,
}

impl StoredBackoff {
    fn remaining(&self, now_ms: i64) -> Option<Duration> {
        (now_ms < self.until_ms).then(|| Duration::from_millis(u64::try_from(self.until_ms - now_ms).unwrap_or(0)))
    }
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
        let backoff_key = self.cluster.key("backoff", &id);
        let deadline = tokio::time::Instant::now() + self.lock_ttl + Duration::from_secs(1);
        loop {
            if let Some(token) = self.read_fresh(&key).await? {
                return Ok(Outcome::Token(token));
            }
            if let Some(retry_after) = self.read_backoff(&backoff_key).await?.remaining(now_ms()) {
                return Ok(Outcome::Failed(ExchangeError::BackingOff { retry_after }));
            }
            if let Some(lock) = self.cluster.try_lock(&format!("token:{id}"), self.lock_ttl).await? {
                // Someone may have stored a token between our read and our lock.
                let outcome = match self.read_fresh(&key).await {
                    Ok(Some(token)) => Ok(Outcome::Token(token)),
                    Ok(None) => self.fetch_upstream_and_store(&key, &backoff_key, scopes).await,
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

    /// Called holding the token lock, so the window is written before any other
    /// replica can take the lock and ask the upstream.
    async fn fetch_upstream_and_store(
        &self,
        key: &str,
        backoff_key: &str,
        scopes: &[String],
    ) -> Result<Outcome, ClusterError> {
        let backoff = self.read_backoff(backoff_key).await?;
        if let Some(retry_after) = backoff.remaining(now_ms()) {
            return Ok(Outcome::Failed(ExchangeError::BackingOff { retry_after }));
        }
        let issued_at_ms = now_ms();
        let token = match self.upstream.fetch(scopes).await {
            Ok(token) => token,
            Err(e) => {
                self.open_backoff(backoff_key, backoff.failures, &e).await;
                return Ok(Outcome::Failed(e));
            }
        };
        if backoff.failures > 0 {
            let deleted: Result<i64, _> = self.cluster.pool_ref().del(backoff_key).await;
            if let Err(e) = deleted {
                tracing::debug!(error = %e, "could not clear the shared backoff window; it expires by itself");
            }
        }
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
        let lifetime = stored.lifetime();
        // Checked like a token from the upstream: Redis is shared, and a corrupt
        // or tampered value must not be served for a year.
        if lifetime <= self.policy.min_ttl || lifetime > MAX_LIFETIME || stored.issued_at_ms > now + CLOCK_SKEW_MS {
            tracing::warn!(
                lifetime_secs = lifetime.as_secs(),
                "ignoring the shared token in Redis: its lifetime is not one the broker accepts"
            );
            return Ok(None);
        }
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

    /// The cluster's window; an unreadable value counts as no window.
    async fn read_backoff(&self, key: &str) -> Result<StoredBackoff, ClusterError> {
        let raw: Option<String> = self.cluster.pool_ref().get(key).await?;
        Ok(raw.and_then(|r| serde_json::from_str(&r).ok()).unwrap_or_default())
    }

    /// Shares the window after a failed upstream call. The key outlives the window
    /// by the longest backoff, so the next failure still counts as consecutive.
    async fn open_backoff(&self, key: &str, failures: u32, error: &ExchangeError) {
        let failures = failures.saturating_add(1);
        let window = self.policy.backoff.window(error, failures);
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        let stored = StoredBackoff { failures, until_ms: now_ms().saturating_add(window_ms) };
        let ttl = window + self.policy.backoff.max + Duration::from_secs(1);
        if let Err(e) = self.write(key, &stored, ttl).await {
            tracing::warn!(error = %e, "could not share the backoff window through Redis");
        }
    }

    async fn write<T: Serialize>(&self, key: &str, stored: &T, ttl: Duration) -> Result<(), ClusterError> {
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
