//! A client credential kept in a file (`OAUTH_CLIENT_SECRET_FILE`,
//! `OAUTH_CLIENT_KEY_FILE`) and read again when the file changes, so a rotated
//! secret or key takes effect without a restart. Kubernetes updates a mounted
//! Secret by swapping a symlink, which changes what the path resolves to: the
//! file's modification time and length are compared before each use, and its
//! content after the upstream refused the client.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use oauth2::ClientSecret;
use sha2::{Digest, Sha256};

use super::{ClientProof, SigningKey};

/// What the file holds, and how the credential is sent.
#[derive(Debug, Clone)]
pub enum ProofFileKind {
    Basic,
    Post,
    Key { kid: String },
}

/// The file and what was last read from it. `Debug` shows the path only.
#[derive(Debug)]
pub struct ProofFile {
    path: PathBuf,
    kind: ProofFileKind,
    last: Mutex<Seen>,
}

/// How the file looked when last read: its metadata, and a digest of its content.
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

impl ProofFile {
    /// Remembers the file as it is now (its credential was just read by configuration).
    pub fn new(path: &Path, kind: ProofFileKind) -> Self {
        let seen = Seen { stamp: stamp(path), digest: std::fs::read(path).map(|b| digest(&b)).unwrap_or_default() };
        Self { path: path.to_owned(), kind, last: Mutex::new(seen) }
    }

    /// The credential read anew if the file changed since last time: its
    /// metadata (each use) or, with `after_refusal`, its content. `None` when
    /// unchanged, or when the new content is unusable (logged; the current
    /// credential stays). A log line names the file, never its content.
    pub fn reload(&self, after_refusal: bool) -> Option<ClientProof> {
        let now = stamp(&self.path);
        let bytes = {
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
            bytes
        };
        match self.parse(&bytes) {
            Ok(proof) => {
                tracing::info!(file = %self.path.display(), "reloaded the client credential from its file");
                Some(proof)
            }
            Err(reason) => {
                tracing::warn!(file = %self.path.display(), %reason, "the changed client credential file is unusable; keeping the current credential");
                None
            }
        }
    }

    fn parse(&self, bytes: &[u8]) -> Result<ClientProof, String> {
        let secret = || {
            let text = String::from_utf8_lossy(bytes).trim().to_owned();
            if text.is_empty() { Err("the file is empty".to_owned()) } else { Ok(ClientSecret::new(text)) }
        };
        match &self.kind {
            ProofFileKind::Basic => secret().map(ClientProof::Basic),
            ProofFileKind::Post => secret().map(ClientProof::Post),
            ProofFileKind::Key { kid } => SigningKey::from_file(&self.path, kid).map(ClientProof::PrivateKeyJwt),
        }
    }
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keys").join(name)).expect("fixture")
    }

    /// A key file replaced by another key is read again; an unchanged or
    /// unusable file keeps the current key.
    #[test]
    fn a_replaced_key_file_is_read_again() {
        let dir = std::env::temp_dir().join(format!("proof-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("client-key.pem");
        std::fs::write(&path, fixture("rsa.pem")).expect("write");
        let file = ProofFile::new(&path, ProofFileKind::Key { kid: "k1".into() });
        assert!(file.reload(false).is_none(), "unchanged");
        assert!(file.reload(true).is_none(), "same content after a refusal");

        std::fs::write(&path, fixture("ec-p256.pem")).expect("rotate");
        let Some(ClientProof::PrivateKeyJwt(key)) = file.reload(true) else { panic!("the new key") };
        assert_eq!(key.algorithm(), jsonwebtoken::Algorithm::ES256);

        std::fs::write(&path, "not a key").expect("break");
        assert!(file.reload(true).is_none(), "an unusable file keeps the current key");
        std::fs::remove_dir_all(&dir).ok();
    }
}
