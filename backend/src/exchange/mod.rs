//! The OAuth 2.0 grants we perform against the upstream authorization server,
//! through the `oauth2` crate, and what can go wrong with them.
//!
//! `oauth2` speaks the protocol; [`crate::transport`] carries it (timeouts, no
//! redirects, a body cap); this module turns everything the upstream can do
//! wrong into an [`ExchangeError`] that never carries a secret. The token
//! response is read in `response`, revocation (RFC 7009) is in `revocation`,
//! client authentication (and `private_key_jwt` assertions) in `client_assertion`,
//! the JWT bearer grant in `jwt_bearer`, credential rotation in `rotation`.

mod client_assertion;
mod jwt_bearer;
mod response;
mod revocation;
mod rotation;

pub use jwt_bearer::{APS_TOKEN_AUDIENCE, AssertionStyle, Grant, JwtBearer};
pub use response::{IdToken, IssuedToken};
pub(crate) use response::{MAX_LIFETIME, parse_reason};

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU32, Ordering};
use std::time::Duration;

use oauth2::basic::{BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse};
use oauth2::{
    AuthType, AuthorizationCode, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    ErrorResponseType, HttpRequest, HttpResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, StandardErrorResponse, StandardRevocableToken,
};

use self::response::{UpstreamTokenResponse, validate};
use self::rotation::Credentials;
use crate::log_text::Scrubber;
use crate::provider::{ClientCredentials, ClientProof, Provider};
use crate::transport::{Transport, TransportError, retry_after_secs};

/// Why a grant failed. Cloneable so one failure can be shared with every waiter;
/// no variant holds a secret or a raw upstream body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeError {
    /// No answer within the configured timeout.
    #[error("the authorization server did not answer within {0:?}")]
    Timeout(Duration),
    /// Connection refused, DNS failure, TLS failure, reset.
    #[error("cannot reach the authorization server: {0}")]
    Unreachable(String),
    /// The upstream answered 5xx or 429, or said `temporarily_unavailable`.
    #[error("the authorization server is unavailable (HTTP {status})")]
    Unavailable { status: u16, retry_after: Option<Duration> },
    /// The upstream refused the grant (`invalid_client`, `invalid_scope`, a 401, ...).
    #[error("the authorization server rejected the request (HTTP {status}, {error}{})", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Rejected { status: u16, error: String, description: Option<String> },
    /// A success response we cannot use: not JSON, missing fields, absurd lifetime, too large.
    #[error("the authorization server sent an invalid token response: {0}")]
    InvalidResponse(String),
    /// A JWT we had to sign (a client assertion) could not be signed.
    #[error("cannot sign the assertion for the authorization server: {0}")]
    Signing(String),
    /// Not asked: a recent token request failed and the upstream is left alone
    /// until this much time has passed (`token_cache`'s backoff window).
    #[error("the authorization server failed recently; the broker waits {retry_after:?} before asking it again")]
    BackingOff { retry_after: Duration },
}

impl ExchangeError {
    /// A short, stable name for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Timeout(_) => "timeout",
            Self::Unreachable(_) => "unreachable",
            Self::Unavailable { .. } => "unavailable",
            Self::Rejected { .. } => "rejected",
            Self::InvalidResponse(_) => "invalid_response",
            Self::BackingOff { .. } => "backing_off",
            Self::Signing(_) => "signing",
        }
    }
}

type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    UpstreamTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointMaybeSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointSet,
>;

/// Performs grants against one upstream with one client identity.
#[derive(Debug, Clone)]
pub struct Exchange {
    client: OAuthClient,
    http: Transport,
    /// Lifetime assumed when the upstream omits `expires_in`.
    default_ttl: Duration,
    /// How we authenticate, as of now (see `rotation`): scrubbed from anything
    /// the upstream echoes back, sent by [`Exchange::revoke`], signs each client assertion.
    credentials: Arc<Credentials>,
    /// RFC 8707 `resource` for the sign-in requests (authorization, code, refresh).
    resource: Option<String>,
}

