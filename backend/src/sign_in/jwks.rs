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
        if fetched_at.is_some_and(|at| now.duration_since(at) < MIN_REFRESH_INTERVAL) {
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
