//! The OAuth 2.0 grants we perform against the upstream authorization server,
//! through the `oauth2` crate, and validation of what the upstream answers.
//!
//! `oauth2` speaks the protocol; this module supplies the HTTP transport (reqwest
//! with timeouts, no redirects and a body cap) and turns everything the upstream
//! can do wrong into an [`ExchangeError`] that never carries a secret.

use std::sync::atomic::{AtomicU16, AtomicU32, Ordering};
use std::time::Duration;

use base64::Engine;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AccessToken, AuthType, AuthorizationCode, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    ErrorResponseType, HttpRequest, HttpResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, StandardErrorResponse, StandardRevocableToken, TokenResponse,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize};

use crate::config::{ClientCredentials, UpstreamHttp};
use crate::log_text::Scrubber;
use crate::provider::{ClientAuth, Provider};

/// Longest token lifetime we believe; anything longer is a broken upstream.
pub(crate) const MAX_LIFETIME: Duration = Duration::from_secs(366 * 24 * 3600);

/// A token the upstream issued, validated.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub access_token: AccessToken,
    /// Lifetime as stated by the upstream (or the configured default), counted from receipt.
    pub expires_in: Duration,
    pub refresh_token: Option<RefreshToken>,
    /// The OpenID Connect ID token, when the upstream sent one.
    pub id_token: Option<IdToken>,
}

/// A compact-serialised JWT; `Debug` hides it (it identifies the user).
#[derive(Clone, Deserialize, Serialize)]
#[serde(transparent)]
pub struct IdToken(String);

impl std::fmt::Debug for IdToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdToken([redacted])")
    }
}

impl IdToken {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

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
    http: reqwest::Client,
    limits: UpstreamHttp,
    /// Lifetime assumed when the upstream omits `expires_in`.
    default_ttl: Duration,
    /// Scrubbed from anything the upstream echoes back; sent by [`Exchange::revoke`].
    secret: SecretString,
    auth: ClientAuth,
    userinfo_url: Option<url::Url>,
}

impl Exchange {
    pub fn new(
        provider: &Provider,
        client: &ClientCredentials,
        http: reqwest::Client,
        limits: UpstreamHttp,
        default_ttl: Duration,
    ) -> Self {
        let auth_type = match client.auth {
            ClientAuth::Basic => AuthType::BasicAuth,
            ClientAuth::Post => AuthType::RequestBody,
        };
        let oauth = oauth2::Client::new(client.id.clone())
            .set_client_secret(ClientSecret::new(client.secret.secret().clone()))
            .set_auth_type(auth_type)
            .set_token_uri(provider.token_url.clone())
            .set_auth_uri_option(provider.authorize_url.clone())
            .set_revocation_url_option(provider.revocation_url.clone());
        Self {
            client: oauth,
            http,
            limits,
            default_ttl,
            secret: SecretString::from(client.secret.secret().clone()),
            auth: client.auth,
            userinfo_url: provider.userinfo_url.clone(),
        }
    }

    /// Sets the exact redirect URI sent in authorization and code requests.
    pub fn with_redirect_url(mut self, url: &url::Url) -> Self {
        self.client = self.client.set_redirect_uri(RedirectUrl::from_url(url.clone()));
        self
    }

    /// The total timeout of one upstream request.
    pub fn timeout(&self) -> Duration {
        self.limits.timeout
    }

    pub fn has_authorize_url(&self) -> bool {
        self.client.auth_uri().is_some()
    }

    pub fn has_revocation_url(&self) -> bool {
        self.client.revocation_url().is_some()
    }

    pub fn has_userinfo_url(&self) -> bool {
        self.userinfo_url.is_some()
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
        Ok(request.url())
    }