impl Exchange {
    pub fn new(provider: &Provider, client: &ClientCredentials, http: Transport, default_ttl: Duration) -> Self {
        let oauth = oauth2::Client::new(client.id.clone())
            .set_token_uri(provider.token_url.clone())
            .set_auth_uri_option(provider.authorize_url.clone())
            .set_revocation_url_option(provider.revocation_url.clone());
        let credentials = Arc::new(Credentials::new(client.proof.clone(), client.file.clone()));
        Self { client: oauth, http, default_ttl, credentials, resource: None }
    }

    /// The `oauth2` client authenticating with `proof`. With `private_key_jwt`
    /// there is no secret: `oauth2` then sends only `client_id` in the body, and
    /// each request adds its assertion.
    fn oauth(&self, proof: &ClientProof) -> OAuthClient {
        let auth_type = match proof {
            ClientProof::Basic(_) => AuthType::BasicAuth,
            ClientProof::Post(_) | ClientProof::PrivateKeyJwt(_) => AuthType::RequestBody,
        };
        let client = self.client.clone().set_auth_type(auth_type);
        match proof.secret() {
            Some(secret) => client.set_client_secret(ClientSecret::new(secret.secret().clone())),
            None => client,
        }
    }

    /// Sets the exact redirect URI sent in authorization and code requests.
    pub fn with_redirect_url(mut self, url: &url::Url) -> Self {
        self.client = self.client.set_redirect_uri(RedirectUrl::from_url(url.clone()));
        self
    }

    /// Sends `resource` (RFC 8707) on authorization, code and refresh requests.
    pub fn with_resource(mut self, resource: Option<&url::Url>) -> Self {
        self.resource = resource.map(url::Url::to_string);
        self
    }

    /// Our client id at the provider (the `aud` of its ID tokens).
    pub fn client_id(&self) -> &str {
        self.client.client_id().as_str()
    }

    /// The total timeout of one upstream request.
    pub fn timeout(&self) -> Duration {
        self.http.limits().timeout
    }

    pub fn has_authorize_url(&self) -> bool {
        self.client.auth_uri().is_some()
    }

    pub fn has_revocation_url(&self) -> bool {
        self.client.revocation_url().is_some()
    }

    /// The authorization request URL (RFC 6749 §4.1.1) with PKCE S256 (RFC 7636)
    /// and, for OpenID Connect, a nonce. Returns the URL and its fresh `state`.
    pub fn authorize_url(
        &self,
        scopes: &[String],
        challenge: PkceCodeChallenge,
        nonce: Option<&str>,
    ) -> Result<(url::Url, CsrfToken), ExchangeError> {
        let mut request = self
            .client
            .authorize_url(CsrfToken::new_random)
            .map_err(|_| ExchangeError::InvalidResponse("the provider has no authorization endpoint".into()))?
            .add_scopes(scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge);
        if let Some(nonce) = nonce {
            request = request.add_extra_param("nonce", nonce.to_owned());
        }
        if let Some(resource) = &self.resource {
            request = request.add_extra_param("resource", resource.clone());
        }
        Ok(request.url())
    }

    /// The authorization code grant (RFC 6749 §4.1.3) with the PKCE verifier.
    pub async fn exchange_code(&self, code: String, verifier: PkceCodeVerifier) -> Result<IssuedToken, ExchangeError> {
        self.with_current_proof(|proof| self.exchange_code_as(proof, &code, &verifier)).await
    }

    async fn exchange_code_as(
        &self,
        proof: Arc<ClientProof>,
        code: &str,
        verifier: &PkceCodeVerifier,
    ) -> Result<IssuedToken, ExchangeError> {
        let reply = Reply::default();
        let transport = GrantHttp { exchange: self, reply: &reply };
        let auth = self.client_auth_params(&proof)?;
        let sent = self.scrubber(&proof, &auth).credential(code).credential(verifier.secret());
        let verifier = PkceCodeVerifier::new(verifier.secret().clone());
        let client = self.oauth(&proof);
        let mut request = client.exchange_code(AuthorizationCode::new(code.to_owned())).set_pkce_verifier(verifier);
        if let Some(resource) = &self.resource {
            request = request.add_extra_param("resource", resource.clone());
        }
        for (name, value) in auth {
            request = request.add_extra_param(name, value);
        }
        let response = request.request_async(&transport).await.map_err(|e| self.classify(e, &reply, &sent))?;
        validate(response, self.default_ttl)
    }

