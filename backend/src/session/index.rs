//! Sessions by the provider's session id (`sid`) and by user (`sub`), so a
//! back-channel logout finds the sessions it ends with one lookup, not a scan.
//!
//! Standalone, the index is a map in memory; with several replicas it lives in
//! Redis, one sorted set per `sid` and per `sub` whose members are session ids
//! scored by when each session expires. Entries past their session's expiry are
//! pruned at each write and ignored at each read, and the set itself expires with
//! its last session, so the index never outlives the sessions it names. Keys
//! hold a SHA-256 of the value, never the value.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use sha2::Digest;
use tower_sessions::session::Id;

use crate::cluster::{Cluster, ClusterError};

/// Expired entries are swept once the map has grown by this many since the last sweep.
const SWEEP_EVERY: usize = 1024;

/// Adds `ARGV[2]` (a session id) scored `ARGV[1]` (its expiry, Unix ms), drops
/// entries expired at `ARGV[3]` (now), and lets the set expire with its
/// longest-lived session. One script, so the three steps are atomic.
const ADD: &str = "redis.call('zadd', KEYS[1], ARGV[1], ARGV[2]) \
    redis.call('zremrangebyscore', KEYS[1], '-inf', ARGV[3]) \
    local last = redis.call('zrange', KEYS[1], -1, -1, 'withscores') \
    if last[2] then redis.call('pexpireat', KEYS[1], last[2]) end \
    return 1";

/// The session ids of `KEYS[1]` whose sessions expire after `ARGV[1]` (now).
const SESSIONS: &str = "return redis.call('zrangebyscore', KEYS[1], '(' .. ARGV[1], '+inf')";

/// Removes the session ids `ARGV` from `KEYS[1]`.
const FORGET: &str = "return redis.call('zrem', KEYS[1], unpack(ARGV))";

/// What a back-channel logout names: one provider session, or one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// The `sid` claim: the provider's session, shared by the ID token and the logout token.
    Sid(String),
    /// The `sub` claim: every session of this user.
    Sub(String),
}

impl Subject {
    /// The index key: kind and SHA-256 (hex) of the value.
    fn key(&self) -> (&'static str, String) {
        let (kind, value) = match self {
            Self::Sid(sid) => ("session_sid", sid),
            Self::Sub(sub) => ("session_sub", sub),
        };
        let hash = sha2::Sha256::digest(value.as_bytes());
        (kind, hash.iter().map(|b| format!("{b:02x}")).collect())
    }
}

/// The index; in Redis when `cluster` is set (shared by the replicas), else in memory.
#[derive(Default)]
pub struct SessionIndex {
    cluster: Option<Cluster>,
    /// A std `Mutex`: never held across an `.await`.
    local: Mutex<Local>,
}

#[derive(Default)]
struct Local {
    /// Per subject key, each session and when it expires (Unix ms).
    sessions: HashMap<(&'static str, String), HashMap<Id, i64>>,
    sweep_at_len: usize,
}

impl std::fmt::Debug for SessionIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionIndex").field("is_shared", &self.cluster.is_some()).finish_non_exhaustive()
    }
}

impl SessionIndex {
    pub fn new(cluster: Option<Cluster>) -> Self {
        Self { cluster, local: Mutex::default() }
    }

    /// Records that session `id`, which expires at `expires_at_ms`, belongs to each of `subjects`.
    pub async fn add(&self, subjects: &[Subject], id: Id, expires_at_ms: i64, now_ms: i64) -> Result<(), ClusterError> {
        let Some(cluster) = &self.cluster else {
            let mut local = self.local();
            local.sweep(now_ms);
            for subject in subjects {
                local.sessions.entry(subject.key()).or_default().insert(id, expires_at_ms);
            }
            return Ok(());
        };
        use fred::prelude::LuaInterface;
        for subject in subjects {
            let (kind, hash) = subject.key();
            let args = vec![expires_at_ms.to_string(), id.to_string(), now_ms.to_string()];
            let reply: Result<i64, ClusterError> =
                cluster.pool_ref().eval(ADD, vec![cluster.key(kind, &hash)], args).await.map_err(ClusterError::from);
            cluster.note(&reply);
            reply?;
        }
        Ok(())
    }

