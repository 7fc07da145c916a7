//! The in-memory session store. Written here rather than taken from
//! `tower-sessions-memory-store` because that one never deletes expired records
//! (a slow leak on a long-running broker), and `moka` is a large dependency for
//! a `HashMap::retain` on a timer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};

/// Sessions in a `HashMap`; the std `Mutex` is never held across an `.await`.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore(Arc<Mutex<HashMap<Id, Record>>>);

impl MemoryStore {
    fn records(&self) -> std::sync::MutexGuard<'_, HashMap<Id, Record>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn len(&self) -> usize {
        self.records().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait::async_trait]
impl SessionStore for MemoryStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let mut records = self.records();
        while records.contains_key(&record.id) {
            record.id = Id::default();
        }
        records.insert(record.id, record.clone());
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.records().insert(record.id, record.clone());
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let now = OffsetDateTime::now_utc();
        Ok(self.records().get(id).filter(|r| r.expiry_date > now).cloned())
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.records().remove(id);
        Ok(())
    }
}

#[async_trait::async_trait]
impl ExpiredDeletion for MemoryStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        let now = OffsetDateTime::now_utc();
        self.records().retain(|_, r| r.expiry_date > now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(offset: time::Duration) -> Record {
        Record { id: Id::default(), data: HashMap::new(), expiry_date: OffsetDateTime::now_utc() + offset }
    }

    /// Expired sessions are invisible at once and deleted by the sweep.
    #[tokio::test]
    async fn expired_sessions_are_cleaned_up() {
        let store = MemoryStore::default();
        let mut live = record(time::Duration::minutes(5));
        let mut dead = record(time::Duration::seconds(-1));
        store.create(&mut live).await.expect("create");
        store.create(&mut dead).await.expect("create");
        assert!(store.load(&dead.id).await.expect("load").is_none());
        assert_eq!(store.len(), 2);
        store.delete_expired().await.expect("sweep");
        assert_eq!(store.len(), 1);
        assert!(store.load(&live.id).await.expect("load").is_some());
    }
}
