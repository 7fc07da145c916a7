//! Several replicas behaving as one broker, through one Redis (or Valkey).
//!
//! Redis holds the current two-legged token of each profile, a lock per token so
//! that one replica refreshes it for the whole cluster, a lock per session for
//! refresh-token rotation, and the sessions themselves. A replica keeps serving
//! two-legged tokens from its own memory when Redis is down ([`Cluster::note`]
//! tracks outages), and goes back to shared mode when it returns.

mod lock;
mod pubsub;

pub use lock::ClusterLock;
pub use pubsub::{Delivery, Subscription};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fred::prelude::{ClientLike, Config as RedisConfig, Options, Pool, ReconnectPolicy};
use prometheus_client::metrics::counter::Counter;

use crate::telemetry::Metrics;

/// Any Redis command that takes longer than this fails, so a hung Redis costs a
/// request at most this much before the replica falls back.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(1500);
/// The `/readyz` Redis check gives up after this.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(2);
const POOL_SIZE: usize = 4;

/// Why Redis could not be used (unreachable, timed out, refused the command).
/// Cloneable so one failure can be shared with every waiter.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClusterError {
    #[error("redis: {0}")]
    Redis(#[source] Arc<fred::error::Error>),
    /// `REDIS_URL` does not parse; the URL itself is not repeated (it may hold a password).
    #[error("redis: REDIS_URL is not a valid Redis URL")]
    InvalidUrl,
    /// A shared token does not encode.
    #[error("redis: cannot encode the shared token: {0}")]
    Encode(#[source] Arc<serde_json::Error>),
}

impl From<fred::error::Error> for ClusterError {
    fn from(e: fred::error::Error) -> Self {
        Self::Redis(Arc::new(e))
    }
}

/// Where the replicas meet.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// May hold a password, hence secret.
    pub url: secrecy::SecretString,
    /// Prefix of every key the broker writes.
    pub key_prefix: String,
}

/// Handle to the shared Redis; cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    /// Kept to open the separate connection a subscription needs.
    config: RedisConfig,
    prefix: String,
    /// True between the first failed command of an outage and the next success,
    /// so an outage is logged once, not once per request.
    is_down: AtomicBool,
    outages: Counter,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("prefix", &self.inner.prefix).finish_non_exhaustive()
    }
}

impl Cluster {
    /// Starts connecting in the background and returns at once: a replica starts
    /// (in local mode) even while Redis is down, and reconnects by itself.
    pub fn connect(settings: &RedisSettings, metrics: &Metrics) -> Result<Self, ClusterError> {
        use secrecy::ExposeSecret;
        let mut config = RedisConfig::from_url(settings.url.expose_secret()).map_err(|_| ClusterError::InvalidUrl)?;
        config.fail_fast = false;
        let pool = builder(config.clone()).build_pool(POOL_SIZE)?;
        // The handle drives the connections until the pool is dropped.
        drop(pool.connect());
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                config,
                prefix: settings.key_prefix.clone(),
                is_down: AtomicBool::new(false),
                outages: metrics.redis_outages(),
            }),
        })
    }

    /// The connection pool, for the session store.
    pub fn pool(&self) -> Pool {
        self.inner.pool.clone()
    }

    /// A namespaced key, so the broker can share a Redis database.
    pub fn key(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.inner.prefix)
    }

    /// Records the outcome of a Redis call: logs the start and the end of an
    /// outage once each, and counts outages.
    pub fn note<T>(&self, result: &Result<T, ClusterError>) {
        match result {
            Ok(_) => {
                if self.inner.is_down.swap(false, Ordering::AcqRel) {
                    tracing::info!("Redis is reachable again; back to shared mode");
                }
            }
            Err(e) => {
                if !self.inner.is_down.swap(true, Ordering::AcqRel) {
                    self.inner.outages.inc();
                    tracing::warn!(error = %e, "Redis is unavailable; serving two-legged tokens from local memory");
                }
            }
        }
    }

    /// Whether Redis answers now (for `/readyz`). Bounded by [`PROBE_TIMEOUT`], not
    /// [`COMMAND_TIMEOUT`]: while Redis is down a command waits for the reconnection
    /// until its timeout, and a probe held that long fails the orchestrator's
    /// readiness check (1 s by default in Kubernetes), taking every replica out
    /// of service exactly when they are meant to keep serving from memory.
    pub async fn is_reachable(&self) -> bool {
        let options = Options { timeout: Some(PROBE_TIMEOUT), ..Options::default() };
        let result = self.inner.pool.with_options(&options).ping::<String>(None).await.map_err(ClusterError::from);
        self.note(&result);
        result.is_ok()
    }

    /// Tries once to take the named lock for `ttl`.
    pub async fn try_lock(&self, name: &str, ttl: Duration) -> Result<Option<ClusterLock>, ClusterError> {
        ClusterLock::try_acquire(self.inner.pool.clone(), self.key("lock", name), ttl).await
    }

    /// Takes the named lock, waiting up to `wait` for its holder; `None` if it
    /// stayed taken (the holder is slow or died; its TTL frees it eventually).
    pub async fn lock(&self, name: &str, ttl: Duration, wait: Duration) -> Result<Option<ClusterLock>, ClusterError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(lock) = self.try_lock(name, ttl).await? {
                return Ok(Some(lock));
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(poll_interval()).await;
        }
    }

    /// Marks `kind:id` for `ttl` unless it already is: true for the first caller
    /// in the whole cluster, false for every later one until it expires.
    pub async fn claim_once(&self, kind: &str, id: &str, ttl: Duration) -> Result<bool, ClusterError> {
        use fred::prelude::{Expiration, KeysInterface, SetOptions};
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        let key = self.key(kind, id);
        let reply: Result<Option<String>, ClusterError> = self
            .inner
            .pool
            .set(key.as_str(), "1", Some(Expiration::PX(ttl_ms)), Some(SetOptions::NX), false)
            .await
            .map_err(ClusterError::from);
        self.note(&reply);
        Ok(reply?.is_some())
    }

    pub(crate) fn pool_ref(&self) -> &Pool {
        &self.inner.pool
    }
}

/// The connection settings every client of the cluster shares: bounded
/// connects and commands, and reconnection with backoff up to 2 s.
fn builder(config: RedisConfig) -> fred::types::Builder {
    let mut builder = fred::types::Builder::from_config(config);
    builder
        .with_connection_config(|c| {
            c.connection_timeout = CONNECTION_TIMEOUT;
            c.internal_command_timeout = CONNECTION_TIMEOUT;
            c.max_command_attempts = 1;
        })
        .with_performance_config(|p| p.default_command_timeout = COMMAND_TIMEOUT)
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 2000, 2));
    builder
}

/// 25–50 ms: short next to an upstream round trip, jittered so waiters spread out.
pub(crate) fn poll_interval() -> Duration {
    Duration::from_millis(25 + rand::random::<u64>() % 25)
}
