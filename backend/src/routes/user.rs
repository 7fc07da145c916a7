//! `GET /api/user/token` and `GET /api/user/me`: the signed-in user's browser
//! token and profile. Cookie-authenticated, so every request must prove it comes
//! from our own pages (`SameSiteCaller`). And `GET /api/user/session/events`
//! (in `session_events`), which tells the browser when its session ends.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower_sessions::Session;

use super::extract::{SameSiteCaller, SignInState};
use super::token::TokenBody;
use crate::error::{ApiError, no_store_headers, route_errors};
use crate::token_cache::now_ms;

pub fn router() -> Router<SignInState> {
    Router::new()
        .route("/api/user/token", get(user_token))
        .route("/api/user/me", get(me))
        .route("/api/user/session/events", get(super::session_events::session_events))
}

route_errors!(
    /// The caller check, and the user token's failures: the refresh passes the
    /// authorization server's answer on.
    UserTokenErrors, Json: [
        LoginRequired, CrossSiteRequest, InternalError, UpstreamRejected, UpstreamInvalidResponse,
        UpstreamUnavailable, SessionStoreUnavailable,
    ]
);

route_errors!(
    /// As for the token, and no profile to serve.
    ProfileErrors, Json: [
        LoginRequired, CrossSiteRequest, UserinfoNotConfigured, InternalError, UpstreamRejected,
        UpstreamInvalidResponse, UpstreamUnavailable, SessionStoreUnavailable,
    ]
);

/// The signed-in user's browser token (needs the session cookie and `X-Requested-With`).
#[utoipa::path(get, path = "/api/user/token", tag = "user",
    params(("X-Requested-With" = String, Header, description = "Any non-empty value")),
    responses(
        (status = 200, description = "The user's token", body = crate::routes::token::TokenBody),
        UserTokenErrors,
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
        ProfileErrors,
    ))]
pub(crate) async fn me(
    _caller: SameSiteCaller,
    State(state): State<SignInState>,
    session: Session,
) -> Result<Response, ApiError> {
    let profile = state.service.profile(&session).await?;
    Ok((no_store_headers(), Json(profile)).into_response())
}
