//! Per-profile token cache: the reason this project exists.
//!
//! - Reads are lock-free ([`arc_swap::ArcSwapOption`]): a request with a valid token in the
//!   cache never waits on anything.
//! - Single-flight: however many requests find the cache cold or expired, one
//!   upstream request is made and all of them get its outcome
//!   ([`crate::single_flight`]; the fetch itself is in `refresh`).
//! - Refresh-ahead: a token that has been served is renewed in the background
//!   when its refresh window opens (or by the first request inside it), with
//!   jittered retries while the current token is still good; requests keep
//!   getting the current token meanwhile.
//! - Backoff: after a failed upstream request the upstream is left alone for a
//!   window, and requests in it fail at once ([`backoff`]).
//! - No request ever receives a token with less than `min_ttl` left.
//!
//! Expiry uses [`tokio::time::Instant`], so tests drive it with paused time.

mod backoff;
mod policy;
mod refresh;
mod shared;
mod source;
mod stored;

pub use backoff::{Backoff, BackoffPolicy};
pub use policy::CachePolicy;
pub use shared::SharedSource;
pub use source::{JwtBearerSource, TokenSource};
pub use stored::{StoredToken, now_ms};

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use oauth2::AccessToken;
use tokio::time::Instant;

use crate::exchange::{ExchangeError, IssuedToken};
use crate::single_flight::TaskStopped;
use crate::telemetry::ProfileMetrics;

/// The name of the profile served at `/api/token`.
pub const DEFAULT_PROFILE: &str = "default";

/// Why a cache could not serve a token.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CacheError {
    /// The upstream request failed; the cache has logged it once for all waiters.
    #[error(transparent)]
    Upstream(#[from] ExchangeError),
    /// The request's task ended without an answer.
    #[error(transparent)]
    Stopped(#[from] TaskStopped),
}

/// A token in the cache, with the instants that govern it.
#[derive(Debug)]
pub struct CachedToken {
    access_token: AccessToken,
    expires_at: Instant,
    /// From here on, the first request starts a background refresh.
    refresh_at: Instant,
    /// After this the token has less than `min_ttl` left and is not served.
    usable_until: Instant,
    /// Set by the request that starts this token's refresh, so only one does.
    is_refresh_started: AtomicBool,
    /// Set once the token has been handed to a request: only a token someone
    /// uses is renewed without a request asking (see `refresh::schedule_refresh`).
    is_served: AtomicBool,
}

impl CachedToken {
    /// `issued_at` is when the request was sent: the token cannot be older, so
    /// the computed expiry never overestimates its life.
    fn new(issued: IssuedToken, issued_at: Instant, policy: &CachePolicy) -> Result<Self, ExchangeError> {
        if issued.expires_in <= policy.min_ttl {
            return Err(ExchangeError::InvalidResponse(format!(
                "token lifetime of {}s is not longer than TOKEN_MIN_TTL_SECS ({}s)",
                issued.expires_in.as_secs(),
                policy.min_ttl.as_secs()
            )));
        }
        let expires_at = issued_at + issued.expires_in;
        Ok(Self {
            access_token: issued.access_token,
            expires_at,
            refresh_at: expires_at - policy.refresh_window(issued.expires_in),
            usable_until: expires_at - policy.min_ttl,
            is_refresh_started: AtomicBool::new(false),
            is_served: AtomicBool::new(false),
        })
    }

    /// The token itself.
    ///
    /// # Security Warning
    /// Only the token route's response body may contain this value.
    pub fn secret(&self) -> &str {
        self.access_token.secret()
    }

    /// Whole seconds left, computed now: never the upstream's original `expires_in`.
    pub fn expires_in(&self, now: Instant) -> u64 {
        self.expires_at.saturating_duration_since(now).as_secs()
    }

    fn is_usable(&self, now: Instant) -> bool {
        now < self.usable_until
    }

    /// Records that a request got this token; a load first, so the hot path
    /// writes the shared cache line once per token, not once per request.
    fn mark_served(&self) {
        if !self.is_served.load(Ordering::Relaxed) {
            self.is_served.store(true, Ordering::Relaxed);
        }
    }
}

/// Cheap-to-clone handle to one profile's cache.
#[derive(Debug, Clone)]
pub struct TokenCache {
    inner: Arc<refresh::Inner>,
}

impl TokenCache {
    pub fn new(
        scopes: Vec<String>,
        source: Arc<dyn TokenSource>,
        policy: CachePolicy,
        metrics: ProfileMetrics,
    ) -> Self {
        Self { inner: Arc::new(refresh::Inner::new(scopes, source, policy, metrics)) }
    }

    /// A token with at least `min_ttl` left: from the cache when there is one,
    /// otherwise from the single upstream request in flight.
    pub async fn token(&self) -> Result<Arc<CachedToken>, CacheError> {
        let now = Instant::now();
        if let Some(token) = self.inner.current.load_full().filter(|t| t.is_usable(now)) {
            if now >= token.refresh_at && !token.is_refresh_started.swap(true, Ordering::AcqRel) {
                refresh::Inner::start_refresh(&self.inner);
            }
            token.mark_served();
            self.inner.metrics.cache_hits.inc();
            return Ok(token);
        }
        self.inner.metrics.cache_misses.inc();
        let token = refresh::Inner::wait_for_token(&self.inner, None).await?;
        token.mark_served();
        Ok(token)
    }

    /// A token other than `rejected`, which an API refused (revoked, or expired
    /// early): fetched at once, by one upstream request however many callers
    /// report the same token at the same time. A caller whose token was already
    /// replaced gets the replacement without a new request.
    pub async fn renew(&self, rejected: &str) -> Result<Arc<CachedToken>, CacheError> {
        let token = refresh::Inner::wait_for_token(&self.inner, Some(rejected)).await?;
        token.mark_served();
        Ok(token)
    }
}

/// All profiles' caches, by profile name. Built once at start-up.
#[derive(Debug, Clone, Default)]
pub struct TokenCaches(Arc<BTreeMap<String, TokenCache>>);

impl TokenCaches {
    pub fn new(caches: BTreeMap<String, TokenCache>) -> Self {
        Self(Arc::new(caches))
    }

    pub fn get(&self, profile: &str) -> Option<&TokenCache> {
        self.0.get(profile)
    }
}

#[cfg(test)]
mod tests;
