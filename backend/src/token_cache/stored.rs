//! [`StoredToken`]: an access token with absolute times (milliseconds since
//! the epoch), as kept where the process's monotonic clock means nothing: a
//! user's session, or Redis for every replica.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oauth2::AccessToken;
use serde::{Deserialize, Serialize};

use super::CachePolicy;

/// An access token with its lifetime, in wall-clock time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredToken {
    pub access_token: AccessToken,
    pub issued_at_ms: i64,
    pub expires_at_ms: i64,
}

impl StoredToken {
    /// A token issued at `issued_at_ms` that lives `expires_in`.
    pub fn issued(access_token: AccessToken, issued_at_ms: i64, expires_in: Duration) -> Self {
        let expires_in_ms = i64::try_from(expires_in.as_millis()).unwrap_or(i64::MAX);
        Self { access_token, issued_at_ms, expires_at_ms: issued_at_ms.saturating_add(expires_in_ms) }
    }

    /// The whole lifetime the upstream gave it.
    pub fn lifetime(&self) -> Duration {
        millis(self.expires_at_ms - self.issued_at_ms)
    }

    /// What is left of it at `now_ms`; zero once expired.
    pub fn remaining(&self, now_ms: i64) -> Duration {
        millis(self.expires_at_ms - now_ms)
    }

    /// Outside its refresh window at `now_ms`: served without refreshing.
    pub fn is_fresh(&self, policy: &CachePolicy, now_ms: i64) -> bool {
        policy.is_fresh(self.lifetime(), self.remaining(now_ms))
    }

    /// At least `min_ttl` left at `now_ms`: may still be served if a refresh fails.
    pub fn is_usable(&self, policy: &CachePolicy, now_ms: i64) -> bool {
        policy.is_usable(self.remaining(now_ms))
    }
}

/// Milliseconds since the Unix epoch, by the wall clock.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A span of milliseconds as a duration; a negative span is zero.
fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}
