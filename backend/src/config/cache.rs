//! The token cache's settings: lifetimes, the refresh window, and how long a
//! failing upstream is left alone.

use std::time::Duration;

use super::settings::Settings;
use super::validate::Validator;
use crate::app::Upstream;
use crate::token_cache::{BackoffPolicy, CachePolicy};

/// The cache's policy; `upstream` (when valid) for the `--dev` tokens' lifetime,
/// which must outlast the minimum.
pub(super) fn parse(s: &Settings, upstream: Option<&Upstream>, v: &mut Validator) -> Option<CachePolicy> {
    let min_ttl = v.seconds(&s.token_min_ttl_secs);
    let default_ttl = v.seconds(&s.token_default_ttl_secs);
    let refresh_window_percent = v.number(&s.token_refresh_window_percent);
    let refresh_window_min = v.seconds(&s.token_refresh_window_min_secs);
    let backoff = backoff(s, v);
    // Only values the user gave or the defaults are compared: a bad one is
    // already reported, and a conflict with it would be a second line.
    if let Some(min_ttl) = min_ttl {
        check_lifetimes(s, min_ttl, default_ttl, upstream, v);
    }
    Some(CachePolicy {
        min_ttl: min_ttl?,
        default_ttl: default_ttl?,
        refresh_window_percent: u32::try_from(refresh_window_percent?).ok()?,
        refresh_window_min: refresh_window_min?,
        backoff: backoff?,
        ..CachePolicy::default()
    })
}

/// How long a failing upstream is left alone. 0 turns a bound off, which only
/// tests that script one upstream failure after another should want.
fn backoff(s: &Settings, v: &mut Validator) -> Option<BackoffPolicy> {
    let max = v.seconds(&s.upstream_backoff_max_secs);
    let retry_after_max = v.seconds(&s.upstream_retry_after_max_secs);
    Some(BackoffPolicy { max: max?, retry_after_max: retry_after_max?, ..BackoffPolicy::default() })
}

/// Lifetimes that no token could be served with stop the start-up: every such
/// token would be refused as too short, at every request.
fn check_lifetimes(
    s: &Settings,
    min_ttl: Duration,
    default_ttl: Option<Duration>,
    upstream: Option<&Upstream>,
    v: &mut Validator,
) {
    let min = min_ttl.as_secs();
    if let Some(default_ttl) = default_ttl.filter(|ttl| *ttl <= min_ttl) {
        v.problem_with(
            &s.token_default_ttl_secs,
            format!(
                "{} must be longer than TOKEN_MIN_TTL_SECS ({min}), or tokens without `expires_in` are never served",
                default_ttl.as_secs()
            ),
        );
    }
    if let Some(Upstream::Dev { token_ttl }) = upstream {
        if *token_ttl <= min_ttl {
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
