//! Client authentication on a token-endpoint or revocation call: with
//! `private_key_jwt`, a fresh client assertion (RFC 7523 §2.2, OpenID Connect
//! Core §9); with a shared secret, HTTP Basic or form fields. `oauth2` does the
//! latter for its grants; [`Exchange::form_request`] for the hand-written ones.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use oauth2::HttpRequest;
use serde::Serialize;

use super::{Exchange, ExchangeError};
use crate::provider::{ClientProof, SigningKey};

/// RFC 7523 §2.2's `client_assertion_type`.
const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// How long an assertion is valid: short, since each call makes a new one.
const LIFETIME: Duration = Duration::from_secs(60);

/// The claims OpenID Connect Core §9 requires of a client assertion.
#[derive(Debug, Serialize)]
struct ClientAssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: String,
    iat: u64,
    exp: u64,
}

impl Exchange {
    /// A form POST to `url` (revocation, extension grants) authenticated like
    /// the `oauth2` grants: HTTP Basic with the RFC 6749 §2.3.1 encoding, the
    /// secret in the form, or `auth`'s assertion.
    pub(super) fn form_request(
        &self,
        proof: &ClientProof,
        url: &str,
        mut form: Vec<(&'static str, String)>,
        auth: Vec<(&'static str, String)>,
    ) -> Result<HttpRequest, ExchangeError> {
        let client_id = self.client_id().to_owned();
        let mut request = http::Request::post(url)
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        match proof {
            ClientProof::Basic(secret) => {
                let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                let credentials = format!("{}:{}", encode(&client_id), encode(secret.secret()));
                let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
                request = request.header(http::header::AUTHORIZATION, format!("Basic {encoded}"));
            }
            ClientProof::Post(secret) => {
                form.push(("client_id", client_id));
                form.push(("client_secret", secret.secret().clone()));
            }
            ClientProof::PrivateKeyJwt(_) => {
                form.push(("client_id", client_id));
                form.extend(auth);
            }
        }
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        request.body(body.into_bytes()).map_err(|e| ExchangeError::Unreachable(format!("invalid request: {e}")))
    }

    /// The extra form parameters that authenticate this client on one call:
    /// `client_assertion_type` and a newly signed `client_assertion` for
    /// `private_key_jwt`, nothing for a shared secret.
    pub(super) fn client_auth_params(&self, proof: &ClientProof) -> Result<Vec<(&'static str, String)>, ExchangeError> {
        let ClientProof::PrivateKeyJwt(key) = proof else { return Ok(Vec::new()) };
        let assertion = client_assertion(key, self.client_id(), self.client.token_uri().as_str())?;
        Ok(vec![("client_assertion_type", JWT_BEARER_ASSERTION.to_owned()), ("client_assertion", assertion)])
    }
}

/// A client assertion for `client_id` whose audience is the token endpoint
/// (which every server accepts, for revocation too).
fn client_assertion(key: &SigningKey, client_id: &str, token_url: &str) -> Result<String, ExchangeError> {
    let iat = unix_now();
    let claims = ClientAssertionClaims {
        iss: client_id,
        sub: client_id,
        aud: token_url,
        jti: unique_id(),
        iat,
        exp: iat + LIFETIME.as_secs(),
    };
    key.sign(&claims).map_err(|e| ExchangeError::Signing(e.to_string()))
}

/// Seconds since the Unix epoch, the unit of JWT `iat` and `exp`.
pub(super) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// A `jti` no server has seen from us: 128 random bits, base64url.
pub(super) fn unique_id() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}
