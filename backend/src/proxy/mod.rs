//! The API proxy ("backend for frontend" mode): `/api/proxy/{name}/{*path}`
//! forwarded to a configured API with the server-held token, so the page never
//! holds one.
//!
//! - `settings`: [`ApiSettings`], one API, and the APS services an operator can name.
//! - `bearer`: the token as sent ([`Bearer`]) and where it comes from ([`BearerToken`]).
//! - `target`: the browser's path resolved under the API's base URL (SSRF guard).
//! - `headers`: the request and response header allowlists.
//! - `sandbox`: the CSP, `nosniff` and download disposition every answer gets,
//!   so nothing an API sends runs as script on the broker's origin.
//! - `body`: bodies streamed both ways within the size limits and the timeout.
//! - `renewal`: the cool-down on token renewals an API's `401` causes.
//! - `capacity`: the bound on upstream connections, within the proxy's share of
//!   the descriptor limit.
//!
//! Redirects from an API are never followed (the client has no redirect
//! policy) and never passed on: a 3xx other than `304 Not Modified` is answered
//! `502 upstream_redirect`, since the browser following it would leave the
//! proxy's guarantees (the target is unchecked) and `Location` may carry a
//! signed URL. An API's `401` makes at most one token renewal and one retry,
//! for idempotent methods without a request body only (a streamed body cannot
//! be sent twice), and no renewal within the API's cool-down of the last one
//! (`renewal`); many concurrent `401`s share one renewal (the token cache's and
//! the session refresh's single flight).

mod bearer;
mod body;
mod capacity;
mod headers;
mod renewal;
mod sandbox;
mod settings;
mod target;

pub use bearer::{Bearer, BearerToken};
pub use body::BodyError;
pub use capacity::ProxyCapacity;
pub use settings::{
    ApiSettings, ApiToken, ApsService, DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_RENEW_COOLDOWN,
    DEFAULT_TIMEOUT, DEV_MODELS_API, with_trailing_slash,
};
pub use target::PathRefusal;

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use http_body::Body as _;
use http_body_util::BodyExt as _;
use tokio::time::{Instant, Sleep};

use self::body::{Limited, Outcome};
use self::capacity::{ApiPlaces, Place, Places};
use self::renewal::Renewals;
use crate::descriptors::caused_by_exhaustion;
use crate::sign_in::UserTokenError;
use crate::telemetry::{ApiMetrics, Metrics};
use crate::token_cache::CacheError;
use crate::transport::{ApiBody, ApiClient, TransportBuildError, UpstreamHttp, innermost_cause};

/// Why a proxied request failed: the proxy's own failure, or the token's.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProxyError {
    #[error(transparent)]
    Failed(#[from] ProxyFailure),
    /// The two-legged token could not be had; the cache has logged why.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The user's token could not be had.
    #[error(transparent)]
    UserToken(#[from] UserTokenError),
}

impl From<PathRefusal> for ProxyError {
    fn from(e: PathRefusal) -> Self {
        Self::Failed(e.into())
    }
}

/// The proxy's own failure. Messages name the rule or limit, never the path, a
/// header or anything the API said.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProxyFailure {
    /// The name as requested.
    #[error("no API is configured under this name")]
    UnknownApi(String),
    /// `allowed` goes into the 405's `Allow` (RFC 9110 §15.5.6).
    #[error("this API does not allow the {method} method")]
    MethodNotAllowed { method: Method, allowed: Vec<Method> },
    #[error(transparent)]
    Path(#[from] PathRefusal),
    #[error("the request body is larger than this API's limit of {0} bytes")]
    RequestTooLarge(u64),
    #[error("the API's response is larger than this API's limit of {0} bytes")]
    ResponseTooLarge(u64),
    #[error("the API did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the API answered with a redirect ({0}), which the proxy does not follow")]
    Redirect(u16),
    /// Transport detail for the log (no URL: the client error's innermost cause only).
    #[error("the API could not be reached: {0}")]
    Unreachable(String),
    /// Every upstream connection the proxy may hold is in use (or the process
    /// ran out of descriptors): a `503` the browser retries, not the API's fault.
    #[error("the proxy's upstream connections are all in use")]
    Busy,
    /// The request body from the browser failed or stalled.
    #[error("the request body could not be read: {0}")]
    RequestBody(BodyError),
}

/// What the browser sent, as the route received it (path and query borrowed
/// from its URI, not copied).
pub struct ProxyRequest<'a> {
    pub method: Method,
    /// After `/api/proxy/{name}/`, still percent-encoded.
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: HeaderMap,
    pub body: axum::body::Body,
}

/// Header names only: the values include the browser's cookies and credentials.
impl std::fmt::Debug for ProxyRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// One configured API with its metrics and its places for upstream requests.
#[derive(Debug)]
pub struct Api {
    pub settings: ApiSettings,
    /// `Host` for its requests, made once ([`host_header`]).
    host: Option<HeaderValue>,
    metrics: ApiMetrics,
    places: ApiPlaces,
    renewals: Renewals,
}

