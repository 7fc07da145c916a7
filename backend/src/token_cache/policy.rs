//! [`CachePolicy`]: when a token is refreshed and how long it must still live
//! when served. The one place that freshness arithmetic is written, for the
//! two-legged cache and for user tokens alike.

use std::time::Duration;

use super::BackoffPolicy;

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
    pub(super) fn retry_delay(&self, attempt: u32) -> Duration {
        let exp = self.retry_base.saturating_mul(2u32.saturating_pow(attempt)).min(self.retry_max);
        exp.mul_f64(0.5 + rand::random::<f64>() * 0.5)
    }

    /// Outside its refresh window: a token with `remaining` of its `lifetime`
    /// left is served without refreshing.
    pub fn is_fresh(&self, lifetime: Duration, remaining: Duration) -> bool {
        remaining > self.refresh_window(lifetime)
    }

    /// At least `min_ttl` left: the token may still be served (while a refresh
    /// is tried, or after one failed).
    pub fn is_usable(&self, remaining: Duration) -> bool {
        remaining > self.min_ttl
    }
}
