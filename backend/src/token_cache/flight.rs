//! Single-flight: at most one upstream token request per cache at a time, its
//! outcome shared by every request that waits for it.
//!
//! The fetch runs in its own task, so it completes (and fills the cache) even if
//! every waiting HTTP request is cancelled. The slot lock is a std `Mutex`: it is
//! held only to look at or replace the slot, never across an `.await`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use tokio::time::Instant;

use super::backoff::Backoff;
use super::{CachePolicy, CachedToken, TokenSource};
use crate::exchange::ExchangeError;
use crate::telemetry::ProfileMetrics;

type FlightResult = Result<Arc<CachedToken>, ExchangeError>;
type Flight = Shared<BoxFuture<'static, FlightResult>>;

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
    /// The upstream request in progress, if any.
    flight: Mutex<Option<Flight>>,
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
        Self { scopes, source, policy, metrics, current: ArcSwapOption::empty(), flight: Mutex::new(None), backoff }
    }

    /// Waits for the flight in progress, starting one if there is none.
    pub(super) async fn wait_for_token(this: &Arc<Self>) -> FlightResult {
        let flight = {
            let mut slot = this.flight.lock().unwrap_or_else(PoisonError::into_inner);
            match slot.as_ref() {
                Some(flight) => flight.clone(),
                None => {
                    // A flight may have finished between our cache miss and taking the lock.
                    let now = Instant::now();
                    if let Some(token) = this.current.load_full().filter(|t| t.is_usable(now)) {
                        return Ok(token);
                    }
                    this.backoff.check(now)?;
                    let flight = Self::spawn(this, Mode::Cold);
                    *slot = Some(flight.clone());
                    flight
                }
            }
        };
        flight.await
    }

    /// Starts a background refresh unless a flight is already under way.
    pub(super) fn start_refresh(this: &Arc<Self>) {
        let mut slot = this.flight.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(Self::spawn(this, Mode::RefreshAhead));
        }
    }

    /// Runs the fetch in its own task. The task stores the token (or opens the
    /// backoff window) before it clears the slot, so a request that finds the slot
    /// empty also finds the new token (or the window).
    fn spawn(this: &Arc<Self>, mode: Mode) -> Flight {
        let inner = Arc::clone(this);
        let task = tokio::spawn(async move {
            let result = inner.fetch(mode).await;
            match &result {
                Ok(token) => {
                    inner.current.store(Some(Arc::clone(token)));
                    inner.backoff.record_success();
                }
                Err(error) => inner.backoff.record_failure(error, Instant::now()),
            }
            *inner.flight.lock().unwrap_or_else(PoisonError::into_inner) = None;
            result
        });
        async move {
            task.await.unwrap_or_else(|_| Err(ExchangeError::Unreachable("the token request task was stopped".into())))
        }
        .boxed()
        .shared()
    }

    async fn fetch(&self, mode: Mode) -> FlightResult {
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
    async fn fetch_once(&self) -> FlightResult {
        let started = Instant::now();
        let result = self.source.fetch(&self.scopes).await;
        if let Err(e @ ExchangeError::BackingOff { .. }) = &result {
            // Another replica's failure: no upstream call was made, and it was logged there.
            tracing::debug!(error = %e, "the cluster is backing off the authorization server");
            return Err(e.clone());
        }
        self.metrics.record_upstream(started.elapsed(), result.as_ref().err());
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
