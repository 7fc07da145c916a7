//! A credential file read again when it changes, so a rotated secret or key
//! takes effect without a restart. Kubernetes updates a mounted Secret by
//! swapping a symlink, which changes what the path resolves to: the file's
//! modification time and length are compared before each use, and its content
//! after the upstream refused what was sent.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use sha2::{Digest, Sha256};

/// The file and how it looked when last read. `Debug` shows the path only.
#[derive(Debug)]
pub struct WatchedFile {
    path: PathBuf,
    last: Mutex<Seen>,
}

/// The file's metadata, and a digest of its content.
#[derive(Default)]
struct Seen {
    stamp: Option<(SystemTime, u64)>,
    digest: [u8; 32],
}

impl std::fmt::Debug for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seen").field("stamp", &self.stamp).finish_non_exhaustive()
    }
}

impl WatchedFile {
    /// Remembers the file as it is now (its content was just read by configuration).
    pub fn new(path: &Path) -> Self {
        let seen = Seen { stamp: stamp(path), digest: std::fs::read(path).map(|b| digest(&b)).unwrap_or_default() };
        Self { path: path.to_owned(), last: Mutex::new(seen) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's content if it changed since last read: checked by metadata
    /// (each use) or, with `after_refusal`, by content. `None` when unchanged
    /// or unreadable.
    pub fn changed(&self, after_refusal: bool) -> Option<Vec<u8>> {
        let now = stamp(&self.path);
        let mut seen = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !after_refusal && seen.stamp == now {
            return None;
        }
        seen.stamp = now;
        let bytes = std::fs::read(&self.path).ok()?;
        let new = digest(&bytes);
        if new == seen.digest {
            return None;
        }
        seen.digest = new;
        Some(bytes)
    }
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}
