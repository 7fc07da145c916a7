//! The one HTTP client for all upstream traffic (grants, revocation, userinfo,
//! discovery), built once at start-up: timeouts, no redirects, a body size cap.
//! A leaf: it imports nothing of ours.

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

/// The HTTP client could not be built (no TLS roots, say); start-up stops,
/// rather than falling back to a client without our timeouts and redirect guard.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the upstream HTTP client: {0}")]
pub struct TransportBuildError(#[source] reqwest::Error);

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
    /// Redirects are off: a token endpoint that redirects is misconfigured, and
    /// following it could leak the secret (SSRF).
    pub fn new(limits: UpstreamHttp) -> Result<Self, TransportBuildError> {
        let client = reqwest::Client::builder()
            .timeout(limits.timeout)
            .connect_timeout(limits.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("token-backend/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(TransportBuildError)?;
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
        // The innermost cause says what happened ("Connection refused"); the outer
        // layers only repeat the URL.
        let mut cause: &dyn std::error::Error = e;
        while let Some(next) = cause.source() {
            cause = next;
        }
        if e.is_connect() {
            TransportError::Connect(cause.to_string())
        } else {
            TransportError::Other(cause.to_string())
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
