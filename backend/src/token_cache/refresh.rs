//! The cache's upstream fetch: one at a time per cache ([`SingleFlight`]), a cold
//! fetch tried once for its waiters, a refresh-ahead retried with backoff while
//! the current token lasts, each failure logged once, and after a failure a
//! window in which misses fail at once (`backoff`).

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use tokio::time::Instant;

use super::backoff::Backoff;
use super::{CacheError, CachePolicy, CachedToken, TokenSource};
use crate::exchange::ExchangeError;
use crate::single_flight::SingleFlight;
use crate::telemetry::ProfileMetrics;

type FlightResult = Result<Arc<CachedToken>, CacheError>;

/// Whether the flight was started by a request that has no token to serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Requests are waiting: one attempt, and its error goes to all of them.
    Cold,
    /// A good token is still being served: retry with backoff while it lasts.
    RefreshAhead,
}

pub(super) struct Inner {
    scopes: Vec<String>,
    source: Arc<dyn TokenSource>,
    policy: CachePolicy,
    pub(super) metrics: ProfileMetrics,
    pub(super) current: ArcSwapOption<CachedToken>,
    /// The upstream request in progress, if any; one cache has one key, `()`.
    flight: SingleFlight<(), Arc<CachedToken>, CacheError>,
    /// Set by a failed flight: until it closes, misses fail without a new flight.
    backoff: Backoff,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache").field("scopes", &self.scopes).field("source", &self.source).finish_non_exhaustive()
    }
}

impl Inner {
    pub(super) fn new(
        scopes: Vec<String>,
        source: Arc<dyn TokenSource>,
        policy: CachePolicy,
        metrics: ProfileMetrics,
    ) -> Self {
        let backoff = Backoff::new(policy.backoff.clone());
        Self {
            scopes,
            source,
            policy,
            metrics,
            current: ArcSwapOption::empty(),
            flight: SingleFlight::default(),
            backoff,
        }
    }

    /// Waits for the flight in progress, starting one if there is none.
    pub(super) async fn wait_for_token(this: &Arc<Self>) -> FlightResult {
        let flight = this.flight.join_or_start((), || {
            // A flight may have finished between our cache miss and taking the lock.
            let now = Instant::now();
            if let Some(token) = this.current.load_full().filter(|t| t.is_usable(now)) {
                return Err(Ok(token));
            }
            // A failed flight opened a window: until it closes, misses fail at once.
            if let Err(e) = this.backoff.check(now) {
                return Err(Err(e.into()));
            }
            Ok(Self::fetch_and_store(Arc::clone(this), Mode::Cold))
        });
        match flight {
            Ok(flight) => flight.await,
            Err(answer) => answer,
        }
    }

    /// Waits for a token other than `rejected`: the current one if it was
    /// replaced already, else the flight in progress or a new one.
    pub(super) async fn replace(this: &Arc<Self>, rejected: &str) -> FlightResult {
        let flight = this.flight.join_or_start((), || {
            let now = Instant::now();
            if let Some(token) = this.current.load_full().filter(|t| t.is_usable(now) && t.secret() != rejected) {
                return Err(Ok(token));
            }
            if let Err(e) = this.backoff.check(now) {
                return Err(Err(e.into()));
            }
            Ok(Self::fetch_and_store(Arc::clone(this), Mode::Cold))
        });
        match flight {
            Ok(flight) => flight.await,
            Err(answer) => answer,
        }
    }

    /// Starts a background refresh unless a flight is already under way.
    pub(super) fn start_refresh(this: &Arc<Self>) {
        // The flight runs in its own task; nobody waits for it here.
        let _ =
            this.flight.join_or_start((), || Ok::<_, ()>(Self::fetch_and_store(Arc::clone(this), Mode::RefreshAhead)));
    }

    /// The flight's work. It stores the token (or opens the backoff window)
    /// before the flight ends, so a request that finds no flight also finds the
    /// new token (or the window).
    async fn fetch_and_store(this: Arc<Self>, mode: Mode) -> FlightResult {
        match this.fetch(mode).await {
            Ok(token) => {
                this.current.store(Some(Arc::clone(&token)));
                this.backoff.record_success();
                Ok(token)
            }
            Err(error) => {
                this.backoff.record_failure(&error, Instant::now());
                Err(error.into())
            }
        }
    }

    async fn fetch(&self, mode: Mode) -> Result<Arc<CachedToken>, ExchangeError> {
        let mut attempt = 0;
        loop {
            let error = match self.fetch_once().await {
                Ok(token) => return Ok(token),
                Err(error) => error,
            };
            let usable_until = self.current.load().as_ref().map(|t| t.usable_until);
            let now = Instant::now();
            match usable_until {
                Some(until) if mode == Mode::RefreshAhead && now < until => {
                    // An upstream that asked for a pause gets it, even while we still have a token.
                    let asked = match &error {
                        ExchangeError::Unavailable { retry_after: Some(d), .. } => {
                            (*d).min(self.policy.backoff.retry_after_max)
                        }
                        ExchangeError::BackingOff { retry_after } => *retry_after,
                        _ => Duration::ZERO,
                    };
                    let delay = self.policy.retry_delay(attempt).max(asked).min(until - now);
                    tracing::info!(
                        retry_in_ms = delay.as_millis() as u64,
                        "still serving the current token; background refresh will be retried"
                    );
                    tokio::time::sleep(delay).await;
                    attempt = attempt.saturating_add(1);
                }
                _ => return Err(error),
            }
        }
    }

    /// One upstream request. Its failure is logged here, once for all the
    /// requests that share it: error level when the upstream refused us or sent
    /// garbage (someone must act), warning when it was unreachable (it may recover).
    async fn fetch_once(&self) -> Result<Arc<CachedToken>, ExchangeError> {
        let started = Instant::now();
        let result = self.source.fetch(&self.scopes).await;
        if let Err(e @ ExchangeError::BackingOff { .. }) = &result {
            // Another replica's failure: no upstream call was made, and it was logged there.
            tracing::debug!(error = %e, "the cluster is backing off the authorization server");
            return Err(e.clone());
        }
        self.metrics.record_upstream(started.elapsed(), result.as_ref().err().map(ExchangeError::kind));
        match &result {
            Err(e @ (ExchangeError::Rejected { .. } | ExchangeError::InvalidResponse(_))) => {
                tracing::error!(kind = e.kind(), error = %e, "token request to the authorization server failed");
            }
            Err(e) => tracing::warn!(kind = e.kind(), error = %e, "token request to the authorization server failed"),
            Ok(_) => {}
        }
        CachedToken::new(result?, started, &self.policy).map(Arc::new)
    }
}
