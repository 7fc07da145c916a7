//! `GET /api/token` and `GET /api/token/{profile}`: short-lived access tokens for
//! browsers, from the profile's cache.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tokio::time::Instant;

use crate::app::AppState;
use crate::config::DEFAULT_PROFILE;
use crate::error::{ApiError, no_store_headers};
use crate::token_cache::TokenCaches;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/token", get(default_token))
        .route("/api/token/{profile}", get(profile_token))
}

/// RFC 6749 §5.1 success body. `expires_in` is computed at response time.
#[derive(Debug, Serialize)]
struct TokenBody<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: u64,
}

async fn default_token(State(caches): State<TokenCaches>) -> Result<Response, ApiError> {
    serve(&caches, DEFAULT_PROFILE).await
}

async fn profile_token(State(caches): State<TokenCaches>, Path(profile): Path<String>) -> Result<Response, ApiError> {
    serve(&caches, &profile).await
}

async fn serve(caches: &TokenCaches, profile: &str) -> Result<Response, ApiError> {
    let cache = caches.get(profile).ok_or_else(|| ApiError::UnknownProfile(profile.to_owned()))?;
    let token = cache.token().await?;
    let body = TokenBody { access_token: token.secret(), token_type: "Bearer", expires_in: token.expires_in(Instant::now()) };
    Ok((no_store_headers(), Json(body)).into_response())
}
