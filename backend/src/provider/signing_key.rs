//! A private key that signs JWTs for the authorization server: client
//! assertions (`private_key_jwt`) and jwt-bearer grant assertions.
//!
//! Signing goes through `jsonwebtoken` 9 (on `ring`, which rustls already
//! builds); this type only picks the algorithm from the key and refuses, at
//! start-up, a key that cannot sign with it, so a request never meets a bad key.

use std::path::{Path, PathBuf};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

/// A PEM private key with its `kid`. `Debug` shows the file, algorithm and
/// `kid`, never the key.
#[derive(Clone)]
pub struct SigningKey {
    key: EncodingKey,
    algorithm: Algorithm,
    kid: String,
    /// Where the key was read from, for `check-config` and log lines.
    file: PathBuf,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("file", &self.file)
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish()
    }
}

impl SigningKey {
    /// Reads the PEM private key in `file` (see [`Self::from_pem`]).
    pub fn from_file(file: &Path, kid: &str) -> Result<Self, String> {
        let pem = std::fs::read(file).map_err(|e| format!("cannot read {}: {}", file.display(), e.kind()))?;
        Self::read(&pem, file, kid)
    }

    /// `pem`, just read from `file` (see [`Self::from_pem`]).
    pub fn read(pem: &[u8], file: &Path, kid: &str) -> Result<Self, String> {
        let mut key = Self::from_pem(pem, kid).map_err(|reason| format!("{}: {reason}", file.display()))?;
        key.file = file.to_owned();
        Ok(key)
    }

    /// Reads a PEM private key: RSA (PKCS#1 or PKCS#8) signs with RS256, EC P-256
    /// (PKCS#8) with ES256. The error says what is wrong with the file without
    /// quoting any of it.
    fn from_pem(pem: &[u8], kid: &str) -> Result<Self, String> {
        let kid = kid.trim();
        if kid.is_empty() {
            return Err("the key id (`kid`) is empty".into());
        }
        let text = String::from_utf8_lossy(pem);
        if text.contains("ENCRYPTED PRIVATE KEY") {
            return Err("the key is encrypted; give an unencrypted PEM private key".into());
        }
        if text.contains("BEGIN EC PRIVATE KEY") {
            return Err(
                "the EC key is in SEC1 form; convert it to PKCS#8 with `openssl pkcs8 -topk8 -nocrypt -in KEY`".into(),
            );
        }
        if !text.contains("PRIVATE KEY-----") {
            return Err("not a PEM private key (expected -----BEGIN PRIVATE KEY----- or RSA PRIVATE KEY)".into());
        }
        let (key, algorithm) = match (EncodingKey::from_rsa_pem(pem), EncodingKey::from_ec_pem(pem)) {
            (Ok(key), _) => (key, Algorithm::RS256),
            (_, Ok(key)) => (key, Algorithm::ES256),
            _ => return Err("not an RSA or EC private key in PEM form".into()),
        };
        let this = Self { key, algorithm, kid: kid.to_owned(), file: PathBuf::new() };
        // `jsonwebtoken` parses the key when it signs: sign once now so an EC key
        // on another curve, or a damaged one, is refused here and not per request.
        this.sign(&serde_json::json!({})).map_err(|_| match algorithm {
            Algorithm::ES256 => "the EC key cannot sign with ES256 (it must be on curve P-256)".to_owned(),
            _ => "the RSA key cannot sign with RS256 (damaged or too small)".to_owned(),
        })?;
        Ok(this)
    }

    /// The file the key was read from.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The key id sent as the JWS `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWS algorithm this key signs with (`RS256` or `ES256`).
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// A compact JWS of `claims` with `alg`, `kid` and `typ: JWT`.
    pub fn sign<C: Serialize>(&self, claims: &C) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key)
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{DecodingKey, Validation};

    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keys").join(name)
    }

    /// RSA keys in either PEM form sign RS256, P-256 keys ES256, and the
    /// signature verifies with the public key under the configured `kid`.
    #[test]
    fn the_key_type_picks_the_algorithm() {
        for (file, public, algorithm) in [
            ("rsa.pem", "rsa.pub.pem", Algorithm::RS256),
            ("rsa-pkcs1.pem", "rsa.pub.pem", Algorithm::RS256),
            ("ec-p256.pem", "ec-p256.pub.pem", Algorithm::ES256),
        ] {
            let key = SigningKey::from_file(&fixture(file), " key-1 ").expect(file);
            assert_eq!(key.algorithm(), algorithm, "{file}");
            let jwt = key.sign(&serde_json::json!({"sub": "me"})).expect("signs");
            assert_eq!(jsonwebtoken::decode_header(&jwt).expect("header").kid.as_deref(), Some("key-1"));
            let pem = std::fs::read(fixture(public)).expect("public key");
            let decoding = match algorithm {
                Algorithm::ES256 => DecodingKey::from_ec_pem(&pem),
                _ => DecodingKey::from_rsa_pem(&pem),
            }
            .expect("public key");
            let mut validation = Validation::new(algorithm);
            validation.required_spec_claims.clear();
            validation.validate_exp = false;
            let claims = jsonwebtoken::decode::<serde_json::Value>(&jwt, &decoding, &validation).expect(file);
            assert_eq!(claims.claims["sub"], "me");
        }
    }

    /// A P-384 key cannot make ES256 signatures; it is refused when read, not on a request.
    #[test]
    fn a_key_that_does_not_fit_its_algorithm_is_refused() {
        let error = SigningKey::from_file(&fixture("ec-p384.pem"), "k1").expect_err("refused");
        assert!(error.contains("P-256"), "{error}");
    }

    /// Each bad input gets its own reason, and none quotes the file.
    #[test]
    fn refuses_what_is_not_a_usable_private_key() {
        let cases = [
            ("just-some-text-4f1c", "not a PEM private key"),
            ("-----BEGIN PUBLIC KEY-----\nMFkw-4f1c\n-----END PUBLIC KEY-----\n", "not a PEM private key"),
            ("-----BEGIN PRIVATE KEY-----\nAAAA-4f1c\n-----END PRIVATE KEY-----\n", "not an RSA or EC"),
            ("-----BEGIN EC PRIVATE KEY-----\nAAAA-4f1c\n-----END EC PRIVATE KEY-----\n", "PKCS#8"),
            ("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA-4f1c\n-----END ENCRYPTED PRIVATE KEY-----\n", "encrypted"),
        ];
        for (text, reason) in cases {
            let error = SigningKey::from_pem(text.as_bytes(), "k1").expect_err("refused");
            assert!(error.contains(reason) && !error.contains("4f1c"), "{error}");
        }
        let pem = std::fs::read(fixture("rsa.pem")).expect("key");
        assert!(SigningKey::from_pem(&pem, "  ").expect_err("no kid").contains("kid"));
        let missing = SigningKey::from_file(&fixture("absent.pem"), "k1").expect_err("unreadable");
        assert!(missing.contains("cannot read"), "{missing}");
    }

    /// `Debug` names the key, never its material.
    #[test]
    fn debug_shows_no_key_material() {
        let key = SigningKey::from_file(&fixture("rsa.pem"), "k1").expect("key");
        let shown = format!("{key:?}");
        assert!(shown.contains("k1") && shown.contains("RS256") && shown.len() < 200, "{shown}");
    }
}