    /// The refresh grant (RFC 6749 §6); `scopes` narrows the new access token.
    pub async fn refresh(&self, refresh_token: &RefreshToken, scopes: &[String]) -> Result<IssuedToken, ExchangeError> {
        self.with_current_proof(|proof| self.refresh_as(proof, refresh_token, scopes)).await
    }

    async fn refresh_as(
        &self,
        proof: Arc<ClientProof>,
        refresh_token: &RefreshToken,
        scopes: &[String],
    ) -> Result<IssuedToken, ExchangeError> {
        let reply = Reply::default();
        let transport = GrantHttp { exchange: self, reply: &reply };
        let auth = self.client_auth_params(&proof)?;
        let sent = self.scrubber(&proof, &auth).credential(refresh_token.secret());
        let client = self.oauth(&proof);
        let mut request =
            client.exchange_refresh_token(refresh_token).add_scopes(scopes.iter().cloned().map(Scope::new));
        if let Some(resource) = &self.resource {
            request = request.add_extra_param("resource", resource.clone());
        }
        for (name, value) in auth {
            request = request.add_extra_param(name, value);
        }
        let response = request.request_async(&transport).await.map_err(|e| self.classify(e, &reply, &sent))?;
        validate(response, self.default_ttl)
    }

    /// The client-credentials grant (RFC 6749 §4.4) for the given scopes.
    pub async fn client_credentials(&self, scopes: &[String]) -> Result<IssuedToken, ExchangeError> {
        self.with_current_proof(|proof| self.client_credentials_as(proof, scopes)).await
    }

    async fn client_credentials_as(
        &self,
        proof: Arc<ClientProof>,
        scopes: &[String],
    ) -> Result<IssuedToken, ExchangeError> {
        let reply = Reply::default();
        let transport = GrantHttp { exchange: self, reply: &reply };
        let auth = self.client_auth_params(&proof)?;
        let sent = self.scrubber(&proof, &auth);
        let client = self.oauth(&proof);
        let mut request = client.exchange_client_credentials().add_scopes(scopes.iter().cloned().map(Scope::new));
        for (name, value) in auth {
            request = request.add_extra_param(name, value);
        }
        let response = request.request_async(&transport).await.map_err(|e| self.classify(e, &reply, &sent))?;
        validate(response, self.default_ttl)
    }

    /// Sends one request upstream. `oauth2` only accepts status 200, but some
    /// providers answer a token request with 201; any 2xx is normalised to 200 here,
    /// and the real status is kept in `status` for error classification.
    async fn send(&self, request: HttpRequest, reply: &Reply) -> Result<HttpResponse, TransportError> {
        let (parts, body) = request.into_parts();
        let url = reqwest::Url::parse(&parts.uri.to_string()).map_err(|e| TransportError::Other(e.to_string()))?;
        let response = self.http.send(self.http.request(parts.method, url).headers(parts.headers).body(body)).await?;
        let real_status = response.status();
        reply.status.store(real_status.as_u16(), Ordering::Relaxed);
        if let Some(secs) = retry_after_secs(response.headers()) {
            reply.retry_after_secs.store(secs, Ordering::Relaxed);
        }
        let headers = response.headers().clone();
        let body = self.http.read_body(response).await?;
        let normalised = if real_status.is_success() { http::StatusCode::OK } else { real_status };
        let mut out = http::Response::new(body);
        *out.status_mut() = normalised;
        *out.headers_mut() = headers;
        Ok(out)
    }

