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

async fn user_token(
    _caller: SameSiteCaller,
    State(state): State<SignInState>,
    session: Session,
) -> Result<Response, ApiError> {
    let token = state.service.browser_token(&session).await?;
    let expires_in = token.remaining(now_ms()).as_secs();
    let body = TokenBody { access_token: token.access_token.secret(), token_type: "Bearer", expires_in };
    Ok((no_store_headers(), Json(body)).into_response())
}

async fn me(_caller: SameSiteCaller, State(state): State<SignInState>, session: Session) -> Result<Response, ApiError> {
    let profile = state.service.profile(&session).await?;
    Ok((no_store_headers(), Json(profile)).into_response())
}
