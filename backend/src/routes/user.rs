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

pub fn router() -> Router<SignInState> {
    Router::new().route("/api/user/token", get(user_token)).route("/api/user/me", get(me))
}

async fn user_token(
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

async fn me(_caller: SameSiteCaller, State(state): State<SignInState>, session: Session) -> Result<Response, ApiError> {
    let profile = state.service.profile(&session).await?;
    Ok((no_store_headers(), Json(profile)).into_response())
}
