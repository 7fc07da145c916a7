//! The JWT bearer grant (RFC 7523 §2.1): a token for a subject (an APS Secure
//! Service Account, a service user) in exchange for an assertion signed with
//! that subject's key, a new assertion for every exchange.
//!
//! Written by hand because `oauth2` has no extension grants; the response is
//! read and classified exactly as `oauth2` reads its own grants.

use std::sync::Arc;
use std::time::Duration;

use oauth2::basic::BasicErrorResponse;
use oauth2::{HttpResponse, RequestTokenError};
use serde::Serialize;

use super::client_assertion::{unique_id, unix_now};
use super::response::{UpstreamTokenResponse, validate};
use super::{Exchange, ExchangeError, GrantHttp, IssuedToken, Reply};
use crate::provider::{AssertionKey, ClientProof, SigningKey};
use crate::transport::TransportError;

/// RFC 7523 §2.1's `grant_type`.
const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The `aud` APS requires of every SSA assertion, whatever URL the request goes to.
pub const APS_TOKEN_AUDIENCE: &str = "https://developer.api.autodesk.com/authentication/v2/token";
/// APS refuses an `exp` more than 5 minutes ahead; a margin covers clock skew.
const APS_LIFETIME: Duration = Duration::from_secs(240);
/// Elsewhere, as short as a client assertion.
const STANDARD_LIFETIME: Duration = Duration::from_secs(60);

/// What a profile's tokens are obtained with.
#[derive(Debug, Clone)]
pub enum Grant {
    /// RFC 6749 §4.4: the client's own token.
    ClientCredentials,
    /// RFC 7523 §2.1: a token for [`JwtBearer::subject`].
    JwtBearer(JwtBearer),
}

/// The JWT bearer grant's settings. `Debug` shows the key's file and `kid` only.
#[derive(Debug, Clone)]
pub struct JwtBearer {
    /// `sub` of the assertion: the service account id.
    pub subject: String,
    /// Signs the assertions (RS256 for APS); its file is watched.
    pub key: Arc<AssertionKey>,
    pub style: AssertionStyle,
}

/// Which rules the assertion follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionStyle {
    /// APS SSA ("JWT Assertions"): `aud` the fixed APS token URL, `exp` within
    /// 5 minutes, `scope` an array of strings in the assertion.
    Aps,
    /// RFC 7523 §3: `aud` the token endpoint, `scope` as a request parameter.
    Standard,
}

/// The assertion's claims; `scope` only in the APS style.
#[derive(Debug, Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
    iat: u64,
    jti: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a [String]>,
}

impl Exchange {
    /// The JWT bearer grant for `grant.subject` with `scopes`, authenticating the
    /// client as every other token request does (HTTP Basic for APS).
    /// When the upstream refuses the assertion (`invalid_grant`) and the key
    /// file now holds another key, the exchange is tried once more with it.
    pub async fn jwt_bearer(&self, grant: &JwtBearer, scopes: &[String]) -> Result<IssuedToken, ExchangeError> {
        let key = grant.key.current();
        let exchange = |key: Arc<SigningKey>| {
            self.with_current_proof(move |proof| {
                let key = Arc::clone(&key);
                async move { self.jwt_bearer_as(proof, grant, &key, scopes).await }
            })
        };
        match exchange(key).await {
            Err(error) if is_refused_assertion(&error) => match grant.key.reread_after_refusal() {
                Some(key) => exchange(key).await,
                None => Err(error),
            },
            result => result,
        }
    }

    async fn jwt_bearer_as(
        &self,
        proof: Arc<ClientProof>,
        grant: &JwtBearer,
        key: &SigningKey,
        scopes: &[String],
    ) -> Result<IssuedToken, ExchangeError> {
        let token_url = self.client.token_uri().as_str();
        let iat = unix_now();
        let (aud, lifetime, scope_claim) = match grant.style {
            AssertionStyle::Aps => (APS_TOKEN_AUDIENCE, APS_LIFETIME, Some(scopes)),
            AssertionStyle::Standard => (token_url, STANDARD_LIFETIME, None),
        };
        let claims = AssertionClaims {
            iss: self.client_id(),
            sub: &grant.subject,
            aud,
            exp: iat + lifetime.as_secs(),
            iat,
            jti: unique_id(),
            scope: scope_claim,
        };
        let assertion = key.sign(&claims).map_err(|e| ExchangeError::Signing(e.to_string()))?;
        let mut form = vec![("grant_type", JWT_BEARER_GRANT.to_owned()), ("assertion", assertion.clone())];
        if grant.style == AssertionStyle::Standard && !scopes.is_empty() {
            form.push(("scope", scopes.join(" ")));
        }
        let auth = self.client_auth_params(&proof)?;
        let sent = self.scrubber(&proof, &auth).credential(&assertion);
        let request = self.form_request(&proof, token_url, form, auth)?;
        let reply = Reply::default();
        let transport = GrantHttp { exchange: self, reply: &reply };
        let response = oauth2::AsyncHttpClient::call(&transport, request)
            .await
            .map_err(RequestTokenError::Request)
            .and_then(read_token_response)
            .map_err(|e| self.classify(e, &reply, &sent))?;
        validate(response, self.default_ttl)
    }
}

/// The upstream refused the assertion itself (RFC 7523 §3.1: `invalid_grant`).
fn is_refused_assertion(error: &ExchangeError) -> bool {
    matches!(error, ExchangeError::Rejected { error, .. } if error == "invalid_grant")
}

/// A token response as `oauth2` reads one: 200 with a JSON token, or an RFC
/// 6749 §5.2 error (the status is classified from [`Reply`]).
fn read_token_response(
    response: HttpResponse,
) -> Result<UpstreamTokenResponse, RequestTokenError<TransportError, BasicErrorResponse>> {
    let body = response.body();
    if response.status() != http::StatusCode::OK {
        if body.is_empty() {
            return Err(RequestTokenError::Other("server returned empty error response".into()));
        }
        return Err(match serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(body)) {
            Ok(error) => RequestTokenError::ServerResponse(error),
            Err(e) => RequestTokenError::Parse(e, body.clone()),
        });
    }
    serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(body))
        .map_err(|e| RequestTokenError::Parse(e, body.clone()))
}
