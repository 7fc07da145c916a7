//! The states of sign-ins that reached their callback, remembered until they
//! would have expired anyway, so a captured login-state cookie and code cannot
//! complete a sign-in a second time (RFC 9700 §4.7: a state is single-use).
//!
//! The browser's cookie loses the state at the callback, but an attacker who
//! copied the cookie before still holds it. Claims live in memory and, with
//! several replicas, in Redis (`SET NX`), so a replay is refused on any replica.
//! Only a hash of the state is kept.
//!
//! The same single-use record serves the `jti` of back-channel logout tokens
//! (under its own Redis key kind), so a replayed logout token is refused too.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use sha2::Digest;

use crate::cluster::{Cluster, ClusterError};

/// Expired claims are swept once the map has grown by this many since the last sweep.
const SWEEP_EVERY: usize = 1024;

/// Used states (or logout token ids), local and (with Redis) shared.
pub(super) struct UsedStates {
    /// The Redis key kind: `used_state`, `used_logout_jti`.
    kind: &'static str,
    /// The hash of each used state and when it may be forgotten (Unix ms).
    /// A std `Mutex`: never held across an `.await`.
    local: Mutex<Local>,
}

#[derive(Default)]
struct Local {
    until_ms: HashMap<[u8; 32], i64>,
    sweep_at_len: usize,
}

impl UsedStates {
    /// Claims kept under the Redis key kind `kind`.
    pub(super) fn new(kind: &'static str) -> Self {
        Self { kind, local: Mutex::default() }
    }

    /// Marks `state` used until `expires_at_ms`; false if it already was, here
    /// or (with `cluster`) on any replica.
    pub(super) async fn claim(
        &self,
        cluster: Option<&Cluster>,
        state: &str,
        expires_at_ms: i64,
        now_ms: i64,
    ) -> Result<bool, ClusterError> {
        let hash: [u8; 32] = sha2::Sha256::digest(state.as_bytes()).into();
        if !self.claim_locally(hash, expires_at_ms, now_ms) {
            return Ok(false);
        }
        let Some(cluster) = cluster else { return Ok(true) };
        let ttl = Duration::from_millis(u64::try_from(expires_at_ms - now_ms).unwrap_or(0).max(1));
        cluster.claim_once(self.kind, &hex(&hash), ttl).await
    }

    fn claim_locally(&self, hash: [u8; 32], expires_at_ms: i64, now_ms: i64) -> bool {
        let mut local = self.local.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if local.until_ms.len() >= local.sweep_at_len {
            local.until_ms.retain(|_, until| *until > now_ms);
            local.sweep_at_len = local.until_ms.len() + SWEEP_EVERY;
        }
        match local.until_ms.get(&hash) {
            Some(until) if *until > now_ms => false,
            _ => {
                local.until_ms.insert(hash, expires_at_ms);
                true
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.local.lock().unwrap_or_else(std::sync::PoisonError::into_inner).until_ms.len()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state is claimed once until it expires; others are independent.
    #[tokio::test]
    async fn a_state_is_claimed_once_until_it_expires() {
        let used = UsedStates::new("used_state");
        assert!(used.claim(None, "a", 100, 0).await.expect("local"));
        assert!(!used.claim(None, "a", 100, 50).await.expect("local"), "replay");
        assert!(used.claim(None, "b", 100, 50).await.expect("local"));
        assert!(used.claim(None, "a", 300, 100).await.expect("local"), "after expiry");
    }

    /// Expired claims are swept, so memory follows the sign-ins of the last ten minutes.
    #[tokio::test]
    async fn expired_claims_are_swept() {
        let used = UsedStates::new("used_state");
        for i in 0..SWEEP_EVERY * 3 {
            let now = i64::try_from(i).expect("small");
            assert!(used.claim(None, &i.to_string(), now + 10, now).await.expect("local"));
        }
        assert!(used.len() <= SWEEP_EVERY + 10, "{} claims kept", used.len());
    }
}