    /// The authorization code grant (RFC 6749 §4.1.3) with the PKCE verifier.
    pub async fn exchange_code(&self, code: String, verifier: PkceCodeVerifier) -> Result<IssuedToken, ExchangeError> {
        let reply = Reply::default();
        let transport = Transport { exchange: self, reply: &reply };
        let sent = self.scrubber().credential(&code).credential(verifier.secret());
        let response = self
            .client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(verifier)
            .request_async(&transport)
            .await
            .map_err(|e| self.classify(e, &reply, &sent))?;
        validate(response, self.default_ttl)
    }

    /// The refresh grant (RFC 6749 §6); `scopes` narrows the new access token.
    pub async fn refresh(&self, refresh_token: &RefreshToken, scopes: &[String]) -> Result<IssuedToken, ExchangeError> {
        let reply = Reply::default();
        let transport = Transport { exchange: self, reply: &reply };
        let response = self
            .client
            .exchange_refresh_token(refresh_token)
            .add_scopes(scopes.iter().cloned().map(Scope::new))
            .request_async(&transport)
            .await
            .map_err(|e| self.classify(e, &reply, &self.scrubber().credential(refresh_token.secret())))?;
        validate(response, self.default_ttl)
    }

    /// Revokes a refresh token (RFC 7009). Without a revocation endpoint this is a no-op.
    ///
    /// Written by hand rather than with `oauth2`'s `revoke_token`, which refuses
    /// plain-http endpoints even on loopback (the dev server, local providers);
    /// configuration already keeps plain http to loopback. The request is the
    /// RFC 7009 form with the same client authentication as the token endpoint.
    pub async fn revoke(&self, refresh_token: RefreshToken) -> Result<(), ExchangeError> {
        let Some(url) = self.client.revocation_url() else { return Ok(()) };
        let mut form = vec![("token", refresh_token.secret().as_str()), ("token_type_hint", "refresh_token")];
        let mut request = self.http.post(url.url().clone()).header(http::header::ACCEPT, "application/json");
        match self.auth {
            ClientAuth::Basic => {
                let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                let credentials =
                    format!("{}:{}", encode(self.client.client_id()), encode(self.secret.expose_secret()));
                let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
                request = request.header(http::header::AUTHORIZATION, format!("Basic {encoded}"));
            }
            ClientAuth::Post => {
                form.push(("client_id", self.client.client_id().as_str()));
                form.push(("client_secret", self.secret.expose_secret()));
            }
        }
        let response = request
            .form(&form)
            .send()
            .await
            .map_err(|e| transport_error(TransportError::from_reqwest(&e, self.limits.timeout)))?;
        let status = response.status().as_u16();
        let retry_after = retry_after_secs(response.headers()).map(|s| Duration::from_secs(u64::from(s)));
        match status {
            200..=299 => Ok(()),
            429 | 500..=599 => Err(ExchangeError::Unavailable { status, retry_after }),
            _ => {
                let body = read_capped(response, self.limits.max_body_bytes).await.unwrap_or_default();
                let error = serde_json::from_slice::<BasicRevocationErrorResponse>(&body)
                    .map(|e| e.error().to_string())
                    .unwrap_or_else(|_| "revocation_rejected".into());
                Err(ExchangeError::Rejected { status, error, description: None })
            }
        }
    }

