//! Every upstream HTTP client is built here, once, at start-up: [`Transport`]
//! for the authorization server (grants, revocation, userinfo, discovery: a
//! total timeout and a body size cap) and [`ApiClient`] for the API proxy
//! (streamed bodies, no total timeout). Both refuse redirects, send our user
//! agent, and describe a failure by its [`innermost_cause`]. A leaf: it
//! imports nothing of ours.

use std::error::Error as StdError;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, header};
use http_body::{Frame, SizeHint};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

/// Our `User-Agent`, on every upstream request.
const USER_AGENT: &str = concat!("token-backend/", env!("CARGO_PKG_VERSION"));

/// Limits on every request to the upstream.
#[derive(Debug, Clone, Copy)]
pub struct UpstreamHttp {
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Larger responses are refused: a real token response is well under 16 KiB.
    pub max_body_bytes: usize,
}

/// The upstream HTTP client with its limits. Cheap to clone (reqwest's client is
/// a handle to one connection pool).
#[derive(Debug, Clone)]
pub struct Transport {
    client: reqwest::Client,
    limits: UpstreamHttp,
}

/// An HTTP client could not be built (no TLS roots, say); start-up stops,
/// rather than falling back to a client without our timeouts and redirect guard.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the {client} HTTP client: {source}")]
pub struct TransportBuildError {
    /// Which one: `upstream` or `API proxy's`.
    client: &'static str,
    #[source]
    source: Box<dyn StdError + Send + Sync>,
}

/// What every upstream client shares. Redirects are off: a token endpoint that
/// redirects is misconfigured, and following it could leak the secret; an API's
/// redirect would take the proxy's request (and token) past its SSRF guard.
fn builder(connect_timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(USER_AGENT)
}

/// The environment variables reqwest reads a forward proxy from (either case).
const PROXY_VARIABLES: [&str; 6] = ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"];

/// The API proxy's client, its own rather than the token client's: no total
/// timeout (a model download may take minutes; the proxy bounds the headers and
/// every gap between chunks instead), no size cap (streamed, not read), and no
/// connection pool shared with the authorization server. Cheap to clone.
///
/// Without a forward proxy in the environment it is hyper's pooled client
/// (hyper-util's `legacy::Client` over rustls with the same webpki roots):
/// reqwest wraps each request in a redirect follower that copies every header
/// even with redirects off, re-parses each response URL and matches system
/// proxies, about a third of the proxy's CPU per small request (issue 20,
/// BENCHMARKS.md). With `HTTP_PROXY`, `HTTPS_PROXY` or `ALL_PROXY` set it is
/// reqwest, as before, which sends API traffic through that proxy (and honours
/// `NO_PROXY`); hyper-util has no such matching to offer.
#[derive(Debug, Clone)]
pub struct ApiClient(ApiClientKind);

#[derive(Debug, Clone)]
enum ApiClientKind {
    Direct(Client<HttpsConnector<HttpConnector>, axum::body::Body>),
    ViaProxy(reqwest::Client),
}

/// Why an API request got no response; the source chain says why
/// ([`innermost_cause`], and `descriptors::caused_by_exhaustion`).
#[derive(Debug, thiserror::Error)]
#[error("the API request failed")]
pub struct ApiClientError(#[source] Box<dyn StdError + Send + Sync>);

impl ApiClient {
    /// Keeps at most `idle_per_host` idle connections per host, each for 90 s.
    pub fn new(connect_timeout: Duration, idle_per_host: usize) -> Result<Self, TransportBuildError> {
        let failed = |source: Box<dyn StdError + Send + Sync>| TransportBuildError { client: "API proxy's", source };
        let has_env_proxy = PROXY_VARIABLES.iter().any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
        if has_env_proxy {
            let client =
                builder(connect_timeout).pool_max_idle_per_host(idle_per_host).build().map_err(|e| failed(e.into()))?;
            return Ok(Self(ApiClientKind::ViaProxy(client)));
        }
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(connect_timeout));
        http.set_nodelay(true);
        http.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(Arc::new(rustls::crypto::ring::default_provider()))
            .map_err(|e| failed(e.into()))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(idle_per_host)
            .build(https);
        Ok(Self(ApiClientKind::Direct(client)))
    }

    /// Sends `request` (an absolute URI) and returns the response once its
    /// headers are in. Adds our `User-Agent`, and `Accept: */*` when the
    /// request has none, as reqwest does.
    pub async fn send(
        &self,
        mut request: http::Request<axum::body::Body>,
    ) -> Result<http::Response<ApiBody>, ApiClientError> {
        match &self.0 {
            ApiClientKind::Direct(client) => {
                let headers = request.headers_mut();
                headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
                headers.entry(header::ACCEPT).or_insert(HeaderValue::from_static("*/*"));
                let response = client.request(request).await.map_err(|e| ApiClientError(e.into()))?;
                Ok(response.map(ApiBody::Direct))
            }
            ApiClientKind::ViaProxy(client) => {
                let request = request.map(|body| reqwest::Body::wrap_stream(body.into_data_stream()));
                let request = reqwest::Request::try_from(request).map_err(|e| ApiClientError(e.into()))?;
                let response = client.execute(request).await.map_err(|e| ApiClientError(e.into()))?;
                Ok(http::Response::from(response).map(ApiBody::ViaProxy))
            }
        }
    }
}

