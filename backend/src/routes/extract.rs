//! What the sign-in and user routes share: their state ([`SignInState`]) and
//! the [`SameSiteCaller`] and [`TrustedOrigin`] extractors that guard
//! cookie-authenticated routes.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};

use crate::error::ApiError;
use crate::sign_in::SignInService;

/// What the sign-in and user routes share.
#[derive(Debug, Clone)]
pub struct SignInState {
    pub service: SignInService,
    /// Origins allowed to call cookie-authenticated routes: ours, plus the CORS
    /// allowlist when it allows credentials.
    pub trusted_origins: Arc<Vec<String>>,
}

/// Whether `origin` is ours, or on the allowlist that may call with credentials.
fn is_trusted_origin(state: &SignInState, origin: &HeaderValue) -> bool {
    origin.to_str().is_ok_and(|o| state.trusted_origins.iter().any(|t| t.eq_ignore_ascii_case(o)))
}

/// Proof of a same-site caller: the `X-Requested-With` header, which a
/// cross-site form or image can't send and a cross-origin `fetch` can't send
/// without a CORS preflight we don't grant; and, when the browser sends `Origin`,
/// one of ours.
#[derive(Debug)]
pub struct SameSiteCaller;

impl<S> FromRequestParts<S> for SameSiteCaller
where
    SignInState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        check_same_site(&parts.headers, &SignInState::from_ref(state))
    }
}

/// The [`SameSiteCaller`] check, for routes that need it only sometimes (the
/// proxy, for user-token APIs).
pub(super) fn check_same_site(headers: &HeaderMap, state: &SignInState) -> Result<SameSiteCaller, ApiError> {
    if headers.get("x-requested-with").is_none_or(|v| v.is_empty()) {
        return Err(ApiError::CrossSite("the X-Requested-With header is missing"));
    }
    check_origin(headers, state).map(|TrustedOrigin| SameSiteCaller)
}

/// The `Origin`, when the browser sends one, is ours: the check of routes a
/// plain form post or an `EventSource` reaches, which cannot send
/// `X-Requested-With` (`/auth/logout`, the session event stream).
#[derive(Debug)]
pub struct TrustedOrigin;

impl<S> FromRequestParts<S> for TrustedOrigin
where
    SignInState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        check_origin(&parts.headers, &SignInState::from_ref(state))
    }
}

fn check_origin(headers: &HeaderMap, state: &SignInState) -> Result<TrustedOrigin, ApiError> {
    match headers.get(axum::http::header::ORIGIN) {
        Some(origin) if !is_trusted_origin(state, origin) => Err(ApiError::CrossSite("the Origin is not this site")),
        _ => Ok(TrustedOrigin),
    }
}