/// The proxy: its APIs, the HTTP client they share and the bound on its
/// upstream connections. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Proxy {
    client: ApiClient,
    apis: Arc<BTreeMap<String, Arc<Api>>>,
    places: Places,
}

impl Proxy {
    /// The proxy for `apis`, with a client of its own ([`ApiClient`]):
    /// each API's timeout bounds the headers and every gap between chunks.
    /// Requests wait for a place within `capacity` as long as they would wait to
    /// connect (as HAProxy's `timeout queue` defaults to `timeout connect`).
    pub fn new(
        apis: impl IntoIterator<Item = ApiSettings>,
        http: &UpstreamHttp,
        capacity: ProxyCapacity,
        metrics: &Metrics,
    ) -> Result<Self, TransportBuildError> {
        let client = ApiClient::new(http.connect_timeout, capacity.idle_per_host)?;
        let apis = apis
            .into_iter()
            .map(|settings| {
                let metrics = metrics.api(&settings.name);
                let places = Places::for_api(capacity);
                let renewals = Renewals::new(settings.renew_cooldown);
                let host = host_header(&settings.base_url);
                (settings.name.clone(), Arc::new(Api { settings, host, metrics, places, renewals }))
            })
            .collect();
        Ok(Self { client, apis: Arc::new(apis), places: Places::new(capacity, http.connect_timeout) })
    }

    pub fn api(&self, name: &str) -> Result<&Arc<Api>, ProxyFailure> {
        self.apis.get(name).ok_or_else(|| ProxyFailure::UnknownApi(name.to_owned()))
    }

    pub fn apis(&self) -> impl Iterator<Item = &ApiSettings> {
        self.apis.values().map(|api| &api.settings)
    }

    /// Forwards `request` to `api` with `token`, and streams the answer back.
    pub async fn forward(
        &self,
        api: &Arc<Api>,
        request: ProxyRequest<'_>,
        token: &impl BearerToken,
    ) -> Result<http::Response<axum::body::Body>, ProxyError> {
        let settings = &api.settings;
        let unanswered = |e: ProxyError| {
            api.metrics.record_no_answer();
            e
        };
        if !settings.methods.contains(&request.method) {
            let allowed = settings.methods.clone();
            return Err(unanswered(ProxyFailure::MethodNotAllowed { method: request.method, allowed }.into()));
        }
        let url = target::resolve(settings, request.path, request.query).map_err(|e| unanswered(e.into()))?;
        let length = content_length(&request.headers);
        if length.is_some_and(|n| n > settings.max_request_bytes) {
            return Err(unanswered(ProxyFailure::RequestTooLarge(settings.max_request_bytes).into()));
        }
        let has_body = length.is_some_and(|n| n > 0) || request.headers.contains_key(header::TRANSFER_ENCODING);
        let is_retryable = request.method.is_idempotent() && !has_body;
        let outcome = has_body.then(Outcome::default);
        let body = outcome.as_ref().map(|outcome| {
            let stream = request.body.into_data_stream();
            axum::body::Body::from_stream(Limited::new(
                stream,
                settings.max_request_bytes,
                settings.timeout,
                outcome.clone(),
            ))
        });
        // What reqwest did too: a URL that is no valid URI is a failed request.
        let url = Uri::try_from(url)
            .map_err(|_| unanswered(ProxyFailure::Unreachable("the API's URL is not a valid URI".to_owned()).into()))?;

        let outgoing = Outgoing {
            client: &self.client,
            api: settings,
            host: api.host.as_ref(),
            method: request.method,
            url,
            browser_headers: request.headers,
            outcome,
        };
        let bearer = token.current().await.map_err(unanswered)?;
        let place = self.places.take(&api.places).await.map_err(|_| unanswered(ProxyFailure::Busy.into()))?;
        let mut started = Instant::now();
        // One timer for the whole exchange: the wait for the headers, then each gap between chunks.
        let mut deadline = Box::pin(tokio::time::sleep(settings.timeout));
        let mut response = outgoing.send(&bearer, body, deadline.as_mut()).await.map_err(|e| unanswered(e.into()))?;
        if response.status() == StatusCode::UNAUTHORIZED && is_retryable {
            let renewed = if api.renewals.may_renew(&token.holder(), bearer.secret()) {
                token.renew(&bearer).await
            } else {
                // Cooling down: another request's renewal may still have brought a newer token.
                tracing::debug!(api = %settings.name, "the API refused the token; renewal is cooling down");
                token.current().await
            };
            let renewed = renewed.map_err(unanswered)?;
            if renewed.secret() != bearer.secret() {
                api.metrics.record_answer(response.status().as_u16(), started.elapsed());
                tracing::info!(api = %settings.name, "the API refused the token; retrying once with a new one");
                started = Instant::now();
                deadline.as_mut().reset(started + settings.timeout);
                response = outgoing.send(&renewed, None, deadline.as_mut()).await.map_err(|e| unanswered(e.into()))?;
            }
        }
        let status = response.status();
        api.metrics.record_answer(status.as_u16(), started.elapsed());
        if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
            return Err(ProxyFailure::Redirect(status.as_u16()).into());
        }
        if response.body().size_hint().exact().is_some_and(|n| n > settings.max_response_bytes) {
            return Err(ProxyFailure::ResponseTooLarge(settings.max_response_bytes).into());
        }
        Ok(pass_on(api, response, place, deadline))
    }
}

