//! The provider's signing keys (its JWKS, from discovery's `jwks_uri`), which
//! back-channel logout tokens are checked against.
//!
//! Fetched on first use and kept; fetched again when a token names a key we do
//! not have (the provider rotated its keys), at most once per
//! [`MIN_REFRESH_INTERVAL`] so a stream of tokens with made-up `kid`s cannot
//! make us hammer the provider. A failed fetch opens the same backoff window as
//! a failed token request ([`Backoff`]): the provider is asked again only after it.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use tokio::time::Instant;
use url::Url;

use crate::exchange::ExchangeError;
use crate::token_cache::{Backoff, BackoffPolicy};
use crate::transport::{Transport, retry_after_secs};

/// A key unknown after a fetch this recent is unknown: no new fetch.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(10);

/// The provider's JWKS, cached.
pub(super) struct Jwks {
    url: Url,
    http: Transport,
    /// The keys of the last successful fetch. A std `Mutex`: never held across an `.await`.
    keys: Mutex<Arc<JwkSet>>,
    /// [`MIN_REFRESH_INTERVAL`], shorter in tests.
    min_refresh: Duration,
    /// When the keys were last fetched; the async lock makes concurrent
    /// refreshes one fetch (the waiters find the new keys).
    fetched_at: tokio::sync::Mutex<Option<Instant>>,
    backoff: Backoff,
}

impl Jwks {
    pub(super) fn new(url: Url, http: Transport, backoff: BackoffPolicy) -> Self {
        Self {
            url,
            http,
            keys: Mutex::new(Arc::new(JwkSet { keys: Vec::new() })),
            min_refresh: MIN_REFRESH_INTERVAL,
            fetched_at: tokio::sync::Mutex::new(None),
            backoff: Backoff::new(backoff),
        }
    }

    /// The key named `kid` (or the only key, when the token names none);
    /// `Ok(None)` when the provider has no such key even after a fresh fetch.
    pub(super) async fn key(&self, kid: Option<&str>) -> Result<Option<Jwk>, ExchangeError> {
        if let Some(key) = self.find(kid) {
            return Ok(Some(key));
        }
        let mut fetched_at = self.fetched_at.lock().await;
        // Another request may have fetched while this one waited.
        if let Some(key) = self.find(kid) {
            return Ok(Some(key));
        }
        let now = Instant::now();
        if fetched_at.is_some_and(|at| now.duration_since(at) < self.min_refresh) {
            return Ok(None);
        }
        self.backoff.check(now)?;
        match self.fetch().await {
            Ok(keys) => {
                self.backoff.record_success();
                *fetched_at = Some(Instant::now());
                *self.keys.lock().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
                Ok(self.find(kid))
            }
            Err(e) => {
                self.backoff.record_failure(&e, Instant::now());
                Err(e)
            }
        }
    }

    fn find(&self, kid: Option<&str>) -> Option<Jwk> {
        let keys = Arc::clone(&self.keys.lock().unwrap_or_else(PoisonError::into_inner));
        match kid {
            Some(kid) => keys.find(kid).cloned(),
            None => match keys.keys.as_slice() {
                [only] => Some(only.clone()),
                _ => None,
            },
        }
    }