    /// Scrubs the client's credentials, as sent with any client authentication:
    /// the secret in both spellings, or this call's assertion (`auth`).
    fn scrubber(&self, proof: &ClientProof, auth: &[(&'static str, String)]) -> Scrubber {
        let scrubber = match proof.secret() {
            Some(secret) => Scrubber::default().basic(self.client.client_id(), secret.secret()),
            None => Scrubber::default(),
        };
        auth.iter().fold(scrubber, |scrubber, (_, value)| scrubber.credential(value))
    }

    /// `sent` scrubs every credential this request carried from the upstream's
    /// text, which ends up in the log.
    fn classify<T: ErrorResponseType + std::fmt::Display>(
        &self,
        error: RequestTokenError<TransportError, StandardErrorResponse<T>>,
        reply: &Reply,
        sent: &Scrubber,
    ) -> ExchangeError {
        let status = reply.status.load(Ordering::Relaxed);
        let retry_after = match reply.retry_after_secs.load(Ordering::Relaxed) {
            0 => None,
            secs => Some(Duration::from_secs(u64::from(secs))),
        };
        let scrub = |text: &str| sent.clean(text);
        match error {
            // An outage page too large to read is still an outage, with its Retry-After.
            RequestTokenError::Request(TransportError::TooLarge(_)) if status >= 500 || status == 429 => {
                ExchangeError::Unavailable { status, retry_after }
            }
            RequestTokenError::Request(e) => match ExchangeError::from(e) {
                ExchangeError::Unreachable(reason) => ExchangeError::Unreachable(scrub(&reason)),
                other => other,
            },
            RequestTokenError::ServerResponse(response) => {
                let error = response.error().to_string();
                if status >= 500 || status == 429 || error == "temporarily_unavailable" || error == "server_error" {
                    return ExchangeError::Unavailable { status, retry_after };
                }
                ExchangeError::Rejected {
                    status,
                    error: scrub(&error),
                    description: response.error_description().map(|d| scrub(d)),
                }
            }
            // The raw body stays out of the error: it may contain a token.
            RequestTokenError::Parse(e, body) => match status {
                500..=599 | 429 => ExchangeError::Unavailable { status, retry_after },
                400..=499 => {
                    ExchangeError::Rejected { status, error: "unparseable_error_response".into(), description: None }
                }
                _ => ExchangeError::InvalidResponse(format!(
                    "{} at `{}` ({} byte body)",
                    parse_reason(e.inner()),
                    e.path(),
                    body.len()
                )),
            },
            RequestTokenError::Other(reason) => match status {
                500..=599 | 429 => ExchangeError::Unavailable { status, retry_after },
                400..=499 => {
                    ExchangeError::Rejected { status, error: "empty_error_response".into(), description: None }
                }
                _ => ExchangeError::InvalidResponse(scrub(&reason)),
            },
        }
    }
}

/// The `oauth2` HTTP client for one grant. A struct rather than a closure because
/// the returned future must be `Send` for every borrow, which closures can't express.
struct GrantHttp<'a> {
    exchange: &'a Exchange,
    reply: &'a Reply,
}

/// What the transport learned about the last response, for error classification
/// (`oauth2` only sees the normalised status and body).
#[derive(Default)]
struct Reply {
    status: AtomicU16,
    /// `Retry-After` in seconds; 0 when absent.
    retry_after_secs: AtomicU32,
}

impl<'c> oauth2::AsyncHttpClient<'c> for GrantHttp<'_> {
    type Error = TransportError;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<HttpResponse, TransportError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.exchange.send(request, self.reply))
    }
}

impl From<TransportError> for ExchangeError {
    fn from(error: TransportError) -> Self {
        match error {
            TransportError::Timeout(t) => Self::Timeout(t),
            TransportError::TooLarge(limit) => {
                Self::InvalidResponse(format!("response body is larger than {limit} bytes"))
            }
            TransportError::Connect(reason) | TransportError::Other(reason) => Self::Unreachable(reason),
        }
    }
}