    /// The user's profile from the userinfo endpoint, as JSON.
    pub async fn userinfo(&self, access_token: &AccessToken) -> Result<serde_json::Value, ExchangeError> {
        let Some(url) = &self.userinfo_url else {
            return Err(ExchangeError::InvalidResponse("the provider has no userinfo endpoint".into()));
        };
        let response = self
            .http
            .get(url.clone())
            .bearer_auth(access_token.secret())
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| transport_error(TransportError::from_reqwest(&e, self.limits.timeout)))?;
        let status = response.status().as_u16();
        let body = read_capped(response, self.limits.max_body_bytes).await.map_err(transport_error)?;
        match status {
            200..=299 => serde_json::from_slice(&body)
                .map_err(|e| ExchangeError::InvalidResponse(format!("userinfo: {}", parse_reason(&e)))),
            429 | 500..=599 => Err(ExchangeError::Unavailable { status, retry_after: None }),
            _ => Err(ExchangeError::Rejected { status, error: "userinfo_rejected".into(), description: None }),
        }
    }

    /// The client-credentials grant (RFC 6749 §4.4) for the given scopes.
    pub async fn client_credentials(&self, scopes: &[String]) -> Result<IssuedToken, ExchangeError> {
        let reply = Reply::default();
        let transport = Transport { exchange: self, reply: &reply };
        let response = self
            .client
            .exchange_client_credentials()
            .add_scopes(scopes.iter().cloned().map(Scope::new))
            .request_async(&transport)
            .await
            .map_err(|e| self.classify(e, &reply, &self.scrubber()))?;
        validate(response, self.default_ttl)
    }

    /// Sends one request upstream. `oauth2` only accepts status 200, but some
    /// providers answer a token request with 201; any 2xx is normalised to 200 here,
    /// and the real status is kept in `status` for error classification.
    async fn send(&self, request: HttpRequest, reply: &Reply) -> Result<HttpResponse, TransportError> {
        let (parts, body) = request.into_parts();
        let url = reqwest::Url::parse(&parts.uri.to_string()).map_err(|e| TransportError::Other(e.to_string()))?;
        let response = self
            .http
            .request(parts.method, url)
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(|e| TransportError::from_reqwest(&e, self.limits.timeout))?;
        let real_status = response.status();
        reply.status.store(real_status.as_u16(), Ordering::Relaxed);
        if let Some(secs) = retry_after_secs(response.headers()) {
            reply.retry_after_secs.store(secs, Ordering::Relaxed);
        }
        let headers = response.headers().clone();
        let body = read_capped(response, self.limits.max_body_bytes).await?;
        let normalised = if real_status.is_success() { http::StatusCode::OK } else { real_status };
        let mut out = http::Response::new(body);
        *out.status_mut() = normalised;
        *out.headers_mut() = headers;
        Ok(out)
    }

    /// Scrubs the client's credentials, as sent with either client authentication.
    fn scrubber(&self) -> Scrubber {
        Scrubber::default().basic(self.client.client_id(), self.secret.expose_secret())
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
            RequestTokenError::Request(e) => match transport_error(e) {
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
struct Transport<'a> {
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

/// The longest `Retry-After` we pass on; a longer one is a broken upstream.
const MAX_RETRY_AFTER_SECS: u32 = 300;

/// `Retry-After` as delay-seconds (RFC 9110 §10.2.3); the HTTP-date form is
/// rare from token endpoints and is ignored.
fn retry_after_secs(headers: &http::HeaderMap) -> Option<u32> {
    let secs: u32 = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(secs.clamp(1, MAX_RETRY_AFTER_SECS))
}

impl<'c> oauth2::AsyncHttpClient<'c> for Transport<'_> {
    type Error = TransportError;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<HttpResponse, TransportError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.exchange.send(request, self.reply))
    }
}

fn transport_error(error: TransportError) -> ExchangeError {
    match error {
        TransportError::Timeout(t) => ExchangeError::Timeout(t),
        TransportError::TooLarge(limit) => {
            ExchangeError::InvalidResponse(format!("response body is larger than {limit} bytes"))
        }
        TransportError::Connect(reason) | TransportError::Other(reason) => ExchangeError::Unreachable(reason),
    }
}

/// serde_json's message without the offending input (which could be a token).
fn parse_reason(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof => "not valid JSON".to_owned(),
        Category::Data => {
            let text = e.to_string();
            // "missing field `access_token` at line 1 column 2" → keep the part before " at line".
            text.split(" at line").next().unwrap_or("unexpected data").to_owned()
        }
        Category::Io => "read error".to_owned(),
    }
}