    /// The live sessions of `subject`.
    pub async fn sessions(&self, subject: &Subject, now_ms: i64) -> Result<Vec<Id>, ClusterError> {
        let Some(cluster) = &self.cluster else {
            let local = self.local();
            let sessions = local.sessions.get(&subject.key()).into_iter().flatten();
            return Ok(sessions.filter(|(_, until)| **until > now_ms).map(|(id, _)| *id).collect());
        };
        use fred::prelude::LuaInterface;
        let (kind, hash) = subject.key();
        let reply: Result<Vec<String>, ClusterError> = cluster
            .pool_ref()
            .eval(SESSIONS, vec![cluster.key(kind, &hash)], vec![now_ms.to_string()])
            .await
            .map_err(ClusterError::from);
        cluster.note(&reply);
        Ok(reply?.iter().filter_map(|id| id.parse().ok()).collect())
    }

    /// Removes `ids` (ended sessions) from `subject`'s entries; a session
    /// signed in meanwhile stays.
    pub async fn forget(&self, subject: &Subject, ids: &[Id]) -> Result<(), ClusterError> {
        if ids.is_empty() {
            return Ok(());
        }
        let Some(cluster) = &self.cluster else {
            let mut local = self.local();
            if let Some(sessions) = local.sessions.get_mut(&subject.key()) {
                sessions.retain(|id, _| !ids.contains(id));
                if sessions.is_empty() {
                    local.sessions.remove(&subject.key());
                }
            }
            return Ok(());
        };
        use fred::prelude::LuaInterface;
        let (kind, hash) = subject.key();
        let args: Vec<String> = ids.iter().map(Id::to_string).collect();
        let reply: Result<i64, ClusterError> =
            cluster.pool_ref().eval(FORGET, vec![cluster.key(kind, &hash)], args).await.map_err(ClusterError::from);
        cluster.note(&reply);
        reply.map(drop)
    }

    fn local(&self) -> std::sync::MutexGuard<'_, Local> {
        self.local.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Local {
    /// Drops expired entries once the map has grown enough since the last sweep.
    fn sweep(&mut self, now_ms: i64) {
        let len: usize = self.sessions.values().map(HashMap::len).sum();
        if len < self.sweep_at_len {
            return;
        }
        for sessions in self.sessions.values_mut() {
            sessions.retain(|_, until| *until > now_ms);
        }
        self.sessions.retain(|_, sessions| !sessions.is_empty());
        self.sweep_at_len = self.sessions.values().map(HashMap::len).sum::<usize>() + SWEEP_EVERY;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One lookup finds every live session of a `sid` or a `sub`; forgotten ones are gone, others untouched.
    #[tokio::test]
    async fn finds_the_sessions_of_a_subject_once() {
        let index = SessionIndex::new(None);
        let (a, b, c) = (Id::default(), Id::default(), Id::default());
        let alice = [Subject::Sid("s1".into()), Subject::Sub("alice".into())];
        index.add(&alice, a, 100, 0).await.expect("local");
        index.add(&[Subject::Sid("s2".into()), Subject::Sub("alice".into())], b, 100, 0).await.expect("local");
        index.add(&[Subject::Sid("s3".into()), Subject::Sub("bob".into())], c, 100, 0).await.expect("local");
        assert_eq!(index.sessions(&Subject::Sid("s1".into()), 10).await.expect("local"), [a]);
        let alice = Subject::Sub("alice".into());
        let mut of_alice = index.sessions(&alice, 10).await.expect("local");
        of_alice.sort_by_key(Id::to_string);
        let mut expected = vec![a, b];
        expected.sort_by_key(Id::to_string);
        assert_eq!(of_alice, expected);
        index.forget(&alice, &of_alice).await.expect("local");
        assert!(index.sessions(&alice, 10).await.expect("local").is_empty(), "forgotten");
        assert_eq!(index.sessions(&Subject::Sid("s3".into()), 10).await.expect("local"), [c], "bob's untouched");
    }

    /// An expired session is not returned, and expired entries are swept.
    #[tokio::test]
    async fn expired_sessions_are_forgotten() {
        let index = SessionIndex::new(None);
        index.add(&[Subject::Sub("u".into())], Id::default(), 100, 0).await.expect("local");
        assert!(index.sessions(&Subject::Sub("u".into()), 100).await.expect("local").is_empty());
        for i in 0..SWEEP_EVERY * 3 {
            let now = i64::try_from(i).expect("small");
            index.add(&[Subject::Sid(i.to_string())], Id::default(), now + 10, now).await.expect("local");
        }
        let len: usize = index.local().sessions.values().map(HashMap::len).sum();
        assert!(len <= SWEEP_EVERY + 10, "{len} entries kept");
    }
}
