//! The token as the proxy sends it ([`Bearer`]), and where a request's token
//! comes from ([`BearerToken`]).

use std::future::Future;

use http::HeaderValue;

use super::{ProxyError, ProxyFailure};

/// A token as it goes to an API: the whole `Authorization` value, `Bearer
/// <token>`, marked sensitive. Cloning shares it; a cached token's is built
/// once per token (`CachedToken::bearer`), not per request.
#[derive(Clone, PartialEq, Eq)]
pub struct Bearer(HeaderValue);

impl Bearer {
    /// A value built already, such as the token cache's.
    pub fn from_header(value: HeaderValue) -> Self {
        Self(value)
    }

    /// The value for `secret`; a token that cannot be a header value fails the
    /// request, as it did when the HTTP client refused the header.
    pub fn new(secret: &str) -> Result<Self, ProxyFailure> {
        let mut value = HeaderValue::try_from(format!("Bearer {secret}"))
            .map_err(|_| ProxyFailure::Unreachable("the token is not a valid header value".to_owned()))?;
        value.set_sensitive(true);
        Ok(Self(value))
    }

    pub(super) fn header(&self) -> &HeaderValue {
        &self.0
    }

    /// The token itself.
    ///
    /// # Security Warning
    /// Only the token's own holder (the cache, the session) may be given this value.
    pub fn secret(&self) -> &str {
        self.0.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).unwrap_or_default()
    }
}

impl std::fmt::Debug for Bearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bearer([redacted])")
    }
}

/// The server-held token for one request: current, and renewed after the API
/// refused it. Implemented over the token cache and the user's session.
pub trait BearerToken: Send + Sync {
    fn current(&self) -> impl Future<Output = Result<Bearer, ProxyError>> + Send;
    /// A token other than `rejected`, unless nothing better can be had (then
    /// `rejected` itself, and the API's `401` goes to the browser).
    fn renew(&self, rejected: &Bearer) -> impl Future<Output = Result<Bearer, ProxyError>> + Send;
    /// Whose token it is (a profile, a session), for the renewal cool-down.
    fn holder(&self) -> String;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value is the header as sent; the secret is what follows `Bearer `,
    /// and neither shows in `Debug`.
    #[test]
    fn the_value_is_sent_and_never_printed() {
        let bearer = Bearer::new("SECRET-TOKEN").expect("a header value");
        assert_eq!(bearer.header(), "Bearer SECRET-TOKEN");
        assert!(bearer.header().is_sensitive());
        assert_eq!(bearer.secret(), "SECRET-TOKEN");
        assert!(!format!("{bearer:?}").contains("SECRET"));
        assert!(Bearer::new("bad\ntoken").is_err());
    }
}