/// Checks a parsed token response and turns it into an [`IssuedToken`].
fn validate(response: UpstreamTokenResponse, default_ttl: Duration) -> Result<IssuedToken, ExchangeError> {
    if response.access_token.secret().trim().is_empty() {
        return Err(ExchangeError::InvalidResponse("`access_token` is empty".into()));
    }
    if !matches!(response.token_type, BasicTokenType::Bearer) {
        return Err(ExchangeError::InvalidResponse(format!(
            "`token_type` is `{}`; only Bearer tokens can be handed to a browser",
            response.token_type.as_ref()
        )));
    }
    let expires_in = match response.expires_in {
        None => {
            tracing::warn!(
                default_ttl = default_ttl.as_secs(),
                "upstream token response has no `expires_in`; assuming the configured default lifetime"
            );
            default_ttl
        }
        Some(Seconds(n)) if n <= 0 => {
            return Err(ExchangeError::InvalidResponse(format!("`expires_in` is {n}; it must be positive")));
        }
        Some(Seconds(n)) => {
            let lifetime = Duration::from_secs(n.unsigned_abs());
            if lifetime > MAX_LIFETIME {
                return Err(ExchangeError::InvalidResponse(format!("`expires_in` is {n} seconds, longer than a year")));
            }
            lifetime
        }
    };
    Ok(IssuedToken {
        access_token: response.access_token,
        expires_in,
        refresh_token: response.refresh_token,
        id_token: response.id_token,
    })
}

/// RFC 6749 §5.1 token response, read leniently where real providers deviate
/// harmlessly: `token_type` missing or in any case, `expires_in` as a numeric string.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct UpstreamTokenResponse {
    access_token: AccessToken,
    #[serde(default = "bearer", deserialize_with = "lenient_token_type")]
    token_type: BasicTokenType,
    #[serde(default, deserialize_with = "lenient_seconds")]
    expires_in: Option<Seconds>,
    #[serde(default)]
    refresh_token: Option<RefreshToken>,
    #[serde(default)]
    id_token: Option<IdToken>,
}

/// `expires_in` as the upstream sent it; validated in [`validate`].
#[derive(Debug, Clone, Copy, Serialize)]
struct Seconds(i64);

fn bearer() -> BasicTokenType {
    BasicTokenType::Bearer
}

fn lenient_token_type<'de, D: Deserializer<'de>>(d: D) -> Result<BasicTokenType, D::Error> {
    let raw = Option::<String>::deserialize(d)?;
    Ok(match raw.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("bearer") => BasicTokenType::Bearer,
        Some("mac") => BasicTokenType::Mac,
        Some(other) => BasicTokenType::Extension(other.to_owned()),
    })
}

fn lenient_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Seconds>, D::Error> {
    use serde::de::Error;
    let value = Option::<serde_json::Value>::deserialize(d)?;
    let seconds = match value {
        None | Some(serde_json::Value::Null) => return Ok(None),
        Some(serde_json::Value::Number(n)) => {
            n.as_i64().or_else(|| n.as_f64().filter(|f| f.is_finite() && f.abs() < 1e15).map(|f| f as i64))
        }
        Some(serde_json::Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(_) => None,
    };
    seconds.map(|s| Some(Seconds(s))).ok_or_else(|| D::Error::custom("`expires_in` is not a number of seconds"))
}

impl TokenResponse for UpstreamTokenResponse {
    type TokenType = BasicTokenType;

    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }
    fn token_type(&self) -> &BasicTokenType {
        &self.token_type
    }
    fn expires_in(&self) -> Option<Duration> {
        self.expires_in.filter(|s| s.0 > 0).map(|s| Duration::from_secs(s.0.unsigned_abs()))
    }
    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }
    fn scopes(&self) -> Option<&Vec<Scope>> {
        None
    }
}

/// Why a request did not produce a response.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransportError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("response body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    Connect(String),
    #[error("{0}")]
    Other(String),
}

