//! The client credential kept in a file (`OAUTH_CLIENT_SECRET_FILE`,
//! `OAUTH_CLIENT_KEY_FILE`), read again when the file changes.

use std::path::Path;

use oauth2::ClientSecret;

use super::{ClientProof, SigningKey, WatchedFile};

/// What the file holds, and how the credential is sent.
#[derive(Debug, Clone)]
pub enum ProofFileKind {
    Basic,
    Post,
    Key { kid: String },
}

/// The file and how its credential is sent. `Debug` shows the path only.
#[derive(Debug)]
pub struct ProofFile {
    file: WatchedFile,
    kind: ProofFileKind,
}

impl ProofFile {
    /// Remembers the file as it is now (its credential was just read by configuration).
    pub fn new(path: &Path, kind: ProofFileKind) -> Self {
        Self { file: WatchedFile::new(path), kind }
    }

    /// The credential read anew if the file changed since last time (see
    /// [`WatchedFile::changed`]). `None` when unchanged, or when the new content
    /// is unusable (logged; the current credential stays). A log line names the
    /// file, never its content.
    pub fn reload(&self, after_refusal: bool) -> Option<ClientProof> {
        let bytes = self.file.changed(after_refusal)?;
        let path = self.file.path();
        match self.parse(&bytes) {
            Ok(proof) => {
                tracing::info!(file = %path.display(), "reloaded the client credential from its file");
                Some(proof)
            }
            Err(reason) => {
                tracing::warn!(file = %path.display(), %reason, "the changed client credential file is unusable; keeping the current credential");
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
            ProofFileKind::Key { kid } => {
                SigningKey::read(bytes, self.file.path(), kid).map(ClientProof::PrivateKeyJwt)
            }
        }
    }
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
