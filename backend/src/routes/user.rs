//! `GET /api/user/token` and `GET /api/user/me`: the signed-in user's browser
//! token and profile. Cookie-authenticated, so every request must prove it comes
//! from our own pages (`SameSiteCaller`).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower_sessions::Session;

use super::extract::{SameSiteCaller, SignInState};
use super::token::TokenBody;
use crate::error::{ApiError, no_store_headers};
use crate::token_cache::now_ms;

pub fn router() -> Router<SignInState> {
    Router::new().route("/api/user/token", get(user_token)).route("/api/user/me", get(me))
}

/// The signed-in user's browser token (needs the session cookie and `X-Requested-With`).
#[utoipa::path(get, path = "/api/user/token", tag = "user",
    params(("X-Requested-With" = String, Header, description = "Any non-empty value")),
    responses(
        (status = 200, description = "The user's token", body = crate::routes::token::TokenBody),
        (status = 401, description = "`login_required`", body = crate::error::ErrorBody),
        (status = 403, description = "`cross_site_request`", body = crate::error::ErrorBody),
        (status = 500, description = "`internal_error`", body = crate::error::ErrorBody),
        (status = 503, description = "`upstream_unavailable` or `session_store_unavailable`", body = crate::error::ErrorBody),
    ))]
pub(crate) async fn user_token(
    _caller: SameSiteCaller,
    State(state): State<SignInState>,
    session: Session,
) -> Result<Response, ApiError> {
    let token = state.service.browser_token(&session).await?;
    let expires_in = token.remaining(now_ms()).as_secs();
    let body = TokenBody { access_token: token.access_token.secret(), token_type: "Bearer", expires_in };
    Ok((no_store_headers(), Json(body)).into_response())
}

/// The signed-in user's profile: the ID token's user claims kept at sign-in,
/// with userinfo's merged over them when userinfo answers for the same `sub`.
#[utoipa::path(get, path = "/api/user/me", tag = "user",
    params(("X-Requested-With" = String, Header, description = "Any non-empty value")),
    responses(
        (status = 200, description = "The user's claims (ID token, merged with userinfo when it answers)", body = Object),
        (status = 401, description = "`login_required`", body = crate::error::ErrorBody),
        (status = 404, description = "`userinfo_not_configured`: no ID token claims and no userinfo endpoint", body = crate::error::ErrorBody),
        (status = 500, description = "`internal_error`", body = crate::error::ErrorBody),
        (status = 503, description = "`upstream_unavailable` or `session_store_unavailable`", body = crate::error::ErrorBody),
    ))]
pub(crate) async fn me(
    _caller: SameSiteCaller,
    State(state): State<SignInState>,
    session: Session,
) -> Result<Response, ApiError> {
    let profile = state.service.profile(&session).await?;
    Ok((no_store_headers(), Json(profile)).into_response())
}
