//! The jwt-bearer grant's signing key (`OAUTH_ASSERTION_KEY_FILE`), read again
//! when its file changes, like the client's own credential file.

use std::sync::Arc;

use arc_swap::ArcSwap;

use super::{SigningKey, WatchedFile};

/// The key as it is now. `Debug` shows the file and `kid`, never the key.
#[derive(Debug)]
pub struct AssertionKey {
    file: WatchedFile,
    current: ArcSwap<SigningKey>,
}

impl AssertionKey {
    /// `key`, just read by configuration from its file.
    pub fn new(key: SigningKey) -> Self {
        Self { file: WatchedFile::new(key.file()), current: ArcSwap::from_pointee(key) }
    }

    /// The key to sign with now; a changed file is read first.
    pub fn current(&self) -> Arc<SigningKey> {
        self.reload(false);
        self.current.load_full()
    }

    /// After the upstream refused an assertion: the file's key when its
    /// content differs from what signed it.
    pub fn reread_after_refusal(&self) -> Option<Arc<SigningKey>> {
        self.reload(true)
    }

    /// Reads a changed file; an unusable one is logged and the current key kept.
    /// A log line names the file, never its content.
    fn reload(&self, after_refusal: bool) -> Option<Arc<SigningKey>> {
        let bytes = self.file.changed(after_refusal)?;
        let path = self.file.path();
        match SigningKey::read(&bytes, path, self.current.load().kid()) {
            Ok(key) => {
                tracing::info!(file = %path.display(), "reloaded the assertion key from its file");
                let key = Arc::new(key);
                self.current.store(Arc::clone(&key));
                Some(key)
            }
            Err(reason) => {
                tracing::warn!(file = %path.display(), %reason, "the changed assertion key file is unusable; keeping the current key");
                None
            }
        }
    }
}
