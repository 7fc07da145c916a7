//! Every upstream HTTP client is built here, once, at start-up: [`Transport`]
//! for the authorization server (grants, revocation, userinfo, discovery: a
//! total timeout and a body size cap) and [`streaming_client`] for the API
//! proxy (streamed bodies, no total timeout). Both refuse redirects, send our
//! user agent, and describe a failure by its [`innermost_cause`]. A leaf: it
//! imports nothing of ours.

use std::time::Duration;

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
    source: reqwest::Error,
}

/// What every upstream client shares. Redirects are off: a token endpoint that
/// redirects is misconfigured, and following it could leak the secret; an API's
/// redirect would take the proxy's request (and token) past its SSRF guard.
fn builder(connect_timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("token-backend/", env!("CARGO_PKG_VERSION")))
}

/// The API proxy's client, its own rather than the token client's: no total
/// timeout (a model download may take minutes; the proxy bounds the headers and
/// every gap between chunks instead), no size cap (streamed, not read), and no
/// connection pool shared with the authorization server.
pub fn streaming_client(
    connect_timeout: Duration,
    idle_per_host: usize,
) -> Result<reqwest::Client, TransportBuildError> {
    builder(connect_timeout)
        .pool_max_idle_per_host(idle_per_host)
        .build()
        .map_err(|source| TransportBuildError { client: "API proxy's", source })
}

/// The innermost cause says what happened ("Connection refused"); the outer
/// layers only repeat the URL, whose query may hold something private.
pub fn innermost_cause(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
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
            .map_err(|source| TransportBuildError { client: "upstream", source })?;
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
