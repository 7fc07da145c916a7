//! A Redis lock: `SET key value NX PX ttl` with a unique value, released only
//! by its owner. The TTL frees it if the owner dies.
//!
//! Written here because the lock is three Redis commands and the crates that
//! offer one bring a second Redis client or the multi-node Redlock algorithm,
//! which a single Redis does not need.

use std::time::Duration;

use fred::prelude::{Expiration, KeysInterface, LuaInterface, Pool, SetOptions};

use super::ClusterError;

/// Deletes the key only if it still holds our value: never someone else's lock
/// taken after ours expired.
const RELEASE: &str =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/// A held lock. Release it with [`ClusterLock::release`]; if dropped, it expires
/// after its TTL.
#[derive(Debug)]
pub struct ClusterLock {
    pool: Pool,
    key: String,
    value: String,
}

impl ClusterLock {
    pub(super) async fn try_acquire(pool: Pool, key: String, ttl: Duration) -> Result<Option<Self>, ClusterError> {
        let value = format!("{:032x}", rand::random::<u128>());
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        let reply: Option<String> =
            pool.set(key.as_str(), value.as_str(), Some(Expiration::PX(ttl_ms)), Some(SetOptions::NX), false).await?;
        Ok(reply.map(|_| Self { pool, key, value }))
    }

    pub async fn release(self) -> Result<(), ClusterError> {
        let _: i64 = self.pool.eval(RELEASE, vec![self.key.clone()], vec![self.value.clone()]).await?;
        Ok(())
    }
}