/// An API's response body, from whichever client fetched it.
#[derive(Debug)]
pub enum ApiBody {
    Direct(hyper::body::Incoming),
    ViaProxy(reqwest::Body),
}

impl http_body::Body for ApiBody {
    type Data = Bytes;
    type Error = Box<dyn StdError + Send + Sync>;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let boxed = |e: Box<dyn StdError + Send + Sync>| e;
        match self.get_mut() {
            Self::Direct(body) => Pin::new(body).poll_frame(cx).map(|f| f.map(|f| f.map_err(|e| boxed(e.into())))),
            Self::ViaProxy(body) => Pin::new(body).poll_frame(cx).map(|f| f.map(|f| f.map_err(|e| boxed(e.into())))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Direct(body) => body.is_end_stream(),
            Self::ViaProxy(body) => body.is_end_stream(),
        }
    }

    /// Exact when the API declared a length (and zero for a `HEAD` or `304`,
    /// whatever `Content-Length` says).
    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Direct(body) => body.size_hint(),
            Self::ViaProxy(body) => body.size_hint(),
        }
    }
}

/// The innermost cause says what happened ("Connection refused"); the outer
/// layers only repeat the URL, whose query may hold something private.
pub fn innermost_cause(e: &(dyn StdError + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Why a request did not produce a response.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("response body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    Connect(String),
    #[error("{0}")]
    Other(String),
}

impl Transport {
    pub fn new(limits: UpstreamHttp) -> Result<Self, TransportBuildError> {
        let client = builder(limits.connect_timeout)
            .timeout(limits.timeout)
            .build()
            .map_err(|source| TransportBuildError { client: "upstream", source: source.into() })?;
        Ok(Self { client, limits })
    }

    pub fn limits(&self) -> &UpstreamHttp {
        &self.limits
    }

    /// Starts a request; send it with [`Transport::send`].
    pub fn request(&self, method: reqwest::Method, url: reqwest::Url) -> reqwest::RequestBuilder {
        self.client.request(method, url)
    }

    /// Sends a request built with [`Transport::request`].
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, TransportError> {
        request.send().await.map_err(|e| self.error(&e))
    }

    /// Reads a response body, refusing to buffer more than the configured cap.
    pub async fn read_body(&self, mut response: reqwest::Response) -> Result<Vec<u8>, TransportError> {
        let limit = self.limits.max_body_bytes;
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
                Err(e) => return Err(self.error(&e)),
            }
        }
    }

    fn error(&self, e: &reqwest::Error) -> TransportError {
        if e.is_timeout() {
            return TransportError::Timeout(self.limits.timeout);
        }
        if e.is_connect() {
            TransportError::Connect(innermost_cause(e))
        } else {
            TransportError::Other(innermost_cause(e))
        }
    }
}

/// The longest `Retry-After` we pass on; a longer one is a broken upstream.
pub const MAX_RETRY_AFTER_SECS: u32 = 300;

/// `Retry-After` as delay-seconds (RFC 9110 §10.2.3); the HTTP-date form is
/// rare from token endpoints and is ignored.
pub fn retry_after_secs(headers: &http::HeaderMap) -> Option<u32> {
    let secs: u32 = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(secs.clamp(1, MAX_RETRY_AFTER_SECS))
}

#[cfg(test)]
mod tests {
    use super::*;

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
