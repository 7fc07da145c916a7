//! The token cache's settings: lifetimes, the refresh window, and how long a
//! failing upstream is left alone.

use super::settings::Settings;
use super::validate::Validator;
use crate::app::Upstream;
use crate::token_cache::{BackoffPolicy, CachePolicy};

pub(super) fn parse(s: &Settings, v: &mut Validator) -> CachePolicy {
    CachePolicy {
        min_ttl: v.seconds(&s.token_min_ttl_secs, 30, (0, 3600)),
        default_ttl: v.seconds(&s.token_default_ttl_secs, 3600, (1, 86_400)),
        refresh_window_percent: v.number(&s.token_refresh_window_percent, 20, (1, 50)) as u32,
        refresh_window_min: v.seconds(&s.token_refresh_window_min_secs, 60, (0, 86_400)),
        backoff: backoff(s, v),
        ..CachePolicy::default()
    }
}

/// How long a failing upstream is left alone. 0 turns a bound off, which only
/// tests that script one upstream failure after another should want.
fn backoff(s: &Settings, v: &mut Validator) -> BackoffPolicy {
    let defaults = BackoffPolicy::default();
    BackoffPolicy {
        max: v.seconds(&s.upstream_backoff_max_secs, defaults.max.as_secs(), (0, 3600)),
        retry_after_max: v.seconds(&s.upstream_retry_after_max_secs, defaults.retry_after_max.as_secs(), (0, 3600)),
        ..defaults
    }
}

/// Lifetimes that no token could be served with stop the start-up: every such
/// token would be refused as too short, at every request.
pub(super) fn check_lifetimes(s: &Settings, cache: &CachePolicy, upstream: Option<&Upstream>, v: &mut Validator) {
    let min = cache.min_ttl.as_secs();
    if cache.default_ttl <= cache.min_ttl {
        v.problem_with(
            &s.token_default_ttl_secs,
            format!(
                "{} must be longer than TOKEN_MIN_TTL_SECS ({min}), or tokens without `expires_in` are never served",
                cache.default_ttl.as_secs()
            ),
        );
    }
    if let Some(Upstream::Dev { token_ttl }) = upstream {
        if *token_ttl <= cache.min_ttl {
            v.problem_with(
                &s.dev_token_ttl_secs,
                format!(
                    "{} must be longer than TOKEN_MIN_TTL_SECS ({min}), or no dev token is ever served",
                    token_ttl.as_secs()
                ),
            );
        }
    }
}
