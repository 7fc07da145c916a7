//! The cool-down on token renewals an API's `401` causes. Without it, anyone
//! who can reach a path that always answers `401` makes the broker call the
//! token endpoint (or, for a user's API, spend a refresh grant and rotate the
//! user's refresh token) once per request, defeating the upstream backoff.
//!
//! Per API and per token holder (a profile, or one user's session): after a
//! renewal, a `401` for the token it brought waits out the cool-down. A `401`
//! for the token that renewal replaced joins it instead, since the token
//! cache's and the session refresh's single flights hand those the new token
//! without another call. State is per process, so `N` replicas make at most
//! `N` renewals per cool-down.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Beyond this many holders, those whose cool-down is over are forgotten.
const PRUNE_ABOVE: usize = 1024;

/// The last renewal of one holder: when, and which token (hashed) it replaced.
#[derive(Debug, Clone, Copy)]
struct LastRenewal {
    at: Instant,
    replaced: u64,
}

/// The renewals of one API. Holders and tokens are kept as hashes only, so
/// neither a session id nor a token sits here or shows in a `Debug` print.
#[derive(Debug)]
pub struct Renewals {
    cooldown: Duration,
    hasher: RandomState,
    /// A std `Mutex`: held for a map lookup, never across an `.await`.
    last: Mutex<HashMap<u64, LastRenewal>>,
}

impl Renewals {
    pub fn new(cooldown: Duration) -> Self {
        Self { cooldown, hasher: RandomState::new(), last: Mutex::default() }
    }

    /// Whether the API's refusal of `rejected`, the token of `holder`, may
    /// renew it now; if so, the renewal is recorded.
    pub fn may_renew(&self, holder: &str, rejected: &str) -> bool {
        let holder = self.hasher.hash_one(holder);
        let rejected = self.hasher.hash_one(rejected);
        let now = Instant::now();
        // A poisoned lock only means another request panicked mid-lookup; the map is still whole.
        let mut last = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match last.get(&holder) {
            Some(previous) if previous.replaced == rejected => return true,
            Some(previous) if now.duration_since(previous.at) < self.cooldown => return false,
            _ => {}
        }
        if last.len() >= PRUNE_ABOVE {
            last.retain(|_, previous| now.duration_since(previous.at) < self.cooldown);
        }
        last.insert(holder, LastRenewal { at: now, replaced: rejected });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One renewal per holder per cool-down; the replaced token joins it;
    /// other holders are independent; after the cool-down, one more.
    #[tokio::test(start_paused = true)]
    async fn one_renewal_per_cooldown() {
        let renewals = Renewals::new(Duration::from_secs(30));
        assert!(renewals.may_renew("profile:default", "t0"));
        assert!(renewals.may_renew("profile:default", "t0"), "the replaced token joins the renewal");
        for _ in 0..15 {
            assert!(!renewals.may_renew("profile:default", "t1"), "the new token waits out the cool-down");
        }
        assert!(renewals.may_renew("session:alice", "u0"), "another holder is independent");
        tokio::time::advance(Duration::from_secs(29)).await;
        assert!(!renewals.may_renew("profile:default", "t1"));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(renewals.may_renew("profile:default", "t1"));
        assert!(!renewals.may_renew("profile:default", "t2"));
    }

    /// A zero cool-down leaves only the once-per-request rule.
    #[tokio::test(start_paused = true)]
    async fn zero_cooldown_always_renews() {
        let renewals = Renewals::new(Duration::ZERO);
        assert!(renewals.may_renew("h", "t0"));
        assert!(renewals.may_renew("h", "t1"));
    }

    /// Holders whose cool-down is over are forgotten once the map is large.
    #[tokio::test(start_paused = true)]
    async fn old_holders_are_pruned() {
        let renewals = Renewals::new(Duration::from_secs(1));
        for i in 0..PRUNE_ABOVE {
            assert!(renewals.may_renew(&format!("session:{i}"), "t"));
        }
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(renewals.may_renew("session:new", "t"));
        assert_eq!(renewals.last.lock().expect("lock").len(), 1);
    }

    /// Nothing a holder or token is made of shows in `Debug`.
    #[test]
    fn debug_shows_no_secrets() {
        let renewals = Renewals::new(Duration::from_secs(30));
        renewals.may_renew("session:SECRET-ID", "SECRET-TOKEN");
        let debug = format!("{renewals:?}");
        assert!(!debug.contains("SECRET"), "{debug}");
    }
}