    async fn fetch(&self) -> Result<JwkSet, ExchangeError> {
        let request = self.http.request(reqwest::Method::GET, self.url.clone());
        let response = self.http.send(request).await?;
        let status = response.status();
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let retry_after = retry_after_secs(response.headers()).map(|s| Duration::from_secs(s.into()));
            return Err(ExchangeError::Unavailable { status: status.as_u16(), retry_after });
        }
        if !status.is_success() {
            return Err(ExchangeError::InvalidResponse(format!("the JWKS answered HTTP {status}")));
        }
        let body = self.http.read_body(response).await?;
        // The body is not quoted: the position of the problem is enough.
        serde_json::from_slice(&body).map_err(|e| {
            let at = format!("line {}, column {}", e.line(), e.column());
            ExchangeError::InvalidResponse(format!("the JWKS is not a JWK set ({} bytes, at {at})", body.len()))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;

    use super::*;
    use crate::transport::UpstreamHttp;

    /// A JWKS endpoint whose answer the test sets, counting requests.
    #[derive(Clone, Default)]
    struct Endpoint {
        answer: Arc<Mutex<(u16, String)>>,
        requests: Arc<AtomicUsize>,
    }

    impl Endpoint {
        fn answer(&self, status: u16, body: &str) {
            *self.answer.lock().unwrap_or_else(PoisonError::into_inner) = (status, body.to_owned());
        }

        fn requests(&self) -> usize {
            self.requests.load(Ordering::SeqCst)
        }

        /// Serves on a loopback port; returns its JWKS URL.
        async fn serve(&self) -> Url {
            let endpoint = self.clone();
            let app = axum::Router::new().route(
                "/jwks",
                axum::routing::get(move || {
                    let endpoint = endpoint.clone();
                    async move {
                        endpoint.requests.fetch_add(1, Ordering::SeqCst);
                        let (status, body) = endpoint.answer.lock().unwrap_or_else(PoisonError::into_inner).clone();
                        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                        (status, [(header::RETRY_AFTER, "30")], body).into_response()
                    }
                }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("address");
            tokio::spawn(async move { axum::serve(listener, app).await });
            Url::parse(&format!("http://{addr}/jwks")).expect("URL")
        }
    }

    fn keys(kids: &[&str]) -> String {
        let keys: Vec<_> =
            kids.iter().map(|kid| serde_json::json!({"kty": "RSA", "kid": kid, "n": "sXch", "e": "AQAB"})).collect();
        serde_json::json!({ "keys": keys }).to_string()
    }

    fn jwks(url: Url, min_refresh: Duration) -> Jwks {
        let limits = UpstreamHttp {
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            max_body_bytes: 65536,
        };
        let jwks = Jwks::new(url, Transport::new(limits).expect("client"), BackoffPolicy::default());
        Jwks { min_refresh, ..jwks }
    }

    /// Keys are fetched once and kept; a `kid` we lack (the provider rotated
    /// its keys) fetches them again, but not twice within the interval, so
    /// made-up `kid`s cannot make us hammer the provider.
    #[tokio::test]
    async fn an_unknown_kid_fetches_the_keys_again_at_most_once_per_interval() {
        let endpoint = Endpoint::default();
        endpoint.answer(200, &keys(&["a"]));
        let url = endpoint.serve().await;

        let rotating = jwks(url.clone(), Duration::ZERO);
        assert!(rotating.key(Some("a")).await.expect("fetched").is_some());
        assert!(rotating.key(Some("a")).await.expect("cached").is_some());
        assert_eq!(endpoint.requests(), 1, "kept");
        endpoint.answer(200, &keys(&["a", "b"]));
        assert!(rotating.key(Some("b")).await.expect("fetched again").is_some(), "the new key");
        assert_eq!(endpoint.requests(), 2);

        let throttled = jwks(url, MIN_REFRESH_INTERVAL);
        assert!(throttled.key(None).await.expect("fetched").is_none(), "no kid, two keys: none is the one");
        assert_eq!(throttled.key(Some("made-up")).await.expect("no fetch"), None);
        assert_eq!(endpoint.requests(), 3, "one fetch within the interval");
    }

    /// A failed fetch opens the token endpoint's backoff window: the next key
    /// lookup inside it asks nobody and says how long to wait.
    #[tokio::test]
    async fn a_failed_fetch_backs_off() {
        let endpoint = Endpoint::default();
        endpoint.answer(503, "down");
        let jwks = jwks(endpoint.serve().await, Duration::ZERO);
        match jwks.key(Some("a")).await {
            Err(ExchangeError::Unavailable { status: 503, retry_after }) => {
                assert_eq!(retry_after, Some(Duration::from_secs(30)));
            }
            other => panic!("expected unavailable, got {other:?}"),
        }
        assert!(matches!(jwks.key(Some("a")).await, Err(ExchangeError::BackingOff { .. })));
        assert_eq!(endpoint.requests(), 1, "left alone inside the window");
    }

    /// A body that is not a JWK set is an invalid response that does not quote it.
    #[tokio::test]
    async fn a_bad_body_is_not_quoted() {
        let endpoint = Endpoint::default();
        endpoint.answer(200, r#"{"keys": "private-looking-text"}"#);
        let jwks = jwks(endpoint.serve().await, Duration::ZERO);
        let error = jwks.key(Some("a")).await.expect_err("not a JWK set");
        assert!(matches!(error, ExchangeError::InvalidResponse(_)), "{error:?}");
        assert!(!error.to_string().contains("private-looking"), "{error}");
    }
}
