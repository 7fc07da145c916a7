//! The backoff window after a failed upstream token request, so a failing
//! authorization server is asked again once per window, not once per browser request.
//!
//! Without it every cache miss during an outage started a new upstream call
//! (8,126 calls in 5 s from 20 clients against `429 Retry-After: 60`), which is how
//! a rate-limiting upstream turns a short outage into a long lock-out. The window
//! is the upstream's `Retry-After` when it sent one (capped), otherwise jittered
//! exponential backoff over consecutive failures. Requests inside the window get
//! [`ExchangeError::BackingOff`] at once; the first request after it makes one new
//! attempt (through the cache's single-flight). With Redis the window is shared by
//! the cluster ([`super::SharedSource`]).

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::exchange::ExchangeError;

/// How long the upstream is left alone after a failed token request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// Window after the first failure without `Retry-After`; doubles with each
    /// consecutive failure (jittered to 50–100%).
    pub base: Duration,
    /// Longest window without `Retry-After` (`UPSTREAM_BACKOFF_MAX_SECS`; 0 turns it off).
    pub max: Duration,
    /// Longest upstream `Retry-After` honoured (`UPSTREAM_RETRY_AFTER_MAX_SECS`):
    /// a broken upstream must not lock the broker out for hours.
    pub retry_after_max: Duration,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        Self { base: Duration::from_secs(1), max: Duration::from_secs(30), retry_after_max: Duration::from_secs(60) }
    }
}

impl BackoffPolicy {
    /// The window after `error`, the `failures`-th consecutive failure (1-based).
    pub fn window(&self, error: &ExchangeError, failures: u32) -> Duration {
        match error {
            ExchangeError::BackingOff { retry_after } => *retry_after,
            ExchangeError::Unavailable { retry_after: Some(retry_after), .. } => {
                (*retry_after).min(self.retry_after_max)
            }
            _ => {
                let doubling = 2u32.saturating_pow(failures.saturating_sub(1));
                self.base.saturating_mul(doubling).min(self.max).mul_f64(0.5 + rand::random::<f64>() * 0.5)
            }
        }
    }
}

/// One cache's window: the consecutive failures and when the window closes.
#[derive(Debug)]
pub struct Backoff {
    policy: BackoffPolicy,
    /// A std `Mutex`: held only to read or replace two fields, never across an `.await`.
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    failures: u32,
    until: Option<Instant>,
}

impl Backoff {
    pub fn new(policy: BackoffPolicy) -> Self {
        Self { policy, state: Mutex::new(State::default()) }
    }

    /// `Err(BackingOff)` with the time left while the window is open.
    pub fn check(&self, now: Instant) -> Result<(), ExchangeError> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match state.until {
            Some(until) if now < until => Err(ExchangeError::BackingOff { retry_after: until - now }),
            _ => Ok(()),
        }
    }

    /// Opens the window after a failed request. A window learned from another
    /// replica (`BackingOff`) is adopted as is and does not count as a failure here.
    pub fn record_failure(&self, error: &ExchangeError, now: Instant) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !matches!(error, ExchangeError::BackingOff { .. }) {
            state.failures = state.failures.saturating_add(1);
        }
        let window = self.policy.window(error, state.failures);
        state.until = Some(now + window);
    }

    pub fn record_success(&self) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = State::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outage(retry_after: Option<u64>) -> ExchangeError {
        ExchangeError::Unavailable { status: 503, retry_after: retry_after.map(Duration::from_secs) }
    }

    /// `Retry-After` is honoured up to its cap; without it the window doubles, jittered, up to `max`.
    #[test]
    fn window_follows_retry_after_else_doubles() {
        let policy = BackoffPolicy::default();
        assert_eq!(policy.window(&outage(Some(7)), 1), Duration::from_secs(7));
        assert_eq!(policy.window(&outage(Some(3600)), 1), Duration::from_secs(60));
        for (failures, low, high) in [(1, 500, 1000), (2, 1000, 2000), (3, 2000, 4000), (10, 15_000, 30_000)] {
            let window = policy.window(&outage(None), failures).as_millis();
            assert!((low..=high).contains(&window), "failure {failures}: {window} ms");
        }
        let off = BackoffPolicy { max: Duration::ZERO, retry_after_max: Duration::ZERO, ..BackoffPolicy::default() };
        assert_eq!(off.window(&outage(Some(60)), 1), Duration::ZERO);
        assert_eq!(off.window(&ExchangeError::Timeout(Duration::from_secs(1)), 5), Duration::ZERO);
    }

    /// Inside the window the error counts down; after it, and after a success, requests go through.
    #[tokio::test(start_paused = true)]
    async fn window_counts_down_and_closes() {
        let backoff = Backoff::new(BackoffPolicy::default());
        let start = Instant::now();
        backoff.record_failure(&outage(Some(10)), start);
        tokio::time::advance(Duration::from_secs(4)).await;
        match backoff.check(Instant::now()) {
            Err(ExchangeError::BackingOff { retry_after }) => assert_eq!(retry_after, Duration::from_secs(6)),
            other => panic!("expected to be backing off, got {other:?}"),
        }
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(backoff.check(Instant::now()).is_ok());
        backoff.record_failure(&outage(None), Instant::now());
        assert!(backoff.check(Instant::now()).is_err());
        backoff.record_success();
        assert!(backoff.check(Instant::now()).is_ok());
    }
}
