//! `GET /api/user/token` and `GET /api/user/me`: the signed-in user's browser
//! token and profile. Cookie-authenticated, so every request must prove it comes
//! from our own pages ([`SameSiteCaller`]).

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts, State};
use axum::http::HeaderValue;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower_sessions::Session;

use super::token::TokenBody;
use crate::error::{ApiError, no_store_headers};
use crate::sign_in::SignInService;

/// What the sign-in and user routes share.
#[derive(Debug, Clone)]
pub struct SignInState {
    pub service: Arc<SignInService>,
    /// Origins allowed to call cookie-authenticated routes: ours, plus the CORS
    /// allowlist when it allows credentials.
    pub trusted_origins: Arc<Vec<String>>,
}

pub fn router() -> Router<SignInState> {
    Router::new().route("/api/user/token", get(user_token)).route("/api/user/me", get(me))
}

pub(super) fn is_trusted_origin(state: &SignInState, origin: &HeaderValue) -> bool {
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
        let state = SignInState::from_ref(state);
        if parts.headers.get("x-requested-with").is_none_or(|v| v.is_empty()) {
            return Err(ApiError::CrossSite("the X-Requested-With header is missing"));
        }
        match parts.headers.get(axum::http::header::ORIGIN) {
            Some(origin) if !is_trusted_origin(&state, origin) => {
                Err(ApiError::CrossSite("the Origin is not this site"))
            }
            _ => Ok(Self),
        }
    }
}

/// The signed-in user's browser token (needs the session cookie and `X-Requested-With`).
#[utoipa::path(get, path = "/api/user/token", tag = "user",
    params(("X-Requested-With" = String, Header, description = "Any non-empty value")),
    responses(
        (status = 200, description = "The user's token", body = crate::routes::token::TokenBody),
        (status = 401, description = "`login_required`", body = crate::error::ErrorBody),
        (status = 403, description = "`cross_site_request`", body = crate::error::ErrorBody),
        (status = 503, description = "`upstream_unavailable` or `session_store_unavailable`", body = crate::error::ErrorBody),
    ))]
pub(crate) async fn user_token(
    _caller: SameSiteCaller,
    State(state): State<SignInState>,
    session: Session,
) -> Result<Response, ApiError> {
    let token = state.service.browser_token(&session).await?;
    let now_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    let expires_in = ((token.expires_at_ms - now_ms).max(0) / 1000) as u64;
    let body = TokenBody { access_token: token.access_token.secret(), token_type: "Bearer", expires_in };
    Ok((no_store_headers(), Json(body)).into_response())
}

/// The signed-in user's profile, from the provider's userinfo endpoint.
#[utoipa::path(get, path = "/api/user/me", tag = "user",
    params(("X-Requested-With" = String, Header, description = "Any non-empty value")),
    responses(
        (status = 200, description = "The userinfo claims", body = Object),
        (status = 401, description = "`login_required`", body = crate::error::ErrorBody),
        (status = 404, description = "`userinfo_not_configured`", body = crate::error::ErrorBody),
    ))]
pub(crate) async fn me(
    _caller: SameSiteCaller,
    State(state): State<SignInState>,
    session: Session,
) -> Result<Response, ApiError> {
    let profile = state.service.profile(&session).await?;
    Ok((no_store_headers(), Json(profile)).into_response())
}