/// The request to the API as it is sent, and sent again with a renewed token.
struct Outgoing<'a> {
    client: &'a ApiClient,
    api: &'a ApiSettings,
    host: Option<&'a HeaderValue>,
    method: Method,
    url: Uri,
    /// As the browser sent them; the allowlisted ones are copied straight into each request.
    browser_headers: HeaderMap,
    /// Why the streamed request body stopped, if there is one and it did.
    outcome: Option<Outcome>,
}

impl Outgoing<'_> {
    /// One request with `bearer`, its headers awaited until `deadline`.
    async fn send(
        &self,
        bearer: &Bearer,
        body: Option<axum::body::Body>,
        deadline: Pin<&mut Sleep>,
    ) -> Result<http::Response<ApiBody>, ProxyFailure> {
        let mut request = http::Request::new(body.unwrap_or_default());
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.url.clone();
        // Room for `Authorization`, `Host`, and the client's `User-Agent` and `Accept`.
        *request.headers_mut() = headers::request_headers(&self.browser_headers, 4);
        request.headers_mut().insert(header::AUTHORIZATION, bearer.header().clone());
        if let Some(host) = self.host {
            request.headers_mut().insert(header::HOST, host.clone());
        }
        let sent = tokio::select! {
            biased;
            sent = self.client.send(request) => sent,
            () = deadline => return Err(ProxyFailure::Timeout(self.api.timeout)),
        };
        sent.map_err(|e| match self.outcome.as_ref().and_then(Outcome::error) {
            Some(BodyError::TooLarge(max)) => ProxyFailure::RequestTooLarge(max),
            Some(other) => ProxyFailure::RequestBody(other),
            None if caused_by_exhaustion(&e) => ProxyFailure::Busy,
            None => ProxyFailure::Unreachable(innermost_cause(&e)),
        })
    }
}

/// The API's answer for the browser: its status, the allowlisted headers, and
/// the body streamed within the API's limits, holding its `place` until it ends.
fn pass_on(
    api: &Arc<Api>,
    response: http::Response<ApiBody>,
    place: Place,
    deadline: Pin<Box<Sleep>>,
) -> http::Response<axum::body::Body> {
    let settings = &api.settings;
    let (parts, body) = response.into_parts();
    let mut headers = parts.headers;
    // Room for `Cache-Control` and the sandbox's three.
    headers::keep_response_headers(&mut headers, 4);
    // What an API sent for this browser is its alone to keep.
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("private, no-cache"));
    sandbox::apply(&mut headers, settings.is_active_content_inline);
    let api = Arc::clone(api);
    let stream =
        Limited::with_deadline(body.into_data_stream(), settings.max_response_bytes, settings.timeout, deadline);
    let stream = futures_util::StreamExt::inspect(stream, move |chunk| {
        // Owned by the body stream, so given back when the body ends or is dropped.
        let _place = &place;
        if let Err(e) = chunk {
            // Status and headers are gone already: cutting the connection is how
            // the browser learns that the body is incomplete.
            tracing::warn!(api = %api.settings.name, error = %e, "the API's response body was cut short");
        }
    });
    // A new answer with the API's status and kept headers only: nothing else
    // of the API's response (its reason phrase, its extensions) goes on.
    let mut answer = http::Response::new(axum::body::Body::from_stream(stream));
    *answer.status_mut() = parts.status;
    *answer.headers_mut() = headers;
    answer
}

/// `Host` for requests to `base`, as the HTTP client would write it for each
/// request (the port only when it is not the scheme's default): written once
/// here instead. `None` leaves it to the client.
fn host_header(base: &url::Url) -> Option<HeaderValue> {
    let host = base.host_str()?;
    let value = match base.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    HeaderValue::try_from(value).ok()
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As hyper-util writes it: the port only when it is not the default.
    #[test]
    fn host_header_is_written_as_the_client_would() {
        let cases = [
            ("https://api.example.com/v2/", "api.example.com"),
            ("https://api.example.com:443/", "api.example.com"),
            ("http://127.0.0.1:8080/", "127.0.0.1:8080"),
            ("https://[::1]:8443/", "[::1]:8443"),
            ("http://[::1]/", "[::1]"),
        ];
        for (base, host) in cases {
            let base = url::Url::parse(base).expect("url");
            assert_eq!(host_header(&base).expect("a host"), host, "{base}");
        }
    }
}
