//! Per-profile token cache: the reason this project exists.
//!
//! - Reads are lock-free ([`ArcSwapOption`]): a request with a valid token in the
//!   cache never waits on anything.
//! - Single-flight: however many requests find the cache cold or expired, one
//!   upstream request is made and all of them get its outcome ([`flight`]).
//! - Refresh-ahead: the first request that sees the token inside its refresh
//!   window starts one background refresh, which retries with jittered backoff
//!   while the current token is still good; requests keep getting the current token.
//! - Backoff: after a failed upstream request the upstream is left alone for a
//!   window, and requests in it fail at once ([`backoff`]).
//! - No request ever receives a token with less than `min_ttl` left.
//!
//! Expiry uses [`tokio::time::Instant`], so tests drive it with paused time.

mod backoff;
mod flight;
mod shared;
mod source;

pub use backoff::BackoffPolicy;
pub use shared::SharedSource;
pub use source::TokenSource;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use oauth2::AccessToken;
use tokio::time::Instant;

use crate::exchange::{ExchangeError, IssuedToken};
use crate::telemetry::ProfileMetrics;

/// When tokens are refreshed and how long they must still live when served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachePolicy {
    /// A token with less life left than this is never served.
    pub min_ttl: Duration,
    /// Lifetime assumed when the upstream omits `expires_in`.
    pub default_ttl: Duration,
    /// Refresh starts in the last this-many percent of a token's lifetime ...
    pub refresh_window_percent: u32,
    /// ... but no later than this long before expiry (capped at half the lifetime).
    pub refresh_window_min: Duration,
    /// First delay between failed background refreshes; doubles up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// How long the upstream is left alone after a failed token request.
    pub backoff: BackoffPolicy,
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self {
            min_ttl: Duration::from_secs(30),
            default_ttl: Duration::from_secs(3600),
            refresh_window_percent: 20,
            refresh_window_min: Duration::from_secs(60),
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(30),
            backoff: BackoffPolicy::default(),
        }
    }
}

impl CachePolicy {
    /// How long before expiry a token of this lifetime is refreshed: the last 20%
    /// (configurable), at least 60 s, never more than half the lifetime, and always
    /// strictly before the token stops being served (`min_ttl` before expiry).
    ///
    /// That last rule is a lead over the servable life (`lifetime - min_ttl`) of
    /// half the refresh percentage. Clamping the window to `min_ttl` alone made
    /// `refresh_at == usable_until` whenever half the lifetime was at most
    /// `min_ttl` (a 60 s token with the defaults): no background refresh ever ran
    /// and every request at expiry waited on the upstream. The lead leaves the
    /// usual lifetimes (those with a window well over `min_ttl`) unchanged.
    pub fn refresh_window(&self, lifetime: Duration) -> Duration {
        let percent = f64::from(self.refresh_window_percent) / 100.0;
        let share = lifetime.mul_f64(percent);
        let servable = lifetime.saturating_sub(self.min_ttl);
        let lead = servable.mul_f64(percent / 2.0);
        share.max(self.refresh_window_min).min(lifetime / 2).max(self.min_ttl + lead).min(lifetime)
    }

    /// Delay before background refresh attempt `attempt` (0-based): exponential,
    /// capped, with jitter so replicas that failed together do not retry together.
    fn retry_delay(&self, attempt: u32) -> Duration {
        let exp = self.retry_base.saturating_mul(2u32.saturating_pow(attempt)).min(self.retry_max);
        exp.mul_f64(0.5 + rand::random::<f64>() * 0.5)
    }
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
}

/// Cheap-to-clone handle to one profile's cache.
#[derive(Debug, Clone)]
pub struct TokenCache {
    inner: Arc<flight::Inner>,
}

impl TokenCache {
    pub fn new(
        scopes: Vec<String>,
        source: Arc<dyn TokenSource>,
        policy: CachePolicy,
        metrics: ProfileMetrics,
    ) -> Self {
        Self { inner: Arc::new(flight::Inner::new(scopes, source, policy, metrics)) }
    }

    /// A token with at least `min_ttl` left: from the cache when there is one,
    /// otherwise from the single upstream request in flight.
    pub async fn token(&self) -> Result<Arc<CachedToken>, ExchangeError> {
        let now = Instant::now();
        if let Some(token) = self.inner.current.load_full().filter(|t| t.is_usable(now)) {
            if now >= token.refresh_at && !token.is_refresh_started.swap(true, Ordering::AcqRel) {
                flight::Inner::start_refresh(&self.inner);
            }
            self.inner.metrics.cache_hits.inc();
            return Ok(token);
        }
        self.inner.metrics.cache_misses.inc();
        flight::Inner::wait_for_token(&self.inner).await
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