impl TransportError {
    pub(crate) fn from_reqwest(e: &reqwest::Error, timeout: Duration) -> Self {
        if e.is_timeout() {
            return Self::Timeout(timeout);
        }
        // The innermost cause says what happened ("Connection refused"); the outer
        // layers only repeat the URL.
        let mut cause: &dyn std::error::Error = e;
        while let Some(next) = cause.source() {
            cause = next;
        }
        if e.is_connect() { Self::Connect(cause.to_string()) } else { Self::Other(cause.to_string()) }
    }
}

/// Reads a response body, refusing to buffer more than `limit` bytes.
pub(crate) async fn read_capped(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, TransportError> {
    if response.content_length().is_some_and(|len| len > limit as u64) {
        return Err(TransportError::TooLarge(limit));
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Err(TransportError::TooLarge(limit));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => return Err(TransportError::from_reqwest(&e, Duration::ZERO)),
        }
    }
}

/// The HTTP client for all upstream traffic. Redirects are off: a token endpoint
/// that redirects is misconfigured, and following it could leak the secret (SSRF).
pub fn http_client(limits: &UpstreamHttp) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(limits.timeout)
        .connect_timeout(limits.connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("token-backend/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<IssuedToken, ExchangeError> {
        let response: UpstreamTokenResponse =
            serde_json::from_str(json).map_err(|e| ExchangeError::InvalidResponse(parse_reason(&e)))?;
        validate(response, Duration::from_secs(600))
    }

    /// Harmless deviations real providers send are accepted.
    #[test]
    fn accepts_harmless_deviations() {
        let t = parse(r#"{"access_token":"abc","expires_in":"3599"}"#).expect("numeric string");
        assert_eq!(t.expires_in, Duration::from_secs(3599));
        let t = parse(r#"{"access_token":"abc","token_type":"bearer","expires_in":60}"#).expect("lower-case type");
        assert_eq!(t.expires_in, Duration::from_secs(60));
        let t = parse(r#"{"access_token":"abc","token_type":"Bearer"}"#).expect("missing expires_in");
        assert_eq!(t.expires_in, Duration::from_secs(600), "falls back to the default lifetime");
    }

    /// Broken responses are errors, never tokens.
    #[test]
    fn rejects_broken_responses() {
        for body in [
            r#"{"access_token":"","expires_in":60}"#,
            r#"{"access_token":"abc","expires_in":0}"#,
            r#"{"access_token":"abc","expires_in":-5}"#,
            r#"{"access_token":"abc","expires_in":"soon"}"#,
            r#"{"access_token":"abc","expires_in":99999999999}"#,
            r#"{"access_token":"abc","token_type":"DPoP","expires_in":60}"#,
            r#"{"expires_in":60}"#,
            r#"not json"#,
        ] {
            assert!(matches!(parse(body), Err(ExchangeError::InvalidResponse(_))), "{body}");
        }
    }

    /// A parse error names the problem but never echoes the body.
    #[test]
    fn parse_errors_do_not_echo_the_body() {
        let err = serde_json::from_str::<UpstreamTokenResponse>(r#"{"access_token":"tok-SECRET","expires_in":"x"}"#)
            .expect_err("bad expires_in");
        assert!(!parse_reason(&err).contains("tok-SECRET"));
    }

    /// The upstream's `Retry-After` reaches the browser's 503, within bounds.
    #[test]
    fn retry_after_is_read_and_bounded() {
        let headers = |v: &str| {
            let mut h = http::HeaderMap::new();
            h.insert(http::header::RETRY_AFTER, http::HeaderValue::from_str(v).expect("header"));
            h
        };
        assert_eq!(retry_after_secs(&headers("17")), Some(17));
        assert_eq!(retry_after_secs(&headers("0")), Some(1));
        assert_eq!(retry_after_secs(&headers("86400")), Some(MAX_RETRY_AFTER_SECS));
        assert_eq!(retry_after_secs(&headers("Wed, 21 Oct 2015 07:28:00 GMT")), None);
        assert_eq!(retry_after_secs(&http::HeaderMap::new()), None);
    }
}
